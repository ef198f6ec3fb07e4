//! The environment of the client measurements: the real reference server in-process on
//! loopback, real SQLite cache files in a temporary directory, real `ChatSyncClient`s,
//! and an observer that counts what the client reports.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chatsync::net::api::StaticToken;
use chatsync::observe::{Observer, Subscription};
use chatsync::{ChatSyncClient, ClientConfig, SyncEvent};
use chatsync_server::{Role, RunningServer, Server, ServerConfig, StatsSnapshot};
use serde::Serialize;

use crate::BenchError;
use crate::rest::RestClient;

/// A running reference server, its two default users and a directory for cache files.
pub(crate) struct Env {
    pub server: RunningServer,
    pub dir: tempfile::TempDir,
    pub requester_token: String,
    pub technician: String,
}

impl Env {
    /// A server configured by `config`; cache files go to a fresh temporary directory.
    pub async fn start(config: ServerConfig) -> Result<Env, BenchError> {
        let server = Server::start(config).await?;
        let requester = server
            .first_user(Role::Requester)
            .ok_or_else(|| BenchError::Invariant("the server has no requester".into()))?;
        let technician = server
            .first_user(Role::Technician)
            .ok_or_else(|| BenchError::Invariant("the server has no technician".into()))?;
        Ok(Env {
            server,
            dir: tempfile::tempdir()?,
            requester_token: requester.token,
            technician: technician.id,
        })
    }

    /// An in-memory server with `tickets` seeded tickets of `messages` messages each.
    pub async fn seeded(tickets: u32, messages: u32) -> Result<Env, BenchError> {
        Env::start(ServerConfig::ephemeral().with_seed(tickets, messages)).await
    }

    /// A cache file path in the environment's directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The requester's client over `cache`, with the defaults adjusted by `adjust`.
    pub fn client(
        &self,
        cache: PathBuf,
        adjust: impl FnOnce(&mut ClientConfig),
    ) -> Result<Arc<ChatSyncClient>, BenchError> {
        let mut config = ClientConfig::new(self.server.base_url(), Some(cache));
        adjust(&mut config);
        let tokens = Arc::new(StaticToken(self.requester_token.clone()));
        Ok(Arc::new(ChatSyncClient::new(config, tokens)?))
    }

    /// A plain REST client of the server, as the requester.
    pub fn rest(&self) -> Result<RestClient, BenchError> {
        RestClient::new(&self.server.base_url(), &self.requester_token)
    }

    /// The technician posts message number `i` (content of varied length); returns its sequence.
    pub async fn post(&self, chat: &str, i: usize) -> Result<i64, BenchError> {
        let content = format!(
            "{} (update {i})",
            [
                "Thanks, I'll check.",
                "Can you send the exact error text shown in the dialog?",
                "The print server was restarted, please try once more and tell me what you see.",
                "Done.",
            ][i % 4]
        );
        let outcome = self
            .server
            .post_message(chat, &self.technician, &content, None)
            .await?;
        Ok(outcome.message.sequence_number)
    }

    /// Waits until the server's counters stay unchanged for `still` (every request in
    /// flight answered), or `timeout` passes; returns whether they did.
    pub async fn quiesce(&self, still: Duration, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut last = self.stats();
        while Instant::now() < deadline {
            tokio::time::sleep(still).await;
            let now = self.stats();
            if now == last {
                return true;
            }
            last = now;
        }
        false
    }

    /// The server's counters now.
    pub fn stats(&self) -> StatsSnapshot {
        self.server.stats()
    }
}

/// HTTP work between two counter snapshots of the server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cost {
    /// HTTP requests to `/api/v1` of any kind (ticket lists, pages, sends, reads, WebSocket upgrades).
    pub requests: u64,
    /// Of which message page requests.
    pub page_requests: u64,
    /// Of which ticket list requests.
    pub ticket_list_requests: u64,
    /// Of those, answered `304 Not Modified` (no body: the client's stored list was
    /// current). Their status line and headers (~110 B) are not in `bytes`, like every
    /// response's.
    pub ticket_lists_not_modified: u64,
    /// Messages returned in pages.
    pub messages: u64,
    /// HTTP response body bytes sent.
    pub bytes: u64,
}

