//! The REST endpoints over real HTTP on loopback, with raw JSON clients written from
//! docs/protocol.md: shapes, ordering, paging, posting, idempotency, reads, visibility,
//! auth, bad input, and gapless sequences under concurrent posters.

mod common;

use std::collections::BTreeSet;

use chatsync_server::{Role, ServerConfig, UserSpec, WsConfig};
use common::{Api, frame_key, next_frame, reply, seqs, start};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn assert_message_shape(m: &Value) {
    let object = m.as_object().expect("message is an object");
    for (field, kinds) in [
        ("id", "s"),
        ("requestId", "s"),
        ("senderId", "s0"),
        ("sender", "o0"),
        ("content", "s"),
        ("sequenceNumber", "i"),
        ("isScreenshot", "b"),
        ("screenshotFileName", "s0"),
        ("isReadByCurrentUser", "b"),
        ("createdAt", "s"),
        ("updatedAt", "s0"),
        ("status", "s"),
        ("clientTempId", "s0"),
        ("isSystemMessage", "b"),
        ("fileName", "s0"),
        ("fileSize", "i0"),
        ("fileMimeType", "s0"),
    ] {
        let value = object
            .get(field)
            .unwrap_or_else(|| panic!("{field} missing in {m}"));
        let ok = match value {
            Value::Null => kinds.contains('0'),
            Value::String(_) => kinds.contains('s'),
            Value::Bool(_) => kinds.contains('b'),
            Value::Number(n) => kinds.contains('i') && n.is_i64(),
            Value::Object(_) => kinds.contains('o'),
            Value::Array(_) => false,
        };
        assert!(ok, "{field} has the wrong type in {m}");
    }
    assert_eq!(m["status"], "sent");
    let created = m["createdAt"].as_str().unwrap_or_default();
    assert!(
        created.len() == 24 && created.ends_with('Z') && created.as_bytes()[10] == b'T',
        "createdAt is RFC 3339 UTC: {created}"
    );
    if m["isSystemMessage"] == true {
        assert!(m["sender"].is_null() && m["senderId"].is_null(), "{m}");
    } else {
        assert_eq!(m["sender"]["id"], m["senderId"], "{m}");
        assert!(m["sender"]["fullName"].is_string() && m["sender"]["isTechnician"].is_boolean());
    }
}

