//! The WebSocket over real loopback connections (tokio-tungstenite clients): frames,
//! who receives them, pings, slow and silent clients, server disconnects, and every
//! push fault mode.

mod common;

use std::time::{Duration, Instant};

use chatsync_server::{
    PushKind, RandomPushFaults, Role, RunningServer, ServerConfig, UserSpec, WsConfig,
};
use common::{Api, connect_ws, frame_key, frames_for, start, take_frames, try_connect_ws};
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::Value;
use tokio_tungstenite::tungstenite::{self, Message};

const QUIET: Duration = Duration::from_millis(300);
const WAIT: Duration = Duration::from_secs(5);

async fn ticket_of(server: &RunningServer) -> String {
    let r = server.first_user(Role::Requester).unwrap();
    let t = server.first_user(Role::Technician).unwrap();
    server
        .create_ticket("Realtime", &r.id, &t.id)
        .await
        .unwrap()
}

async fn post(server: &RunningServer, ticket: &str, role: Role, text: &str) -> i64 {
    let user = server.first_user(role).unwrap();
    server
        .post_message(ticket, &user.id, text, None)
        .await
        .unwrap()
        .message
        .sequence_number
}

fn keys(frames: &[Value]) -> Vec<(String, Option<i64>)> {
    frames.iter().map(frame_key).collect()
}

fn msg(seq: i64) -> (String, Option<i64>) {
    ("message.new".into(), Some(seq))
}

fn upd(seq: i64) -> (String, Option<i64>) {
    ("ticket.updated".into(), Some(seq))
}

#[tokio::test]
async fn pushes_reach_both_parties_and_nobody_else() {
    let users = vec![
        UserSpec::new("alice", Role::Requester, "Alice Moreau"),
        UserSpec::new("bob", Role::Requester, "Bob Kim"),
        UserSpec::new("tess", Role::Technician, "Tess Nakamura"),
    ];
    let server = start(ServerConfig::ephemeral().with_users(users)).await;
    let token = |id: &str| server.user(id).unwrap().token;
    let mut alice = connect_ws(&server, &token("alice")).await;
    let mut alice2 = connect_ws(&server, &token("alice")).await;
    let mut bob = connect_ws(&server, &token("bob")).await;
    let mut tess = connect_ws(&server, &token("tess")).await;
    let ticket = server
        .create_ticket("Wi-Fi", "alice", "tess")
        .await
        .unwrap();
    // Creation announces the empty ticket to both parties.
    for ws in [&mut alice, &mut alice2, &mut tess] {
        assert_eq!(keys(&take_frames(ws, 1, WAIT).await), vec![upd(0)]);
    }

    let api = Api::new(&server, &server.user("alice").unwrap());
    let sent = api.send(&ticket, "Hello?", "c-1").await;
    assert_eq!(sent.status, StatusCode::CREATED);
    for (ws, own) in [(&mut alice, true), (&mut alice2, true), (&mut tess, false)] {
        let frames = take_frames(ws, 2, WAIT).await;
        assert_eq!(keys(&frames), vec![msg(1), upd(1)]);
        assert_eq!(frames[0]["requestId"], ticket.as_str());
        assert_eq!(frames[1]["requestId"], ticket.as_str());
        let mut pushed = frames[0]["message"].clone();
        assert_eq!(pushed["isReadByCurrentUser"], own);
        pushed["isReadByCurrentUser"] = Value::Bool(true);
        assert_eq!(pushed, sent.json, "the pushed message is the stored one");
    }
    assert!(
        frames_for(&mut bob, QUIET).await.is_empty(),
        "bob is not a party"
    );
    assert_eq!(server.websocket_connections(), 4);
    assert_eq!(server.stats().websocket_connections, 4);
}

