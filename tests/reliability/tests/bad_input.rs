//! Bad input matrix (issue 10, part 3): malformed and hostile server responses,
//! served by a small hostile HTTP/WebSocket server (axum on 127.0.0.1) to a real
//! client over a real cache file.
//!
//! Every case starts from the same cache: chat `t1` holds messages 1..=10 and was
//! SYNCED at backend sequence 10 (made by a good phase of the same server). Then the
//! server turns hostile on one endpoint:
//! - **ticket list** cases: `refresh_tickets` must fail with the expected kind;
//! - **page** cases: the list (truthfully) says `t1` is at 12, so opening it starts a
//!   resync, whose pages are hostile;
//! - **send** cases: `send_message` queues, the POST's answer is hostile;
//! - **frame** cases: `t1` is open and SYNCED, the WebSocket sends hostile frames.
//!
//! Each case asserts: the expected error kind (from the method and/or an observer
//! `Error` event); no panic anywhere in the process; the cache unchanged (messages,
//! runs, tickets, outbox; a send keeps its outbox entry); never SYNCED on that data
//! (no SYNCED report while the hostile data is in play, and whenever the chat is
//! SYNCED its cache validates); and finally that the same client recovers once the
//! server behaves (it is still usable, no restart).
//!
//! The few cases whose data is well-formed but absurd (a sequence of `i64::MAX`)
//! may be stored — the contract allows it — and must then heal to the server's
//! truth; they are marked `absurd` and assert that instead of "cache unchanged".

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ws::{Message, WebSocketUpgrade};
use axum::extract::{Path as UrlPath, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chatsync::client::ErrorKind;
use chatsync::net::api::StaticToken;
use chatsync::observe::{Observer, Subscription};
use chatsync::{ChatMessage, ChatSyncClient, ClientConfig, MessageCache, SyncEvent, SyncState};
use chatsync_reliability::{panics, report};
use futures_util::StreamExt;
use serde_json::{Value, json};

// ------------------------------------------------------------------ hostile server

/// What one endpoint answers.
#[derive(Clone)]
enum Reply {
    /// The truthful list: `t1` at this sequence, `t2` empty.
    GoodTickets(i64),
    /// Truthful pages of `t1` holding messages 1..=n.
    GoodPages(i64),
    /// A truthful send answer (sequence n + 1 of the good pages' n).
    GoodSend,
    /// Any status, content type and bytes (JSON bodies are serialised once, up front).
    Raw(u16, &'static str, Bytes),
    /// 200 with a body that never ends: `chunk` every `every_ms`.
    Endless(Vec<u8>, u64),
}

/// What the WebSocket sends on the first connection of a case.
#[derive(Clone)]
enum Frame {
    Text(String),
    Binary(Vec<u8>),
    /// The same text frame this many times, as fast as the socket takes them.
    Flood(String, usize),
}

struct Script {
    tickets: Reply,
    pages: Reply,
    send: Reply,
    frames: Vec<Frame>,
    good_n: i64,
}

struct Hostile {
    script: Mutex<Script>,
    ticket_requests: AtomicU64,
    page_requests: AtomicU64,
    send_requests: AtomicU64,
    ws_connections: AtomicU64,
    frames_sent: AtomicBool,
    /// The `clientTempId` of every POST received, in order.
    sent_keys: Mutex<Vec<String>>,
}

type Shared = Arc<Hostile>;

fn message_json(chat: &str, seq: i64) -> Value {
    json!({"id": format!("m{seq}"), "requestId": chat, "senderId": "tech",
           "sender": {"id": "tech", "fullName": "Sam Ortega", "isTechnician": true},
           "content": format!("message {seq}"), "sequenceNumber": seq,
           "createdAt": "2026-11-25T10:00:00.000Z", "status": "sent"})
}

fn ticket_json(id: &str, seq: i64) -> Value {
    json!({"id": id, "title": format!("ticket {id}"), "status": "open", "unreadCount": 0,
           "updatedAt": "2026-11-25T10:00:00.000Z", "lastMessage": null,
           "lastMessageSequence": seq})
}

fn good_page(n: i64, query: &HashMap<String, String>) -> Value {
    let limit: i64 = query
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(100);
    let arg = |k: &str| query.get(k).and_then(|v| v.parse::<i64>().ok());
    let (start, end, has_more) = if let Some(after) = arg("afterSequence") {
        let end = (after + limit).min(n);
        (after + 1, end, end < n)
    } else if let Some(before) = arg("beforeSequence") {
        let end = (before - 1).min(n);
        let start = (before - limit).max(1);
        (start, end, start > 1)
    } else {
        let start = (n - limit + 1).max(1);
        (start, n, start > 1)
    };
    let messages: Vec<Value> = (start..=end).map(|s| message_json("t1", s)).collect();
    json!({"messages": messages, "lastMessageSequence": n, "hasMore": has_more})
}

fn render(reply: Reply, good: impl FnOnce() -> Value) -> Response {
    match reply {
        Reply::GoodTickets(_) | Reply::GoodPages(_) | Reply::GoodSend => {
            axum::Json(good()).into_response()
        }
        Reply::Raw(status, content_type, body) => Response::builder()
            .status(status)
            .header("content-type", content_type)
            .body(Body::from(body))
            .expect("a response"),
        Reply::Endless(chunk, every_ms) => {
            let chunk = Bytes::from(chunk);
            let stream = futures_util::stream::unfold(chunk, move |chunk| async move {
                tokio::time::sleep(Duration::from_millis(every_ms)).await;
                Some((Ok::<_, std::io::Error>(chunk.clone()), chunk))
            });
            Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(Body::from_stream(stream))
                .expect("a response")
        }
    }
}

async fn tickets(State(h): State<Shared>) -> Response {
    h.ticket_requests.fetch_add(1, Ordering::Relaxed);
    let reply = h.script.lock().unwrap().tickets.clone();
    let seq = match reply {
        Reply::GoodTickets(seq) => seq,
        _ => 0,
    };
    render(
        reply,
        || json!({"chatMessages": [ticket_json("t1", seq), ticket_json("t2", 0)]}),
    )
}

async fn pages(
    State(h): State<Shared>,
    UrlPath(_chat): UrlPath<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    h.page_requests.fetch_add(1, Ordering::Relaxed);
    let reply = h.script.lock().unwrap().pages.clone();
    let n = match reply {
        Reply::GoodPages(n) => n,
        _ => 0,
    };
    render(reply, || good_page(n, &query))
}

async fn send(State(h): State<Shared>, UrlPath(chat): UrlPath<String>, body: Bytes) -> Response {
    h.send_requests.fetch_add(1, Ordering::Relaxed);
    let (reply, n) = {
        let script = h.script.lock().unwrap();
        (script.send.clone(), script.good_n)
    };
    let sent: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    h.sent_keys.lock().unwrap().push(
        sent["clientTempId"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    );
    render(reply, || {
        let mut message = message_json(&chat, n + 1);
        message["id"] = json!(format!("sent-{}", n + 1));
        message["content"] = sent["content"].clone();
        message["clientTempId"] = sent["clientTempId"].clone();
        message
    })
}

async fn ws(State(h): State<Shared>, upgrade: WebSocketUpgrade) -> Response {
    h.ws_connections.fetch_add(1, Ordering::Relaxed);
    // A huge frame must reach the client, whose own cap is what is being tested.
    upgrade
        .max_message_size(64 << 20)
        .max_frame_size(64 << 20)
        .on_upgrade(move |mut socket| async move {
            let frames = {
                let script = h.script.lock().unwrap();
                if h.frames_sent.swap(true, Ordering::SeqCst) {
                    Vec::new()
                } else {
                    script.frames.clone()
                }
            };
            let mut ok = true;
            for frame in frames {
                let sent = match frame {
                    Frame::Text(text) => socket.send(Message::Text(text.into())).await,
                    Frame::Binary(bytes) => socket.send(Message::Binary(bytes.into())).await,
                    Frame::Flood(text, count) => {
                        let mut result = Ok(());
                        for _ in 0..count {
                            result = socket.send(Message::Text(text.clone().into())).await;
                            if result.is_err() {
                                break;
                            }
                        }
                        result
                    }
                };
                if sent.is_err() {
                    ok = false;
                    break;
                }
            }
            // Then stay connected, reading (and so answering pings) until the client leaves.
            while ok && matches!(socket.next().await, Some(Ok(_))) {}
        })
}

async fn start_hostile() -> (Shared, SocketAddr) {
    let hostile = Arc::new(Hostile {
        script: Mutex::new(Script {
            tickets: Reply::GoodTickets(10),
            pages: Reply::GoodPages(10),
            send: Reply::GoodSend,
            frames: Vec::new(),
            good_n: 10,
        }),
        ticket_requests: AtomicU64::new(0),
        page_requests: AtomicU64::new(0),
        send_requests: AtomicU64::new(0),
        ws_connections: AtomicU64::new(0),
        frames_sent: AtomicBool::new(true),
        sent_keys: Mutex::new(Vec::new()),
    });
    let app = Router::new()
        .route("/api/v1/chat/requests", get(tickets))
        .route("/api/v1/chat/requests/{id}/messages", get(pages).post(send))
        .route("/api/v1/ws", get(ws))
        .with_state(hostile.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let addr = listener.local_addr().expect("an address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (hostile, addr)
}

// ------------------------------------------------------------------ the client side

#[derive(Default)]
struct Recorder(Mutex<Vec<SyncEvent>>);

impl Observer<SyncEvent> for Recorder {
    fn on_event(&self, event: SyncEvent) {
        self.0.lock().unwrap().push(event);
    }
}

impl Recorder {
    fn events(&self) -> Vec<SyncEvent> {
        self.0.lock().unwrap().clone()
    }

    fn error_kinds(&self) -> Vec<ErrorKind> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                SyncEvent::Error { kind, .. } => Some(kind),
                _ => None,
            })
            .collect()
    }

    fn synced_reports(&self, chat: &str) -> usize {
        self.events()
            .iter()
            .filter(|e| {
                matches!(e, SyncEvent::SyncStateChanged { request_id, state: SyncState::Synced }
                         if request_id == chat)
            })
            .count()
    }
}

fn config(addr: SocketAddr, cache: PathBuf) -> ClientConfig {
    let mut config = ClientConfig::new(format!("http://{addr}"), Some(cache));
    config.gap_grace = Duration::from_millis(100);
    config.retry_base = Duration::from_millis(100);
    config.retry_cap = Duration::from_millis(400);
    config.reconnect_base = Duration::from_millis(100);
    config.reconnect_cap = Duration::from_millis(400);
    config.request_timeout = Duration::from_secs(2);
    config
}

fn client(addr: SocketAddr, cache: PathBuf) -> Arc<ChatSyncClient> {
    Arc::new(
        ChatSyncClient::new(config(addr, cache), Arc::new(StaticToken("hostile".into())))
            .expect("the client builds"),
    )
}

/// What "the cache unchanged" compares.
#[derive(Debug, PartialEq)]
struct CacheContent {
    messages: Vec<ChatMessage>,
    other_chat: Vec<ChatMessage>,
    summary: chatsync::SeqSummary,
    gaps: Vec<chatsync::SeqRange>,
    tickets: Vec<chatsync::TicketSummary>,
    outbox: Vec<String>,
}

fn content(cache: &MessageCache) -> CacheContent {
    CacheContent {
        messages: cache.get_cached_messages("t1", None).expect("readable"),
        other_chat: cache.get_cached_messages("t2", None).expect("readable"),
        summary: cache.summary("t1").expect("readable"),
        gaps: cache.history_gaps("t1").expect("readable"),
        tickets: cache.get_tickets().expect("readable"),
        outbox: cache
            .outbox()
            .expect("readable")
            .into_iter()
            .map(|e| e.client_temp_id)
            .collect(),
    }
}

fn copy_cache(template: &Path, to: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let from = PathBuf::from(format!("{}{suffix}", template.display()));
        if from.exists() {
            std::fs::copy(&from, format!("{}{suffix}", to.display())).expect("cache copied");
        }
    }
}

// ------------------------------------------------------------------ the cases

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Tickets,
    Page,
    Send,
    Frames,
}

