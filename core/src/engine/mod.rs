//! The sans-I/O sync engine: `state + event -> new state + commands`.
//!
//! [`Engine::handle`] takes one [`Event`] (something the driver observed, with the
//! time as `now_ms`) and returns the [`Command`]s the driver must execute, in order.
//! The engine never touches the network, the clock, SQLite or a random source: the
//! same events always produce the same commands. Timers leave as
//! [`Command::ScheduleTimer`] and come back as [`Event::TimerFired`].
//!
//! Division of labour (see `docs/architecture.md`): the *driver persists*, the
//! *engine decides*. The driver validates and upserts every page, push and send
//! answer into the cache unconditionally, then reports what happened with the
//! chat's fresh [`SeqSummary`]. The engine keeps per chat: the sync state, the
//! merged backend sequence, the last summary, the single in-flight fetch, the
//! running resync, the outbox order; and globally: connectivity, realtime, auth.
//!
//! # Driving the engine
//!
//! The driver keeps one `Engine` behind a lock (or in one task) and, for everything
//! that happens, builds an [`Event`] with the current time, calls [`Engine::handle`]
//! and executes the returned commands in order:
//!
//! | command | the driver does | and feeds back |
//! |---|---|---|
//! | `FetchMessages` | GET the page; validate; upsert it | `FetchCompleted` (fresh summary, `lastMessageSequence`, page range, `hasMore`) or `FetchFailed` |
//! | `SetWindowStart`, `TruncateAbove` | the cache call of the same name | `CacheUpdated` (fresh summary) |
//! | `PersistSyncState`, `PersistBackendSeq`, `MarkAllUnknown`, `SetOutgoingStatus`, `ClearLocalData` | the cache write | nothing |
//! | `RefreshTickets` | GET the ticket list; store it | `TicketsLoaded` or `TicketsFailed` |
//! | `SendOutgoing` | POST the outbox row with its `clientTempId`; reconcile | `SendSucceeded` (fresh summary) or `SendFailed` |
//! | `ConnectRealtime`, `DisconnectRealtime` | open / close the one WebSocket | `RealtimeConnected` / `RealtimeDisconnected` (also when found dead) |
//! | `ScheduleTimer`, `CancelTimer` | (re)arm / drop a timer by key | `TimerFired` when due |
//! | `Notify` | deliver to observers, in order | nothing |
//!
//! Everything else the driver observes becomes an event too: pushes (after storing
//! them with the backend sequence they prove: `PushStored`), `ticket.updated` (`BackendSeqObserved`), opens, closes, user
//! requests, connectivity and lifecycle changes.
//!
//! ```
//! use chatsync::engine::{Command, Engine, EngineConfig, Event, FetchQuery};
//! use chatsync::{SeqRange, SeqRuns, SyncState};
//!
//! let mut engine = Engine::new(EngineConfig::default());
//! // The cache holds 1..=10 and remembers the backend was at 12: open the chat.
//! let mut cache = SeqRuns::new();
//! cache.insert_range(SeqRange::new(1, 10));
//! let commands = engine.handle(Event::ChatOpened {
//!     request_id: "42".into(),
//!     summary: cache.summary(),
//!     stored_backend_seq: Some(12),
//!     now_ms: 0,
//! });
//! assert_eq!(engine.sync_state("42"), SyncState::OutOfSync);
//! let fetch_id = commands
//!     .iter()
//!     .find_map(|c| match c {
//!         Command::FetchMessages { fetch_id, query: FetchQuery::After(10), limit: 2, .. } => {
//!             Some(*fetch_id)
//!         }
//!         _ => None,
//!     })
//!     .expect("exactly 11..=12 is fetched");
//! assert!(engine.is_chat_syncing("42"));
//! // The driver stored messages 11 and 12, then reports the page.
//! cache.insert_range(SeqRange::new(11, 12));
//! engine.handle(Event::FetchCompleted {
//!     request_id: "42".into(),
//!     fetch_id,
//!     summary: cache.summary(),
//!     last_message_sequence: Some(12),
//!     page: Some(SeqRange::new(11, 12)),
//!     has_more: false,
//!     now_ms: 120,
//! });
//! assert_eq!(engine.sync_state("42"), SyncState::Synced);
//! assert!(!engine.is_chat_syncing("42"));
//! ```
//!
//! Guarantees, checked by `core/tests/engine_*.rs`:
//! - a chat is SYNCED only while `validate(summary, backend)` passes (checked after every event);
//! - at most one fetch per chat is in flight, so no range is ever fetched twice at once;
//! - the syncing flag is true only between the first fetch of a resync and its end;
//! - closed chats never fetch, and validation-only checks never fetch.

mod chat;
mod command;
mod config;
mod event;

use std::collections::BTreeMap;

pub use chat::OutgoingState;
pub use command::{Command, FetchQuery, Notification, TimerKey};
pub use config::EngineConfig;
pub use event::{Event, FailureKind, TicketSeq};

use chat::{Chat, Forced, InFlight, Outgoing, Purpose, Run, RunKind, Windowed};

use crate::types::{MessageStatus, SeqRange, SequenceValidationResult, SyncState};
use crate::validate::{SeqSummary, validate};

/// How long a start or a restoration holds the ticket-list refresh back for a
/// connecting socket (whose arrival refreshes it anyway) before refreshing without it.
pub const SOCKET_WAIT_MS: i64 = 2_000;

/// The realtime socket as the engine tracks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RealtimeState {
    /// Not connected (a reconnect timer may be scheduled).
    #[default]
    Disconnected,
    /// `ConnectRealtime` was emitted; waiting for `RealtimeConnected`/`RealtimeDisconnected`.
    Connecting,
    /// Up.
    Connected,
}

#[derive(Debug, Clone, Default)]
struct TicketsFetch {
    /// Engine epoch at which the ticket request in flight was issued.
    inflight: Option<u64>,
    /// The answer in flight predates something (a reconnect): ask again when it lands.
    again: bool,
    attempt: u32,
}

/// The sync engine. One per signed-in client; feed it every [`Event`].
#[derive(Debug, Clone)]
pub struct Engine {
    config: EngineConfig,
    chats: BTreeMap<String, Chat>,
    online: bool,
    started: bool,
    auth_blocked: bool,
    realtime: RealtimeState,
    realtime_attempt: u32,
    /// Engine epoch of the last restoration (connectivity, socket, credentials).
    restored_epoch: u64,
    tickets: TicketsFetch,
    timers: BTreeMap<TimerKey, i64>,
    next_fetch_id: u64,
    epoch: u64,
    rng: u64,
    out: Vec<Command>,
}

