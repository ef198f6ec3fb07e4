//! Tests of the plugin's commands: a `tauri::test` mock app with the plugin
//! registered (its real managed state), the command functions called as the IPC
//! layer would, the real core with a real SQLite file in a temp dir, and channels
//! whose frames are decoded from the JSON the webview would receive.

use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};
use tauri::ipc::{Channel, InvokeResponseBody};
use tauri::test::{MockRuntime, mock_builder, mock_context, noop_assets};
use tauri::{App, Manager};

use crate::commands;
use crate::models::*;
use crate::{ChatSync, Error};

struct Harness {
    app: App<MockRuntime>,
    dir: tempfile::TempDir,
}

impl Harness {
    fn new() -> Harness {
        let dir = tempfile::tempdir().expect("temp dir");
        let app = mock_builder()
            .plugin(
                crate::Builder::new()
                    .cache_dir(dir.path().join("cache"))
                    .build(),
            )
            .build(mock_context(noop_assets()))
            .expect("mock app");
        Harness { app, dir }
    }

    fn state(&self) -> tauri::State<'_, ChatSync> {
        self.app.state::<ChatSync>()
    }

    fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        tauri::async_runtime::block_on(future)
    }

    /// Signs in against `url` (a server, or a closed loopback port).
    fn sign_in(&self, url: &str) -> SessionInfo {
        self.block_on(commands::sign_in(
            self.state(),
            url.to_string(),
            "test-token".to_string(),
        ))
        .expect("sign in")
    }

    /// Subscribes a channel to `chat`'s events (every event with `None`), as the
    /// webview would; returns the subscription id and the frames' JSON.
    fn subscribe(&self, chat: Option<&str>) -> (u32, mpsc::Receiver<Value>) {
        let (channel, rx) = json_channel();
        let id = self
            .block_on(commands::subscribe(
                self.state(),
                chat.map(str::to_string),
                channel,
            ))
            .expect("subscribe");
        (id, rx)
    }
}

/// A loopback URL nothing listens on: every request fails fast with a network error.
fn closed_port_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// A Rust-side channel that forwards every frame's JSON, as the webview would get it.
fn json_channel() -> (Channel<SyncEventView>, mpsc::Receiver<Value>) {
    let (tx, rx) = mpsc::channel();
    let channel = Channel::new(move |body| {
        if let InvokeResponseBody::Json(text) = body {
            let value: Value = serde_json::from_str(&text).expect("channel frame is JSON");
            let _ = tx.send(value);
        }
        Ok(())
    });
    (channel, rx)
}

fn next_event(rx: &mpsc::Receiver<Value>) -> Value {
    rx.recv_timeout(Duration::from_secs(10))
        .expect("an event within 10 s")
}

/// The messages a `messagesChanged` frame lists under `lists` ("inserted",
/// "updated"), list by list in order; panics if one of them is not an array.
fn frame_messages<'a>(frame: &'a Value, lists: &[&str]) -> Vec<&'a Value> {
    lists
        .iter()
        .flat_map(|list| frame[*list].as_array().expect("a message list"))
        .collect()
}

fn error_json(error: &Error) -> Value {
    serde_json::to_value(error).expect("error serializes")
}

fn message(request_id: &str, seq: Option<i64>, content: &str) -> MessageView {
    serde_json::from_value(json!({
        "id": match seq { Some(s) => format!("srv-{request_id}-{s}"), None => format!("local:{content}") },
        "requestId": request_id,
        "senderId": "tech-1",
        "sender": { "id": "tech-1", "fullName": "Tess Tech", "isTechnician": true },
        "content": content,
        "sequenceNumber": seq,
        "createdAt": "2025-01-01T09:00:00Z",
        "status": if seq.is_some() { "sent" } else { "pending" },
        "clientTempId": if seq.is_none() { Some(content) } else { None },
    }))
    .expect("legacy message JSON")
}

#[test]
fn commands_before_sign_in_fail_as_signed_out_and_change_nothing() {
    let h = Harness::new();
    let error = h
        .block_on(commands::cached_tickets(h.state()))
        .expect_err("no session");
    assert!(matches!(error, Error::NotSignedIn));
    assert_eq!(
        error_json(&error),
        json!({ "kind": "signedOut", "message": "not signed in" })
    );
    let (channel, _rx) = json_channel();
    assert!(matches!(
        h.block_on(commands::subscribe(h.state(), None, channel)),
        Err(Error::NotSignedIn)
    ));
    // Signing out without a session is a no-op, and unsubscribing an unknown id too.
    h.block_on(commands::sign_out(h.state()))
        .expect("idempotent");
    h.block_on(commands::unsubscribe(h.state(), 42))
        .expect("unknown id is fine");
    assert!(!h.dir.path().join("cache").exists());
}

