//! Conditional GET of the ticket list (docs/protocol.md 6.1): `ETag` on every list,
//! `304 Not Modified` when `If-None-Match` matches, a new tag whenever the body changes.

mod common;

use chatsync_server::{Role, RunningServer, ServerConfig};
use common::{Api, start};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// One ticket-list answer: status, `ETag`, raw body.
#[derive(Debug)]
struct Listed {
    status: StatusCode,
    etag: Option<String>,
    body: String,
}

async fn list(api: &Api, if_none_match: &[&str]) -> Listed {
    let mut request = api
        .http
        .get(format!("{}/api/v1/chat/requests", api.base))
        .bearer_auth(&api.token);
    for value in if_none_match {
        request = request.header(reqwest::header::IF_NONE_MATCH, *value);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let etag = response
        .headers()
        .get(reqwest::header::ETAG)
        .map(|v| v.to_str().expect("ETag is text").to_string());
    let body = response.text().await.expect("body");
    Listed { status, etag, body }
}

/// A 200 with a strong tag; returns the tag.
async fn full(api: &Api) -> String {
    let answer = list(api, &[]).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    let tag = answer.etag.expect("the list carries an ETag");
    assert!(
        tag.starts_with('"') && tag.ends_with('"') && tag.len() > 2,
        "a strong entity tag: {tag}"
    );
    assert!(!answer.body.is_empty());
    tag
}

async fn assert_not_modified(api: &Api, values: &[&str], tag: &str) {
    let answer = list(api, values).await;
    assert_eq!(
        answer.status,
        StatusCode::NOT_MODIFIED,
        "{values:?}: {answer:?}"
    );
    assert_eq!(answer.etag.as_deref(), Some(tag), "a 304 repeats the tag");
    assert_eq!(answer.body, "", "a 304 has no body");
}

async fn assert_full(api: &Api, values: &[&str]) -> String {
    let answer = list(api, values).await;
    assert_eq!(answer.status, StatusCode::OK, "{values:?}: {answer:?}");
    let body: Value = serde_json::from_str(&answer.body).expect("the list is JSON");
    assert!(body["chatMessages"].is_array());
    answer.etag.expect("ETag")
}

fn admin(server: &RunningServer) -> Api {
    Api {
        base: server.base_url(),
        token: server.admin_token().expect("admin token").to_string(),
        http: common::http_client(),
    }
}

#[tokio::test]
async fn the_list_carries_an_etag_and_a_matching_request_gets_304() {
    let server = start(ServerConfig::ephemeral().with_seed(3, 12)).await;
    let api = Api::of_role(&server, Role::Requester);
    let tag = full(&api).await;
    assert_eq!(full(&api).await, tag, "nothing changed: the same tag");
    server.reset_stats();
    assert_not_modified(&api, &[&tag], &tag).await;
    let stats = server.stats();
    assert_eq!(stats.ticket_list_requests, 1);
    assert_eq!(stats.ticket_lists_not_modified, 1);
    assert_eq!(stats.http_bytes_sent, 0, "no body bytes for a 304");

    // RFC 9110 13.1.2 readings: weak comparison, lists, `*`, several header lines.
    let weak = format!("W/{tag}");
    let listed = format!("\"other\", {tag}");
    for values in [
        vec![weak.as_str()],
        vec![listed.as_str()],
        vec!["*"],
        vec!["\"other\"", tag.as_str()],
    ] {
        assert_not_modified(&api, &values, &tag).await;
    }
    assert_eq!(server.stats().ticket_lists_not_modified, 5);

    // Anything else gets the full list (garbage is ignored, never an error).
    let unquoted = tag.trim_matches('"').to_string();
    let with_garbage = format!("garbage, {tag}");
    for values in [
        vec!["\"other\""],
        vec![unquoted.as_str()],
        vec!["garbage"],
        vec![with_garbage.as_str()],
        vec![""],
    ] {
        assert_eq!(assert_full(&api, &values).await, tag, "{values:?}");
    }
    assert_eq!(server.stats().ticket_lists_not_modified, 5);

    // Authentication comes first.
    let stranger = Api {
        token: "not-a-token".into(),
        ..api.clone()
    };
    assert_eq!(
        list(&stranger, &[&tag]).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn posts_reads_restores_and_faults_change_the_tag() {
    let server = start(ServerConfig::ephemeral().with_seed(2, 10).with_faults()).await;
    let api = Api::of_role(&server, Role::Requester);
    let technician = server.first_user(Role::Technician).unwrap();
    let ticket = server.ticket_ids().await.unwrap()[0].clone();
    let mut seen = vec![full(&api).await];

    // A post (by the other party) changes lastMessage, the sequence and unreadCount.
    server
        .post_message(&ticket, &technician.id, "a new message", None)
        .await
        .unwrap();
    let old = seen.last().unwrap().clone();
    let tag = assert_full(&api, &[&old]).await;
    assert!(!seen.contains(&tag), "a post gives a new tag");
    seen.push(tag.clone());
    assert_not_modified(&api, &[&tag], &tag).await;

    // A read moves the requester's unreadCount.
    let r = api.read(&ticket, 11).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
    let tag = assert_full(&api, &[&tag]).await;
    assert!(!seen.contains(&tag), "a read gives a new tag");
    seen.push(tag.clone());

    // An admin restore rewrites the history (new epoch, lower sequence).
    let restored = admin(&server)
        .post(
            "/admin/v1/restore",
            json!({"requestId": ticket, "upToSequence": 5}),
        )
        .await;
    assert_eq!(restored.status, StatusCode::OK, "{restored:?}");
    let tag = assert_full(&api, &[&tag]).await;
    assert!(!seen.contains(&tag), "a restore gives a new tag");
    seen.push(tag.clone());

    // The tag describes the bytes sent, faults included.
    server.faults().set_null_last_sequence(true);
    let nulls = assert_full(&api, &[&tag]).await;
    assert!(
        !seen.contains(&nulls),
        "lastMessageSequence: null gives a new tag"
    );
    server.faults().set_null_last_sequence(false);
    assert_not_modified(&api, &[&tag], &tag).await;

    // A restore that removes nothing changes nothing.
    let noop = admin(&server)
        .post(
            "/admin/v1/restore",
            json!({"requestId": ticket, "upToSequence": 99}),
        )
        .await;
    assert_eq!(noop.json["removed"], 0, "{noop:?}");
    assert_not_modified(&api, &[&tag], &tag).await;
}

#[tokio::test]
async fn each_user_has_their_own_tag() {
    let server = start(ServerConfig::ephemeral().with_seed(2, 10)).await;
    let requester = Api::of_role(&server, Role::Requester);
    let technician = Api::of_role(&server, Role::Technician);
    // The requester posts and reads everything; the technician has not read the post:
    // their unread counts of this ticket differ, so do the bodies.
    let ticket = server.ticket_ids().await.unwrap()[0].clone();
    let posted = requester.send(&ticket, "for the technician", "p-1").await;
    assert_eq!(posted.status, StatusCode::CREATED, "{posted:?}");
    let last = server.last_sequence(&ticket).await.unwrap();
    assert_eq!(
        requester.read(&ticket, last).await.status,
        StatusCode::NO_CONTENT
    );
    let r = list(&requester, &[]).await;
    let t = list(&technician, &[]).await;
    assert_ne!(r.body, t.body, "the two users' lists differ");
    let (r_tag, t_tag) = (r.etag.unwrap(), t.etag.unwrap());
    assert_ne!(r_tag, t_tag, "so do their tags");
    // One user's tag is no match for the other's list.
    assert_eq!(assert_full(&technician, &[&r_tag]).await, t_tag);
    assert_not_modified(&technician, &[&t_tag], &t_tag).await;
    assert_not_modified(&requester, &[&r_tag], &r_tag).await;
}
