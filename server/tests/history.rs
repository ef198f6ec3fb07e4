//! The `history` object (docs/protocol.md sections 4.3 and 5) over real loopback
//! connections: epoch 0 for untouched tickets, a new epoch after every restore that
//! removed messages, in the ticket list, pages, `ticket.updated` and the admin answer;
//! and the schema migration of database files written by the version-1 server.

mod common;

use std::path::Path;
use std::time::Duration;

use chatsync_server::{History, Role, RunningServer, Server, ServerConfig, ServerError};
use common::{Api, connect_ws, frames_for, seqs, start, take_frames};
use reqwest::StatusCode;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(5);
const QUIET: Duration = Duration::from_millis(300);

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

fn original() -> Value {
    json!({"epoch": 0, "previousEpoch": null, "keptThroughSequence": null})
}

fn history(epoch: i64, previous: i64, kept: i64) -> Value {
    json!({"epoch": epoch, "previousEpoch": previous, "keptThroughSequence": kept})
}

fn admin_api(server: &RunningServer) -> Api {
    Api {
        base: server.base_url(),
        token: server.admin_token().expect("admin token").to_string(),
        http: common::http_client(),
    }
}

/// The ticket's entry in the user's list.
async fn listed(api: &Api, ticket: &str) -> Value {
    api.tickets()
        .await
        .into_iter()
        .find(|t| t["id"] == ticket)
        .expect("ticket listed")
}

/// The only `ticket.updated` among the next frames (a restore pushes exactly one).
async fn next_ticket_updated(ws: &mut common::Ws) -> Value {
    let frames = take_frames(ws, 1, WAIT).await;
    assert_eq!(frames.len(), 1, "one frame: {frames:?}");
    assert_eq!(frames[0]["type"], "ticket.updated", "{frames:?}");
    frames[0].clone()
}

