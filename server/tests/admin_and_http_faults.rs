//! HTTP fault injection (503s, delays, truncated bodies), the admin endpoints that mirror
//! the fault controls for out-of-process tests, and the counters.

mod common;

use std::time::{Duration, Instant};

use chatsync_server::{EndpointKind, Role, ServerConfig};
use common::{Api, connect_ws, frame_key, reply, seqs, start, take_frames};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn failed_requests_answer_503_with_detail_and_write_nothing() {
    let server = start(ServerConfig::ephemeral().with_seed(1, 2)).await;
    let api = Api::of_role(&server, Role::Requester);
    let ticket = server.ticket_ids().await.unwrap()[0].clone();
    server.faults().fail_next_http(2, Some(EndpointKind::Send));
    // Other kinds are not hit.
    assert_eq!(
        api.get("/api/v1/chat/requests").await.status,
        StatusCode::OK
    );
    for _ in 0..2 {
        let r = api.send(&ticket, "hello", "t-1").await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
        r.detail();
    }
    assert_eq!(
        server.last_sequence(&ticket).await.unwrap(),
        2,
        "nothing written"
    );
    let ok = api.send(&ticket, "hello", "t-1").await;
    assert_eq!(ok.status, StatusCode::CREATED);
    assert_eq!(ok.json["sequenceNumber"], 3);

    // Untargeted: any /api/v1 request, the WebSocket upgrade included.
    server.faults().fail_next_http(1, None);
    let token = server.first_user(Role::Requester).unwrap().token;
    match common::try_connect_ws(&server, Some(&token)).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 503);
        }
        other => panic!("expected 503, got {other:?}"),
    }
    assert!(common::try_connect_ws(&server, Some(&token)).await.is_ok());
    server
        .faults()
        .fail_next_http(1, Some(EndpointKind::Tickets));
    assert_eq!(
        api.get("/api/v1/chat/requests").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        api.get("/api/v1/chat/requests").await.status,
        StatusCode::OK
    );
    assert_eq!(server.stats().http_failures_injected, 4);
}

#[tokio::test]
async fn truncated_bodies_are_cut_in_half_with_a_consistent_length() {
    let server = start(ServerConfig::ephemeral().with_seed(1, 20)).await;
    let api = Api::of_role(&server, Role::Requester);
    let ticket = server.ticket_ids().await.unwrap()[0].clone();
    let path = format!("/api/v1/chat/requests/{ticket}/messages");
    let full = api.get(&path).await;
    server
        .faults()
        .truncate_next_responses(1, Some(EndpointKind::Messages));
    // 204 bodies are empty and do not consume the count.
    assert_eq!(api.read(&ticket, 1).await.status, StatusCode::NO_CONTENT);
    let cut = api.get(&path).await;
    assert_eq!(cut.status, StatusCode::OK);
    assert_eq!(cut.text.len(), full.text.len() / 2);
    assert!(full.text.starts_with(&cut.text));
    assert!(
        serde_json::from_str::<Value>(&cut.text).is_err(),
        "not valid JSON"
    );
    assert_eq!(api.get(&path).await.text.len(), full.text.len(), "only one");
    // A truncated send still stored the message (the request was handled).
    server
        .faults()
        .truncate_next_responses(1, Some(EndpointKind::Send));
    let sent = api.send(&ticket, "stored anyway", "tr-1").await;
    assert_eq!(sent.status, StatusCode::CREATED);
    assert!(serde_json::from_str::<Value>(&sent.text).is_err());
    let retry = api.send(&ticket, "stored anyway", "tr-1").await;
    assert_eq!(
        retry.status,
        StatusCode::OK,
        "the retry finds it by clientTempId"
    );
    assert_eq!(retry.json["sequenceNumber"], 21);
    assert_eq!(server.stats().http_bodies_truncated, 2);
}

#[tokio::test]
async fn http_delay_holds_every_api_request() {
    let server = start(ServerConfig::ephemeral()).await;
    let api = Api::of_role(&server, Role::Requester);
    server.faults().set_http_delay(Duration::from_millis(300));
    let started = Instant::now();
    assert_eq!(
        api.get("/api/v1/chat/requests").await.status,
        StatusCode::OK
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
    server.faults().reset();
    assert_eq!(server.faults().settings().http_delay_ms, 0);
}

#[tokio::test]
async fn admin_endpoints_are_absent_without_faults() {
    let server = start(ServerConfig::ephemeral()).await;
    assert_eq!(server.admin_token(), None);
    let user_token = server.first_user(Role::Requester).unwrap().token;
    let admin = Api {
        base: server.base_url(),
        token: user_token,
        http: common::http_client(),
    };
    let r = admin.get("/admin/v1/faults").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.detail().contains("--faults"));
}