#[tokio::test]
async fn ticket_list_has_the_contract_shape_and_most_recent_activity_first() {
    let server = start(ServerConfig::ephemeral().with_seed(3, 5)).await;
    let requester = Api::of_role(&server, Role::Requester);
    let tickets = requester.tickets().await;
    assert_eq!(tickets.len(), 3);
    for t in &tickets {
        for field in ["id", "title", "status", "updatedAt"] {
            assert!(t[field].is_string(), "{field} in {t}");
        }
        assert!(t["unreadCount"].as_i64().is_some_and(|n| n >= 0), "{t}");
        assert_eq!(t["lastMessageSequence"], 5);
        let last = &t["lastMessage"];
        assert_eq!(last["sequenceNumber"], 5);
        assert!(last["content"].is_string() && last["createdAt"].is_string());
        assert!(last["senderName"].is_string() || last["senderName"].is_null());
    }
    let updated: Vec<&str> = tickets
        .iter()
        .map(|t| t["updatedAt"].as_str().unwrap())
        .collect();
    let mut sorted = updated.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(updated, sorted, "most recent activity first");

    // Posting into the least recently active ticket moves it to the top.
    let oldest = tickets[2]["id"].as_str().unwrap().to_string();
    let sent = requester.send(&oldest, "bump", "bump-1").await;
    assert_eq!(sent.status, StatusCode::CREATED);
    let after = requester.tickets().await;
    assert_eq!(after[0]["id"], oldest.as_str());
    assert_eq!(after[0]["lastMessageSequence"], 6);
    assert_eq!(after[0]["lastMessage"]["content"], "bump");
    assert_eq!(after[0]["lastMessage"]["senderName"], "Dana Whitfield");

    // An empty ticket reports 0 and no lastMessage.
    let r = server.first_user(Role::Requester).unwrap();
    let t = server.first_user(Role::Technician).unwrap();
    let empty = server
        .create_ticket("Empty one", &r.id, &t.id)
        .await
        .unwrap();
    let list = requester.tickets().await;
    let found = list
        .iter()
        .find(|x| x["id"] == empty.as_str())
        .expect("new ticket listed");
    assert_eq!(found["lastMessageSequence"], 0);
    assert!(found["lastMessage"].is_null());
    assert_eq!(found["unreadCount"], 0);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn pages_follow_after_before_and_latest_semantics() {
    let server = start(ServerConfig::ephemeral().with_seed(1, 25)).await;
    let api = Api::of_role(&server, Role::Requester);
    let ticket = server.ticket_ids().await.unwrap()[0].clone();
    let range = |a: i64, b: i64| (a..=b).collect::<Vec<i64>>();
    let cases: &[(&str, Vec<i64>, bool)] = &[
        ("limit=10", range(16, 25), true),
        ("", range(1, 25), false),
        ("limit=25", range(1, 25), false),
        ("limit=24", range(2, 25), true),
        ("afterSequence=0&limit=10", range(1, 10), true),
        ("afterSequence=15&limit=10", range(16, 25), false),
        ("afterSequence=20&limit=10", range(21, 25), false),
        ("afterSequence=25", vec![], false),
        ("afterSequence=9999", vec![], false),
        ("beforeSequence=11&limit=10", range(1, 10), false),
        ("beforeSequence=12&limit=10", range(2, 11), true),
        ("beforeSequence=1", vec![], false),
        ("beforeSequence=0", vec![], false),
        ("beforeSequence=1000&limit=5", range(21, 25), true),
        ("limit=1", vec![25], true),
        ("limit=500&afterSequence=3", range(4, 25), false),
        ("limit=10&unknownParam=x", range(16, 25), true),
    ];
    for (query, expected, has_more) in cases {
        let page = api.page(&ticket, query).await;
        assert_eq!(&seqs(&page), expected, "query {query:?}");
        assert_eq!(page["hasMore"], *has_more, "hasMore for {query:?}");
        assert_eq!(page["lastMessageSequence"], 25, "query {query:?}");
        for m in page["messages"].as_array().unwrap() {
            assert_message_shape(m);
            assert_eq!(m["requestId"], ticket.as_str());
        }
    }
    // The first message of a seeded ticket is a system message.
    let first = api.page(&ticket, "afterSequence=0&limit=1").await;
    assert_eq!(first["messages"][0]["isSystemMessage"], true);

    let r = server.first_user(Role::Requester).unwrap();
    let t = server.first_user(Role::Technician).unwrap();
    let empty = server
        .create_ticket("Nothing yet", &r.id, &t.id)
        .await
        .unwrap();
    for query in ["", "afterSequence=0", "beforeSequence=5"] {
        let page = api.page(&empty, query).await;
        assert_eq!(
            page,
            json!({
                "messages": [],
                "lastMessageSequence": 0,
                "history": {"epoch": 0, "previousEpoch": null, "keptThroughSequence": null},
                "hasMore": false
            })
        );
    }
    // 17 cases above plus the one-message page.
    assert_eq!(server.stats().messages_returned, 168);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn seed_data_is_deterministic_and_varied() {
    let spec = ServerConfig::ephemeral().with_seed(4, 300);
    let a = start(spec.clone()).await;
    let b = start(spec).await;
    let ids_a = a.ticket_ids().await.unwrap();
    assert_eq!(ids_a, b.ticket_ids().await.unwrap(), "same ticket ids");
    let (api_a, api_b) = (
        Api::of_role(&a, Role::Requester),
        Api::of_role(&b, Role::Requester),
    );
    let strip = |page: &Value| -> Vec<Value> {
        page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                json!([
                    m["id"],
                    m["senderId"],
                    m["content"],
                    m["fileSize"],
                    m["isReadByCurrentUser"]
                ])
            })
            .collect()
    };
    let mut system = 0;
    let mut screenshots = 0;
    let mut lengths = BTreeSet::new();
    for ticket in &ids_a {
        let pa = api_a.page(ticket, "afterSequence=0&limit=500").await;
        let pb = api_b.page(ticket, "afterSequence=0&limit=500").await;
        assert_eq!(strip(&pa), strip(&pb), "same messages in {ticket}");
        let msgs = pa["messages"].as_array().unwrap();
        assert_eq!(seqs(&pa), (1..=300).collect::<Vec<_>>());
        system += msgs.iter().filter(|m| m["isSystemMessage"] == true).count();
        screenshots += msgs.iter().filter(|m| m["isScreenshot"] == true).count();
        let senders: BTreeSet<String> = msgs
            .iter()
            .filter_map(|m| m["senderId"].as_str().map(str::to_string))
            .collect();
        assert_eq!(senders.len(), 2, "both parties write");
        lengths.extend(
            msgs.iter()
                .map(|m| m["content"].as_str().unwrap().len() / 100),
        );
    }
    assert!(
        system > 4 && screenshots > 0,
        "system {system}, screenshots {screenshots}"
    );
    assert!(
        lengths.len() >= 3,
        "contents of varied length: buckets {lengths:?}"
    );
    let c = start(ServerConfig {
        seed: chatsync_server::SeedSpec {
            rng_seed: 99,
            ..chatsync_server::SeedSpec::new(4, 300)
        },
        ..ServerConfig::ephemeral()
    })
    .await;
    assert_ne!(
        c.ticket_ids().await.unwrap(),
        ids_a,
        "another seed gives other data"
    );
}