struct Case {
    name: &'static str,
    kind: Kind,
    reply: Option<Reply>,
    frames: Vec<Frame>,
    /// The typed error the case must produce (`None`: valid data, or a retried send).
    expect: Option<ErrorKind>,
    absurd: bool,
}

fn case(name: &'static str, kind: Kind, reply: Reply, expect: ErrorKind) -> Case {
    Case {
        name,
        kind,
        reply: Some(reply),
        frames: Vec::new(),
        expect: Some(expect),
        absurd: false,
    }
}

fn frames(name: &'static str, frames: Vec<Frame>, expect: ErrorKind) -> Case {
    Case {
        name,
        kind: Kind::Frames,
        reply: None,
        frames,
        expect: Some(expect),
        absurd: false,
    }
}

/// A hostile send answer. Send failures other than 4xx are retryable: the expected
/// outcome is not an `Error` event but the message staying queued and being retried
/// with the same `clientTempId` (checked in `run_case`).
fn send_case(name: &'static str, reply: Reply) -> Case {
    Case {
        expect: None,
        ..case(name, Kind::Send, reply, ErrorKind::BadData)
    }
}

fn raw(body: impl Into<Vec<u8>>) -> Reply {
    Reply::Raw(200, "application/json", Bytes::from(body.into()))
}