impl Engine {
    /// A fresh engine: online, realtime disconnected, no chat known (all UNKNOWN).
    pub fn new(config: EngineConfig) -> Engine {
        let config = config.sanitized();
        let rng = config.jitter_seed;
        Engine {
            config,
            chats: BTreeMap::new(),
            online: true,
            started: false,
            auth_blocked: false,
            realtime: RealtimeState::Disconnected,
            realtime_attempt: 0,
            restored_epoch: 0,
            tickets: TicketsFetch::default(),
            timers: BTreeMap::new(),
            next_fetch_id: 1,
            epoch: 0,
            rng,
            out: Vec::new(),
        }
    }

    /// The configuration in force (after clamping nonsensical values to at least 1).
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The chat's sync state; UNKNOWN for a chat the engine never heard of.
    pub fn sync_state(&self, request_id: &str) -> SyncState {
        self.chats
            .get(request_id)
            .map_or(SyncState::Unknown, |c| c.state)
    }

    /// `is_chat_syncing`: true only while a resync's network work runs.
    pub fn is_chat_syncing(&self, request_id: &str) -> bool {
        self.chats.get(request_id).is_some_and(|c| c.syncing)
    }

    /// The merged backend sequence of the chat; `None` = unknown.
    pub fn backend_seq(&self, request_id: &str) -> Option<i64> {
        self.chats.get(request_id).and_then(|c| c.backend)
    }

    /// True while the chat is open.
    pub fn is_open(&self, request_id: &str) -> bool {
        self.chats.get(request_id).is_some_and(|c| c.open)
    }

    /// The cache summary last reported for the chat.
    pub fn summary(&self, request_id: &str) -> Option<&SeqSummary> {
        self.chats.get(request_id).map(|c| &c.summary)
    }

    /// The chat's fetch in flight: `(fetch_id, query, limit)`. Never more than one.
    pub fn fetch_in_flight(&self, request_id: &str) -> Option<(u64, FetchQuery, i64)> {
        self.chats
            .get(request_id)
            .and_then(|c| c.fetch.as_ref())
            .map(|f| (f.fetch_id, f.query, f.limit))
    }

    /// The chat's outbox in send order: `(client_temp_id, state)`.
    pub fn outbox(&self, request_id: &str) -> Vec<(String, OutgoingState)> {
        self.chats.get(request_id).map_or_else(Vec::new, |c| {
            c.outbox
                .iter()
                .map(|o| (o.client_temp_id.clone(), o.state))
                .collect()
        })
    }

    /// Every chat the engine knows, ascending.
    pub fn chat_ids(&self) -> impl Iterator<Item = &str> {
        self.chats.keys().map(String::as_str)
    }

    /// True unless `ConnectivityLost` was the last connectivity news.
    pub fn is_online(&self) -> bool {
        self.online
    }

    /// True after an auth error, until `CredentialsRenewed`: no network work is emitted.
    pub fn is_auth_blocked(&self) -> bool {
        self.auth_blocked
    }

    /// The realtime socket's state.
    pub fn realtime_state(&self) -> RealtimeState {
        self.realtime
    }

    /// True while the chat has sync work queued or running: a resync or initial load,
    /// a fetch in flight, or a manual resync or `load_earlier` waiting for the fetch slot.
    /// A driver waiting for "the run to finish" waits for this to become false.
    pub fn has_pending_work(&self, request_id: &str) -> bool {
        self.chats.get(request_id).is_some_and(|c| {
            c.run.is_some() || c.fetch.is_some() || c.manual_wanted || c.earlier_queued.is_some()
        })
    }

    /// True while a ticket-list request is in flight.
    pub fn is_refreshing_tickets(&self) -> bool {
        self.tickets.inflight.is_some()
    }

    /// Timers scheduled and not yet fired or cancelled, with their due time.
    pub fn pending_timers(&self) -> impl Iterator<Item = (&TimerKey, i64)> {
        self.timers.iter().map(|(k, &at)| (k, at))
    }

    /// Handles one event and returns the commands to execute, in order.
    pub fn handle(&mut self, event: Event) -> Vec<Command> {
        self.epoch += 1;
        let now = event.now_ms();
        match event {
            Event::Started { now_ms } => self.on_started(now_ms),
            Event::TicketsLoaded { tickets, .. } => self.on_tickets(tickets, now),
            Event::TicketsFailed { error, .. } => self.on_tickets_failed(error, now),
            Event::ChatOpened {
                request_id,
                summary,
                stored_backend_seq,
                ..
            } => self.on_open(&request_id, summary, stored_backend_seq, now),
            Event::ChatClosed { request_id, .. } => self.on_close(&request_id),
            Event::ResyncRequested { request_id, .. } => self.on_resync(&request_id, now),
            Event::ManualResyncRequested { request_id, .. } => self.on_manual(&request_id, now),
            Event::PushStored {
                request_id,
                seq,
                summary,
                ..
            } => {
                self.chat_mut(&request_id).summary = summary;
                // The driver persisted the raise with the message (`store_pushed`).
                self.learn_from_push(&request_id, seq, false);
                self.after_new_message(&request_id, now);
            }
            Event::PushRejected { request_id, .. } => {
                self.error(
                    request_id.as_deref(),
                    FailureKind::BadData,
                    "a realtime frame failed validation and was dropped".to_string(),
                );
                self.request_tickets(true);
            }
            Event::BackendSeqObserved {
                request_id,
                seq,
                authoritative,
                ..
            } => {
                if authoritative {
                    let epoch = self.epoch;
                    self.learn_from_snapshot(&request_id, Some(seq), epoch);
                    self.evaluate(&request_id, now);
                } else {
                    self.learn_from_push(&request_id, seq, true);
                    self.after_new_message(&request_id, now);
                }
            }
            Event::FetchCompleted {
                request_id,
                fetch_id,
                summary,
                last_message_sequence,
                page,
                has_more,
                ..
            } => self.on_fetch_completed(
                &request_id,
                fetch_id,
                summary,
                last_message_sequence,
                page,
                has_more,
                now,
            ),
            Event::FetchFailed {
                request_id,
                fetch_id,
                error,
                ..
            } => self.on_fetch_failed(&request_id, fetch_id, error, now),
            Event::CacheUpdated {
                request_id,
                summary,
                ..
            } => self.on_cache_updated(&request_id, summary, now),
            Event::LoadEarlier {
                request_id, gap, ..
            } => self.on_load_earlier(&request_id, gap),
            Event::OutgoingQueued {
                request_id,
                client_temp_id,
                failed,
                ..
            } => self.on_outgoing_queued(&request_id, client_temp_id, failed),
            Event::SendSucceeded {
                request_id,
                client_temp_id,
                seq,
                summary,
                ..
            } => self.on_send_succeeded(&request_id, &client_temp_id, seq, summary, now),
            Event::SendFailed {
                request_id,
                client_temp_id,
                error,
                ..
            } => self.on_send_failed(&request_id, &client_temp_id, error, now),
            Event::RetrySend {
                request_id,
                client_temp_id,
                ..
            } => self.on_retry_send(&request_id, &client_temp_id),
            Event::ConnectivityLost { .. } => {
                self.online = false;
                self.cancel_timer(TimerKey::RealtimeReconnect);
            }
            Event::ConnectivityRestored { .. } => {
                self.online = true;
                self.connect_realtime_if_down();
                self.restore(now);
            }
            Event::RealtimeConnected { .. } => {
                self.realtime = RealtimeState::Connected;
                self.cancel_timer(TimerKey::SocketWait);
                self.realtime_attempt = 0;
                self.online = true;
                self.cancel_timer(TimerKey::RealtimeReconnect);
                self.restore(now);
            }
            Event::RealtimeDisconnected { .. } => self.on_realtime_down(now),
            Event::AppResumed { .. } => {
                self.connect_realtime_if_down();
                self.request_tickets(false);
            }
            Event::BackgroundRevalidate { .. } => self.request_tickets(false),
            // The app asks now: a scheduled retry is not waited for.
            Event::TicketsRequested { .. } => self.request_tickets(true),
            Event::RealtimeUnauthorized { now_ms } => {
                self.realtime = RealtimeState::Disconnected;
                self.block_auth(None);
                self.on_realtime_down(now_ms);
            }
            Event::CredentialsRenewed { .. } => {
                self.auth_blocked = false;
                self.connect_realtime_if_down();
                self.restore(now);
            }
            Event::TimerFired { key, .. } => self.on_timer(key, now),
            Event::SignedOut { .. } => self.on_signed_out(),
        }
        self.enforce_synced_invariant(now);
        std::mem::take(&mut self.out)
    }

