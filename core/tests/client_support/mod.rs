//! Shared harness of the client integration tests: the real reference server
//! in-process on loopback, real SQLite cache files in a temporary directory, and an
//! observer that records every event.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chatsync::client::ErrorKind;
use chatsync::net::api::{NetStats, StaticToken};
use chatsync::observe::{Observer, Subscription};
use chatsync::{ChatMessage, ChatSyncClient, ClientConfig, SyncEvent, SyncState};
use chatsync_server::{RunningServer, Server, ServerConfig};

/// A running reference server and a directory for cache files.
pub struct Env {
    pub server: RunningServer,
    pub dir: tempfile::TempDir,
    files: AtomicUsize,
}

pub const REQUESTER: &str = "requester-1";
pub const TECHNICIAN: &str = "technician-1";

/// How long a test waits for the client to settle or for an event to arrive.
pub const SETTLE: Duration = Duration::from_secs(10);

impl Env {
    /// A server with `tickets` tickets of `messages` messages each, fault injection allowed.
    pub async fn start(tickets: u32, messages: u32) -> Env {
        let config = ServerConfig::ephemeral()
            .with_seed(tickets, messages)
            .with_faults();
        let server = Server::start(config).await.expect("the server starts");
        Env {
            server,
            dir: tempfile::tempdir().expect("a temporary directory"),
            files: AtomicUsize::new(0),
        }
    }

    /// A server with one ticket of `messages` messages, and that ticket's id.
    pub async fn single_chat(messages: u32) -> (Env, String) {
        let env = Env::start(1, messages).await;
        let chat = env.tickets().await[0].clone();
        (env, chat)
    }

    /// A server with two tickets of `messages` messages each, and their ids in the
    /// server's order (most recent first).
    pub async fn two_chats(messages: u32) -> (Env, [String; 2]) {
        let env = Env::start(2, messages).await;
        let tickets = env.tickets().await;
        let chats = [tickets[0].clone(), tickets[1].clone()];
        (env, chats)
    }

    /// The token of a seeded user.
    pub fn token(&self, user: &str) -> String {
        self.server
            .users()
            .into_iter()
            .find(|u| u.id == user)
            .map(|u| u.token)
            .expect("a seeded user")
    }

    /// A fresh cache file path.
    pub fn cache_path(&self) -> PathBuf {
        let n = self.files.fetch_add(1, Ordering::Relaxed);
        self.dir.path().join(format!("cache-{n}.sqlite"))
    }

    /// Test settings: short grace and retry delays, everything else the defaults.
    pub fn config(&self, cache: PathBuf) -> ClientConfig {
        let mut config = ClientConfig::new(self.server.base_url(), Some(cache));
        config.gap_grace = Duration::from_millis(300);
        config.retry_base = Duration::from_millis(100);
        config.retry_cap = Duration::from_millis(800);
        config.reconnect_base = Duration::from_millis(100);
        config.reconnect_cap = Duration::from_millis(800);
        config
    }

    /// The requester's client over `cache` with the test settings.
    pub fn client_at(&self, cache: PathBuf) -> Arc<ChatSyncClient> {
        self.client_with(cache, |_| {})
    }

    /// The requester's client with adjusted settings.
    pub fn client_with(
        &self,
        cache: PathBuf,
        adjust: impl FnOnce(&mut ClientConfig),
    ) -> Arc<ChatSyncClient> {
        let mut config = self.config(cache);
        adjust(&mut config);
        let tokens = Arc::new(StaticToken(self.token(REQUESTER)));
        Arc::new(ChatSyncClient::new(config, tokens).expect("the client builds"))
    }

    /// The requester's ticket ids, as the server lists them (most recent first).
    pub async fn tickets(&self) -> Vec<String> {
        self.server.ticket_ids().await.expect("ticket ids")
    }

    /// The technician posts a message; returns its sequence.
    pub async fn post_as_technician(&self, ticket: &str, content: &str) -> i64 {
        self.server
            .post_message(ticket, TECHNICIAN, content, None)
            .await
            .expect("the post succeeds")
            .message
            .sequence_number
    }