#[tokio::test]
async fn the_upgrade_needs_a_valid_token() {
    let server = start(ServerConfig::ephemeral()).await;
    for token in [None, Some("wrong")] {
        match try_connect_ws(&server, token).await {
            Err(tungstenite::Error::Http(response)) => {
                assert_eq!(response.status().as_u16(), 401);
                let body: Value =
                    serde_json::from_slice(response.body().as_deref().unwrap_or_default())
                        .expect("JSON detail");
                assert!(body["detail"].is_string());
            }
            other => panic!("expected 401, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn reads_and_restores_push_ticket_updated() {
    let server = start(ServerConfig::ephemeral().with_seed(1, 10)).await;
    let ticket = server.ticket_ids().await.unwrap()[0].clone();
    let requester = server.first_user(Role::Requester).unwrap();
    let technician = server.first_user(Role::Technician).unwrap();
    let mut r_ws = connect_ws(&server, &requester.token).await;
    let mut t_ws = connect_ws(&server, &technician.token).await;

    let api = Api::new(&server, &requester);
    post(&server, &ticket, Role::Technician, "unread").await;
    for ws in [&mut r_ws, &mut t_ws] {
        assert_eq!(
            keys(&take_frames(ws, 2, WAIT).await),
            vec![msg(11), upd(11)]
        );
    }
    assert_eq!(api.read(&ticket, 11).await.status, StatusCode::NO_CONTENT);
    assert_eq!(keys(&take_frames(&mut r_ws, 1, WAIT).await), vec![upd(11)]);
    assert!(
        frames_for(&mut t_ws, QUIET).await.is_empty(),
        "only the reader's view changed"
    );
    // A read that moves nothing pushes nothing.
    assert_eq!(api.read(&ticket, 4).await.status, StatusCode::NO_CONTENT);
    assert!(frames_for(&mut r_ws, QUIET).await.is_empty());

    assert_eq!(server.restore_ticket(&ticket, 6).await.unwrap(), 5);
    for ws in [&mut r_ws, &mut t_ws] {
        assert_eq!(keys(&take_frames(ws, 1, WAIT).await), vec![upd(6)]);
    }
    assert_eq!(
        server.restore_ticket(&ticket, 6).await.unwrap(),
        0,
        "nothing above 6"
    );
    assert!(server.restore_ticket(&ticket, -1).await.is_err());
    assert!(server.restore_ticket("nope", 1).await.is_err());

    // The next post reuses sequence 7.
    assert_eq!(
        post(&server, &ticket, Role::Technician, "after restore").await,
        7
    );
    assert_eq!(
        keys(&take_frames(&mut r_ws, 2, WAIT).await),
        vec![msg(7), upd(7)]
    );
    let page = api.page(&ticket, "afterSequence=0&limit=500").await;
    assert_eq!(common::seqs(&page), (1..=7).collect::<Vec<_>>());
    assert_eq!(page["lastMessageSequence"], 7);
    assert_eq!(page["messages"][6]["content"], "after restore");
    // The read pointer was clamped to 6, so message 7 is unread.
    let list = api.tickets().await;
    assert_eq!(list[0]["unreadCount"], 1);
}

#[tokio::test]
async fn the_server_pings_and_drops_clients_that_stop_answering() {
    let config = ServerConfig {
        ws: WsConfig {
            ping_interval: Duration::from_millis(100),
            pong_timeout: Duration::from_millis(250),
            ..WsConfig::default()
        },
        ..ServerConfig::ephemeral()
    };
    let server = start(config).await;
    let token = server.first_user(Role::Requester).unwrap().token;
    let mut alive = connect_ws(&server, &token).await;
    let mut silent = connect_ws(&server, &token).await;

    // The live client reads (tungstenite answers pings while reading).
    let deadline = Instant::now() + Duration::from_millis(1200);
    let mut pings = 0;
    while Instant::now() < deadline {
        if let Ok(Some(Ok(Message::Ping(_)))) =
            tokio::time::timeout(Duration::from_millis(100), alive.next()).await
        {
            pings += 1;
        }
    }
    assert!(pings >= 3, "server pings regularly: {pings}");
    // The silent client never read, so it never answered: the server dropped it.
    assert_eq!(server.websocket_connections(), 1);
    assert!(server.stats().websocket_connections_dropped >= 1);
    let mut closed = false;
    while let Ok(Some(frame)) = tokio::time::timeout(WAIT, silent.next()).await {
        match frame {
            Ok(Message::Close(frame)) => {
                assert_eq!(frame.map(|f| u16::from(f.code)), Some(1001));
                closed = true;
            }
            Ok(_) => continue,
            Err(_) => {
                closed = true;
                break;
            }
        }
    }
    assert!(closed, "the silent connection was closed");
    // The live one still gets pushes.
    let ticket = ticket_of(&server).await;
    assert_eq!(keys(&take_frames(&mut alive, 1, WAIT).await), vec![upd(0)]);
    post(&server, &ticket, Role::Technician, "still there?").await;
    assert_eq!(
        keys(&take_frames(&mut alive, 2, WAIT).await),
        vec![msg(1), upd(1)]
    );
}

#[tokio::test]
async fn a_slow_client_is_dropped_and_never_blocks_posts() {
    let config = ServerConfig {
        ws: WsConfig {
            queue_capacity: 8,
            pong_timeout: Duration::from_millis(500),
            ..WsConfig::default()
        },
        ..ServerConfig::ephemeral()
    };
    let server = start(config).await;
    let requester = server.first_user(Role::Requester).unwrap();
    let _stuck = connect_ws(&server, &requester.token).await; // never read
    let mut reader = connect_ws(&server, &server.first_user(Role::Technician).unwrap().token).await;
    let ticket = ticket_of(&server).await;
    // 1000 x 10 kB frames: more than the socket buffers of a client that never reads.
    let big = "z".repeat(10_000);
    assert_eq!(keys(&take_frames(&mut reader, 1, WAIT).await), vec![upd(0)]);
    for seq in 1..=1000 {
        assert_eq!(post(&server, &ticket, Role::Requester, &big).await, seq);
        // The reading party keeps up and gets every frame.
        let frames = take_frames(&mut reader, 2, WAIT).await;
        assert_eq!(keys(&frames), vec![msg(seq), upd(seq)]);
    }
    let deadline = Instant::now() + WAIT;
    while server.websocket_connections() > 1 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        server.websocket_connections(),
        1,
        "the stuck client was dropped"
    );
    assert!(server.stats().websocket_connections_dropped >= 1);
}

#[tokio::test]
async fn disconnect_all_closes_every_socket_and_clients_can_reconnect() {
    let server = start(ServerConfig::ephemeral()).await;
    let token = server.first_user(Role::Requester).unwrap().token;
    let mut a = connect_ws(&server, &token).await;
    let mut b = connect_ws(&server, &token).await;
    server.disconnect_all_websockets();
    for ws in [&mut a, &mut b] {
        let mut code = None;
        while let Ok(Some(Ok(frame))) = tokio::time::timeout(WAIT, ws.next()).await {
            if let Message::Close(frame) = frame {
                code = frame.map(|f| u16::from(f.code));
                break;
            }
        }
        assert_eq!(code, Some(1012));
    }
    let mut again = connect_ws(&server, &token).await;
    ticket_of(&server).await;
    assert_eq!(keys(&take_frames(&mut again, 1, WAIT).await), vec![upd(0)]);
}

async fn setup() -> (RunningServer, String, common::Ws) {
    let server = start(ServerConfig::ephemeral()).await;
    let ticket = ticket_of(&server).await;
    let mut ws = connect_ws(&server, &server.first_user(Role::Requester).unwrap().token).await;
    // Created before the connection: nothing pending.
    assert!(
        frames_for(&mut ws, Duration::from_millis(50))
            .await
            .is_empty()
    );
    (server, ticket, ws)
}

#[tokio::test]
async fn fault_drop_next_pushes_by_kind() {
    let (server, ticket, mut ws) = setup().await;
    server.faults().drop_next_pushes(1, PushKind::MessageNew);
    post(&server, &ticket, Role::Technician, "a").await;
    post(&server, &ticket, Role::Technician, "b").await;
    assert_eq!(
        keys(&take_frames(&mut ws, 3, WAIT).await),
        vec![upd(1), msg(2), upd(2)]
    );
    server.faults().drop_next_pushes(2, PushKind::Any);
    post(&server, &ticket, Role::Technician, "c").await;
    post(&server, &ticket, Role::Technician, "d").await;
    assert_eq!(
        keys(&take_frames(&mut ws, 2, WAIT).await),
        vec![msg(4), upd(4)]
    );
    assert!(frames_for(&mut ws, QUIET).await.is_empty());
    assert_eq!(server.stats().pushes_dropped, 3);
    assert_eq!(server.faults().settings().drop_next.remaining, 0);
}

#[tokio::test]
async fn fault_drop_push_of_a_ticket_and_sequence() {
    let (server, ticket, mut ws) = setup().await;
    server.faults().drop_push(&ticket, 2);
    for text in ["a", "b", "c"] {
        post(&server, &ticket, Role::Technician, text).await;
    }
    assert_eq!(
        keys(&take_frames(&mut ws, 4, WAIT).await),
        vec![msg(1), upd(1), msg(3), upd(3)]
    );
    assert!(frames_for(&mut ws, QUIET).await.is_empty());
    // Other tickets with the same sequence are untouched.
    let other = ticket_of(&server).await;
    post(&server, &other, Role::Technician, "x").await;
    post(&server, &other, Role::Technician, "y").await;
    assert_eq!(
        keys(&take_frames(&mut ws, 5, WAIT).await),
        vec![upd(0), msg(1), upd(1), msg(2), upd(2)]
    );
    server.faults().reset();
    assert!(server.faults().settings().is_clear());
}

#[tokio::test]
async fn fault_duplicate_next_pushes() {
    let (server, ticket, mut ws) = setup().await;
    server
        .faults()
        .duplicate_next_pushes(1, PushKind::MessageNew);
    post(&server, &ticket, Role::Technician, "a").await;
    post(&server, &ticket, Role::Technician, "b").await;
    let frames = take_frames(&mut ws, 5, WAIT).await;
    assert_eq!(keys(&frames), vec![msg(1), msg(1), upd(1), msg(2), upd(2)]);
    assert_eq!(frames[0], frames[1], "an exact duplicate");
    assert!(frames_for(&mut ws, QUIET).await.is_empty());
    assert_eq!(server.stats().pushes_duplicated, 1);
}

#[tokio::test]
async fn fault_reorder_swaps_a_push_with_the_next_of_its_kind() {
    let (server, ticket, mut ws) = setup().await;
    server.faults().reorder_next_pushes(1, PushKind::MessageNew);
    post(&server, &ticket, Role::Technician, "a").await;
    post(&server, &ticket, Role::Technician, "b").await;
    assert_eq!(
        keys(&take_frames(&mut ws, 4, WAIT).await),
        vec![upd(1), msg(2), msg(1), upd(2)]
    );
    // With no later message.new, the held push is released after reorder_hold_max (1 s).
    server.faults().reorder_next_pushes(1, PushKind::MessageNew);
    post(&server, &ticket, Role::Technician, "c").await;
    let started = Instant::now();
    let frames = take_frames(&mut ws, 2, WAIT).await;
    assert_eq!(keys(&frames), vec![upd(3), msg(3)]);
    assert!(
        started.elapsed() >= Duration::from_millis(800),
        "held until the hold limit"
    );
    assert_eq!(server.stats().pushes_reordered, 2);
}

#[tokio::test]
async fn fault_push_delay_keeps_order() {
    let (server, ticket, mut ws) = setup().await;
    server.faults().set_push_delay(Duration::from_millis(400));
    let started = Instant::now();
    post(&server, &ticket, Role::Technician, "a").await;
    post(&server, &ticket, Role::Technician, "b").await;
    assert!(
        frames_for(&mut ws, Duration::from_millis(200))
            .await
            .is_empty(),
        "not yet"
    );
    let frames = take_frames(&mut ws, 4, WAIT).await;
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert_eq!(keys(&frames), vec![msg(1), upd(1), msg(2), upd(2)]);
    server.faults().set_push_delay(Duration::ZERO);
    post(&server, &ticket, Role::Technician, "c").await;
    assert_eq!(
        keys(&take_frames(&mut ws, 2, Duration::from_millis(300)).await),
        vec![msg(3), upd(3)]
    );
}

#[tokio::test]
async fn fault_null_last_sequence_everywhere() {
    let (server, ticket, mut ws) = setup().await;
    let api = Api::of_role(&server, Role::Requester);
    server.faults().set_null_last_sequence(true);
    post(&server, &ticket, Role::Technician, "a").await;
    let frames = take_frames(&mut ws, 2, WAIT).await;
    assert_eq!(
        frames[0]["message"]["sequenceNumber"], 1,
        "messages keep their sequence"
    );
    assert_eq!(frames[1]["type"], "ticket.updated");
    assert!(frames[1]["lastMessageSequence"].is_null());
    let list = api.tickets().await;
    assert!(list[0]["lastMessageSequence"].is_null());
    assert_eq!(list[0]["lastMessage"]["sequenceNumber"], 1);
    let page = api.page(&ticket, "").await;
    assert!(page["lastMessageSequence"].is_null());
    assert_eq!(common::seqs(&page), vec![1]);
    server.faults().set_null_last_sequence(false);
    assert_eq!(api.tickets().await[0]["lastMessageSequence"], 1);
}

async fn random_run(seed: u64) -> (Vec<i64>, u64, u64) {
    let (server, ticket, mut ws) = setup().await;
    server
        .faults()
        .set_random_push_faults(Some(RandomPushFaults {
            seed,
            drop_rate: 0.2,
            duplicate_rate: 0.2,
            reorder_rate: 0.0,
        }));
    for i in 0..60 {
        post(&server, &ticket, Role::Technician, &format!("m{i}")).await;
    }
    let frames = frames_for(&mut ws, Duration::from_millis(500)).await;
    let got = frames
        .iter()
        .filter(|f| f["type"] == "message.new")
        .map(|f| f["message"]["sequenceNumber"].as_i64().unwrap())
        .collect();
    let stats = server.stats();
    assert_eq!(
        frames.len() as u64,
        120 - stats.pushes_dropped + stats.pushes_duplicated,
        "every frame is accounted for"
    );
    (got, stats.pushes_dropped, stats.pushes_duplicated)
}

#[tokio::test]
async fn fault_random_rates_are_seeded_and_repeatable() {
    let (a, dropped, duplicated) = random_run(7).await;
    let (b, ..) = random_run(7).await;
    let (c, ..) = random_run(8).await;
    assert_eq!(a, b, "same seed, same faults");
    assert_ne!(a, c, "another seed, other faults");
    assert!(
        dropped > 5 && duplicated > 5,
        "rates apply: {dropped} dropped, {duplicated} duplicated"
    );
    let mut unique = a.clone();
    unique.dedup();
    assert!(unique.len() < 60 && a.len() > unique.len());
}