#[tokio::test]
async fn a_fresh_ticket_has_epoch_zero_everywhere() {
    let server = start(ServerConfig::ephemeral()).await;
    let requester = server.first_user(Role::Requester).unwrap();
    let technician = server.first_user(Role::Technician).unwrap();
    let api = Api::new(&server, &requester);
    let mut ws = connect_ws(&server, &requester.token).await;
    let ticket = server
        .create_ticket("Printer", &requester.id, &technician.id)
        .await
        .unwrap();

    let created = next_ticket_updated(&mut ws).await;
    assert_eq!(
        created,
        json!({"type": "ticket.updated", "requestId": ticket, "lastMessageSequence": 0,
               "history": original()})
    );
    assert_eq!(listed(&api, &ticket).await["history"], original());
    assert_eq!(api.page(&ticket, "").await["history"], original());

    // Posts and reads do not rewrite history.
    assert_eq!(
        api.send(&ticket, "It jams", "h-1").await.status,
        StatusCode::CREATED
    );
    let frames = take_frames(&mut ws, 2, WAIT).await;
    assert_eq!(frames[1]["type"], "ticket.updated");
    assert_eq!(frames[1]["lastMessageSequence"], 1);
    assert_eq!(frames[1]["history"], original());
    let tech = Api::new(&server, &technician);
    tech.send(&ticket, "Which tray?", "h-2").await;
    take_frames(&mut ws, 2, WAIT).await;
    assert_eq!(api.read(&ticket, 2).await.status, StatusCode::NO_CONTENT);
    let read = next_ticket_updated(&mut ws).await;
    assert_eq!(read["history"], original());
    assert_eq!(listed(&api, &ticket).await["history"], original());
    assert_eq!(
        server.ticket_history(&ticket).await.unwrap(),
        History::ORIGINAL
    );

    // The null-sequence fault hides the sequence, never the history.
    server.faults().set_null_last_sequence(true);
    tech.send(&ticket, "Tray 2?", "h-3").await;
    let frames = take_frames(&mut ws, 2, WAIT).await;
    assert!(frames[1]["lastMessageSequence"].is_null());
    assert_eq!(frames[1]["history"], original());
    let item = listed(&api, &ticket).await;
    assert!(item["lastMessageSequence"].is_null());
    assert_eq!(item["history"], original());
    let page = api.page(&ticket, "afterSequence=0").await;
    assert!(page["lastMessageSequence"].is_null());
    assert_eq!(page["history"], original());
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn restores_start_new_epochs_in_list_page_push_and_admin_answer() {
    let server = start(ServerConfig::ephemeral().with_faults().with_seed(1, 10)).await;
    let ticket = server.ticket_ids().await.unwrap()[0].clone();
    let requester = server.first_user(Role::Requester).unwrap();
    let technician = server.first_user(Role::Technician).unwrap();
    let api = Api::new(&server, &requester);
    let admin = admin_api(&server);
    let mut r_ws = connect_ws(&server, &requester.token).await;
    let mut t_ws = connect_ws(&server, &technician.token).await;
    assert_eq!(listed(&api, &ticket).await["history"], original());

    // First restore, over the admin endpoint: keep 1..=6.
    let before = now_ms();
    let answer = admin
        .post(
            "/admin/v1/restore",
            json!({"requestId": ticket, "upToSequence": 6}),
        )
        .await;
    let after = now_ms();
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    let first = answer.json["history"]["epoch"].as_i64().expect("epoch");
    assert!(
        (before..=after).contains(&first),
        "the first epoch is the restore's time in ms: {before} <= {first} <= {after}"
    );
    assert_eq!(
        answer.json,
        json!({"removed": 4, "lastMessageSequence": 6, "history": history(first, 0, 6)})
    );
    for ws in [&mut r_ws, &mut t_ws] {
        assert_eq!(
            next_ticket_updated(ws).await,
            json!({"type": "ticket.updated", "requestId": ticket, "lastMessageSequence": 6,
                   "history": history(first, 0, 6)})
        );
    }
    let item = listed(&api, &ticket).await;
    assert_eq!(item["lastMessageSequence"], 6);
    assert_eq!(item["history"], history(first, 0, 6));
    let page = api.page(&ticket, "afterSequence=0").await;
    assert_eq!(seqs(&page), (1..=6).collect::<Vec<_>>());
    assert_eq!(page["history"], history(first, 0, 6));
    assert_eq!(
        Api::new(&server, &technician).page(&ticket, "").await["history"],
        history(first, 0, 6),
        "both parties see the same history"
    );

    // New posts reuse 7, 8, 9 inside the same epoch.
    for text in ["a", "b", "c"] {
        api.send(&ticket, text, &format!("after-{text}")).await;
    }
    take_frames(&mut r_ws, 6, WAIT).await;
    take_frames(&mut t_ws, 6, WAIT).await;
    assert_eq!(
        api.page(&ticket, "beforeSequence=100&limit=1").await["history"],
        history(first, 0, 6)
    );

    // Second restore, in-process: keep 1..=7. The epoch grows; previous is the first.
    let outcome = server.restore_ticket_outcome(&ticket, 7).await.unwrap();
    assert_eq!(outcome.removed, 2);
    assert_eq!(outcome.last_message_sequence, 7);
    let second = outcome.history.epoch;
    assert!(second > first, "{second} > {first}");
    assert_eq!(
        outcome.history,
        History {
            epoch: second,
            previous_epoch: Some(first),
            kept_through_sequence: Some(7),
        }
    );
    assert_eq!(
        next_ticket_updated(&mut r_ws).await["history"],
        history(second, first, 7)
    );
    assert_eq!(
        next_ticket_updated(&mut t_ws).await["history"],
        history(second, first, 7)
    );
    assert_eq!(
        listed(&api, &ticket).await["history"],
        history(second, first, 7)
    );
    assert_eq!(
        api.page(&ticket, "").await["history"],
        history(second, first, 7)
    );

    // A restore that removes nothing changes nothing and pushes nothing.
    for up_to in [7, 8, 1000] {
        let noop = admin
            .post(
                "/admin/v1/restore",
                json!({"requestId": ticket, "upToSequence": up_to}),
            )
            .await;
        assert_eq!(
            noop.json,
            json!({"removed": 0, "lastMessageSequence": 7, "history": history(second, first, 7)}),
            "upToSequence {up_to}"
        );
    }
    assert_eq!(server.restore_ticket(&ticket, 7).await.unwrap(), 0);
    assert!(frames_for(&mut r_ws, QUIET).await.is_empty());
    assert_eq!(
        listed(&api, &ticket).await["history"],
        history(second, first, 7)
    );

    // Restoring to an empty chat keeps nothing: keptThroughSequence 0.
    let empty = server.restore_ticket_outcome(&ticket, 0).await.unwrap();
    assert_eq!(empty.removed, 7);
    assert!(empty.history.epoch > second);
    assert_eq!(empty.history.previous_epoch, Some(second));
    assert_eq!(empty.history.kept_through_sequence, Some(0));
    let page = api.page(&ticket, "").await;
    assert_eq!(seqs(&page), Vec::<i64>::new());
    assert_eq!(page["lastMessageSequence"], 0);
    assert_eq!(page["history"], history(empty.history.epoch, second, 0));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn epochs_strictly_increase_even_within_one_millisecond() {
    let server = start(ServerConfig::ephemeral().with_seed(1, 1)).await;
    let ticket = server.ticket_ids().await.unwrap()[0].clone();
    let requester = server.first_user(Role::Requester).unwrap();
    let mut last = History::ORIGINAL;
    for round in 0..20 {
        server
            .post_message(&ticket, &requester.id, "again", None)
            .await
            .unwrap();
        let outcome = server.restore_ticket_outcome(&ticket, 1).await.unwrap();
        assert_eq!(outcome.removed, 1, "round {round}");
        assert!(outcome.history.epoch > last.epoch, "round {round}");
        assert_eq!(outcome.history.previous_epoch, Some(last.epoch));
        assert_eq!(outcome.history.kept_through_sequence, Some(1));
        last = outcome.history;
    }
    assert_eq!(server.ticket_history(&ticket).await.unwrap(), last);
    assert!(server.ticket_history("nope").await.is_err());
    server.shutdown().await.unwrap();
}

/// The tables exactly as the version-1 server created them (`PRAGMA user_version = 1`).
const V1_SCHEMA: &str = "
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('requester', 'technician')),
    full_name TEXT NOT NULL,
    token TEXT NOT NULL UNIQUE
);
CREATE TABLE tickets (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    status TEXT NOT NULL,
    requester_id TEXT NOT NULL REFERENCES users(id),
    technician_id TEXT NOT NULL REFERENCES users(id),
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    last_seq INTEGER NOT NULL DEFAULT 0 CHECK (last_seq >= 0)
);
CREATE INDEX tickets_requester ON tickets(requester_id);
CREATE INDEX tickets_technician ON tickets(technician_id);
CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    ticket_id TEXT NOT NULL REFERENCES tickets(id),
    sequence_number INTEGER NOT NULL CHECK (sequence_number >= 1),
    sender_id TEXT REFERENCES users(id),
    content TEXT NOT NULL,
    is_screenshot INTEGER NOT NULL DEFAULT 0,
    screenshot_file_name TEXT,
    created_ms INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'sent',
    client_temp_id TEXT,
    is_system_message INTEGER NOT NULL DEFAULT 0,
    file_name TEXT,
    file_size INTEGER,
    file_mime_type TEXT
);
CREATE UNIQUE INDEX messages_ticket_seq ON messages(ticket_id, sequence_number);
CREATE UNIQUE INDEX messages_client_temp_id
    ON messages(ticket_id, sender_id, client_temp_id) WHERE client_temp_id IS NOT NULL;