    /// The technician posts a message; returns the client's view of it (as a
    /// realtime frame would deliver it), for `on_new_message`.
    pub async fn post_for_push(&self, ticket: &str, content: &str) -> ChatMessage {
        let outcome = self
            .server
            .post_message(ticket, TECHNICIAN, content, None)
            .await
            .expect("the post succeeds");
        let frame = serde_json::json!({
            "type": "message.new",
            "requestId": ticket,
            "message": outcome.message,
        });
        match chatsync::wire::decode_realtime_frame(&frame.to_string(), 0) {
            Ok(chatsync::wire::RealtimeFrame::MessageNew { message, .. }) => *message,
            other => panic!("the server's message does not decode: {other:?}"),
        }
    }

    /// The server's highest sequence of `ticket`.
    pub async fn server_last(&self, ticket: &str) -> i64 {
        self.server
            .last_sequence(ticket)
            .await
            .expect("a known ticket")
    }
}

/// Records every event it receives.
#[derive(Default)]
pub struct Recorder {
    events: Mutex<Vec<SyncEvent>>,
}

impl Observer<SyncEvent> for Recorder {
    fn on_event(&self, event: SyncEvent) {
        self.events.lock().unwrap().push(event);
    }
}

impl Recorder {
    /// Subscribes a new recorder to `chat` (or everything).
    pub fn attach(client: &ChatSyncClient, chat: Option<&str>) -> (Arc<Recorder>, Subscription) {
        let recorder = Arc::new(Recorder::default());
        let subscription = client.subscribe(recorder.clone(), chat.map(str::to_string));
        (recorder, subscription)
    }

    /// A copy of the events so far.
    pub fn events(&self) -> Vec<SyncEvent> {
        self.events.lock().unwrap().clone()
    }

    /// Forgets the events so far.
    pub fn clear(&self) {
        self.events.lock().unwrap().clear();
    }

    /// The sync states reported for `chat`, in order.
    pub fn states(&self, chat: &str) -> Vec<SyncState> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                SyncEvent::SyncStateChanged { request_id, state } if request_id == chat => {
                    Some(state)
                }
                _ => None,
            })
            .collect()
    }

    /// The syncing flags reported for `chat`, in order.
    pub fn syncing(&self, chat: &str) -> Vec<bool> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                SyncEvent::SyncingChanged {
                    request_id,
                    syncing,
                } if request_id == chat => Some(syncing),
                _ => None,
            })
            .collect()
    }

    /// Waits (polling) until `done` holds for the events, or `timeout` passes.
    pub async fn wait_for(&self, timeout: Duration, done: impl Fn(&[SyncEvent]) -> bool) -> bool {
        eventually(timeout, || done(&self.events.lock().unwrap())).await
    }

    /// Waits until the recorder saw the realtime socket come up (panics after
    /// [`SETTLE`] without it).
    pub async fn wait_realtime(&self) {
        assert!(
            self.wait_for(SETTLE, realtime_connected).await,
            "the realtime socket connects"
        );
    }

    /// Waits until the recorder saw an error of `kind` (panics after [`SETTLE`]
    /// without one).
    pub async fn wait_error(&self, kind: ErrorKind) {
        assert!(
            self.wait_for(SETTLE, |events| has_error(events, kind))
                .await,
            "an error of kind {kind:?} is reported"
        );
    }
}

/// Whether `events` report the realtime socket connected.
pub fn realtime_connected(events: &[SyncEvent]) -> bool {
    events.iter().any(|e| {
        matches!(
            e,
            SyncEvent::ConnectionChanged {
                realtime_connected: true,
                ..
            }
        )
    })
}

/// Whether `events` hold an error of `kind`.
pub fn has_error(events: &[SyncEvent], kind: ErrorKind) -> bool {
    events
        .iter()
        .any(|e| matches!(e, SyncEvent::Error { kind: k, .. } if *k == kind))
}