#[tokio::test]
async fn admin_endpoints_mirror_the_fault_controls() {
    let server = start(ServerConfig::ephemeral().with_faults().with_seed(1, 5)).await;
    let admin_token = server.admin_token().expect("admin token").to_string();
    let admin = Api {
        base: server.base_url(),
        token: admin_token,
        http: common::http_client(),
    };
    let requester = server.first_user(Role::Requester).unwrap();
    let technician = server.first_user(Role::Technician).unwrap();
    let ticket = server.ticket_ids().await.unwrap()[0].clone();

    // Only the admin token opens them, and user tokens do not open it.
    let as_user = Api::new(&server, &requester);
    assert_eq!(
        as_user.get("/admin/v1/faults").await.status,
        StatusCode::UNAUTHORIZED
    );
    let anonymous = reply(
        admin
            .http
            .get(format!("{}/admin/v1/stats", admin.base))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    anonymous.detail();
    // And the admin token is not a user token.
    assert_eq!(
        admin.get("/api/v1/chat/requests").await.status,
        StatusCode::UNAUTHORIZED
    );

    let settings = [
        (
            "/admin/v1/faults/drop-pushes",
            json!({"count": 2, "kind": "message.new"}),
        ),
        (
            "/admin/v1/faults/drop-push",
            json!({"requestId": ticket, "sequence": 9}),
        ),
        ("/admin/v1/faults/duplicate-pushes", json!({"count": 3})),
        (
            "/admin/v1/faults/reorder-pushes",
            json!({"count": 1, "kind": "ticket.updated"}),
        ),
        ("/admin/v1/faults/push-delay", json!({"ms": 5})),
        ("/admin/v1/faults/http-delay", json!({"ms": 1})),
        (
            "/admin/v1/faults/fail-http",
            json!({"count": 4, "target": "read"}),
        ),
        (
            "/admin/v1/faults/truncate",
            json!({"count": 5, "target": "websocket"}),
        ),
        ("/admin/v1/faults/null-sequence", json!({"enabled": true})),
        (
            "/admin/v1/faults/random",
            json!({"seed": 3, "dropRate": 0.1, "duplicateRate": 0.0, "reorderRate": 2.0}),
        ),
    ];
    for (path, body) in &settings {
        let r = admin.post(path, body.clone()).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{path}: {r:?}");
    }
    let got = admin.get("/admin/v1/faults").await.json;
    assert_eq!(
        got["dropNext"],
        json!({"remaining": 2, "kind": "message.new"})
    );
    assert_eq!(
        got["dropTargets"],
        json!([{"requestId": ticket, "sequence": 9}])
    );
    assert_eq!(got["duplicateNext"], json!({"remaining": 3, "kind": "any"}));
    assert_eq!(
        got["reorderNext"],
        json!({"remaining": 1, "kind": "ticket.updated"})
    );
    assert_eq!(got["pushDelayMs"], 5);
    assert_eq!(got["httpDelayMs"], 1);
    assert_eq!(
        got["failNextHttp"],
        json!({"remaining": 4, "target": "read"})
    );
    assert_eq!(
        got["truncateNext"],
        json!({"remaining": 5, "target": "websocket"})
    );
    assert_eq!(got["nullLastSequence"], true);
    assert_eq!(got["random"]["reorderRate"], 1.0, "rates are clamped");
    assert_eq!(
        serde_json::to_value(server.faults().settings()).unwrap(),
        got,
        "same state as the Rust API"
    );

    // Bad admin bodies get 400 with detail.
    for (path, body) in [
        ("/admin/v1/faults/drop-pushes", json!({"count": -1})),
        (
            "/admin/v1/faults/drop-pushes",
            json!({"count": 1, "kind": "typing"}),
        ),
        (
            "/admin/v1/faults/fail-http",
            json!({"count": 1, "target": "nowhere"}),
        ),
        ("/admin/v1/faults/push-delay", json!({"ms": 99_999_999})),
        ("/admin/v1/restore", json!({"requestId": ticket})),
    ] {
        let r = admin.post(path, body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}");
        r.detail();
    }
    assert_eq!(
        admin.post("/admin/v1/faults/reset", json!({})).await.status,
        StatusCode::NO_CONTENT
    );
    assert!(server.faults().settings().is_clear());

    // Faults set over HTTP act on pushes.
    let mut ws = connect_ws(&server, &requester.token).await;
    admin
        .post(
            "/admin/v1/faults/drop-pushes",
            json!({"count": 1, "kind": "message.new"}),
        )
        .await;
    let posted = admin
        .post(
            "/admin/v1/messages",
            json!({"requestId": ticket, "senderId": technician.id, "content": "from the admin API", "clientTempId": "adm-1"}),
        )
        .await;
    assert_eq!(posted.status, StatusCode::CREATED, "{posted:?}");
    assert_eq!(posted.json["sequenceNumber"], 6);
    assert_eq!(posted.json["sender"]["isTechnician"], true);
    let frames = take_frames(&mut ws, 1, Duration::from_secs(5)).await;
    assert_eq!(
        frames.iter().map(frame_key).collect::<Vec<_>>(),
        vec![("ticket.updated".to_string(), Some(6))]
    );

    // Restore, disconnect, create ticket, stats.
    let restored = admin
        .post(
            "/admin/v1/restore",
            json!({"requestId": ticket, "upToSequence": 3}),
        )
        .await;
    assert_eq!(restored.status, StatusCode::OK);
    let epoch = restored.json["history"]["epoch"].as_i64().unwrap_or(0);
    assert!(
        epoch > 0,
        "a restore that removed messages starts a new epoch"
    );
    assert_eq!(
        restored.json,
        json!({
            "removed": 3,
            "lastMessageSequence": 3,
            "history": {"epoch": epoch, "previousEpoch": 0, "keptThroughSequence": 3}
        })
    );
    let missing = admin
        .post(
            "/admin/v1/restore",
            json!({"requestId": "nope", "upToSequence": 3}),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(seqs(&as_user.page(&ticket, "").await), vec![1, 2, 3]);
    let disconnected = admin
        .post("/admin/v1/disconnect-websockets", json!({}))
        .await;
    assert_eq!(disconnected.json["disconnected"], 1);
    let created = admin
        .post(
            "/admin/v1/tickets",
            json!({"title": "Made by admin", "requesterId": requester.id, "technicianId": technician.id}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let new_id = created.json["id"].as_str().unwrap().to_string();
    assert!(
        as_user
            .tickets()
            .await
            .iter()
            .any(|t| t["id"] == new_id.as_str())
    );
    let wrong_roles = admin
        .post(
            "/admin/v1/tickets",
            json!({"title": "x", "requesterId": technician.id, "technicianId": technician.id}),
        )
        .await;
    assert_eq!(wrong_roles.status, StatusCode::BAD_REQUEST);

    let stats = admin.get("/admin/v1/stats").await.json;
    assert_eq!(stats["messagesCreated"], 1);
    assert!(stats["adminRequests"].as_u64().unwrap() >= 20);
    assert_eq!(stats["websocketRequests"], 1);
    assert_eq!(
        admin.post("/admin/v1/stats/reset", json!({})).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(server.stats().messages_created, 0);
    // Admin requests are never hit by HTTP faults.
    server.faults().fail_next_http(5, None);
    assert_eq!(admin.get("/admin/v1/stats").await.status, StatusCode::OK);
}

#[tokio::test]
async fn counters_count_requests_messages_and_bytes() {
    let server = start(ServerConfig::ephemeral().with_seed(2, 30)).await;
    let api = Api::of_role(&server, Role::Requester);
    let ticket = server.ticket_ids().await.unwrap()[0].clone();
    let mut ws = connect_ws(&server, &server.first_user(Role::Requester).unwrap().token).await;
    server.reset_stats();
    let list = api.get("/api/v1/chat/requests").await;
    let page = api
        .get(&format!("/api/v1/chat/requests/{ticket}/messages?limit=7"))
        .await;
    api.send(&ticket, "count me", "c-1").await;
    api.read(&ticket, 31).await;
    api.get("/api/v1/unknown").await;
    let frames = take_frames(&mut ws, 3, Duration::from_secs(5)).await;
    assert_eq!(frames.len(), 3);
    let stats = server.stats();
    assert_eq!(stats.ticket_list_requests, 1);
    assert_eq!(stats.page_requests, 1);
    assert_eq!(stats.send_requests, 1);
    assert_eq!(stats.read_requests, 1);
    assert_eq!(stats.other_requests, 1);
    assert_eq!(stats.messages_returned, 7);
    assert_eq!(stats.messages_created, 1);
    assert!(stats.http_bytes_sent as usize > list.text.len() + page.text.len());
    assert_eq!(stats.pushes_sent, 3);
    assert!(stats.push_bytes_sent > 300);
    server.reset_stats();
    assert_eq!(server.stats(), chatsync_server::StatsSnapshot::default());
}