#[test]
fn sign_in_rejects_bad_input_with_clear_errors() {
    let h = Harness::new();
    for (url, token, needle) in [
        ("ftp://127.0.0.1:8787", "t", "only http and https"),
        ("not a url", "t", "server URL"),
        ("http://127.0.0.1:8787/?x=1", "t", "no query"),
        ("http://127.0.0.1:8787", "   ", "token is empty"),
    ] {
        let error = h
            .block_on(commands::sign_in(h.state(), url.into(), token.into()))
            .expect_err(url);
        let value = error_json(&error);
        assert_eq!(value["kind"], "invalidArgument", "{url}");
        assert!(
            value["message"].as_str().unwrap().contains(needle),
            "{url}: {value}"
        );
    }
    assert!(h.state().session().is_err());
}

#[test]
fn sign_in_creates_one_cache_file_per_server_and_opens_chats_from_it() {
    let h = Harness::new();
    let url = closed_port_url();
    let info = h.sign_in(&format!("{url}/"));
    assert_eq!(info.server_url, url);
    assert!(
        info.cache_path
            .starts_with(h.dir.path().join("cache").to_str().unwrap())
    );
    assert!(info.cache_path.ends_with(".sqlite"));

    let opened = h
        .block_on(commands::open_chat(h.state(), "t1".into()))
        .expect("open works offline");
    assert!(opened.messages.is_empty());
    assert_eq!(opened.meta.request_id, "t1");
    let json = serde_json::to_value(&opened).unwrap();
    assert!(json["meta"]["syncState"].is_string(), "{json}");
    assert!(json.get("historyGaps").is_some() && json.get("isSyncing").is_some());

    let error = h
        .block_on(commands::open_chat(h.state(), "  ".into()))
        .expect_err("empty id");
    assert_eq!(error_json(&error)["kind"], "invalidArgument");
    h.block_on(commands::close_chat(h.state(), "t1".into()))
        .expect("close");
}

#[test]
fn network_failures_surface_as_network_errors() {
    let h = Harness::new();
    h.sign_in(&closed_port_url());
    let error = h
        .block_on(commands::refresh_tickets(h.state()))
        .expect_err("nothing listens");
    let kind = error_json(&error)["kind"].clone();
    assert!(kind == "network" || kind == "timeout", "{kind}");
    // The cached list still answers.
    assert_eq!(
        h.block_on(commands::cached_tickets(h.state())).unwrap(),
        vec![]
    );
}

#[test]
fn subscriptions_deliver_a_camel_case_snapshot_then_stop_after_unsubscribe() {
    let h = Harness::new();
    h.sign_in(&closed_port_url());
    let (id, rx) = h.subscribe(Some("t1"));
    assert_eq!(h.state().subscription_count(), 1);
    let snapshot: Vec<Value> = (0..3).map(|_| next_event(&rx)).collect();
    let find = |kind: &str| {
        snapshot
            .iter()
            .find(|e| e["type"] == kind)
            .unwrap_or_else(|| panic!("no {kind} in the snapshot {snapshot:?}"))
            .clone()
    };
    assert_eq!(
        find("syncStateChanged"),
        json!({ "type": "syncStateChanged", "requestId": "t1", "state": "UNKNOWN" })
    );
    assert_eq!(
        find("syncingChanged"),
        json!({ "type": "syncingChanged", "requestId": "t1", "syncing": false })
    );
    assert_eq!(find("connectionChanged")["realtimeConnected"], false);
    let client = h.state().client().unwrap();
    client.flush_observers();
    while rx.try_recv().is_ok() {}

    h.block_on(commands::unsubscribe(h.state(), id))
        .expect("unsubscribe");
    assert_eq!(h.state().subscription_count(), 0);
    // A chat change after the unsubscribe reaches nobody.
    h.block_on(commands::send_message(h.state(), "t1".into(), "hi".into()))
        .expect("send queues offline");
    client.flush_observers();
    assert!(rx.try_recv().is_err(), "nothing after the unsubscribe");
}