/// Waits (polling) until `done()` holds or `timeout` passes; returns whether it held.
pub async fn eventually(timeout: Duration, done: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The sequences of the cached messages of `chat`, ascending.
pub fn cached_seqs(client: &ChatSyncClient, chat: &str) -> Vec<i64> {
    client
        .get_cached_messages(chat, None)
        .expect("cache readable")
        .into_iter()
        .filter_map(|m| m.sequence_number)
        .collect()
}

/// The message pages `client` requested and the messages it fetched since its
/// counters read `before`.
pub fn fetched_since(client: &ChatSyncClient, before: &NetStats) -> (u64, u64) {
    let now = client.net_stats();
    (
        now.message_page_requests - before.message_page_requests,
        now.messages_fetched - before.messages_fetched,
    )
}

/// `1..=n`.
pub fn one_to(n: i64) -> Vec<i64> {
    (1..=n).collect()
}

/// Loads `chat` into a fresh cache file and returns its path (the client is gone
/// afterwards, like an app that was closed).
pub async fn cached_chat(env: &Env, chat: &str) -> PathBuf {
    cached_chats(env, &[chat.to_string()]).await
}

/// Loads every chat of `chats` into one fresh cache file and returns its path.
pub async fn cached_chats(env: &Env, chats: &[String]) -> PathBuf {
    let path = env.cache_path();
    let client = env.client_at(path.clone());
    client.refresh_tickets().await.expect("ticket list");
    for chat in chats {
        client.open_chat(chat).expect("open");
        let state = client.wait_until_settled(chat, SETTLE).await;
        assert_eq!(state, SyncState::Synced, "the initial load syncs {chat}");
        client.close_chat(chat);
    }
    drop(client);
    path
}

/// Waits until `chat` settled SYNCED (panics otherwise). After `start()` this also
/// waits out the socket's connect, whose metadata refresh re-validates every chat:
/// measuring before it lands would count the fetch that fresh metadata may
/// legitimately start.
pub async fn settle(client: &ChatSyncClient, chat: &str) {
    assert_eq!(
        client.wait_until_settled(chat, SETTLE).await,
        SyncState::Synced
    );
}

/// Starts `client` (realtime on) and opens `chat`; `recorder` must already be
/// subscribed to events that include the connection's. On return the realtime
/// socket is connected and `chat` is open and settled SYNCED.
pub async fn go_online(client: &ChatSyncClient, recorder: &Recorder, chat: &str) {
    client.start();
    client.open_chat(chat).expect("open");
    recorder.wait_realtime().await;
    settle(client, chat).await;
}

/// A new client over a cache file that already holds `chat` fully loaded (like an
/// app relaunched after using it), with the test settings; not started (no
/// socket) and no chat open.
pub async fn cached_client(env: &Env, chat: &str) -> Arc<ChatSyncClient> {
    cached_client_with(env, chat, |_| {}).await
}

/// [`cached_client`] with adjusted settings.
pub async fn cached_client_with(
    env: &Env,
    chat: &str,
    adjust: impl FnOnce(&mut ClientConfig),
) -> Arc<ChatSyncClient> {
    let path = cached_chat(env, chat).await;
    env.client_with(path, adjust)
}

/// A client over a cache that already held `chat`, with a recorder subscribed to
/// `chat`'s events (the returned subscription keeps it subscribed: hold it).
/// On return the client is started, the realtime socket is connected and `chat`
/// is open and settled SYNCED.
pub async fn synced_online_client(
    env: &Env,
    chat: &str,
) -> (Arc<ChatSyncClient>, Arc<Recorder>, Subscription) {
    synced_online_client_with(env, chat, |_| {}).await
}

/// [`synced_online_client`] with adjusted settings.
pub async fn synced_online_client_with(
    env: &Env,
    chat: &str,
    adjust: impl FnOnce(&mut ClientConfig),
) -> (Arc<ChatSyncClient>, Arc<Recorder>, Subscription) {
    let client = cached_client_with(env, chat, adjust).await;
    let (recorder, subscription) = Recorder::attach(&client, Some(chat));
    go_online(&client, &recorder, chat).await;
    (client, recorder, subscription)
}
