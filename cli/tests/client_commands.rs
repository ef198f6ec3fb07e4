//! `chatsync client` as a real process against the real reference server: every
//! command, its JSON fields, persistence between invocations, the outbox across
//! invocations, and the exit codes.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::*;

const MESSAGE_KEYS: [&str; 5] = ["id", "sequenceNumber", "content", "status", "clientTempId"];

fn assert_chat_shape(doc: &Value) {
    assert_eq!(
        keys(doc),
        sorted(&["requestId", "state", "meta", "messages", "error"]),
        "{doc}"
    );
    assert_eq!(
        keys(&doc["meta"]),
        sorted(&[
            "localMinSeq",
            "localMaxSeq",
            "lastKnownBackendSeq",
            "messageCount",
            "syncState"
        ]),
    );
    for m in doc["messages"].as_array().expect("messages") {
        for key in MESSAGE_KEYS {
            assert!(m.get(key).is_some(), "message lacks {key}: {m}");
        }
    }
}

#[test]
fn tickets_lists_metadata_only_with_every_field() {
    let server = TestServer::start(3, 7);
    let before = server.stats();
    let run = server.client("c.sqlite", &["--json", "tickets"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let doc = run.json();
    assert_eq!(keys(&doc), sorted(&["tickets"]));
    let tickets = doc["tickets"].as_array().expect("tickets");
    assert_eq!(tickets.len(), 3);
    let mut ids: Vec<String> = Vec::new();
    for t in tickets {
        for key in ["id", "title", "lastMessageSequence", "syncState"] {
            assert!(t.get(key).is_some(), "ticket lacks {key}: {t}");
        }
        assert_eq!(t["lastMessageSequence"], 7);
        assert_eq!(t["syncState"], "UNKNOWN", "never opened");
        assert!(!t["title"].as_str().unwrap_or("").is_empty());
        ids.push(t["id"].as_str().expect("id").to_string());
    }
    ids.sort();
    let mut expected = server.tickets();
    expected.sort();
    assert_eq!(ids, expected);
    let after = server.stats();
    assert_eq!(after.ticket_list_requests - before.ticket_list_requests, 1);
    assert_eq!(
        after.page_requests, before.page_requests,
        "no message fetch"
    );
    assert_eq!(
        after.websocket_requests, before.websocket_requests,
        "tickets does not go online"
    );

    // Human-readable by default: a table, not JSON.
    let human = server.client("c.sqlite", &["tickets"]);
    assert_eq!(human.code, Some(0), "{human:?}");
    assert!(human.stdout.starts_with("3 ticket(s)"), "{human:?}");
    assert!(serde_json::from_str::<Value>(&human.stdout).is_err());
    // --json is accepted after the command too.
    assert_eq!(
        server.client("c.sqlite", &["tickets", "--json"]).json()["tickets"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
}

#[test]
fn open_loads_then_reopens_from_the_cache_and_meta_persists_between_invocations() {
    let server = TestServer::start(2, 12);
    let chat = server.tickets()[0].clone();

    let before = server.stats();
    let first = server.client("c.sqlite", &["--json", "open", &chat]);
    assert_eq!(first.code, Some(0), "{first:?}");
    let doc = first.json();
    assert_chat_shape(&doc);
    assert_eq!(doc["requestId"], chat.as_str());
    assert_eq!(doc["state"], "SYNCED");
    assert_eq!(doc["error"], Value::Null);
    assert_eq!(seqs(&doc["messages"]), (1..=12).collect::<Vec<_>>());
    assert_eq!(doc["meta"]["localMinSeq"], 1);
    assert_eq!(doc["meta"]["localMaxSeq"], 12);
    assert_eq!(doc["meta"]["lastKnownBackendSeq"], 12);
    assert_eq!(doc["meta"]["messageCount"], 12);
    assert_eq!(doc["meta"]["syncState"], "SYNCED");
    let m = &doc["messages"][1];
    assert_eq!(m["status"], "sent");
    assert!(m["id"].as_str().is_some_and(|id| !id.is_empty()));
    assert!(m["content"].as_str().is_some());
    let loaded = server.stats();
    assert_eq!(loaded.messages_returned - before.messages_returned, 12);

    // `meta` in a new process: the stored meta, no network at all.
    let meta = server.client("c.sqlite", &["--json", "meta", &chat]);
    assert_eq!(meta.code, Some(0), "{meta:?}");
    let meta = meta.json();
    assert_eq!(meta["requestId"], chat.as_str());
    assert_eq!(meta["syncState"], "SYNCED");
    assert_eq!(meta["lastKnownBackendSeq"], 12);
    assert_eq!(meta["localMinSeq"], 1);
    assert_eq!(meta["localMaxSeq"], 12);
    assert_eq!(meta["messageCount"], 12);
    assert!(meta["lastValidatedAt"].as_i64().is_some_and(|t| t > 0));
    let after_meta = server.stats();
    assert_eq!(
        after_meta.ticket_list_requests + after_meta.page_requests + after_meta.websocket_requests,
        loaded.ticket_list_requests + loaded.page_requests + loaded.websocket_requests,
        "meta makes no request"
    );

    // A second open: from the cache, SYNCED, no message fetched.
    let again = server.client("c.sqlite", &["--json", "open", &chat]);
    assert_eq!(again.code, Some(0), "{again:?}");
    let again = again.json();
    assert_eq!(again["state"], "SYNCED");
    assert_eq!(seqs(&again["messages"]), (1..=12).collect::<Vec<_>>());
    assert_eq!(server.stats().page_requests, loaded.page_requests);

    // A message posted meanwhile is fetched (only it) by the next open.
    server.post(&chat, "one more");
    let before = server.stats();
    let healed = server.client("c.sqlite", &["--json", "open", &chat]).json();
    assert_eq!(healed["state"], "SYNCED");
    assert_eq!(seqs(&healed["messages"]), (1..=13).collect::<Vec<_>>());
    assert_eq!(
        server.stats().messages_returned - before.messages_returned,
        1
    );

    // Human-readable open.
    let human = server.client("c.sqlite", &["open", &chat]);
    assert_eq!(human.code, Some(0), "{human:?}");
    assert!(
        human.stdout.contains("SYNCED") && human.stdout.contains("one more"),
        "{human:?}"
    );
}

#[test]
fn resync_always_makes_a_request_and_prints_the_chat() {
    let server = TestServer::start(1, 5);
    let chat = server.tickets()[0].clone();
    assert_eq!(server.client("c.sqlite", &["open", &chat]).code, Some(0));
    let before = server.stats();
    let run = server.client("c.sqlite", &["--json", "resync", &chat]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let doc = run.json();
    assert_chat_shape(&doc);
    assert_eq!(doc["state"], "SYNCED");
    assert_eq!(doc["error"], Value::Null);
    assert_eq!(seqs(&doc["messages"]), (1..=5).collect::<Vec<_>>());
    let after = server.stats();
    assert!(
        after.page_requests > before.page_requests,
        "a manual resync always runs"
    );
    assert_eq!(
        after.messages_returned, before.messages_returned,
        "nothing missing"
    );
    assert_eq!(
        after.websocket_requests, before.websocket_requests,
        "resync stays offline-only"
    );

    // On an empty cache the resync loads the latest window.
    let fresh = server
        .client("fresh.sqlite", &["--json", "resync", &chat])
        .json();
    assert_eq!(fresh["state"], "SYNCED");
    assert_eq!(seqs(&fresh["messages"]), (1..=5).collect::<Vec<_>>());
}

#[test]
fn send_prints_sent_with_its_sequence() {
    let server = TestServer::start(1, 4);
    let chat = server.tickets()[0].clone();
    let run = server.client("c.sqlite", &["--json", "send", &chat, "hello from the cli"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let doc = run.json();
    assert_eq!(keys(&doc), sorted(&["message", "error"]));
    assert_eq!(
        keys(&doc["message"]),
        sorted(&["clientTempId", "content", "status", "sequenceNumber", "id"])
    );
    assert_eq!(doc["error"], Value::Null);
    assert_eq!(doc["message"]["status"], "sent");
    assert_eq!(doc["message"]["sequenceNumber"], 5);
    assert_eq!(doc["message"]["content"], "hello from the cli");
    assert!(
        doc["message"]["clientTempId"]
            .as_str()
            .is_some_and(|c| !c.is_empty())
    );
    assert!(
        !doc["message"]["id"]
            .as_str()
            .unwrap_or("local:")
            .starts_with("local:")
    );
    assert_eq!(server.last(&chat), 5);

    let human = server.client("c.sqlite", &["send", &chat, "second"]);
    assert_eq!(human.code, Some(0), "{human:?}");
    assert!(human.stdout.starts_with("sent: #6"), "{human:?}");
}

#[test]
fn send_while_unreachable_stays_pending_and_a_later_open_delivers_it_exactly_once() {
    let server = TestServer::start(1, 6);
    let chat = server.tickets()[0].clone();
    let cache = server.cache("c.sqlite");
    assert_eq!(server.client("c.sqlite", &["open", &chat]).code, Some(0));

    let dead = dead_url();
    let run = client_at(&dead, &cache, &["--json", "send", &chat, "written offline"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    let doc = run.json();
    assert_eq!(doc["message"]["status"], "pending");
    assert_eq!(doc["message"]["sequenceNumber"], Value::Null);
    assert!(doc["error"].as_str().is_some_and(|e| !e.is_empty()));
    let ctid = doc["message"]["clientTempId"]
        .as_str()
        .expect("ctid")
        .to_string();
    assert_eq!(server.last(&chat), 6, "nothing reached the server");

    // `tickets` and `meta` never deliver the outbox.
    assert_eq!(server.client("c.sqlite", &["tickets"]).code, Some(0));
    assert_eq!(server.client("c.sqlite", &["meta", &chat]).code, Some(0));
    assert_eq!(server.last(&chat), 6, "tickets/meta do not send");

    let run = server.client("c.sqlite", &["--json", "open", &chat]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let doc = run.json();
    assert_eq!(server.last(&chat), 7, "delivered");
    let ours: Vec<&Value> = doc["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter(|m| m["clientTempId"] == ctid.as_str())
        .collect();
    assert_eq!(ours.len(), 1, "one row: {doc}");
    assert_eq!(ours[0]["status"], "sent");
    assert_eq!(ours[0]["sequenceNumber"], 7);
    assert_eq!(doc["meta"]["localMaxSeq"], 7);

    // Later invocations never send it again.
    assert_eq!(server.client("c.sqlite", &["open", &chat]).code, Some(0));
    assert_eq!(
        server.client("c.sqlite", &["watch", "--for", "0.5"]).code,
        Some(0)
    );
    assert_eq!(server.last(&chat), 7, "exactly once");
}

#[test]
fn watch_delivers_the_outbox_left_by_send() {
    let server = TestServer::start(1, 3);
    let chat = server.tickets()[0].clone();
    let cache = server.cache("c.sqlite");
    let run = client_at(&dead_url(), &cache, &["--json", "send", &chat, "queued"]);
    assert_eq!(run.json()["message"]["status"], "pending");
    let watch = server.client("c.sqlite", &["--json", "watch", "--for", "1.5"]);
    assert_eq!(watch.code, Some(0), "{watch:?}");
    assert_eq!(server.last(&chat), 4);
    let lines = watch.json_lines();
    assert!(
        lines.iter().any(|e| e["type"] == "messagesChanged"
            && e["inserted"].as_array().is_some_and(|m| m
                .iter()
                .any(|m| m["content"] == "queued" && m["status"] == "sent"))),
        "the server's copy replaces the pending row: {lines:?}"
    );
}

#[test]
fn watch_prints_one_json_object_per_event_including_a_pushed_message() {
    let server = TestServer::start(2, 5);
    let chat = server.tickets()[0].clone();
    let cache = server.cache("c.sqlite").to_string_lossy().into_owned();
    let url = server.url();
    let mut child = Command::new(bin())
        .args([
            "client", "--server", &url, "--token", TOKEN, "--db", &cache, "--json", "watch",
            "--for", "3", "--open", &chat,
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("watch starts");
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.websockets() == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(server.websockets(), 1, "watch goes online");
    // Let the initial load finish, then push a message.
    std::thread::sleep(Duration::from_millis(500));
    server.post(&chat, "pushed while watching");
    let stdout = child.stdout.take().expect("stdout");
    let lines: Vec<Value> = BufReader::new(stdout)
        .lines()
        .map(|l| serde_json::from_str(&l.expect("a line")).expect("one JSON object per line"))
        .collect();
    let status = child.wait().expect("watch ends");
    assert_eq!(status.code(), Some(0));
    let types: Vec<&str> = lines.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(types.len(), lines.len(), "every line has a type");
    assert!(types.contains(&"ticketsChanged"), "{types:?}");
    assert!(
        lines
            .iter()
            .any(|e| e["type"] == "connectionChanged" && e["realtimeConnected"] == true),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|e| e["type"] == "syncStateChanged"
            && e["requestId"] == chat.as_str()
            && e["state"] == "SYNCED"),
        "{lines:?}"
    );
    let pushed = lines
        .iter()
        .find(|e| {
            e["type"] == "messagesChanged"
                && e["inserted"]
                    .as_array()
                    .is_some_and(|m| m.iter().any(|m| m["content"] == "pushed while watching"))
        })
        .unwrap_or_else(|| panic!("the pushed message: {lines:?}"));
    assert_eq!(pushed["requestId"], chat.as_str());
    assert_eq!(pushed["inserted"][0]["sequenceNumber"], 6);
    for key in ["inserted", "updated", "removedIds"] {
        assert!(pushed[key].is_array(), "{pushed}");
    }
    let tickets = lines
        .iter()
        .find(|e| e["type"] == "ticketsChanged")
        .expect("tickets");
    assert_eq!(tickets["tickets"].as_array().map(Vec::len), Some(2));
}

#[test]
fn open_without_a_backend_sequence_settles_unknown_without_error() {
    let server = TestServer::start(1, 4);
    let chat = server.tickets()[0].clone();
    server.faults().set_null_last_sequence(true);
    let run = server.client("c.sqlite", &["--json", "open", &chat]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let doc = run.json();
    assert_eq!(doc["state"], "UNKNOWN");
    assert_eq!(doc["error"], Value::Null);
    assert_eq!(doc["meta"]["lastKnownBackendSeq"], Value::Null);
    assert_eq!(
        seqs(&doc["messages"]),
        vec![1, 2, 3, 4],
        "loaded, not proven complete"
    );
    server.faults().set_null_last_sequence(false);
    let doc = server.client("c.sqlite", &["--json", "open", &chat]).json();
    assert_eq!(doc["state"], "SYNCED");
}

#[test]
fn exit_code_1_when_the_server_or_the_data_are_bad() {
    let server = TestServer::start(1, 3);
    let chat = server.tickets()[0].clone();
    let cache = server.cache("c.sqlite");
    let dead = dead_url();

    let run = client_at(&dead, &cache, &["--json", "tickets"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    let doc = run.json();
    assert!(doc["tickets"].is_array());
    assert!(doc["error"].as_str().is_some_and(|e| !e.is_empty()));

    let run = client_at(&dead, &cache, &["--json", "resync", &chat]);
    assert_eq!(run.code, Some(1), "{run:?}");
    let doc = run.json();
    assert_chat_shape(&doc);
    assert!(doc["error"].is_string());

    let run = client_at(&dead, &cache, &["--json", "open", &chat, "--wait", "1"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.json()["error"].is_string());

    let run = server.client("c.sqlite", &["--json", "open", "no-such-ticket"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    let doc = run.json();
    assert_ne!(doc["state"], "SYNCED");
    assert!(
        doc["error"].as_str().is_some_and(|e| e.contains("not")),
        "{doc}"
    );

    let run = server.client("c.sqlite", &["--json", "send", "no-such-ticket", "hi"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(run.json()["message"]["status"], "failed");

    // Every message fetch fails: the open ends OUT_OF_SYNC-or-UNKNOWN with an error.
    server
        .faults()
        .fail_next_http(1000, Some(chatsync_server::EndpointKind::Messages));
    let run = server.client("empty.sqlite", &["--json", "open", &chat, "--wait", "1.5"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    let doc = run.json();
    assert_ne!(doc["state"], "SYNCED");
    assert!(doc["error"].is_string(), "{doc}");
    server.faults().reset();

    let wrong = chatsync(&[
        "client",
        "--server",
        &server.url(),
        "--token",
        "wrong",
        "--db",
        &server.cache("w.sqlite").to_string_lossy(),
        "--json",
        "tickets",
    ]);
    assert_eq!(wrong.code, Some(1), "{wrong:?}");
    assert!(
        wrong.json()["error"]
            .as_str()
            .is_some_and(|e| e.contains("authorized"))
    );

    let watch = client_at(&dead, &cache, &["--json", "watch", "--for", "0.5"]);
    assert_eq!(watch.code, Some(1), "{watch:?}");
}

#[test]
fn exit_code_2_for_usage_errors_and_never_a_panic() {
    let server = TestServer::start(1, 1);
    let chat = server.tickets()[0].clone();
    let db = server.cache("c.sqlite").to_string_lossy().into_owned();
    let url = server.url();
    let too_long = "x".repeat(10_001);
    let cases: Vec<Vec<&str>> = vec![
        vec![
            "client", "--server", &url, "--token", TOKEN, "--db", &db, "send", &chat, &too_long,
        ],
        vec!["client", "--token", TOKEN, "--db", &db, "tickets"],
        vec!["client", "--server", &url, "--db", &db, "tickets"],
        vec!["client", "--server", &url, "--token", TOKEN, "tickets"],
        vec!["client", "--server", &url, "--token", TOKEN, "--db", &db],
        vec![
            "client",
            "--server",
            &url,
            "--token",
            TOKEN,
            "--db",
            &db,
            "frobnicate",
        ],
        vec![
            "client",
            "--server",
            "not a url",
            "--token",
            TOKEN,
            "--db",
            &db,
            "tickets",
        ],
        vec![
            "client",
            "--server",
            "ftp://example.org",
            "--token",
            TOKEN,
            "--db",
            &db,
            "tickets",
        ],
        vec![
            "client", "--server", &url, "--token", TOKEN, "--db", &db, "open",
        ],
        vec![
            "client", "--server", &url, "--token", TOKEN, "--db", &db, "open", &chat, "--wait",
            "soon",
        ],
        vec![
            "client", "--server", &url, "--token", TOKEN, "--db", &db, "open", &chat, "--wait",
            "-1",
        ],
        vec![
            "client", "--server", &url, "--token", TOKEN, "--db", &db, "send", &chat,
        ],
        vec![
            "client", "--server", &url, "--token", TOKEN, "--db", &db, "send", &chat, "   ",
        ],
        vec![
            "client", "--server", &url, "--token", TOKEN, "--db", &db, "meta", "",
        ],
        vec![
            "client", "--server", &url, "--token", TOKEN, "--db", &db, "watch", "--for", "x",
        ],
        vec!["frobnicate"],
        vec!["demo", "--frobnicate"],
        vec!["serve", "--addr", "not-an-address"],
    ];
    for args in cases {
        let run = chatsync(&args);
        assert_eq!(run.code, Some(2), "{args:?}: {run:?}");
        assert!(
            run.stdout.trim().is_empty(),
            "{args:?}: usage errors print nothing on stdout: {run:?}"
        );
        assert!(
            !run.stderr.trim().is_empty(),
            "{args:?}: a message on stderr"
        );
        assert!(!run.stderr.contains("panicked"), "{args:?}: {run:?}");
    }
    assert_eq!(server.stats().ticket_list_requests, 0, "nothing ran");
    // --help and --version are successes.
    assert_eq!(chatsync(&["--help"]).code, Some(0));
    assert_eq!(chatsync(&["client", "--help"]).code, Some(0));
    assert_eq!(chatsync(&["--version"]).code, Some(0));
}

#[test]
fn an_unusable_cache_path_is_a_failure_with_the_error_in_the_output() {
    let server = TestServer::start(1, 1);
    // The parent "directory" is a regular file: no cache can be created there.
    let file = server.cache("plain-file");
    std::fs::write(&file, b"not a directory").expect("write");
    let run = client_at(
        &server.url(),
        &file.join("c.sqlite"),
        &["--json", "tickets"],
    );
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.json()["error"].is_string());
    // A file that is not SQLite is moved aside and replaced, keeping the command working.
    let garbage = server.cache("garbage.sqlite");
    std::fs::write(&garbage, b"this is not a database").expect("write");
    let run = client_at(&server.url(), &garbage, &["--json", "tickets"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.json()["tickets"].as_array().map(Vec::len), Some(1));
}

#[test]
fn the_token_may_come_from_the_environment() {
    let server = TestServer::start(1, 2);
    let cache = server.cache("c.sqlite").to_string_lossy().into_owned();
    let output = Command::new(bin())
        .args([
            "client",
            "--server",
            &server.url(),
            "--db",
            &cache,
            "--json",
            "tickets",
        ])
        .env("CHATSYNC_TOKEN", TOKEN)
        .output()
        .expect("runs");
    let run = Run::from(output);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.json()["tickets"].as_array().map(Vec::len), Some(1));
    // A text starting with '-' after `--`.
    let chat = server.tickets()[0].clone();
    let sent = server.client(
        "c.sqlite",
        &["--json", "send", &chat, "--", "-1 is my answer"],
    );
    assert_eq!(sent.code, Some(0), "{sent:?}");
    assert_eq!(sent.json()["message"]["content"], "-1 is my answer");
}