    // ----------------------------------------------------------------- helpers

    fn chat_mut(&mut self, id: &str) -> &mut Chat {
        self.chats.entry(id.to_string()).or_default()
    }

    fn can_network(&self) -> bool {
        self.online && !self.auth_blocked
    }

    fn emit(&mut self, command: Command) {
        self.out.push(command);
    }

    fn notify(&mut self, notification: Notification) {
        self.out.push(Command::Notify(notification));
    }

    fn error(&mut self, id: Option<&str>, kind: FailureKind, message: String) {
        self.notify(Notification::Error {
            request_id: id.map(str::to_string),
            kind,
            message,
        });
    }

    fn schedule(&mut self, key: TimerKey, at_ms: i64) {
        self.timers.insert(key.clone(), at_ms);
        self.emit(Command::ScheduleTimer { key, at_ms });
    }

    /// Cancels `key`; true if it was pending.
    fn cancel_timer(&mut self, key: TimerKey) -> bool {
        let pending = self.timers.remove(&key).is_some();
        if pending {
            self.emit(Command::CancelTimer { key });
        }
        pending
    }

    fn has_timer(&self, key: &TimerKey) -> bool {
        self.timers.contains_key(key)
    }

    fn validation(&self, id: &str) -> SequenceValidationResult {
        let chat = self.chats.get(id).expect("known chat");
        validate(&chat.summary, chat.backend)
    }

    /// Sets the state; persists and notifies only on a change.
    fn set_state(&mut self, id: &str, state: SyncState, now: i64, persist: bool) {
        let chat = self.chat_mut(id);
        if chat.state == state {
            return;
        }
        chat.state = state;
        if persist {
            self.persist_state(id, now);
        }
        self.notify(Notification::SyncStateChanged {
            request_id: id.to_string(),
            state,
        });
    }

    /// Persists the chat's state unless the cache already holds it (a state is
    /// persisted when it changes; `last_validated_at` is the time it was entered).
    fn persist_state(&mut self, id: &str, now: i64) {
        let chat = self.chat_mut(id);
        let state = chat.state;
        if chat.persisted == Some(state) {
            return;
        }
        chat.persisted = Some(state);
        self.emit(Command::PersistSyncState {
            request_id: id.to_string(),
            state,
            validated_at_ms: (state != SyncState::Unknown).then_some(now),
        });
    }

    fn set_syncing(&mut self, id: &str, syncing: bool) {
        let chat = self.chat_mut(id);
        if chat.syncing == syncing {
            return;
        }
        chat.syncing = syncing;
        self.notify(Notification::SyncingChanged {
            request_id: id.to_string(),
            syncing,
        });
    }

    fn persist_backend(&mut self, id: &str, seq: i64) {
        self.emit(Command::PersistBackendSeq {
            request_id: id.to_string(),
            seq,
        });
    }

    /// A push (or a send answer) only raises the backend sequence; `persist` = the
    /// cache does not hold the raise yet.
    fn learn_from_push(&mut self, id: &str, seq: i64, persist: bool) {
        let epoch = self.epoch;
        let chat = self.chat_mut(id);
        if chat.backend.is_none_or(|b| seq > b) {
            chat.backend = Some(seq);
            chat.push_raised_epoch = epoch;
            if persist {
                self.persist_backend(id, seq);
            }
        }
    }

    /// A snapshot (ticket list, page, `update_backend_sequence`) issued at
    /// `issued_epoch` raises the backend sequence, and lowers it (the server went
    /// back) unless a push raised it after the snapshot was requested.
    fn learn_from_snapshot(&mut self, id: &str, seq: Option<i64>, issued_epoch: u64) {
        let Some(seq) = seq else { return };
        let seq = seq.max(0);
        let chat = self.chat_mut(id);
        let changed = match chat.backend {
            None => true,
            Some(b) if seq > b => true,
            Some(b) if seq < b => chat.push_raised_epoch < issued_epoch,
            Some(_) => false,
        };
        if changed {
            chat.backend = Some(seq);
            self.persist_backend(id, seq);
        }
    }

    // ----------------------------------------------------------------- lifecycle

    fn on_started(&mut self, now: i64) {
        self.started = true;
        self.connect_realtime_if_down();
        if self.realtime == RealtimeState::Connecting {
            // The socket's arrival refreshes the list anyway (metadata must postdate it),
            // so the launch costs one ticket request, issued once the socket is up or failed.
            self.refresh_when_socket_settles(now);
        } else {
            self.request_tickets(false);
        }
    }

    /// The ticket list is refreshed when the connecting socket is up or has failed, or
    /// after [`SOCKET_WAIT_MS`] if it does neither (a proxy that swallows WebSocket
    /// upgrades must not hold the list back for the whole connect timeout). While the
    /// `SocketWait` timer is pending, the refresh is owed to the socket's outcome.
    fn refresh_when_socket_settles(&mut self, now: i64) {
        self.schedule(TimerKey::SocketWait, now + SOCKET_WAIT_MS);
    }