CREATE TABLE reads (
    ticket_id TEXT NOT NULL REFERENCES tickets(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    read_up_to INTEGER NOT NULL DEFAULT 0,
    unread INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (ticket_id, user_id)
);
INSERT INTO users VALUES ('req-old', 'requester', 'Old Requester', 'tok-req-old');
INSERT INTO users VALUES ('tech-old', 'technician', 'Old Technician', 'tok-tech-old');
INSERT INTO tickets VALUES ('t-old', 'Kept from v1', 'open', 'req-old', 'tech-old',
    1700000000000, 1700000003000, 3);
INSERT INTO messages (id, ticket_id, sequence_number, sender_id, content, created_ms, client_temp_id)
    VALUES ('m-1', 't-old', 1, 'req-old', 'first', 1700000001000, 'c-1'),
           ('m-2', 't-old', 2, 'tech-old', 'second', 1700000002000, NULL),
           ('m-3', 't-old', 3, 'req-old', 'third', 1700000003000, 'c-3');
INSERT INTO reads VALUES ('t-old', 'req-old', 3, 0), ('t-old', 'tech-old', 2, 1);
PRAGMA user_version = 1;
";

fn file_config(path: &Path) -> ServerConfig {
    ServerConfig {
        db: Some(path.to_path_buf()),
        ..ServerConfig::ephemeral()
    }
}

fn user_version(path: &Path) -> i64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

#[tokio::test]
async fn a_version_1_file_is_migrated_and_keeps_its_messages() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.db");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(V1_SCHEMA)
        .unwrap();
    assert_eq!(user_version(&path), 1);

    let server = Server::start(file_config(&path)).await.expect("v1 opens");
    let requester = server.user("req-old").expect("stored user kept");
    assert_eq!(requester.token, "tok-req-old");
    let api = Api::new(&server, &requester);
    let item = listed(&api, "t-old").await;
    assert_eq!(item["lastMessageSequence"], 3);
    assert_eq!(item["lastMessage"]["content"], "third");
    assert_eq!(item["unreadCount"], 0);
    assert_eq!(item["history"], original());
    let page = api.page("t-old", "afterSequence=0").await;
    assert_eq!(seqs(&page), vec![1, 2, 3]);
    assert_eq!(page["messages"][1]["content"], "second");
    assert_eq!(page["history"], original());
    // The idempotency keys of v1 messages still hold.
    let repeat = api.send("t-old", "first", "c-1").await;
    assert_eq!(repeat.status, StatusCode::OK);
    assert_eq!(repeat.json["id"], "m-1");

    // The migrated file takes restores, and the new epoch persists across restarts.
    let outcome = server.restore_ticket_outcome("t-old", 2).await.unwrap();
    assert_eq!(outcome.removed, 1);
    server.shutdown().await.unwrap();
    assert_eq!(user_version(&path), 2);

    let again = Server::start(file_config(&path)).await.expect("v2 reopens");
    assert_eq!(
        again.ticket_history("t-old").await.unwrap(),
        outcome.history
    );
    let api = Api::new(&again, &again.user("req-old").unwrap());
    let page = api.page("t-old", "").await;
    assert_eq!(seqs(&page), vec![1, 2]);
    assert_eq!(
        page["history"],
        history(outcome.history.epoch, 0, 2),
        "the history survives a restart"
    );
    again.shutdown().await.unwrap();
    assert_eq!(user_version(&path), 2);
}

#[tokio::test]
async fn a_file_of_a_newer_schema_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v3.db");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE future (x INTEGER); PRAGMA user_version = 3;")
        .unwrap();
    match Server::start(file_config(&path)).await {
        Err(ServerError::Config(message)) => {
            assert!(message.contains("version 3"), "{message}");
            assert!(message.contains("newer"), "{message}");
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }
    assert_eq!(user_version(&path), 3);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(tables, vec!["future".to_string()], "nothing was created");
    let journal: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        journal, "delete",
        "the journal mode was not switched to WAL"
    );
}