fn status(code: u16, content_type: &'static str, body: &[u8]) -> Reply {
    Reply::Raw(code, content_type, Bytes::copy_from_slice(body))
}

#[allow(non_snake_case)]
fn Json(value: Value) -> Reply {
    raw(serde_json::to_vec(&value).expect("serialisable"))
}

fn list_with(ticket: Value) -> Reply {
    Json(json!({"chatMessages": [ticket, ticket_json("t2", 0)]}))
}

fn page_of(messages: Vec<Value>, last: Value, has_more: bool) -> Reply {
    Json(json!({"messages": messages, "lastMessageSequence": last, "hasMore": has_more}))
}

fn with(mut message: Value, key: &str, value: Value) -> Value {
    message[key] = value;
    message
}

fn frame_with(message: Value) -> Frame {
    Frame::Text(json!({"type": "message.new", "requestId": "t1", "message": message}).to_string())
}

fn cases() -> Vec<Case> {
    use ErrorKind::{BadData, NotFound, Server, Timeout, Unauthorized};
    use Kind::{Page, Tickets};
    let mega = "x".repeat(1 << 20);
    let m11 = message_json("t1", 11);
    let m12 = message_json("t1", 12);
    let full_ticket = |i: usize| {
        let mut t = ticket_json(&format!("ticket-{i:06}"), 5);
        t["title"] = json!(format!(
            "a rather long ticket title number {i} {}",
            "-".repeat(40)
        ));
        t["lastMessage"] = json!({"content": "the newest message of the ticket", "senderName":
            "Sam Ortega", "createdAt": "2026-11-25T10:00:00.000Z", "sequenceNumber": 5});
        t
    };
    let big_list: Vec<Value> = (0..100_000).map(full_ticket).collect();
    let mut invalid_utf8_title = br#"{"chatMessages": [{"id": "t1", "title": "bad "#.to_vec();
    invalid_utf8_title.extend_from_slice(&[0xff, 0xfe, 0xc3]);
    invalid_utf8_title.extend_from_slice(br#"", "lastMessageSequence": 12}]}"#);
    let mut invalid_utf8_content =
        br#"{"messages": [{"id": "m11", "requestId": "t1", "content": ""#.to_vec();
    invalid_utf8_content.extend_from_slice(&[0xc0, 0x80, 0xff]);
    invalid_utf8_content.extend_from_slice(
        br#"", "sequenceNumber": 11, "createdAt": "2026-11-25T10:00:00Z"}], "lastMessageSequence": 12, "hasMore": false}"#,
    );
    let nine_mib = format!(
        r#"{{"messages": [], "lastMessageSequence": 12, "hasMore": false, "padding": "{}"}}"#,
        "p".repeat(9 << 20)
    );
    let mut all = vec![
        // ---- the ticket list
        case(
            "tickets: JSON syntax error",
            Tickets,
            raw(r#"{"chatMessages": [{"id": "t1","#),
            BadData,
        ),
        case(
            "tickets: top level is an array",
            Tickets,
            Json(json!([1, 2, 3])),
            BadData,
        ),
        case("tickets: body is null", Tickets, raw("null"), BadData),
        case(
            "tickets: chatMessages is a string",
            Tickets,
            Json(json!({"chatMessages": "t1"})),
            BadData,
        ),
        case(
            "tickets: lastMessageSequence is a string",
            Tickets,
            list_with(with(
                ticket_json("t1", 0),
                "lastMessageSequence",
                json!("12"),
            )),
            BadData,
        ),
        case(
            "tickets: lastMessageSequence 1e30",
            Tickets,
            list_with(with(
                ticket_json("t1", 0),
                "lastMessageSequence",
                json!(1e30),
            )),
            BadData,
        ),
        case(
            "tickets: lastMessageSequence 2^64",
            Tickets,
            raw(
                r#"{"chatMessages": [{"id": "t1", "title": "a", "lastMessageSequence": 18446744073709551616}]}"#,
            ),
            BadData,
        ),
        case(
            "tickets: negative lastMessageSequence",
            Tickets,
            list_with(ticket_json("t1", -5)),
            BadData,
        ),
        case(
            "tickets: the same ticket twice",
            Tickets,
            Json(json!({"chatMessages": [ticket_json("t1", 12), ticket_json("t1", 13)]})),
            BadData,
        ),
        case(
            "tickets: empty ticket id",
            Tickets,
            list_with(ticket_json("", 12)),
            BadData,
        ),
        case(
            "tickets: 1 MiB ticket id",
            Tickets,
            list_with(ticket_json(&mega, 12)),
            BadData,
        ),
        case(
            "tickets: 1 MiB title",
            Tickets,
            list_with(with(ticket_json("t1", 12), "title", json!(mega))),
            BadData,
        ),
        case(
            "tickets: invalid UTF-8 in a title",
            Tickets,
            raw(invalid_utf8_title),
            BadData,
        ),
        case(
            "tickets: lastMessage with sequence 0",
            Tickets,
            list_with(with(
                ticket_json("t1", 12),
                "lastMessage",
                json!({"content": "hi", "createdAt": "2026-11-25T10:00:00Z", "sequenceNumber": 0}),
            )),
            BadData,
        ),
        case(
            "tickets: 100k entries (15 MB, over the body cap)",
            Tickets,
            Json(json!({"chatMessages": big_list})),
            BadData,
        ),
        case(
            "tickets: never-ending body (fast)",
            Tickets,
            Reply::Endless(vec![b' '; 64 << 10], 1),
            BadData,
        ),
        case(
            "tickets: never-ending body (trickle)",
            Tickets,
            Reply::Endless(b"[".to_vec(), 100),
            Timeout,
        ),
        case("tickets: 200 with an empty body", Tickets, raw(""), BadData),
        // An unexpected status like any other (retried later), never a stored list.
        case(
            "tickets: 304 to a request without If-None-Match",
            Tickets,
            status(304, "application/json", b""),
            Server,
        ),
        case(
            "tickets: 200 with HTML",
            Tickets,
            status(200, "text/html", b"<html>oops</html>"),
            BadData,
        ),
        case(
            "tickets: nested 100k arrays deep",
            Tickets,
            raw("[".repeat(100_000)),
            BadData,
        ),
        case(
            "tickets: 500 with garbage",
            Tickets,
            status(500, "text/plain", &[0xff; 64]),
            Server,
        ),
        case(
            "tickets: 401 for a valid token",
            Tickets,
            status(401, "application/json", br#"{"detail": "no"}"#),
            Unauthorized,
        ),
        // ---- message pages (the list says t1 is at 12)
        case(
            "page: JSON syntax error",
            Page,
            raw(r#"{"messages": [{"id": "#),
            BadData,
        ),
        case(
            "page: sequenceNumber is a string",
            Page,
            page_of(
                vec![with(m11.clone(), "sequenceNumber", json!("11"))],
                json!(12),
                false,
            ),
            BadData,
        ),
        case(
            "page: sequenceNumber null",
            Page,
            page_of(
                vec![with(m11.clone(), "sequenceNumber", Value::Null)],
                json!(12),
                false,
            ),
            BadData,
        ),
        case(
            "page: sequence 0",
            Page,
            page_of(vec![message_json("t1", 0)], json!(12), false),
            BadData,
        ),
        case(
            "page: negative sequence",
            Page,
            page_of(vec![message_json("t1", -11)], json!(12), false),
            BadData,
        ),
        case(
            "page: sequence 2^63 (overflows i64)",
            Page,
            raw(
                r#"{"messages": [{"id": "m", "requestId": "t1", "content": "", "createdAt": "x", "sequenceNumber": 9223372036854775808}], "lastMessageSequence": 12}"#,
            ),
            BadData,
        ),
        case(
            "page: the same sequence with two ids",
            Page,
            page_of(
                vec![m11.clone(), with(m11.clone(), "id", json!("evil"))],
                json!(12),
                false,
            ),
            BadData,
        ),
        case(
            "page: sequences regress (12 then 11)",
            Page,
            page_of(vec![m12.clone(), m11.clone()], json!(12), false),
            BadData,
        ),
        case(
            "page: outside the requested range",
            Page,
            page_of(vec![message_json("t1", 5)], json!(12), false),
            BadData,
        ),
        case(
            "page: a message of another chat",
            Page,
            page_of(vec![message_json("t2", 11)], json!(12), false),
            BadData,
        ),
        case(
            "page: more messages than the limit",
            Page,
            page_of(
                vec![m11.clone(), m12.clone(), message_json("t1", 13)],
                json!(13),
                false,
            ),
            BadData,
        ),
        case(
            "page: sequence above lastMessageSequence",
            Page,
            page_of(vec![m11.clone()], json!(10), false),
            BadData,
        ),
        case(
            "page: negative lastMessageSequence",
            Page,
            page_of(vec![], json!(-1), false),
            BadData,
        ),
        case(
            "page: 1 MiB content",
            Page,
            page_of(
                vec![with(m11.clone(), "content", json!(mega))],
                json!(12),
                false,
            ),
            BadData,
        ),
        case(
            "page: invalid UTF-8 content",
            Page,
            raw(invalid_utf8_content),
            BadData,
        ),
        case(
            "page: empty message id",
            Page,
            page_of(vec![with(m11.clone(), "id", json!(""))], json!(12), false),
            BadData,
        ),
        case(
            "page: messages field missing",
            Page,
            Json(json!({"lastMessageSequence": 12})),
            BadData,
        ),
        case("page: 9 MiB body", Page, raw(nine_mib), BadData),
        case(
            "page: never-ending body",
            Page,
            Reply::Endless(vec![b' '; 64 << 10], 1),
            BadData,
        ),
        case(
            "page: 500",
            Page,
            status(500, "application/json", br#"{"detail": "boom"}"#),
            Server,
        ),
        case(
            "page: 404 for a listed chat",
            Page,
            status(404, "application/json", br#"{"detail": "gone"}"#),
            NotFound,
        ),
        // ---- send answers
        send_case("send: JSON syntax error", raw("{\"id\":")),
        send_case(
            "send: another clientTempId echoed",
            Json(with(m11.clone(), "clientTempId", json!("not-mine"))),
        ),
        send_case(
            "send: the answer is in another chat",
            Json(with(message_json("t2", 11), "clientTempId", Value::Null)),
        ),
        send_case("send: sequence 0", Json(message_json("t1", 0))),
        send_case("send: 500", status(500, "text/plain", b"down")),
        // ---- realtime frames (t1 open and SYNCED at 10)
        frames(
            "frame: JSON syntax error",
            vec![Frame::Text("{\"type\": \"message.new\",".into())],
            BadData,
        ),
        frames(
            "frame: message.new with sequence 0",
            vec![frame_with(message_json("t1", 0))],
            BadData,
        ),
        frames(
            "frame: message.new with a negative sequence",
            vec![frame_with(message_json("t1", -3))],
            BadData,
        ),
        frames(
            "frame: message of another chat",
            vec![frame_with(message_json("t2", 11))],
            BadData,
        ),
        frames(
            "frame: sequence as a string",
            vec![frame_with(with(m11.clone(), "sequenceNumber", json!("11")))],
            BadData,
        ),
        frames(
            "frame: binary frame",
            vec![Frame::Binary(vec![0, 159, 146, 150])],
            BadData,
        ),
        frames(
            "frame: ticket.updated with a negative sequence",
            vec![Frame::Text(
                json!({"type": "ticket.updated", "requestId": "t1", "lastMessageSequence": -7})
                    .to_string(),
            )],
            BadData,
        ),
        frames(
            "frame: 300 KiB content",
            vec![frame_with(with(
                m11.clone(),
                "content",
                json!("y".repeat(300 << 10)),
            ))],
            BadData,
        ),
        frames(
            "frame: flood of 20k malformed frames",
            vec![Frame::Flood("{\"type\":".into(), 20_000)],
            BadData,
        ),
    ];
    // Valid data, no error expected: the client must stay responsive and unchanged.
    all.push(Case {
        expect: None,
        ..frames("frame: flood of 3k duplicates of a cached message", vec![Frame::Flood(
            json!({"type": "message.new", "requestId": "t1", "message": message_json("t1", 10)}).to_string(), 3_000)],
            BadData)
    });
    // Well-formed but absurd: stored as the contract allows, then healed.
    all.push(Case {
        absurd: true,
        expect: None,
        ..frames(
            "frame: message.new with sequence i64::MAX",
            vec![frame_with(message_json("t1", i64::MAX))],
            BadData,
        )
    });
    // Density (every sequence 1..=N exists): pages that skip messages are rejected.
    all.push(case(
        "page: i64::MAX with lastMessageSequence i64::MAX",
        Page,
        page_of(vec![message_json("t1", i64::MAX)], json!(i64::MAX), false),
        BadData,
    ));
    all.push(case(
        "page: a hole inside the page",
        Page,
        page_of(vec![m11.clone(), message_json("t1", 13)], json!(13), false),
        BadData,
    ));
    all.push(case(
        "page: empty page claiming hasMore",
        Page,
        page_of(vec![], json!(12), true),
        BadData,
    ));
    all.push(Case {
        absurd: true,
        expect: None,
        ..case(
            "page: lastMessageSequence 12 but never any message",
            Page,
            page_of(vec![], json!(12), false),
            BadData,
        )
    });
    // The duplicate flood is valid data (no error expected); it checks responsiveness.
    all
}

/// The outcome of one case, for the report.
struct Outcome {
    name: &'static str,
    error: Option<ErrorKind>,
    requests: u64,
    millis: u128,
}

async fn wait_for(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    done()
}

async fn run_case(case: Case, template: PathBuf, dir: PathBuf, index: usize) -> Outcome {
    let started = Instant::now();
    let (hostile, addr) = start_hostile().await;
    let cache = dir.join(format!("case-{index}.sqlite"));
    copy_cache(&template, &cache);
    let name = case.name;
    let client = client(addr, cache);
    let recorder = Arc::new(Recorder::default());
    let _subscription: Subscription = client.subscribe(recorder.clone(), None);
    let mut method_error = None;
    let before;
    match case.kind {
        Kind::Tickets => {
            before = content(client.cache());
            hostile.script.lock().unwrap().tickets = case.reply.clone().expect("a reply");
            client.start();
            method_error = client.refresh_tickets().await.err().map(|e| e.kind());
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        Kind::Page => {
            hostile.script.lock().unwrap().tickets = Reply::GoodTickets(12);
            client.start();
            client.refresh_tickets().await.expect("the truthful list");
            before = content(client.cache());
            hostile.script.lock().unwrap().pages = case.reply.clone().expect("a reply");
            client.open_chat("t1").expect("open");
            client
                .wait_until_settled("t1", Duration::from_secs(6))
                .await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        Kind::Send => {
            client.start();
            client.refresh_tickets().await.expect("the truthful list");
            client.open_chat("t1").expect("open");
            client
                .wait_until_settled("t1", Duration::from_secs(5))
                .await;
            before = content(client.cache());
            hostile.script.lock().unwrap().send = case.reply.clone().expect("a reply");
            let queued = client
                .send_message("t1", "hello hostile")
                .await
                .expect("queued");
            let ctid = queued.client_temp_id.clone().expect("a key");
            let answer = client
                .wait_for_send("t1", &ctid, Duration::from_secs(4))
                .await
                .expect("the local copy");
            assert!(
                answer.sequence_number.is_none(),
                "{name}: a hostile answer was accepted"
            );
            // Retried, idempotently: every POST carried the same key.
            let retried = wait_for(Duration::from_secs(5), || {
                hostile.sent_keys.lock().unwrap().len() >= 2
            })
            .await;
            assert!(retried, "{name}: the send was not retried");
            let keys = hostile.sent_keys.lock().unwrap().clone();
            assert!(
                keys.iter().all(|k| *k == ctid),
                "{name}: keys {keys:?} differ from {ctid}"
            );
            let outbox = client.cache().outbox().expect("readable");
            assert!(
                outbox.iter().any(|e| e.client_temp_id == ctid),
                "{name}: the outgoing message left the outbox"
            );
        }
        Kind::Frames => {
            {
                let mut script = hostile.script.lock().unwrap();
                script.frames = case.frames.clone();
                hostile.frames_sent.store(false, Ordering::SeqCst);
            }
            client.start();
            client.refresh_tickets().await.expect("the truthful list");
            before = content(client.cache());
            client.open_chat("t1").expect("open");
            let sent = wait_for(Duration::from_secs(10), || {
                hostile.frames_sent.load(Ordering::SeqCst)
            })
            .await;
            assert!(sent, "{name}: the WebSocket never connected");
            // Let the client digest the frames (a flood takes a while).
            let digest = Instant::now();
            loop {
                client.flush_observers();
                let idle = !client.is_chat_syncing("t1");
                tokio::time::sleep(Duration::from_millis(300)).await;
                if (idle && !case.absurd) || digest.elapsed() > Duration::from_secs(15) {
                    break;
                }
                if case.absurd && client.sync_state("t1") == SyncState::Synced {
                    break;
                }
            }
        }
    }
    client.flush_observers();
    let kinds = recorder.error_kinds();
    let after = content(client.cache());
    let requests = hostile.ticket_requests.load(Ordering::Relaxed)
        + hostile.page_requests.load(Ordering::Relaxed)
        + hostile.send_requests.load(Ordering::Relaxed);
    // The expected typed error.
    let observed = method_error.or_else(|| kinds.iter().copied().find(|k| Some(*k) == case.expect));
    if let Some(expect) = case.expect {
        assert!(
            method_error == Some(expect) || kinds.contains(&expect),
            "{name}: expected a {expect:?} error, method gave {method_error:?}, events {kinds:?}"
        );
    }
    // The cache.
    if case.absurd {
        // Stored as well-formed, never SYNCED while it is there, healed below.
    } else if case.kind == Kind::Send {
        assert_eq!(
            after
                .messages
                .iter()
                .filter(|m| m.sequence_number.is_some())
                .count(),
            10,
            "{name}: sequenced messages changed"
        );
        assert_eq!(after.summary, before.summary, "{name}: runs changed");
        assert_eq!(after.tickets, before.tickets, "{name}: tickets changed");
    } else {
        assert!(
            after == before,
            "{name}: the cache changed:\nbefore {before:?}\nafter {after:?}"
        );
    }
    // Never SYNCED on that data.
    match case.kind {
        Kind::Tickets => assert_eq!(recorder.synced_reports("t1"), 0, "{name}: SYNCED reported"),
        Kind::Page => {
            assert_eq!(
                recorder.synced_reports("t1"),
                0,
                "{name}: SYNCED on hostile pages"
            );
        }
        _ => {}
    }
    if client.sync_state("t1") == SyncState::Synced {
        assert!(
            client
                .cache()
                .validate_sequences("t1")
                .expect("validates")
                .valid,
            "{name}: SYNCED while the cache does not validate"
        );
        if case.absurd {
            let max = client.cache().summary("t1").expect("summary").max_seq;
            assert!(
                max < Some(i64::MAX),
                "{name}: SYNCED holding the absurd sequence"
            );
        }
    }
    // The same client recovers once the server behaves.
    {
        let mut script = hostile.script.lock().unwrap();
        script.tickets = Reply::GoodTickets(if case.kind == Kind::Page { 12 } else { 10 });
        script.pages = Reply::GoodPages(if case.kind == Kind::Page { 12 } else { 10 });
        script.send = Reply::GoodSend;
    }
    match case.kind {
        Kind::Tickets => {
            // A 401 blocks network work until the app renews the credentials.
            client.on_credentials_renewed();
            // A refresh (or retry) already in flight may still carry the hostile answer.
            let mut last = None;
            for _ in 0..30 {
                match client.refresh_tickets().await {
                    Ok(_) => {
                        last = None;
                        break;
                    }
                    Err(e) => last = Some(e),
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert!(last.is_none(), "{name}: no recovery: {last:?}");
        }
        Kind::Page | Kind::Frames => {
            client.open_chat("t1").expect("open");
            let meta = client.manual_resync("t1").await;
            let ok = wait_for(Duration::from_secs(8), || {
                client.sync_state("t1") == SyncState::Synced
            })
            .await;
            assert!(
                ok,
                "{name}: no recovery ({meta:?}, {:?})",
                client.sync_state("t1")
            );
            let want = if case.kind == Kind::Page { 12 } else { 10 };
            let seqs: Vec<i64> = client
                .get_cached_messages("t1", None)
                .expect("readable")
                .iter()
                .filter_map(|m| m.sequence_number)
                .collect();
            assert_eq!(seqs, (1..=want).collect::<Vec<_>>(), "{name}: healed cache");
        }
        Kind::Send => {
            let entry = client.cache().outbox().expect("readable");
            for e in entry {
                // An attempt already in flight may still fail; the retries then deliver it.
                let deadline = Instant::now() + Duration::from_secs(8);
                let mut sent = None;
                while sent.is_none() && Instant::now() < deadline {
                    let _ = client.retry_send("t1", &e.client_temp_id).await;
                    let copy = client
                        .wait_for_send("t1", &e.client_temp_id, Duration::from_secs(2))
                        .await
                        .expect("a copy");
                    sent = copy.sequence_number;
                }
                assert!(sent.is_some(), "{name}: the message was never sent");
            }
        }
    }
    drop(client);
    Outcome {
        name,
        error: observed,
        requests,
        millis: started.elapsed().as_millis(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_responses_give_typed_errors_and_change_nothing() {
    panics::install();
    let dir = tempfile::tempdir().expect("a temporary directory");
    // The template cache: t1 holds 1..=10, SYNCED at 10.
    let template = dir.path().join("template.sqlite");
    {
        let (_hostile, addr) = start_hostile().await;
        let client = client(addr, template.clone());
        client.start();
        client.refresh_tickets().await.expect("the truthful list");
        client.open_chat("t1").expect("open");
        let state = client
            .wait_until_settled("t1", Duration::from_secs(10))
            .await;
        assert_eq!(state, SyncState::Synced);
        client.shutdown();
    }
    let cases = cases();
    let total = cases.len();
    assert!(total >= 30, "the matrix needs at least 30 cases");
    let runs = futures_util::stream::iter(cases.into_iter().enumerate().map(|(i, case)| {
        let (template, dir) = (template.clone(), dir.path().to_path_buf());
        tokio::spawn(run_case(case, template, dir, i))
    }))
    .buffer_unordered(3)
    .collect::<Vec<_>>()
    .await;
    let mut outcomes = Vec::new();
    for run in runs {
        match run {
            Ok(outcome) => outcomes.push(outcome),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => panic!("a case was cancelled: {e}"),
        }
    }
    outcomes.sort_by_key(|o| o.name);
    let panics_seen = panics::count();
    assert_eq!(
        panics_seen, 0,
        "a panic happened while serving hostile data"
    );
    let table: Vec<Value> = outcomes
        .iter()
        .map(|o| {
            json!({"case": o.name, "error": o.error.map(|k| k.as_str()), "requests": o.requests,
                   "ms": o.millis as u64})
        })
        .collect();
    report::write(
        "bad_input",
        &json!({"cases": total, "passed": outcomes.len(), "panics": panics_seen, "outcomes": table}),
    );
}