    fn connect_realtime_if_down(&mut self) {
        if self.started && self.can_network() && self.realtime == RealtimeState::Disconnected {
            self.cancel_timer(TimerKey::RealtimeReconnect);
            self.realtime = RealtimeState::Connecting;
            self.emit(Command::ConnectRealtime);
        }
    }

    fn on_realtime_down(&mut self, now: i64) {
        self.realtime = RealtimeState::Disconnected;
        if self.cancel_timer(TimerKey::SocketWait) {
            self.request_tickets(true);
        }
        if !(self.started && self.can_network()) {
            return;
        }
        let delay = EngineConfig::backoff_ms(
            self.config.reconnect_base_ms,
            self.config.reconnect_cap_ms,
            self.realtime_attempt,
        );
        self.realtime_attempt = self.realtime_attempt.saturating_add(1);
        // "Equal jitter": half fixed, half random, so reconnect storms spread out.
        let half = delay / 2;
        let jitter = (self.next_random() % (half as u64 + 1)) as i64;
        self.schedule(TimerKey::RealtimeReconnect, now + delay - half + jitter);
    }

    /// splitmix64: deterministic jitter from the configured seed.
    fn next_random(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Offline -> online, realtime reconnect, new credentials: every chat UNKNOWN,
    /// one fresh ticket refresh, outboxes resume, open chats heal by validation.
    fn restore(&mut self, now: i64) {
        self.restored_epoch = self.epoch;
        self.emit(Command::MarkAllUnknown);
        let ids: Vec<String> = self.chats.keys().cloned().collect();
        for id in &ids {
            self.set_state(id, SyncState::Unknown, now, false);
            let chat = self.chat_mut(id);
            chat.persisted = Some(SyncState::Unknown);
            chat.needs_metadata = true;
            chat.halted = false;
            // A resync waiting out a backoff runs as soon as fresh metadata arrives:
            // the failure it backs off from predates the restoration.
            chat.resync_attempt = 0;
            self.cancel_timer(TimerKey::ResyncRetry(id.clone()));
        }
        if self.realtime == RealtimeState::Connecting {
            // The socket is coming back: refresh once it is up (or has failed), so the
            // metadata postdates every push the socket missed, and is fetched once.
            self.refresh_when_socket_settles(now);
        } else {
            self.request_tickets(true);
        }
        for id in &ids {
            self.pump_outbox(id);
            self.evaluate(id, now);
        }
    }

    fn on_signed_out(&mut self) {
        if self.realtime != RealtimeState::Disconnected {
            self.emit(Command::DisconnectRealtime);
        }
        let keys: Vec<TimerKey> = self.timers.keys().cloned().collect();
        for key in keys {
            self.cancel_timer(key);
        }
        self.emit(Command::ClearLocalData);
        let out = std::mem::take(&mut self.out);
        let fresh = Engine::new(self.config.clone());
        let previous = std::mem::replace(self, fresh);
        // Connectivity is a fact about the device, and ids and epochs stay monotonic
        // so a late answer to a request from before the sign-out is never mistaken
        // for a new one.
        self.online = previous.online;
        self.next_fetch_id = previous.next_fetch_id;
        self.epoch = previous.epoch;
        self.rng = previous.rng;
        self.out = out;
    }

    // ----------------------------------------------------------------- tickets

    /// Asks for the ticket list, coalesced: one request in flight serves everyone;
    /// `fresh` means the answer must be requested after this moment.
    fn request_tickets(&mut self, fresh: bool) {
        if !self.can_network() {
            return;
        }
        if self.tickets.inflight.is_some() {
            self.tickets.again |= fresh;
            return;
        }
        if !fresh && self.has_timer(&TimerKey::SocketWait) {
            return; // the socket's arrival (or failure) requests it
        }
        if !fresh && self.has_timer(&TimerKey::TicketsRetry) {
            return;
        }
        self.cancel_timer(TimerKey::TicketsRetry);
        self.tickets.inflight = Some(self.epoch);
        self.emit(Command::RefreshTickets);
    }

    fn on_tickets(&mut self, tickets: Vec<TicketSeq>, now: i64) {
        let issued = self.tickets.inflight.take().unwrap_or(self.epoch);
        let stale = std::mem::take(&mut self.tickets.again);
        self.tickets.attempt = 0;
        self.cancel_timer(TimerKey::TicketsRetry);
        for t in &tickets {
            self.learn_from_snapshot(&t.request_id, t.last_message_sequence, issued);
        }
        if !stale {
            for chat in self.chats.values_mut() {
                chat.needs_metadata = false;
            }
        }
        self.notify(Notification::TicketsChanged);
        if stale {
            self.request_tickets(true);
        }
        let ids: Vec<String> = self.chats.keys().cloned().collect();
        for id in ids {
            self.evaluate(&id, now);
        }
    }

    fn on_tickets_failed(&mut self, error: FailureKind, now: i64) {
        self.tickets.inflight = None;
        if error == FailureKind::Unauthorized {
            self.block_auth(None);
            return;
        }
        self.error(None, error, "ticket list refresh failed".to_string());
        if self.can_network() {
            let delay = EngineConfig::backoff_ms(
                self.config.retry_base_ms,
                self.config.retry_cap_ms,
                self.tickets.attempt,
            );
            self.tickets.attempt = self.tickets.attempt.saturating_add(1);
            self.schedule(TimerKey::TicketsRetry, now + delay);
        }
    }

    fn block_auth(&mut self, id: Option<&str>) {
        if !self.auth_blocked {
            self.auth_blocked = true;
            self.error(
                id,
                FailureKind::Unauthorized,
                "the server rejected the credentials; sign in again".to_string(),
            );
        }
    }

    // ----------------------------------------------------------------- open / close

    fn on_open(&mut self, id: &str, summary: SeqSummary, stored: Option<i64>, now: i64) {
        let chat = self.chat_mut(id);
        if chat.open {
            // Opened twice (e.g. a second view): nothing restarts; just re-validate.
            chat.summary = summary;
            self.evaluate(id, now);
            return;
        }
        chat.open = true;
        chat.halted = false;
        chat.summary = summary;
        if chat.backend.is_none() {
            chat.backend = stored;
        }
        let unknown_backend = chat.backend.is_none();
        let empty = chat.summary.max_seq.is_none();
        // UNKNOWN until validated; persisted only if it outlasts this open (an open that
        // validates at once writes nothing when the cache already holds the outcome).
        self.set_state(id, SyncState::Unknown, now, false);
        self.schedule(
            TimerKey::Revalidate(id.to_string()),
            now + self.config.revalidate_interval_ms,
        );
        if unknown_backend && !empty {
            // Metadata only: validation waits for it, nothing is fetched.
            self.request_tickets(false);
        }
        self.evaluate(id, now);
        self.persist_state(id, now);
    }

    fn on_close(&mut self, id: &str) {
        let chat = self.chat_mut(id);
        if !chat.open {
            return;
        }
        chat.open = false;
        chat.run = None;
        chat.manual_wanted = false;
        chat.resync_attempt = 0;
        if let Some(f) = chat.fetch.as_mut()
            && f.purpose == Purpose::Run
        {
            f.purpose = Purpose::Orphan;
        }
        let dropped_earlier = chat.earlier_queued.take().is_some();
        self.set_syncing(id, false);
        if dropped_earlier {
            self.notify(Notification::LoadEarlierFinished {
                request_id: id.to_string(),
                ok: false,
            });
        }
        for key in [
            TimerKey::Revalidate(id.to_string()),
            TimerKey::GapGrace(id.to_string()),
            TimerKey::ResyncRetry(id.to_string()),
        ] {
            self.cancel_timer(key);
        }
    }

    // ----------------------------------------------------------------- decisions

    /// Validation of an idle open chat, and the resulting decision: SYNCED with no
    /// fetch, or OUT_OF_SYNC and a resync (unless a grace or retry timer is pending).
    /// An empty cache starts the initial load instead. Closed chats are left alone.
    fn evaluate(&mut self, id: &str, now: i64) {
        let Some(chat) = self.chats.get(id) else {
            return;
        };
        if !chat.open || chat.run.is_some() || chat.fetch.is_some() || chat.halted {
            return;
        }
        let empty = chat.summary.max_seq.is_none();
        let retry_pending = self.has_timer(&TimerKey::ResyncRetry(id.to_string()));
        if empty && (chat.needs_metadata || chat.backend != Some(0)) {
            if self.can_network() && !retry_pending {
                self.start_run(id, RunKind::InitialLoad, Some(Forced::LatestWindow), now);
            }
            return;
        }
        if chat.needs_metadata || chat.backend.is_none() {
            return;
        }
        let result = self.validation(id);
        if result.valid {
            self.mark_synced(id, now);
            return;
        }
        self.set_state(id, SyncState::OutOfSync, now, true);
        let grace_pending = self.has_timer(&TimerKey::GapGrace(id.to_string()));
        if self.can_network() && !grace_pending && !retry_pending {
            self.start_run(id, RunKind::Resync, None, now);
        }
    }

    fn mark_synced(&mut self, id: &str, now: i64) {
        self.set_state(id, SyncState::Synced, now, true);
        self.chat_mut(id).resync_attempt = 0;
        self.cancel_timer(TimerKey::GapGrace(id.to_string()));
        self.cancel_timer(TimerKey::ResyncRetry(id.to_string()));
    }

    /// After a push or a send answer stored a message: next sequence -> stays SYNCED;
    /// a gap -> OUT_OF_SYNC at once and a resync after the grace period, unless late
    /// frames close the gap first.
    fn after_new_message(&mut self, id: &str, now: i64) {
        let chat = self.chat_mut(id);
        if !chat.open || chat.run.is_some() {
            return;
        }
        let needs_metadata = chat.needs_metadata;
        let result = self.validation(id);
        if result.valid {
            if !needs_metadata {
                self.mark_synced(id, now);
            }
            return;
        }
        if result.reason == crate::types::ValidationReason::BackendSeqUnknown {
            return;
        }
        self.set_state(id, SyncState::OutOfSync, now, true);
        let grace = TimerKey::GapGrace(id.to_string());
        let retry = TimerKey::ResyncRetry(id.to_string());
        if !self.has_timer(&grace) && !self.has_timer(&retry) {
            self.schedule(grace, now + self.config.gap_grace_ms);
        }
    }

    /// The safety net behind every path: a chat is never SYNCED while its validation
    /// fails (e.g. a closed chat whose backend sequence moved on).
    fn enforce_synced_invariant(&mut self, now: i64) {
        let broken: Vec<String> = self
            .chats
            .iter()
            .filter(|(_, c)| c.state == SyncState::Synced && !validate(&c.summary, c.backend).valid)
            .map(|(id, _)| id.clone())
            .collect();
        for id in broken {
            self.set_state(&id, SyncState::OutOfSync, now, true);
        }
    }

    fn on_resync(&mut self, id: &str, now: i64) {
        let chat = self.chat_mut(id);
        if chat.state != SyncState::OutOfSync || chat.run.is_some() || chat.fetch.is_some() {
            return;
        }
        chat.halted = false;
        if !self.can_network() {
            self.report_cannot_run(id);
            return;
        }
        self.cancel_timer(TimerKey::ResyncRetry(id.to_string()));
        self.cancel_timer(TimerKey::GapGrace(id.to_string()));
        self.start_run(id, RunKind::Resync, None, now);
    }

    /// A user-requested resync cannot run: say why (offline, or an auth error).
    fn report_cannot_run(&mut self, id: &str) {
        if self.auth_blocked {
            self.error(
                Some(id),
                FailureKind::Unauthorized,
                "sign in again to sync".to_string(),
            );
        } else {
            self.error(Some(id), FailureKind::Network, "offline".to_string());
        }
    }

    fn on_manual(&mut self, id: &str, now: i64) {
        if !self.can_network() {
            self.report_cannot_run(id);
            return;
        }
        let chat = self.chat_mut(id);
        chat.halted = false;
        if chat.run.is_some() {
            return; // coalesced into the running resync
        }
        if chat.fetch.is_some() {
            chat.manual_wanted = true;
            return;
        }
        let forced = match chat.summary.max_seq {
            Some(max) => Forced::AfterMax(max),
            None => Forced::LatestWindow,
        };
        self.cancel_timer(TimerKey::ResyncRetry(id.to_string()));
        self.cancel_timer(TimerKey::GapGrace(id.to_string()));
        self.start_run(id, RunKind::Resync, Some(forced), now);
    }

    // ----------------------------------------------------------------- runs

    fn start_run(&mut self, id: &str, kind: RunKind, forced: Option<Forced>, now: i64) {
        self.chat_mut(id).run = Some(Run::new(kind, forced));
        self.step(id, now);
    }

    /// The next step of the chat's run (no fetch in flight, not awaiting the window).
    fn step(&mut self, id: &str, now: i64) {
        let window = self.config.resync_window;
        let page = self.config.page_size;
        let offline = !self.can_network();
        let chat = self.chat_mut(id);
        let Some(run) = chat.run.as_mut() else {
            return;
        };
        if offline && (run.forced.is_some() || chat.backend.is_none()) {
            self.interrupt_run(id);
            return;
        }
        if let Some(forced) = run.forced.take() {
            let (query, limit) = match forced {
                Forced::LatestWindow => {
                    run.windowed = Some(Windowed::default());
                    (FetchQuery::Latest, window.min(page))
                }
                Forced::AfterMax(max) => (FetchQuery::After(max), page),
            };
            self.issue_fetch(id, query, limit, Purpose::Run);
            return;
        }
        let Some(backend) = chat.backend else {
            // Nothing told us the backend's sequence: nothing can be verified.
            self.chat_mut(id).run = None;
            self.set_syncing(id, false);
            return;
        };
        if chat.summary.max_seq.is_some_and(|max| max > backend) {
            if offline {
                self.set_state(id, SyncState::OutOfSync, now, true);
                self.interrupt_run(id);
                return;
            }
            // The server went back: drop what it no longer has, rebuild the window.
            run.windowed = Some(Windowed::default());
            self.set_state(id, SyncState::OutOfSync, now, true);
            self.emit(Command::TruncateAbove {
                request_id: id.to_string(),
                seq: backend,
            });
            self.issue_fetch(id, FetchQuery::Latest, window.min(page), Purpose::Run);
            return;
        }
        let result = self.validation(id);
        if result.valid {
            self.finish_run(id, now);
            return;
        }
        self.set_state(id, SyncState::OutOfSync, now, true);
        if offline {
            self.interrupt_run(id);
            return;
        }
        let chat = self.chat_mut(id);
        let run = chat.run.as_mut().expect("run");
        run.kind = RunKind::Resync;
        let total: i64 = result.missing.iter().map(SeqRange::len).sum();
        let (query, limit, windowed) = if total > window {
            (FetchQuery::Latest, window.min(page), true)
        } else if let Some(first) = result.missing.first() {
            (
                FetchQuery::After(first.start - 1),
                first.len().min(page),
                false,
            )
        } else {
            self.fail_run(
                id,
                FailureKind::BadData,
                "invalid chat with nothing to fetch".to_string(),
                now,
            );
            return;
        };
        let plan = (query, limit, chat.summary.clone(), backend);
        if run.last_plan.as_ref() == Some(&plan) {
            self.fail_run(
                id,
                FailureKind::BadData,
                "the server did not return messages it announced".to_string(),
                now,
            );
            return;
        }
        run.last_plan = Some(plan);
        if windowed {
            run.windowed = Some(Windowed::default());
        }
        self.issue_fetch(id, query, limit, Purpose::Run);
    }

    /// Offline mid-run: stop (indicator off); restoration re-validates everything.
    fn interrupt_run(&mut self, id: &str) {
        self.chat_mut(id).run = None;
        self.set_syncing(id, false);
    }

    fn issue_fetch(&mut self, id: &str, query: FetchQuery, limit: i64, purpose: Purpose) {
        let fetch_id = self.next_fetch_id;
        self.next_fetch_id += 1;
        let epoch = self.epoch;
        let chat = self.chat_mut(id);
        debug_assert!(chat.fetch.is_none(), "second fetch in flight for {id}");
        chat.fetch = Some(InFlight {
            fetch_id,
            purpose,
            issued_epoch: epoch,
            query,
            limit,
        });
        let resync =
            purpose == Purpose::Run && chat.run.as_ref().is_some_and(|r| r.kind == RunKind::Resync);
        self.emit(Command::FetchMessages {
            request_id: id.to_string(),
            fetch_id,
            query,
            limit,
        });
        if resync {
            self.set_syncing(id, true);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_fetch_completed(
        &mut self,
        id: &str,
        fetch_id: u64,
        summary: SeqSummary,
        last_message_sequence: Option<i64>,
        page: Option<SeqRange>,
        has_more: bool,
        now: i64,
    ) {
        let restored_epoch = self.restored_epoch;
        let chat = self.chat_mut(id);
        chat.summary = summary;
        let Some(inflight) = chat.fetch.take_if(|f| f.fetch_id == fetch_id) else {
            return; // not ours (a stale answer): its data is stored, nothing to decide
        };
        if last_message_sequence.is_some() && inflight.issued_epoch > restored_epoch {
            // Metadata requested after the last restoration: fresh enough to validate.
            chat.needs_metadata = false;
        }
        self.learn_from_snapshot(id, last_message_sequence, inflight.issued_epoch);
        match inflight.purpose {
            Purpose::Run => self.continue_run(id, page, has_more, now),
            Purpose::Earlier => {
                self.notify(Notification::LoadEarlierFinished {
                    request_id: id.to_string(),
                    ok: true,
                });
                self.after_idle(id, now);
            }
            Purpose::Orphan => self.after_idle(id, now),
        }
    }

    fn continue_run(&mut self, id: &str, page: Option<SeqRange>, has_more: bool, now: i64) {
        let window = self.config.resync_window;
        let page_size = self.config.page_size;
        let chat = self.chat_mut(id);
        let Some(run) = chat.run.as_mut() else {
            self.after_idle(id, now);
            return;
        };
        // An empty page ends the windowed download (the chat has nothing more).
        if let Some(mut w) = run.windowed.take()
            && let Some(p) = page
        {
            let target = *w.target_low.get_or_insert((p.end - window + 1).max(1));
            let previous = w.lowest;
            let lowest = previous.map_or(p.start, |l| l.min(p.start));
            w.lowest = Some(lowest);
            let progressed = previous.is_none_or(|prev| lowest < prev);
            if lowest > target && has_more && progressed {
                run.windowed = Some(w);
                let limit = (lowest - target).min(page_size);
                if !self.can_network() {
                    self.step(id, now);
                    return;
                }
                self.issue_fetch(id, FetchQuery::Before(lowest), limit, Purpose::Run);
                return;
            }
            run.awaiting_window = true;
            self.emit(Command::SetWindowStart {
                request_id: id.to_string(),
                seq: target,
            });
            return;
        }
        self.step(id, now);
    }

    fn on_cache_updated(&mut self, id: &str, summary: SeqSummary, now: i64) {
        let chat = self.chat_mut(id);
        chat.summary = summary;
        let resume = chat.fetch.is_none()
            && chat.run.as_mut().is_some_and(|r| {
                let waiting = r.awaiting_window;
                r.awaiting_window = false;
                waiting
            });
        if resume {
            self.step(id, now);
        }
    }

    fn finish_run(&mut self, id: &str, now: i64) {
        self.chat_mut(id).run = None;
        self.set_syncing(id, false);
        self.mark_synced(id, now);
        self.after_idle(id, now);
    }

    fn fail_run(&mut self, id: &str, error: FailureKind, message: String, now: i64) {
        let chat = self.chat_mut(id);
        chat.run = None;
        let open = chat.open;
        self.set_syncing(id, false);
        if error == FailureKind::Unauthorized {
            self.block_auth(Some(id));
            return;
        }
        self.error(Some(id), error, message);
        if error.is_retryable() && open && self.can_network() {
            let chat = self.chat_mut(id);
            let attempt = chat.resync_attempt;
            chat.resync_attempt = attempt.saturating_add(1);
            let delay = EngineConfig::backoff_ms(
                self.config.retry_base_ms,
                self.config.retry_cap_ms,
                attempt,
            );
            self.schedule(TimerKey::ResyncRetry(id.to_string()), now + delay);
        } else {
            self.chat_mut(id).halted = true;
        }
        self.after_idle(id, now);
    }

    fn on_fetch_failed(&mut self, id: &str, fetch_id: u64, error: FailureKind, now: i64) {
        let chat = self.chat_mut(id);
        let Some(inflight) = chat.fetch.take_if(|f| f.fetch_id == fetch_id) else {
            return;
        };
        match inflight.purpose {
            Purpose::Run => {
                let message = format!("fetching messages failed: {}", error.as_str());
                self.fail_run(id, error, message, now);
            }
            Purpose::Earlier => {
                self.notify(Notification::LoadEarlierFinished {
                    request_id: id.to_string(),
                    ok: false,
                });
                if error == FailureKind::Unauthorized {
                    self.block_auth(Some(id));
                } else {
                    self.error(
                        Some(id),
                        error,
                        "loading earlier messages failed".to_string(),
                    );
                }
                self.after_idle(id, now);
            }
            Purpose::Orphan => self.after_idle(id, now),
        }
    }

    /// The chat's fetch slot is free and no run continues: serve a queued
    /// `load_earlier` or a manual resync, else re-validate an open chat.
    fn after_idle(&mut self, id: &str, now: i64) {
        let chat = self.chat_mut(id);
        if chat.fetch.is_some() || chat.run.is_some() {
            return;
        }
        if chat.manual_wanted {
            chat.manual_wanted = false;
            self.on_manual(id, now);
            return;
        }
        if let Some(gap) = chat.earlier_queued.take() {
            self.on_load_earlier(id, gap);
            return;
        }
        self.evaluate(id, now);
    }

    // ----------------------------------------------------------------- history

    fn on_load_earlier(&mut self, id: &str, gap: SeqRange) {
        if !self.can_network() {
            self.notify(Notification::LoadEarlierFinished {
                request_id: id.to_string(),
                ok: false,
            });
            return;
        }
        let page = self.config.page_size;
        let chat = self.chat_mut(id);
        if chat.fetch.is_some() || chat.run.is_some() {
            chat.earlier_queued = Some(gap);
            return;
        }
        self.issue_fetch(
            id,
            FetchQuery::Before(gap.end + 1),
            gap.len().min(page),
            Purpose::Earlier,
        );
    }

    // ----------------------------------------------------------------- outbox

    fn on_outgoing_queued(&mut self, id: &str, client_temp_id: String, failed: bool) {
        let chat = self.chat_mut(id);
        if chat
            .outbox
            .iter()
            .any(|o| o.client_temp_id == client_temp_id)
        {
            return;
        }
        chat.outbox.push(Outgoing {
            client_temp_id,
            state: if failed {
                OutgoingState::Failed
            } else {
                OutgoingState::Pending
            },
        });
        self.pump_outbox(id);
    }

    /// Sends the chat's first pending message, one at a time, when online.
    fn pump_outbox(&mut self, id: &str) {
        if !self.can_network() || self.has_timer(&TimerKey::SendRetry(id.to_string())) {
            return;
        }
        let chat = self.chat_mut(id);
        if chat
            .outbox
            .iter()
            .any(|o| o.state == OutgoingState::Sending)
        {
            return;
        }
        let Some(next) = chat
            .outbox
            .iter_mut()
            .find(|o| o.state == OutgoingState::Pending)
        else {
            return;
        };
        next.state = OutgoingState::Sending;
        let client_temp_id = next.client_temp_id.clone();
        self.emit(Command::SendOutgoing {
            request_id: id.to_string(),
            client_temp_id,
        });
    }

    fn on_send_succeeded(
        &mut self,
        id: &str,
        client_temp_id: &str,
        seq: i64,
        summary: SeqSummary,
        now: i64,
    ) {
        let chat = self.chat_mut(id);
        chat.outbox.retain(|o| o.client_temp_id != client_temp_id);
        chat.send_attempt = 0;
        chat.summary = summary;
        self.learn_from_push(id, seq, true);
        self.after_new_message(id, now);
        self.pump_outbox(id);
    }

    fn on_send_failed(&mut self, id: &str, client_temp_id: &str, error: FailureKind, now: i64) {
        let chat = self.chat_mut(id);
        let Some(entry) = chat
            .outbox
            .iter_mut()
            .find(|o| o.client_temp_id == client_temp_id && o.state == OutgoingState::Sending)
        else {
            return;
        };
        if error == FailureKind::Unauthorized {
            entry.state = OutgoingState::Pending;
            self.block_auth(Some(id));
            return;
        }
        if error.is_retryable() {
            entry.state = OutgoingState::Pending;
            let attempt = chat.send_attempt;
            chat.send_attempt = attempt.saturating_add(1);
            // The message stays pending (sends are idempotent); the app still hears why,
            // at most once per backoff step, as it does for a failed resync.
            let retry = if self.can_network() {
                let delay = EngineConfig::backoff_ms(
                    self.config.retry_base_ms,
                    self.config.retry_cap_ms,
                    attempt,
                );
                self.schedule(TimerKey::SendRetry(id.to_string()), now + delay);
                format!("retrying in {delay} ms")
            } else {
                "retrying once online".to_string()
            };
            self.error(
                Some(id),
                error,
                format!("message {client_temp_id} was not sent yet; {retry}"),
            );
            return;
        }
        entry.state = OutgoingState::Failed;
        self.emit(Command::SetOutgoingStatus {
            request_id: id.to_string(),
            client_temp_id: client_temp_id.to_string(),
            status: MessageStatus::Failed,
        });
        self.error(
            Some(id),
            error,
            format!("message {client_temp_id} was not accepted"),
        );
        self.pump_outbox(id);
    }

    fn on_retry_send(&mut self, id: &str, client_temp_id: &str) {
        let chat = self.chat_mut(id);
        let Some(entry) = chat
            .outbox
            .iter_mut()
            .find(|o| o.client_temp_id == client_temp_id && o.state == OutgoingState::Failed)
        else {
            return;
        };
        entry.state = OutgoingState::Pending;
        self.emit(Command::SetOutgoingStatus {
            request_id: id.to_string(),
            client_temp_id: client_temp_id.to_string(),
            status: MessageStatus::Pending,
        });
        self.pump_outbox(id);
    }

    // ----------------------------------------------------------------- timers

    fn on_timer(&mut self, key: TimerKey, now: i64) {
        if self.timers.remove(&key).is_none() {
            return; // cancelled or replaced: a late fire is ignored
        }
        match key {
            TimerKey::GapGrace(id) | TimerKey::ResyncRetry(id) => self.evaluate(&id, now),
            TimerKey::Revalidate(id) => {
                if self.is_open(&id) {
                    self.schedule(
                        TimerKey::Revalidate(id.clone()),
                        now + self.config.revalidate_interval_ms,
                    );
                    self.request_tickets(false);
                }
            }
            TimerKey::SendRetry(id) => self.pump_outbox(&id),
            TimerKey::TicketsRetry => self.request_tickets(true),
            TimerKey::RealtimeReconnect => self.connect_realtime_if_down(),
            // Still connecting: refresh now; its arrival refreshes once more.
            TimerKey::SocketWait => self.request_tickets(true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(
        engine: &mut Engine,
        id: &str,
        runs: &[(i64, i64)],
        backend: Option<i64>,
    ) -> Vec<Command> {
        let mut cache = crate::runs::SeqRuns::new();
        for &(a, b) in runs {
            cache.insert_range(SeqRange::new(a, b));
        }
        engine.handle(Event::ChatOpened {
            request_id: id.to_string(),
            summary: cache.summary(),
            stored_backend_seq: backend,
            now_ms: 0,
        })
    }

    #[test]
    fn zero_sizes_are_clamped_so_paging_always_progresses() {
        let mut engine = Engine::new(EngineConfig {
            page_size: 0,
            resync_window: 0,
            ..EngineConfig::default()
        });
        assert_eq!(engine.config().page_size, 1);
        let commands = open(&mut engine, "c", &[(1, 3)], Some(5));
        assert!(commands.iter().any(|c| matches!(
            c,
            Command::FetchMessages {
                query: FetchQuery::Latest,
                limit: 1,
                ..
            }
        )));
    }

    #[test]
    fn an_app_ticket_request_skips_the_retry_wait_and_coalesces() {
        let mut engine = Engine::new(EngineConfig::default());
        engine.handle(Event::Started { now_ms: 0 });
        assert!(
            !engine.is_refreshing_tickets(),
            "the launch refresh waits for the socket"
        );
        engine.handle(Event::RealtimeDisconnected { now_ms: 5 });
        assert!(
            engine.is_refreshing_tickets(),
            "the socket failed: refresh now"
        );
        engine.handle(Event::TicketsFailed {
            error: FailureKind::Network,
            now_ms: 10,
        });
        assert!(
            !engine.is_refreshing_tickets(),
            "a retry is scheduled instead"
        );
        let commands = engine.handle(Event::TicketsRequested { now_ms: 20 });
        assert!(commands.contains(&Command::RefreshTickets));
        assert!(commands.contains(&Command::CancelTimer {
            key: TimerKey::TicketsRetry
        }));
        let again = engine.handle(Event::TicketsRequested { now_ms: 30 });
        assert!(
            !again.contains(&Command::RefreshTickets),
            "one request in flight"
        );
    }

    #[test]
    fn a_refused_realtime_upgrade_blocks_network_work_until_new_credentials() {
        let mut engine = Engine::new(EngineConfig::default());
        engine.handle(Event::Started { now_ms: 0 });
        let commands = engine.handle(Event::RealtimeUnauthorized { now_ms: 5 });
        assert!(engine.is_auth_blocked());
        assert_eq!(engine.realtime_state(), RealtimeState::Disconnected);
        assert!(
            !commands
                .iter()
                .any(|c| matches!(c, Command::ScheduleTimer { .. })),
            "no reconnect while the credentials are refused: {commands:?}"
        );
        let renewed = engine.handle(Event::CredentialsRenewed { now_ms: 9 });
        assert!(renewed.contains(&Command::ConnectRealtime));
    }

    #[test]
    fn pending_work_covers_runs_fetches_and_queued_requests() {
        let mut engine = Engine::new(EngineConfig::default());
        open(&mut engine, "c", &[(1, 10)], Some(10));
        assert!(!engine.has_pending_work("c"), "validation only");
        let commands = engine.handle(Event::ManualResyncRequested {
            request_id: "c".into(),
            now_ms: 1,
        });
        assert!(engine.has_pending_work("c"));
        let fetch_id = commands
            .iter()
            .find_map(|c| match c {
                Command::FetchMessages { fetch_id, .. } => Some(*fetch_id),
                _ => None,
            })
            .expect("a manual resync fetches");
        let mut cache = crate::runs::SeqRuns::new();
        cache.insert_range(SeqRange::new(1, 10));
        engine.handle(Event::FetchCompleted {
            request_id: "c".into(),
            fetch_id,
            summary: cache.summary(),
            last_message_sequence: Some(10),
            page: None,
            has_more: false,
            now_ms: 2,
        });
        assert!(!engine.has_pending_work("c"));
        assert_eq!(engine.sync_state("c"), SyncState::Synced);
    }

    #[test]
    fn failure_kinds_round_trip_their_spelling() {
        for kind in [
            FailureKind::Network,
            FailureKind::Timeout,
            FailureKind::Server5xx,
            FailureKind::Unauthorized,
            FailureKind::BadData,
            FailureKind::NotFound,
            FailureKind::Rejected,
        ] {
            assert_eq!(FailureKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(FailureKind::parse("teapot"), None);
    }

    #[test]
    fn a_cancelled_timer_that_fires_late_is_ignored() {
        let mut engine = Engine::new(EngineConfig::default());
        open(&mut engine, "c", &[(1, 10)], Some(10));
        engine.handle(Event::ChatClosed {
            request_id: "c".into(),
            now_ms: 5,
        });
        let late = engine.handle(Event::TimerFired {
            key: TimerKey::Revalidate("c".into()),
            now_ms: 300_000,
        });
        assert!(late.is_empty(), "{late:?}");
    }

    #[test]
    fn unknown_fetch_answers_change_no_decision() {
        let mut engine = Engine::new(EngineConfig::default());
        open(&mut engine, "c", &[(1, 10)], Some(10));
        assert_eq!(engine.sync_state("c"), SyncState::Synced);
        let commands = engine.handle(Event::FetchFailed {
            request_id: "c".into(),
            fetch_id: 999,
            error: FailureKind::Server5xx,
            now_ms: 1,
        });
        assert!(commands.is_empty());
        assert_eq!(engine.sync_state("c"), SyncState::Synced);
    }
}