impl Cost {
    /// The work the server counted from `before` to `after`.
    pub fn between(before: &StatsSnapshot, after: &StatsSnapshot) -> Cost {
        let d = |a: u64, b: u64| b.saturating_sub(a);
        let pages = d(before.page_requests, after.page_requests);
        let tickets = d(before.ticket_list_requests, after.ticket_list_requests);
        Cost {
            requests: pages
                + tickets
                + d(before.send_requests, after.send_requests)
                + d(before.read_requests, after.read_requests)
                + d(before.websocket_requests, after.websocket_requests)
                + d(before.other_requests, after.other_requests),
            page_requests: pages,
            ticket_list_requests: tickets,
            ticket_lists_not_modified: d(
                before.ticket_lists_not_modified,
                after.ticket_lists_not_modified,
            ),
            messages: d(before.messages_returned, after.messages_returned),
            bytes: d(before.http_bytes_sent, after.http_bytes_sent),
        }
    }

    /// `bytes B, N req, M msg`, with `(K list 304)` after the requests when some ticket
    /// lists were answered `304`.
    pub fn describe(&self) -> String {
        let not_modified = if self.ticket_lists_not_modified > 0 {
            format!(" ({} list 304)", self.ticket_lists_not_modified)
        } else {
            String::new()
        };
        format!(
            "{} B, {} req{not_modified}, {} msg",
            self.bytes, self.requests, self.messages
        )
    }
}

/// Counts what a client reports: ticket list refreshes, the realtime connection, and
/// every inserted message with the instant its callback ran.
#[derive(Default)]
pub(crate) struct Probe {
    tickets: AtomicU64,
    realtime: AtomicBool,
    inserted: AtomicU64,
    arrivals: Mutex<Vec<(i64, Instant)>>,
    wake: tokio::sync::Notify,
}

impl Observer<SyncEvent> for Probe {
    fn on_event(&self, event: SyncEvent) {
        match event {
            SyncEvent::TicketsChanged { .. } => {
                self.tickets.fetch_add(1, Ordering::SeqCst);
            }
            SyncEvent::ConnectionChanged {
                realtime_connected, ..
            } => self.realtime.store(realtime_connected, Ordering::SeqCst),
            SyncEvent::MessagesChanged { inserted, .. } if !inserted.is_empty() => {
                let now = Instant::now();
                let mut arrivals = self.arrivals.lock().unwrap_or_else(|p| p.into_inner());
                arrivals.extend(
                    inserted
                        .iter()
                        .filter_map(|m| m.sequence_number)
                        .map(|s| (s, now)),
                );
                drop(arrivals);
                self.inserted
                    .fetch_add(inserted.len() as u64, Ordering::SeqCst);
            }
            _ => return,
        }
        self.wake.notify_one();
    }
}

impl Probe {
    /// A new probe subscribed to `chat`'s events (and the client-wide ones).
    pub fn attach(client: &ChatSyncClient, chat: &str) -> (Arc<Probe>, Subscription) {
        let probe = Arc::new(Probe::default());
        let subscription = client.subscribe(probe.clone(), Some(chat.to_string()));
        (probe, subscription)
    }

    /// Ticket list refreshes reported so far.
    pub fn tickets(&self) -> u64 {
        self.tickets.load(Ordering::SeqCst)
    }

    /// True while the realtime socket is up.
    pub fn realtime(&self) -> bool {
        self.realtime.load(Ordering::SeqCst)
    }

    /// Messages reported inserted so far.
    pub fn inserted(&self) -> u64 {
        self.inserted.load(Ordering::SeqCst)
    }

    /// Every inserted sequence with its callback instant, in callback order.
    pub fn arrivals(&self) -> Vec<(i64, Instant)> {
        self.arrivals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Waits until `done(self)` holds (woken by every counted event) or `timeout` passes.
    pub async fn until(&self, timeout: Duration, done: impl Fn(&Probe) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if done(self) {
                return true;
            }
            let woken = tokio::time::timeout_at(deadline, self.wake.notified()).await;
            if woken.is_err() {
                return done(self);
            }
        }
    }
}

/// Polls `done` every millisecond until it holds or `timeout` passes.
pub(crate) async fn eventually(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// An error unless `ok`.
pub(crate) fn ensure(ok: bool, what: impl FnOnce() -> String) -> Result<(), BenchError> {
    if ok {
        Ok(())
    } else {
        Err(BenchError::Invariant(what()))
    }
}