#[tokio::test]
async fn posts_assign_the_next_sequence_and_client_temp_id_is_idempotent_per_user_and_ticket() {
    let server = start(ServerConfig::ephemeral().with_seed(2, 3)).await;
    let requester = Api::of_role(&server, Role::Requester);
    let technician = Api::of_role(&server, Role::Technician);
    let ids = server.ticket_ids().await.unwrap();
    let (t1, t2) = (&ids[0], &ids[1]);

    let first = requester.send(t1, "Printer still jams", "tmp-a").await;
    assert_eq!(first.status, StatusCode::CREATED, "{first:?}");
    let m = &first.json;
    assert_message_shape(m);
    assert_eq!(m["sequenceNumber"], 4);
    assert_eq!(m["clientTempId"], "tmp-a");
    assert_eq!(m["content"], "Printer still jams");
    assert_eq!(m["requestId"], t1.as_str());
    assert_eq!(m["senderId"], "requester-1");
    assert_eq!(
        m["sender"],
        json!({"id": "requester-1", "fullName": "Dana Whitfield", "isTechnician": false})
    );
    assert_eq!(m["isReadByCurrentUser"], true);
    assert_eq!(m["isSystemMessage"], false);

    // The same clientTempId again: 200, the same message, no second one.
    let again = requester.send(t1, "Printer still jams", "tmp-a").await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json, first.json);
    let changed_content = requester.send(t1, "different text", "tmp-a").await;
    assert_eq!(changed_content.status, StatusCode::OK);
    assert_eq!(changed_content.json["id"], m["id"]);
    assert_eq!(server.last_sequence(t1).await.unwrap(), 4);

    // Scope is (user, ticket): another user or another ticket with the same key creates.
    let tech = technician.send(t1, "On my way", "tmp-a").await;
    assert_eq!(tech.status, StatusCode::CREATED);
    assert_eq!(tech.json["sequenceNumber"], 5);
    assert_eq!(tech.json["sender"]["isTechnician"], true);
    let other_ticket = requester.send(t2, "Also here", "tmp-a").await;
    assert_eq!(other_ticket.status, StatusCode::CREATED);
    assert_eq!(other_ticket.json["sequenceNumber"], 4);

    // Without clientTempId (allowed): always a new message.
    for expected in [6, 7] {
        let r = requester
            .post(
                &format!("/api/v1/chat/requests/{t1}/messages"),
                json!({"content": "no key"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
        assert_eq!(r.json["sequenceNumber"], expected);
        assert!(r.json["clientTempId"].is_null());
    }
    // The in-process helper goes through the same path.
    let tech_id = server.first_user(Role::Technician).unwrap().id;
    let inproc = server
        .post_message(t1, &tech_id, "in-process", Some("k1"))
        .await
        .unwrap();
    assert!(inproc.created);
    assert_eq!(inproc.message.sequence_number, 8);
    let repeat = server
        .post_message(t1, &tech_id, "in-process", Some("k1"))
        .await
        .unwrap();
    assert!(!repeat.created);
    assert_eq!(repeat.message.id, inproc.message.id);
    assert!(
        server
            .post_message(t1, &tech_id, "   ", None)
            .await
            .is_err()
    );
    assert!(
        server
            .post_message("no-such-ticket", &tech_id, "x", None)
            .await
            .is_err()
    );

    let page = requester.page(t1, "afterSequence=3").await;
    assert_eq!(seqs(&page), vec![4, 5, 6, 7, 8]);
    assert_eq!(page["messages"][0]["clientTempId"], "tmp-a");
    assert_eq!(server.stats().messages_created, 6);
}

#[tokio::test]
async fn reads_move_the_pointer_up_and_update_unread_counts() {
    let server = start(ServerConfig::ephemeral()).await;
    let requester = Api::of_role(&server, Role::Requester);
    let technician = Api::of_role(&server, Role::Technician);
    let (r, t) = (
        server.first_user(Role::Requester).unwrap(),
        server.first_user(Role::Technician).unwrap(),
    );
    let ticket = server.create_ticket("Laptop", &r.id, &t.id).await.unwrap();
    for i in 0..3 {
        assert_eq!(
            technician
                .send(&ticket, &format!("t{i}"), &format!("t{i}"))
                .await
                .status,
            StatusCode::CREATED
        );
    }
    assert_eq!(
        requester.send(&ticket, "mine", "r0").await.status,
        StatusCode::CREATED
    );
    let unread = |list: Vec<Value>| list[0]["unreadCount"].as_i64().unwrap();
    assert_eq!(unread(requester.tickets().await), 3);
    assert_eq!(unread(technician.tickets().await), 1);
    let flags = |page: &Value| -> Vec<bool> {
        page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["isReadByCurrentUser"] == true)
            .collect()
    };
    assert_eq!(
        flags(&requester.page(&ticket, "").await),
        vec![false, false, false, true]
    );

    let r2 = requester.read(&ticket, 2).await;
    assert_eq!(r2.status, StatusCode::NO_CONTENT);
    assert!(r2.text.is_empty());
    assert_eq!(unread(requester.tickets().await), 1);
    assert_eq!(
        flags(&requester.page(&ticket, "").await),
        vec![true, true, false, true]
    );
    // Lower pointers change nothing; a pointer past the end is clamped.
    assert_eq!(
        requester.read(&ticket, 1).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(unread(requester.tickets().await), 1);
    assert_eq!(
        requester.read(&ticket, 0).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        requester.read(&ticket, 999).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(unread(requester.tickets().await), 0);
    assert_eq!(flags(&requester.page(&ticket, "").await), vec![true; 4]);
    // The technician's view is separate.
    assert_eq!(unread(technician.tickets().await), 1);
    assert_eq!(
        flags(&technician.page(&ticket, "").await),
        vec![true, true, true, false]
    );
    // A new message after the clamp is unread again.
    technician.send(&ticket, "t3", "t3").await;
    assert_eq!(unread(requester.tickets().await), 1);
}

#[tokio::test]
async fn users_see_only_their_own_tickets() {
    let users = vec![
        UserSpec::new("alice", Role::Requester, "Alice Moreau").with_token("tok-alice"),
        UserSpec::new("bob", Role::Requester, "Bob Kim").with_token("tok-bob"),
        UserSpec::new("tess", Role::Technician, "Tess Nakamura").with_token("tok-tess"),
    ];
    let server = start(ServerConfig::ephemeral().with_users(users).with_seed(2, 4)).await;
    assert_eq!(server.users().len(), 3);
    let api = |token: &str| Api {
        base: server.base_url(),
        token: token.into(),
        http: common::http_client(),
    };
    let (alice, bob, tess) = (api("tok-alice"), api("tok-bob"), api("tok-tess"));
    let seeded = server.ticket_ids().await.unwrap();
    let bobs = server
        .create_ticket("Bob's VPN", "bob", "tess")
        .await
        .unwrap();

    let ids = |list: Vec<Value>| -> BTreeSet<String> {
        list.iter()
            .map(|t| t["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(alice.tickets().await), seeded.iter().cloned().collect());
    assert_eq!(ids(bob.tickets().await), BTreeSet::from([bobs.clone()]));
    assert_eq!(ids(tess.tickets().await).len(), 3);

    // Bob cannot read, post into or mark read Alice's ticket: 404, nothing written.
    let alices = &seeded[0];
    let page = bob
        .get(&format!("/api/v1/chat/requests/{alices}/messages"))
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    page.detail();
    let post = bob.send(alices, "let me in", "x1").await;
    assert_eq!(post.status, StatusCode::NOT_FOUND);
    post.detail();
    let read = bob.read(alices, 4).await;
    assert_eq!(read.status, StatusCode::NOT_FOUND);
    assert_eq!(server.last_sequence(alices).await.unwrap(), 4);
    // Same answer as a ticket that does not exist.
    let missing = bob
        .get("/api/v1/chat/requests/does-not-exist/messages")
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    // Tess (technician on both) can.
    assert_eq!(
        tess.send(&bobs, "hi Bob", "t1").await.status,
        StatusCode::CREATED
    );
    assert_eq!(seqs(&bob.page(&bobs, "").await), vec![1]);
}

#[tokio::test]
async fn missing_or_bad_tokens_get_401_on_every_endpoint() {
    let server = start(ServerConfig::ephemeral().with_seed(1, 1)).await;
    let ticket = server.ticket_ids().await.unwrap()[0].clone();
    let http = common::http_client();
    let base = server.base_url();
    let endpoints = [
        ("GET", "/api/v1/chat/requests".to_string()),
        ("GET", format!("/api/v1/chat/requests/{ticket}/messages")),
        ("POST", format!("/api/v1/chat/requests/{ticket}/messages")),
        ("POST", format!("/api/v1/chat/requests/{ticket}/read")),
        ("GET", "/api/v1/ws".to_string()),
    ];
    for (method, path) in &endpoints {
        for auth in [
            None,
            Some("Bearer nope"),
            Some("Basic dXNlcjpwYXNz"),
            Some("Bearer"),
            Some(""),
        ] {
            let mut request = http
                .request(method.parse().unwrap(), format!("{base}{path}"))
                .header("content-type", "application/json")
                .body(r#"{"content": "x", "upToSequence": 1}"#);
            if let Some(value) = auth {
                request = request.header("authorization", value);
            }
            let r = reply(request.send().await.unwrap()).await;
            assert_eq!(
                r.status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} {auth:?}: {r:?}"
            );
            r.detail();
        }
    }
    // Scheme is case-insensitive.
    let token = server.first_user(Role::Requester).unwrap().token;
    let r = reply(
        http.get(format!("{base}/api/v1/chat/requests"))
            .header("authorization", format!("bearer {token}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        server.last_sequence(&ticket).await.unwrap(),
        1,
        "nothing written"
    );
}

#[tokio::test]
async fn every_bad_input_gets_a_4xx_detail_and_writes_nothing() {
    let server = start(ServerConfig::ephemeral().with_seed(1, 3)).await;
    let api = Api::of_role(&server, Role::Requester);
    let ticket = server.ticket_ids().await.unwrap()[0].clone();
    let messages = format!(
        "{}/api/v1/chat/requests/{ticket}/messages",
        server.base_url()
    );
    let read = format!("{}/api/v1/chat/requests/{ticket}/read", server.base_url());
    let before = api.tickets().await;
    let too_long = "x".repeat(10_001);
    let huge_body = format!(r#"{{"content": "{}"}}"#, "y".repeat(200 * 1024));
    let json_ct = "application/json";
    let cases: Vec<(&str, String, Option<&str>, String, u16)> = vec![
        (
            "POST",
            messages.clone(),
            Some(json_ct),
            r#"{"content": "#.into(),
            400,
        ),
        (
            "POST",
            messages.clone(),
            Some(json_ct),
            "not json at all".into(),
            400,
        ),
        ("POST", messages.clone(), Some(json_ct), "".into(), 400),
        (
            "POST",
            messages.clone(),
            Some(json_ct),
            r#"["content"]"#.into(),
            400,
        ),
        (
            "POST",
            messages.clone(),
            Some(json_ct),
            r#"{"content": 5}"#.into(),
            400,
        ),
        (
            "POST",
            messages.clone(),
            Some(json_ct),
            r#"{"content": null}"#.into(),
            400,
        ),
        (
            "POST",
            messages.clone(),
            Some(json_ct),
            r#"{"clientTempId": "a"}"#.into(),
            400,
        ),
        (
            "POST",
            messages.clone(),
            Some(json_ct),
            r#"{"content": ""}"#.into(),
            400,
        ),
        (
            "POST",
            messages.clone(),
            Some(json_ct),
            r#"{"content": "  \n\t "}"#.into(),
            400,
        ),
        (
            "POST",
            messages.clone(),
            Some(json_ct),
            format!(r#"{{"content": "{too_long}"}}"#),
            400,
        ),
        ("POST", messages.clone(), Some(json_ct), huge_body, 413),
        (
            "POST",
            messages.clone(),
            Some(json_ct),
            r#"{"content": "a", "clientTempId": 7}"#.into(),
            400,
        ),
        (
            "POST",
            messages.clone(),
            Some(json_ct),
            r#"{"content": "a", "clientTempId": ""}"#.into(),
            400,
        ),
        (
            "POST",
            messages.clone(),
            Some(json_ct),
            format!(
                r#"{{"content": "a", "clientTempId": "{}"}}"#,
                "k".repeat(129)
            ),
            400,
        ),
        (
            "POST",
            messages.clone(),
            Some("text/plain"),
            r#"{"content": "a"}"#.into(),
            415,
        ),
        (
            "POST",
            messages.clone(),
            None,
            r#"{"content": "a"}"#.into(),
            415,
        ),
        (
            "POST",
            read.clone(),
            Some(json_ct),
            r#"{"upToSequence": "5"}"#.into(),
            400,
        ),
        (
            "POST",
            read.clone(),
            Some(json_ct),
            r#"{"upToSequence": -1}"#.into(),
            400,
        ),
        (
            "POST",
            read.clone(),
            Some(json_ct),
            r#"{"upToSequence": 1.5}"#.into(),
            400,
        ),
        (
            "POST",
            read.clone(),
            Some(json_ct),
            r#"{"upToSequence": 1e400}"#.into(),
            400,
        ),
        ("POST", read.clone(), Some(json_ct), r#"{}"#.into(), 400),
        ("POST", read.clone(), Some(json_ct), r#"{"upTo"#.into(), 400),
        (
            "GET",
            format!("{messages}?limit=0"),
            None,
            String::new(),
            400,
        ),
        (
            "GET",
            format!("{messages}?limit=501"),
            None,
            String::new(),
            400,
        ),
        (
            "GET",
            format!("{messages}?limit=abc"),
            None,
            String::new(),
            400,
        ),
        (
            "GET",
            format!("{messages}?limit=-1"),
            None,
            String::new(),
            400,
        ),
        (
            "GET",
            format!("{messages}?limit="),
            None,
            String::new(),
            400,
        ),
        (
            "GET",
            format!("{messages}?afterSequence=-1"),
            None,
            String::new(),
            400,
        ),
        (
            "GET",
            format!("{messages}?afterSequence=abc"),
            None,
            String::new(),
            400,
        ),
        (
            "GET",
            format!("{messages}?afterSequence=1.5"),
            None,
            String::new(),
            400,
        ),
        (
            "GET",
            format!("{messages}?afterSequence=+3"),
            None,
            String::new(),
            400,
        ),
        (
            "GET",
            format!("{messages}?afterSequence="),
            None,
            String::new(),
            400,
        ),
        (
            "GET",
            format!("{messages}?afterSequence=99999999999999999999999"),
            None,
            String::new(),
            400,
        ),
        (
            "GET",
            format!("{messages}?beforeSequence=-3"),
            None,
            String::new(),
            400,
        ),
        (
            "GET",
            format!("{messages}?beforeSequence=x"),
            None,
            String::new(),
            400,
        ),
        (
            "GET",
            format!("{messages}?afterSequence=1&beforeSequence=3"),
            None,
            String::new(),
            400,
        ),
        (
            "GET",
            format!("{messages}?afterSequence=1&afterSequence=2"),
            None,
            String::new(),
            400,
        ),
        (
            "GET",
            format!("{messages}?afterSequence=%FF"),
            None,
            String::new(),
            400,
        ),
        (
            "GET",
            format!("{}/api/v1/chat/requests/nope/messages", server.base_url()),
            None,
            String::new(),
            404,
        ),
        (
            "POST",
            format!("{}/api/v1/chat/requests/nope/messages", server.base_url()),
            Some(json_ct),
            r#"{"content": "a"}"#.into(),
            404,
        ),
        (
            "POST",
            format!("{}/api/v1/chat/requests/nope/read", server.base_url()),
            Some(json_ct),
            r#"{"upToSequence": 1}"#.into(),
            404,
        ),
        (
            "GET",
            format!("{}/api/v1/nothing-here", server.base_url()),
            None,
            String::new(),
            404,
        ),
        (
            "GET",
            format!("{}/", server.base_url()),
            None,
            String::new(),
            404,
        ),
        ("DELETE", messages.clone(), None, String::new(), 405),
        ("PUT", read.clone(), Some(json_ct), "{}".into(), 405),
        (
            "GET",
            format!("{}/api/v1/ws", server.base_url()),
            None,
            String::new(),
            400,
        ),
    ];
    for (method, url, content_type, body, expected) in &cases {
        let mut request = api
            .http
            .request(method.parse().unwrap(), url)
            .bearer_auth(&api.token)
            .body(body.clone());
        if let Some(ct) = content_type {
            request = request.header("content-type", *ct);
        }
        let r = reply(request.send().await.unwrap()).await;
        let short_url = url.replace(&server.base_url(), "");
        assert_eq!(
            r.status.as_u16(),
            *expected,
            "{method} {short_url} {body:.60}: {r:?}"
        );
        let detail = r.detail();
        assert!(detail.len() < 300, "short detail: {detail}");
    }
    assert_eq!(
        server.last_sequence(&ticket).await.unwrap(),
        3,
        "nothing written"
    );
    assert_eq!(server.stats().messages_created, 0);
    assert_eq!(api.tickets().await, before, "ticket list unchanged");

    // The limits themselves are accepted.
    let exactly = "é".repeat(10_000);
    let ok = api.send(&ticket, &exactly, &"k".repeat(128)).await;
    assert_eq!(
        ok.status,
        StatusCode::CREATED,
        "10,000 characters is allowed"
    );
    assert_eq!(
        ok.json["content"].as_str().map(|c| c.chars().count()),
        Some(10_000)
    );
    let page = api.page(&ticket, "limit=500&afterSequence=0").await;
    assert_eq!(seqs(&page), vec![1, 2, 3, 4]);
}

#[tokio::test]
async fn concurrent_posters_get_gapless_unique_sequences_pushed_in_order() {
    let config = ServerConfig {
        ws: WsConfig {
            queue_capacity: 8192,
            ..WsConfig::default()
        },
        ..ServerConfig::ephemeral()
    };
    let server = start(config).await;
    let (r, t) = (
        server.first_user(Role::Requester).unwrap(),
        server.first_user(Role::Technician).unwrap(),
    );
    let ticket = server
        .create_ticket("Busy chat", &r.id, &t.id)
        .await
        .unwrap();
    let mut ws = common::connect_ws(&server, &r.token).await;
    const POSTERS: usize = 8;
    const POSTS: usize = 200;
    let mut tasks = Vec::new();
    for poster in 0..POSTERS {
        let api = Api::new(&server, if poster % 2 == 0 { &r } else { &t });
        let ticket = ticket.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::with_capacity(POSTS);
            for i in 0..POSTS {
                let reply = api
                    .send(
                        &ticket,
                        &format!("poster {poster} post {i}"),
                        &format!("p{poster}-{i}"),
                    )
                    .await;
                assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
                got.push(reply.json["sequenceNumber"].as_i64().unwrap());
            }
            got
        }));
    }
    let reader = tokio::spawn(async move {
        let mut seen = Vec::new();
        while seen.len() < POSTERS * POSTS {
            let Some(frame) = next_frame(&mut ws, std::time::Duration::from_secs(30)).await else {
                break;
            };
            if let (kind, Some(seq)) = frame_key(&frame)
                && kind == "message.new"
            {
                seen.push(seq);
            }
        }
        seen
    });
    let mut all = Vec::new();
    for task in tasks {
        let got = task.await.unwrap();
        assert!(
            got.windows(2).all(|w| w[0] < w[1]),
            "one poster's sequences rise"
        );
        all.extend(got);
    }
    all.sort_unstable();
    let total = (POSTERS * POSTS) as i64;
    assert_eq!(all, (1..=total).collect::<Vec<_>>(), "gapless and unique");
    let pushed = reader.await.unwrap();
    assert_eq!(
        pushed,
        (1..=total).collect::<Vec<_>>(),
        "pushed once each, in sequence order"
    );

    let api = Api::new(&server, &r);
    let mut stored: Vec<i64> = Vec::new();
    let mut after = 0;
    loop {
        let page = api
            .page(&ticket, &format!("afterSequence={after}&limit=500"))
            .await;
        assert_eq!(page["lastMessageSequence"], total);
        let s = seqs(&page);
        stored.extend(&s);
        if page["hasMore"] == false {
            break;
        }
        after = *s.last().unwrap();
    }
    assert_eq!(stored, (1..=total).collect::<Vec<_>>());
}