#[test]
fn a_message_sent_offline_is_pending_cached_and_reported_then_sign_out_clears_it() {
    let h = Harness::new();
    h.sign_in(&closed_port_url());
    let (_, rx) = h.subscribe(Some("t1"));

    let pending = h
        .block_on(commands::send_message(
            h.state(),
            "t1".into(),
            "Hello?".into(),
        ))
        .expect("queued");
    assert_eq!(pending.status, chatsync::MessageStatus::Pending);
    assert_eq!(pending.sequence_number, None);
    let client_temp_id = pending.client_temp_id.clone().expect("idempotency key");
    let json = serde_json::to_value(&pending).unwrap();
    assert_eq!(json["status"], "pending");
    assert_eq!(json["clientTempId"], client_temp_id.as_str());

    // The change reaches the channel as a messagesChanged frame.
    let inserted = loop {
        let event = next_event(&rx);
        if event["type"] == "messagesChanged" {
            break event;
        }
    };
    assert_eq!(inserted["requestId"], "t1");
    let listed = frame_messages(&inserted, &["inserted", "updated"]);
    assert!(
        listed.iter().any(|m| m["content"] == "Hello?"),
        "{inserted}"
    );

    let cached = h
        .block_on(commands::get_cached_messages(h.state(), "t1".into(), None))
        .unwrap();
    assert_eq!(cached.len(), 1);
    assert_eq!(cached[0].content, "Hello?");

    for (content, request) in [("   ", "t1"), ("x", "")] {
        let error = h
            .block_on(commands::send_message(
                h.state(),
                request.into(),
                content.into(),
            ))
            .expect_err("refused");
        assert_eq!(error_json(&error)["kind"], "invalidArgument");
    }

    h.block_on(commands::sign_out(h.state())).expect("sign out");
    assert_eq!(h.state().subscription_count(), 0);
    h.sign_in(&closed_port_url().replace("127.0.0.1", "localhost"));
    // A different server has its own (empty) cache; the old one was cleared.
    assert!(
        h.block_on(commands::get_cached_messages(h.state(), "t1".into(), None))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn legacy_messages_are_imported_skipped_or_rejected() {
    let h = Harness::new();
    h.sign_in(&closed_port_url());
    let batch = vec![
        message("t1", Some(1), "one"),
        message("t1", Some(2), "two"),
        message("t1", None, "never-sent"),
        message("", Some(3), "no chat"),
    ];
    let report = h
        .block_on(commands::import_legacy_messages(h.state(), batch))
        .expect("import");
    assert_eq!(report.imported, 2, "{report:?}");
    assert_eq!(report.skipped, 1);
    assert_eq!(report.rejected, 1);
    assert_eq!(report.errors.len(), 1);
    let cached = h
        .block_on(commands::get_cached_messages(h.state(), "t1".into(), None))
        .unwrap();
    let contents: Vec<&str> = cached.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(contents, vec!["one", "two"]);
    assert!(
        cached
            .iter()
            .all(|m| m.status == chatsync::MessageStatus::Sent)
    );

    let too_many = vec![message("t1", Some(1), "x"); crate::MAX_IMPORT_BATCH + 1];
    let error = h
        .block_on(commands::import_legacy_messages(h.state(), too_many))
        .expect_err("too big");
    assert_eq!(error_json(&error)["kind"], "invalidArgument");
}

#[test]
fn lifecycle_and_connectivity_commands_reach_the_core() {
    let h = Harness::new();
    h.sign_in(&closed_port_url());
    let (_, rx) = h.subscribe(None);
    h.block_on(commands::connectivity_changed(h.state(), false))
        .unwrap();
    let offline = loop {
        let event = next_event(&rx);
        if event["type"] == "connectionChanged" && event["online"] == false {
            break event;
        }
    };
    assert_eq!(offline["realtimeConnected"], false);
    h.block_on(commands::connectivity_changed(h.state(), true))
        .unwrap();
    h.block_on(commands::app_resumed(h.state())).unwrap();
    loop {
        let event = next_event(&rx);
        if event["type"] == "connectionChanged" && event["online"] == true {
            break;
        }
    }
}

#[test]
fn sync_events_serialize_as_the_guest_api_expects() {
    let event = SyncEventView::Error {
        request_id: None,
        kind: ErrorKindView::BadData,
        message: "bad page".into(),
    };
    assert_eq!(
        serde_json::to_value(&event).unwrap(),
        json!({ "type": "error", "requestId": null, "kind": "badData", "message": "bad page" })
    );
    let event = SyncEventView::MessagesChanged {
        request_id: "t1".into(),
        inserted: vec![],
        updated: vec![],
        removed_ids: vec!["local:x".into()],
    };
    assert_eq!(
        serde_json::to_value(&event).unwrap(),
        json!({ "type": "messagesChanged", "requestId": "t1", "inserted": [], "updated": [], "removedIds": ["local:x"] })
    );
    let state = SyncEventView::SyncStateChanged {
        request_id: "t1".into(),
        state: chatsync::SyncState::OutOfSync,
    };
    assert_eq!(
        serde_json::to_value(&state).unwrap()["state"],
        "OUT_OF_SYNC"
    );
}

#[test]
fn every_command_has_generated_permissions_and_is_in_the_default_set() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let build = std::fs::read_to_string(root.join("build.rs")).unwrap();
    let default = std::fs::read_to_string(root.join("permissions/default.toml")).unwrap();
    let lib = std::fs::read_to_string(root.join("src/lib.rs")).unwrap();
    let commands: Vec<&str> = build
        .lines()
        .filter_map(|l| l.trim().strip_prefix('"')?.strip_suffix("\","))
        .collect();
    assert_eq!(commands.len(), 18, "{commands:?}");
    for command in commands {
        let file = root.join(format!("permissions/autogenerated/commands/{command}.toml"));
        assert!(file.exists(), "missing {}", file.display());
        let allow = format!("\"allow-{}\"", command.replace('_', "-"));
        assert!(default.contains(&allow), "default.toml lacks {allow}");
        assert!(
            lib.contains(&format!("commands::{command},")),
            "{command} is not in generate_handler!"
        );
    }
}

/// The same commands against the real reference server (`chatsync-server`,
/// in-process on an ephemeral loopback port): tickets, the initial load, cached
/// reopen with no fetch, pushes, a lost push healed by a resync, manual resync,
/// and a send confirmed by the server.
mod with_server {
    use super::*;
    use chatsync_server::{PushKind, Role, RunningServer, Server, ServerConfig};

    struct Live {
        h: Harness,
        server: RunningServer,
        technician: String,
        tickets: Vec<String>,
    }

    impl Live {
        fn start(tickets: u32, messages: u32) -> Live {
            let h = Harness::new();
            let server = h
                .block_on(Server::start(
                    ServerConfig::ephemeral()
                        .with_seed(tickets, messages)
                        .with_faults(),
                ))
                .expect("reference server");
            let requester = server.first_user(Role::Requester).expect("requester");
            let technician = server.first_user(Role::Technician).expect("technician").id;
            let ticket_ids = h.block_on(server.ticket_ids()).expect("tickets");
            h.block_on(commands::sign_in(
                h.state(),
                server.base_url(),
                requester.token.clone(),
            ))
            .expect("sign in");
            Live {
                h,
                server,
                technician,
                tickets: ticket_ids,
            }
        }

        /// A server with one ticket of `messages` messages, signed in; and the ticket.
        fn single(messages: u32) -> (Live, String) {
            let live = Live::start(1, messages);
            let ticket = live.tickets[0].clone();
            (live, ticket)
        }

        /// Subscribes a channel to `ticket`'s events; returns the frames' JSON.
        fn subscribe(&self, ticket: &str) -> mpsc::Receiver<Value> {
            self.h.subscribe(Some(ticket)).1
        }

        /// Opens `ticket`, waits until its initial load settled SYNCED, then
        /// subscribes a channel to it (its first frames are the snapshot).
        fn open_synced_subscribed(&self, ticket: &str) -> mpsc::Receiver<Value> {
            self.open_settled(ticket);
            self.subscribe(ticket)
        }

        fn technician_says(&self, ticket: &str, content: &str) -> i64 {
            let posted = self
                .h
                .block_on(
                    self.server
                        .post_message(ticket, &self.technician, content, None),
                )
                .expect("post");
            posted.message.sequence_number
        }

        fn settle(&self, ticket: &str) -> chatsync::SyncState {
            let client = self.h.state().client().expect("session");
            self.h
                .block_on(client.wait_until_settled(ticket, Duration::from_secs(15)))
        }

        fn contents(&self, ticket: &str) -> Vec<String> {
            self.h
                .block_on(commands::get_cached_messages(
                    self.h.state(),
                    ticket.into(),
                    None,
                ))
                .expect("cached")
                .into_iter()
                .map(|m| m.content)
                .collect()
        }

        /// Opens `ticket` and waits until its initial load settled.
        fn open_settled(&self, ticket: &str) -> OpenedChatView {
            let opened = self
                .h
                .block_on(commands::open_chat(self.h.state(), ticket.into()))
                .expect("open");
            assert_eq!(self.settle(ticket), chatsync::SyncState::Synced);
            opened
        }
    }

    impl Drop for Live {
        fn drop(&mut self) {
            self.h.state().shutdown();
        }
    }

    /// Waits for the first event matching `wanted`, returning every event seen up to it.
    fn events_until(rx: &mpsc::Receiver<Value>, wanted: impl Fn(&Value) -> bool) -> Vec<Value> {
        let mut seen = Vec::new();
        loop {
            let event = next_event(rx);
            let done = wanted(&event);
            seen.push(event);
            if done {
                return seen;
            }
        }
    }

    fn wait_realtime(rx: &mpsc::Receiver<Value>) {
        events_until(rx, |e| {
            e["type"] == "connectionChanged" && e["realtimeConnected"] == true
        });
    }

    #[test]
    fn tickets_come_with_their_sequences_and_no_message_is_fetched() {
        let live = Live::start(3, 20);
        let list = live
            .h
            .block_on(commands::refresh_tickets(live.h.state()))
            .expect("refresh");
        assert_eq!(list.len(), 3);
        for ticket in &list {
            assert_eq!(ticket.last_message_sequence, Some(20));
            assert!(ticket.last_message.is_some());
            assert!(!ticket.title.is_empty());
        }
        let json = serde_json::to_value(&list[0]).unwrap();
        for key in [
            "unreadCount",
            "lastMessage",
            "lastMessageSequence",
            "syncState",
            "isSyncing",
        ] {
            assert!(json.get(key).is_some(), "{key} missing in {json}");
        }
        assert_eq!(live.server.stats().page_requests, 0, "metadata only");
        let cached = live
            .h
            .block_on(commands::cached_tickets(live.h.state()))
            .expect("cached");
        assert_eq!(
            cached.iter().map(|t| &t.id).collect::<Vec<_>>(),
            list.iter().map(|t| &t.id).collect::<Vec<_>>()
        );
    }

    #[test]
    fn open_loads_once_then_reopens_from_the_cache_with_no_fetch() {
        let (live, ticket) = Live::single(20);
        let rx = live.subscribe(&ticket);
        live.open_settled(&ticket);
        assert_eq!(live.contents(&ticket).len(), 20);
        let loaded: usize = events_until(&rx, |e| {
            e["type"] == "syncStateChanged" && e["state"] == "SYNCED"
        })
        .iter()
        .filter(|e| e["type"] == "messagesChanged")
        .map(|e| frame_messages(e, &["inserted"]).len())
        .sum();
        assert_eq!(loaded, 20, "the initial load reached the channel");

        live.h
            .block_on(commands::close_chat(live.h.state(), ticket.clone()))
            .unwrap();
        let pages = live.server.stats().page_requests;
        let reopened = live
            .h
            .block_on(commands::open_chat(live.h.state(), ticket.clone()))
            .expect("reopen");
        assert_eq!(reopened.messages.len(), 20, "cached messages at once");
        assert_eq!(live.settle(&ticket), chatsync::SyncState::Synced);
        assert_eq!(
            live.server.stats().page_requests,
            pages,
            "no fetch for a valid cache"
        );
    }

    #[test]
    fn a_push_appears_and_a_lost_push_heals_with_syncing_only_during_the_resync() {
        let (live, ticket) = Live::single(5);
        let rx = live.open_synced_subscribed(&ticket);
        wait_realtime(&rx);

        live.technician_says(&ticket, "pushed");
        let seen = events_until(&rx, |e| {
            e["type"] == "messagesChanged"
                && frame_messages(e, &["inserted"])
                    .iter()
                    .any(|m| m["content"] == "pushed")
        });
        assert!(
            !seen
                .iter()
                .any(|e| e["type"] == "syncingChanged" && e["syncing"] == true),
            "a push in sequence is no resync: {seen:?}"
        );

        live.server
            .faults()
            .drop_next_pushes(1, PushKind::MessageNew);
        let lost = live.technician_says(&ticket, "lost");
        let revealing = live.technician_says(&ticket, "reveals the gap");
        assert_eq!(revealing, lost + 1);
        let seen = events_until(&rx, |e| {
            e["type"] == "syncingChanged" && e["syncing"] == false
        });
        let syncing_on = seen
            .iter()
            .position(|e| e["type"] == "syncingChanged" && e["syncing"] == true)
            .expect("the resync showed as syncing");
        let out_of_sync = seen
            .iter()
            .position(|e| e["type"] == "syncStateChanged" && e["state"] == "OUT_OF_SYNC")
            .expect("the gap made the chat OUT_OF_SYNC");
        assert!(out_of_sync < syncing_on, "{seen:?}");
        assert_eq!(live.settle(&ticket), chatsync::SyncState::Synced);
        let contents = live.contents(&ticket);
        let at = contents
            .iter()
            .position(|c| c == "lost")
            .expect("the lost message was fetched");
        assert_eq!(contents[at + 1], "reveals the gap");
    }

    #[test]
    fn manual_resync_runs_and_reports_syncing() {
        let (live, ticket) = Live::single(5);
        let rx = live.open_synced_subscribed(&ticket);
        let pages = live.server.stats().page_requests;
        let meta = live
            .h
            .block_on(commands::manual_resync(live.h.state(), ticket.clone()))
            .expect("manual resync");
        assert_eq!(meta.sync_state, chatsync::SyncState::Synced);
        assert_eq!(meta.local_max_seq, Some(5));
        assert!(live.server.stats().page_requests > pages, "it fetched");
        // The snapshot says "not syncing"; then the run: syncing, then not syncing.
        events_until(&rx, |e| {
            e["type"] == "syncingChanged" && e["syncing"] == true
        });
        events_until(&rx, |e| {
            e["type"] == "syncingChanged" && e["syncing"] == false
        });
        // `resync` on a SYNCED chat is a no-op.
        let pages = live.server.stats().page_requests;
        live.h
            .block_on(commands::resync(live.h.state(), ticket.clone()))
            .expect("resync");
        assert_eq!(live.server.stats().page_requests, pages);
    }

    #[test]
    fn a_sent_message_goes_from_pending_to_the_servers_copy() {
        let (live, ticket) = Live::single(3);
        let rx = live.open_synced_subscribed(&ticket);
        let pending = live
            .h
            .block_on(commands::send_message(
                live.h.state(),
                ticket.clone(),
                "Hello from Tauri".into(),
            ))
            .expect("send");
        assert_eq!(pending.status, chatsync::MessageStatus::Pending);
        let client_temp_id = pending.client_temp_id.clone().unwrap();
        let seen = events_until(&rx, |e| {
            e["type"] == "messagesChanged"
                && frame_messages(e, &["inserted", "updated"])
                    .iter()
                    .any(|m| m["clientTempId"] == client_temp_id.as_str() && m["status"] == "sent")
        });
        let last = seen.last().unwrap();
        let sent = frame_messages(last, &["inserted", "updated"])
            .into_iter()
            .find(|m| m["clientTempId"] == client_temp_id.as_str())
            .unwrap();
        assert_eq!(sent["sequenceNumber"], 4);
        assert_eq!(
            live.h.block_on(live.server.last_sequence(&ticket)).unwrap(),
            4
        );
        let contents = live.contents(&ticket);
        assert_eq!(
            contents.iter().filter(|c| *c == "Hello from Tauri").count(),
            1
        );
    }

    #[test]
    fn imported_legacy_history_is_kept_and_validated_like_a_page() {
        let (live, ticket) = Live::single(3);
        // The legacy cache of an old install: the server's first three messages.
        let legacy: Vec<MessageView> = (1..=3)
            .map(|seq| message(&ticket, Some(seq), &format!("legacy {seq}")))
            .collect();
        let report = live
            .h
            .block_on(commands::import_legacy_messages(live.h.state(), legacy))
            .expect("import");
        assert_eq!((report.imported, report.rejected), (3, 0), "{report:?}");
        live.h
            .block_on(commands::refresh_tickets(live.h.state()))
            .expect("refresh");
        let pages = live.server.stats().page_requests;
        let opened = live
            .h
            .block_on(commands::open_chat(live.h.state(), ticket.clone()))
            .expect("open");
        assert_eq!(opened.messages.len(), 3);
        assert_eq!(live.settle(&ticket), chatsync::SyncState::Synced);
        assert_eq!(
            live.server.stats().page_requests,
            pages,
            "the imported history was enough"
        );
    }
}
