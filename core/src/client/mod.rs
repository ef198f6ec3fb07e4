//! [`ChatSyncClient`]: the seed's `ChatSyncService`, one per signed-in account.
//!
//! The client owns the cache, the REST client, the realtime socket, the timers and
//! the sans-I/O [`crate::engine::Engine`]; it turns method calls and network results
//! into engine events and executes the engine's commands (see `driver.rs`). It makes
//! no sync decision of its own.
//!
//! Guarantees:
//! - [`ChatSyncClient::open_chat`] returns the cached messages and meta from SQLite
//!   with no network wait; a valid cache is SYNCED when it returns, with zero fetches;
//! - every network answer is checked and stored before the engine hears of it, so a
//!   chat is never SYNCED on data that is not in the cache;
//! - methods are safe to call from any thread; async methods run on the client's
//!   tokio runtime and can be awaited from any executor;
//! - observers are called on one dispatch thread, in order, never while the client
//!   holds a lock, so an observer may call back into the client;
//! - tokens are never logged or stored; the cache file is created owner-only.

mod bridge;
mod config;
mod driver;
mod error;
mod events;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub use bridge::{BridgePhase, ImportReport, LegacyMessageCache, MessageCacheBridge};
pub use config::ClientConfig;
pub use error::{ClientError, ErrorKind};
pub use events::SyncEvent;

use driver::{Core, Shared, offline_or_blocked};
use events::ChatFilter;

use crate::cache::{CacheOptions, MessageCache};
use crate::engine::{Event, OutgoingState};
use crate::net::{ApiClient, AuthTokenProvider, NetStats};
use crate::observe::{Observer, Subscription};
use crate::types::{ChatMessage, ChatSyncMeta, MessageStatus, SeqRange, SyncState, TicketSummary};

/// The longest outgoing message accepted by [`ChatSyncClient::send_message`], in
/// characters (Unicode scalar values): the protocol's content limit
/// (`docs/protocol.md`, section 7), checked before queueing so a message the server
/// would refuse never enters the outbox.
pub const MAX_OUTGOING_CHARS: usize = 10_000;

/// What [`ChatSyncClient::open_chat`] returns at once, from the cache.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenedChat {
    /// The newest cached messages (at most `open_message_limit`), ascending by
    /// sequence, then local outgoing messages in send order.
    pub messages: Vec<ChatMessage>,
    /// The chat's sync meta after the open's validation.
    pub meta: ChatSyncMeta,
    /// Recorded history gaps ("load earlier"), ascending.
    pub history_gaps: Vec<SeqRange>,
    /// True when a resync's network work runs already.
    pub is_syncing: bool,
}

/// What [`ChatSyncClient::load_earlier`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadEarlierOutcome {
    /// The messages it stored, ascending (empty when there was no gap to fill).
    pub loaded: Vec<ChatMessage>,
    /// The history gaps that remain, ascending.
    pub remaining_gaps: Vec<SeqRange>,
}

/// What [`ChatSyncClient::background_revalidate`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackgroundReport {
    /// Tickets in the stored list.
    pub tickets: usize,
    /// Cached chats whose cache the fresh metadata proves incomplete (they heal when opened).
    pub out_of_sync: Vec<String>,
    /// True when fresh metadata arrived within the budget.
    pub completed: bool,
}

/// The seed's `ChatSyncService` on the shared Rust core. Share it as `Arc`.
pub struct ChatSyncClient {
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for ChatSyncClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatSyncClient")
            .field("base_url", &self.shared.config.base_url)
            .field("cache_path", &self.shared.config.cache_path)
            .finish_non_exhaustive()
    }
}

impl ChatSyncClient {
    /// Builds a client with its own tokio runtime (two worker threads). Opens (or
    /// creates, or migrates) the cache; a corrupt cache file is moved aside and
    /// recreated, keeping the unsent outgoing messages it can salvage. No network
    /// work starts until [`ChatSyncClient::start`] or a method that needs it.
    pub fn new(
        config: ClientConfig,
        tokens: Arc<dyn AuthTokenProvider>,
    ) -> Result<ChatSyncClient, ClientError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("chatsync-runtime")
            .enable_all()
            .build()
            .map_err(|e| ClientError::Network(format!("cannot start the runtime: {e}")))?;
        let handle = runtime.handle().clone();
        let mut client = ChatSyncClient::with_runtime(config, tokens, handle)?;
        client.runtime = Some(runtime);
        Ok(client)
    }

    /// Builds a client that runs its tasks on `runtime` (an app that has one).
    pub fn with_runtime(
        config: ClientConfig,
        tokens: Arc<dyn AuthTokenProvider>,
        runtime: tokio::runtime::Handle,
    ) -> Result<ChatSyncClient, ClientError> {
        let api = ApiClient::new(config.api_config(), tokens)
            .map_err(|e| ClientError::InvalidArgument(e.to_string()))?;
        let options = CacheOptions {
            eviction: config.eviction,
            ..CacheOptions::default()
        };
        let cache = match &config.cache_path {
            Some(path) => open_cache_file(path, options)?,
            None => MessageCache::open_in_memory(options)?,
        };
        let seed = jitter_seed();
        let shared = Arc::new(Shared::new(config, Arc::new(cache), api, runtime, seed));
        Ok(ChatSyncClient {
            shared,
            runtime: None,
        })
    }

    /// Goes online: opens the realtime socket, refreshes the ticket list (metadata
    /// only), hands the stored outbox to the engine and enforces the cache caps.
    /// Idempotent; does nothing after sign-out.
    pub fn start(&self) {
        let shared = &self.shared;
        let mut core = shared.lock();
        if core.signed_out || core.shut_down || core.started {
            return;
        }
        core.started = true;
        self.load_outbox(&mut core);
        self.evict(&mut core);
        let now = shared.clock.now_ms();
        shared.handle(&mut core, Event::Started { now_ms: now });
    }

    /// Stops every network task, timer and the socket; the cache stays. Later calls
    /// that need the network fail with [`ClientError::SignedOut`]. Also done on drop.
    pub fn shutdown(&self) {
        let mut core = self.shared.lock();
        core.shut_down = true;
        self.shared.stop_everything(&mut core);
    }

    // ------------------------------------------------------------- the seed's API

    /// The user opens a chat: returns the cached messages and meta at once. The
    /// chat is UNKNOWN, then validated against the known backend sequence: SYNCED
    /// with no fetch when the cache is proven complete, OUT_OF_SYNC (and a scoped
    /// resync) when it is proven incomplete, UNKNOWN (no fetch) while the backend
    /// sequence is unknown. An empty chat starts an initial load of the latest window.
    pub fn open_chat(&self, request_id: &str) -> Result<OpenedChat, ClientError> {
        check_id(request_id)?;
        let shared = &self.shared;
        let mut core = shared.lock();
        if core.signed_out {
            return Err(ClientError::SignedOut);
        }
        let limit = Some(shared.config.open_message_limit as usize);
        let page = shared.cache.chat_page(request_id, limit)?;
        let commits = shared.cache.commits();
        let now = shared.clock.now_ms();
        shared.handle(
            &mut core,
            Event::ChatOpened {
                request_id: request_id.to_string(),
                summary: page.runs.summary(),
                stored_backend_seq: page.meta.last_known_backend_seq,
                now_ms: now,
            },
        );
        // One snapshot serves the whole open unless the open itself wrote (a changed
        // sync state, a truncation): then the page is read again, after the writes.
        let page = if shared.cache.commits() == commits {
            page
        } else {
            shared.cache.chat_page(request_id, limit)?
        };
        Ok(OpenedChat {
            history_gaps: page.runs.history_gaps(),
            messages: page.messages,
            meta: page.meta,
            is_syncing: core.engine.is_chat_syncing(request_id),
        })
    }

    /// The user leaves the chat: its timers and retries stop; a fetch in flight is
    /// still stored. Enforces the cache caps.
    pub fn close_chat(&self, request_id: &str) {
        let shared = &self.shared;
        let mut core = shared.lock();
        let now = shared.clock.now_ms();
        shared.handle(
            &mut core,
            Event::ChatClosed {
                request_id: request_id.to_string(),
                now_ms: now,
            },
        );
        self.evict(&mut core);
    }

    /// Resyncs one chat, only when it is OUT_OF_SYNC; waits until the run ends and
    /// returns the meta. Fails with the run's error when one was reported.
    pub async fn resync(&self, request_id: &str) -> Result<ChatSyncMeta, ClientError> {
        check_id(request_id)?;
        self.run_and_wait(request_id, |request_id, now_ms| Event::ResyncRequested {
            request_id,
            now_ms,
        })
        .await
    }

    /// The user's resync button: always runs (at least one request), waits until the
    /// run ends and returns the meta; fails when offline or when the run failed.
    pub async fn manual_resync(&self, request_id: &str) -> Result<ChatSyncMeta, ClientError> {
        check_id(request_id)?;
        self.run_and_wait(request_id, |request_id, now_ms| {
            Event::ManualResyncRequested { request_id, now_ms }
        })
        .await
    }

    /// The device is online again: every chat UNKNOWN, one ticket refresh, open
    /// chats heal themselves through validation; no message fetch for closed chats.
    pub fn on_connectivity_restored(&self) {
        self.feed(|now_ms| Event::ConnectivityRestored { now_ms });
    }

    /// The device lost connectivity: no request is made until it is restored.
    pub fn on_connectivity_lost(&self) {
        self.feed(|now_ms| Event::ConnectivityLost { now_ms });
    }

    /// A message pushed through another channel (a push notification, the app's own
    /// socket): stored and handled exactly like a realtime frame. A message with
    /// the next sequence keeps the chat SYNCED; one beyond it is a gap healed after
    /// the grace period; a duplicate changes nothing.
    pub fn on_new_message(&self, message: ChatMessage) -> Result<(), ClientError> {
        check_id(&message.request_id)?;
        let mut core = self.shared.lock();
        if core.signed_out {
            return Err(ClientError::SignedOut);
        }
        let request_id = message.request_id.clone();
        self.shared
            .store_pushes(&mut core, &request_id, vec![message]);
        Ok(())
    }

    /// A backend sequence learned by the app (e.g. its own ticket query): may raise
    /// or lower the known value (the server is authoritative).
    pub fn update_backend_sequence(&self, request_id: &str, seq: i64) {
        if seq < 0 {
            tracing::warn!(chat = %request_id, "ignoring negative backend sequence {seq}");
            return;
        }
        self.feed(|now_ms| Event::BackendSeqObserved {
            request_id: request_id.to_string(),
            seq,
            authoritative: true,
            now_ms,
        });
    }

    /// Refreshes the ticket list now (metadata only: no message is fetched, no sync
    /// starts for a closed chat) and returns the stored list.
    pub async fn refresh_tickets(&self) -> Result<Vec<TicketSummary>, ClientError> {
        let shared = Arc::clone(&self.shared);
        self.spawn(async move {
            let mut changes = shared.watch();
            let start = {
                let mut core = shared.lock();
                if core.signed_out {
                    return Err(ClientError::SignedOut);
                }
                let start = core.tickets_serial;
                let now = shared.clock.now_ms();
                shared.handle(&mut core, Event::TicketsRequested { now_ms: now });
                if !core.engine.is_refreshing_tickets() && core.tickets_serial == start {
                    return Err(offline_or_blocked(&core.engine));
                }
                start
            };
            loop {
                {
                    let core = shared.lock();
                    if core.tickets_serial > start {
                        return match &core.tickets_error {
                            Some(error) => Err(error.clone()),
                            None => Ok(shared.cache.get_tickets()?),
                        };
                    }
                    if core.signed_out || core.shut_down {
                        return Err(ClientError::SignedOut);
                    }
                }
                if changes.changed().await.is_err() {
                    return Err(ClientError::SignedOut);
                }
            }
        })
        .await
    }

    /// The last stored ticket list (no network).
    pub fn cached_tickets(&self) -> Result<Vec<TicketSummary>, ClientError> {
        Ok(self.shared.cache.get_tickets()?)
    }

    /// True only while a resync's network work runs for the chat (never during a
    /// validation-only check or the initial load of an empty chat).
    pub fn is_chat_syncing(&self, request_id: &str) -> bool {
        self.shared.lock().engine.is_chat_syncing(request_id)
    }

    /// The chat's live sync state (UNKNOWN for a chat not validated in this run).
    pub fn sync_state(&self, request_id: &str) -> SyncState {
        self.shared.lock().engine.sync_state(request_id)
    }

    /// The chat's stored sync meta (the seed's `getSyncMeta`).
    pub fn get_sync_meta(&self, request_id: &str) -> Result<ChatSyncMeta, ClientError> {
        Ok(self.shared.cache.get_sync_meta(request_id)?)
    }

    /// The newest `limit` cached messages (all when `None`), ascending by sequence,
    /// then local outgoing messages in send order. No network.
    pub fn get_cached_messages(
        &self,
        request_id: &str,
        limit: Option<u32>,
    ) -> Result<Vec<ChatMessage>, ClientError> {
        Ok(self
            .shared
            .cache
            .get_cached_messages(request_id, limit.map(|l| l as usize))?)
    }

    /// The `limit` cached messages just below `before_seq`, ascending. No network.
    pub fn get_messages_before(
        &self,
        request_id: &str,
        before_seq: i64,
        limit: u32,
    ) -> Result<Vec<ChatMessage>, ClientError> {
        Ok(self
            .shared
            .cache
            .get_messages_before(request_id, before_seq, limit as usize)?)
    }

    /// The chat's recorded history gaps ("load earlier"), ascending.
    pub fn history_gaps(&self, request_id: &str) -> Result<Vec<SeqRange>, ClientError> {
        Ok(self.shared.cache.history_gaps(request_id)?)
    }

    /// Back-pagination: fetches one page at the top of the newest history gap (the
    /// one just below what the user sees) and stores it. Waits for the chat's fetch
    /// slot (a running resync goes first).
    pub async fn load_earlier(&self, request_id: &str) -> Result<LoadEarlierOutcome, ClientError> {
        check_id(request_id)?;
        let shared = Arc::clone(&self.shared);
        let id = request_id.to_string();
        self.spawn(async move {
            let Some(gap) = shared.cache.history_gaps(&id)?.last().copied() else {
                return Ok(LoadEarlierOutcome {
                    loaded: Vec::new(),
                    remaining_gaps: Vec::new(),
                });
            };
            let mut changes = shared.watch();
            let start = {
                let mut core = shared.lock();
                if core.signed_out {
                    return Err(ClientError::SignedOut);
                }
                let start = core.error_serial;
                let now = shared.clock.now_ms();
                shared.handle(
                    &mut core,
                    Event::LoadEarlier {
                        request_id: id.clone(),
                        gap,
                        now_ms: now,
                    },
                );
                start
            };
            loop {
                {
                    let core = shared.lock();
                    if let Some(&(serial, ok)) = core.earlier.get(&id)
                        && serial > start
                    {
                        if !ok {
                            return Err(recorded_error(&core, &id, start)
                                .unwrap_or_else(|| offline_or_blocked(&core.engine)));
                        }
                        break;
                    }
                    if core.signed_out || core.shut_down {
                        return Err(ClientError::SignedOut);
                    }
                }
                if changes.changed().await.is_err() {
                    return Err(ClientError::SignedOut);
                }
            }
            let limit = usize::try_from(shared.config.page_size.max(1)).unwrap_or(50);
            let loaded = shared
                .cache
                .get_messages_before(&id, gap.end + 1, limit)?
                .into_iter()
                .filter(|m| m.sequence_number.is_some_and(|s| s >= gap.start))
                .collect();
            Ok(LoadEarlierOutcome {
                loaded,
                remaining_gaps: shared.cache.history_gaps(&id)?,
            })
        })
        .await
    }

    /// Queues an outgoing message durably in the outbox and returns its optimistic
    /// local copy (status pending, a fresh `client_temp_id`, no sequence). Delivery
    /// runs in the background, in order per chat, retried while online, idempotent
    /// through `clientTempId`; observers see the server's copy replace it.
    pub async fn send_message(
        &self,
        request_id: &str,
        content: &str,
    ) -> Result<ChatMessage, ClientError> {
        check_id(request_id)?;
        if content.trim().is_empty() {
            return Err(ClientError::InvalidArgument(
                "a message needs some text".into(),
            ));
        }
        let chars = content.chars().count();
        if chars > MAX_OUTGOING_CHARS {
            return Err(ClientError::InvalidArgument(format!(
                "a message may hold at most {MAX_OUTGOING_CHARS} characters, this one has {chars}"
            )));
        }
        let shared = &self.shared;
        let mut core = shared.lock();
        if core.signed_out {
            return Err(ClientError::SignedOut);
        }
        self.load_outbox(&mut core);
        let client_temp_id = uuid::Uuid::new_v4().to_string();
        let now = shared.clock.now_ms();
        let message =
            shared
                .cache
                .enqueue_outgoing(request_id, content, &client_temp_id, None, now)?;
        shared.hub.publish(SyncEvent::MessagesChanged {
            request_id: request_id.to_string(),
            inserted: vec![message.clone()],
            updated: Vec::new(),
            removed_ids: Vec::new(),
        });
        shared.handle(
            &mut core,
            Event::OutgoingQueued {
                request_id: request_id.to_string(),
                client_temp_id,
                failed: false,
                now_ms: now,
            },
        );
        Ok(message)
    }

    /// Sends a failed outgoing message again.
    pub async fn retry_send(
        &self,
        request_id: &str,
        client_temp_id: &str,
    ) -> Result<(), ClientError> {
        let shared = &self.shared;
        let mut core = shared.lock();
        if core.signed_out {
            return Err(ClientError::SignedOut);
        }
        match shared.cache.outbox_entry(client_temp_id)? {
            Some(entry) if entry.request_id == request_id => {}
            _ => {
                return Err(ClientError::InvalidArgument(format!(
                    "no outgoing message {client_temp_id} in chat {request_id}"
                )));
            }
        }
        self.load_outbox(&mut core);
        let now = shared.clock.now_ms();
        shared.handle(
            &mut core,
            Event::RetrySend {
                request_id: request_id.to_string(),
                client_temp_id: client_temp_id.to_string(),
                now_ms: now,
            },
        );
        Ok(())
    }

    /// Waits until the outgoing message `client_temp_id` is sent (returns the
    /// server's copy), failed, or its first delivery attempt failed, or `timeout`
    /// passed (returns the local copy, pending or failed).
    pub async fn wait_for_send(
        &self,
        request_id: &str,
        client_temp_id: &str,
        timeout: Duration,
    ) -> Result<ChatMessage, ClientError> {
        let shared = Arc::clone(&self.shared);
        let id = request_id.to_string();
        let ctid = client_temp_id.to_string();
        self.spawn(async move {
            let deadline = tokio::time::Instant::now() + timeout;
            let mut changes = shared.watch();
            let start = shared.lock().error_serial;
            loop {
                {
                    let core = shared.lock();
                    let state = core
                        .engine
                        .outbox(&id)
                        .into_iter()
                        .find(|(c, _)| *c == ctid)
                        .map(|(_, s)| s);
                    let failed_attempt = core.send_failures_since(&ctid, start);
                    let done = match state {
                        None => true,
                        Some(OutgoingState::Failed) => true,
                        Some(_) => failed_attempt || core.signed_out || core.shut_down,
                    };
                    if done {
                        drop(core);
                        return find_by_client_temp_id(&shared.cache, &id, &ctid);
                    }
                }
                tokio::select! {
                    changed = changes.changed() => {
                        if changed.is_err() {
                            return Err(ClientError::SignedOut);
                        }
                    }
                    _ = tokio::time::sleep_until(deadline) => {
                        return find_by_client_temp_id(&shared.cache, &id, &ctid);
                    }
                }
            }
        })
        .await
    }

    /// Marks the chat read up to `up_to_sequence` on the server.
    pub async fn mark_read(
        &self,
        request_id: &str,
        up_to_sequence: i64,
    ) -> Result<(), ClientError> {
        check_id(request_id)?;
        let api = self.shared.api.clone();
        let id = request_id.to_string();
        self.spawn(async move { Ok(api.mark_read(&id, up_to_sequence).await?) })
            .await
    }

    /// The app came to the foreground: reconnects if needed and refreshes metadata;
    /// open chats re-validate (fetching only if proven incomplete).
    pub fn on_app_resume(&self) {
        self.feed(|now_ms| Event::AppResumed { now_ms });
    }

    /// New credentials after an auth error: network work resumes.
    pub fn on_credentials_renewed(&self) {
        self.feed(|now_ms| Event::CredentialsRenewed { now_ms });
    }

    /// For Android WorkManager and iOS BGAppRefreshTask: refreshes metadata only
    /// (no message fetch), waiting at most `budget`, and reports which cached chats
    /// the fresh metadata proves incomplete.
    pub async fn background_revalidate(
        &self,
        budget: Duration,
    ) -> Result<BackgroundReport, ClientError> {
        let shared = Arc::clone(&self.shared);
        self.spawn(async move {
            let deadline = tokio::time::Instant::now() + budget;
            let mut changes = shared.watch();
            let start = {
                let mut core = shared.lock();
                if core.signed_out {
                    return Err(ClientError::SignedOut);
                }
                let start = core.tickets_serial;
                let now = shared.clock.now_ms();
                shared.handle(&mut core, Event::BackgroundRevalidate { now_ms: now });
                start
            };
            let completed = loop {
                {
                    let core = shared.lock();
                    if core.tickets_serial > start {
                        break core.tickets_error.is_none();
                    }
                    if !core.engine.is_refreshing_tickets() || core.signed_out || core.shut_down {
                        break false;
                    }
                }
                tokio::select! {
                    changed = changes.changed() => {
                        if changed.is_err() {
                            break false;
                        }
                    }
                    _ = tokio::time::sleep_until(deadline) => break false,
                }
            };
            let tickets = shared.cache.get_tickets()?;
            let mut out_of_sync = Vec::new();
            for ticket in &tickets {
                let result = shared.cache.validate_sequences(&ticket.id)?;
                let cached = shared
                    .cache
                    .get_sync_meta(&ticket.id)?
                    .local_max_seq
                    .is_some();
                if cached && !result.valid && ticket.last_message_sequence.is_some() {
                    out_of_sync.push(ticket.id.clone());
                }
            }
            Ok(BackgroundReport {
                tickets: tickets.len(),
                out_of_sync,
                completed,
            })
        })
        .await
    }

    /// Signs out: stops everything and deletes the cache's contents (messages,
    /// metadata, tickets, outbox). The client is unusable afterwards.
    pub async fn sign_out(&self) -> Result<(), ClientError> {
        let shared = &self.shared;
        let mut core = shared.lock();
        if core.signed_out {
            return Ok(());
        }
        let now = shared.clock.now_ms();
        shared.handle(&mut core, Event::SignedOut { now_ms: now });
        core.signed_out = true;
        shared.stop_everything(&mut core);
        Ok(())
    }

    /// Waits until the chat settles: SYNCED; OUT_OF_SYNC after a failed attempt;
    /// UNKNOWN when the backend sequence is unknown and no metadata is on its way;
    /// or `timeout` passed. Never while the realtime socket is connecting (its
    /// connection re-validates every chat). Returns the state then. (For the CLI and tests.)
    pub async fn wait_until_settled(&self, request_id: &str, timeout: Duration) -> SyncState {
        let shared = Arc::clone(&self.shared);
        let id = request_id.to_string();
        let waited = self.spawn(async move {
            let deadline = tokio::time::Instant::now() + timeout;
            let mut changes = shared.watch();
            let start = shared.lock().error_serial;
            loop {
                let state = {
                    let core = shared.lock();
                    let engine = &core.engine;
                    let state = engine.sync_state(&id);
                    // A connecting socket restores on connect (every chat UNKNOWN, a
                    // fresh ticket refresh): nothing is settled before it is up or down.
                    let busy = engine.has_pending_work(&id)
                        || engine.is_refreshing_tickets()
                        || engine.realtime_state() == crate::engine::RealtimeState::Connecting;
                    let settled = !busy
                        && match state {
                            SyncState::Synced => true,
                            SyncState::OutOfSync => recorded_error(&core, &id, start).is_some(),
                            SyncState::Unknown => engine.backend_seq(&id).is_none(),
                        };
                    if settled || core.signed_out || core.shut_down {
                        return Ok(state);
                    }
                    state
                };
                tokio::select! {
                    changed = changes.changed() => {
                        if changed.is_err() {
                            return Ok(state);
                        }
                    }
                    _ = tokio::time::sleep_until(deadline) => return Ok(state),
                }
            }
        });
        waited.await.unwrap_or(SyncState::Unknown)
    }

    /// Subscribes `observer` to one chat's events (plus client-wide ones) or, with
    /// `None`, to every event. It first receives a snapshot (each chat's state and
    /// syncing flag, and the connection), then every later event, in order.
    /// Dropping or cancelling the returned handle unsubscribes.
    pub fn subscribe(
        &self,
        observer: Arc<dyn Observer<SyncEvent>>,
        request_id: Option<String>,
    ) -> Subscription {
        let core = self.shared.lock();
        let engine = &core.engine;
        let chats: Vec<String> = match &request_id {
            Some(id) => vec![id.clone()],
            None => engine.chat_ids().map(str::to_string).collect(),
        };
        let mut initial = Vec::with_capacity(chats.len() * 2 + 1);
        for id in chats {
            initial.push(SyncEvent::SyncStateChanged {
                request_id: id.clone(),
                state: engine.sync_state(&id),
            });
            initial.push(SyncEvent::SyncingChanged {
                syncing: engine.is_chat_syncing(&id),
                request_id: id,
            });
        }
        initial.push(SyncEvent::ConnectionChanged {
            online: engine.is_online(),
            realtime_connected: engine.realtime_state() == crate::engine::RealtimeState::Connected,
        });
        // Subscribing under the lock orders the snapshot before every later event.
        let subscription =
            self.shared
                .hub
                .subscribe(observer, Box::new(ChatFilter(request_id)), initial);
        drop(core);
        subscription
    }

    /// Stores server messages obtained elsewhere (the legacy-cache import): checked
    /// and upserted like a page, and the engine learns the chat's new summary.
    /// Returns how many rows were inserted or updated.
    pub fn import_messages(
        &self,
        request_id: &str,
        messages: &[ChatMessage],
    ) -> Result<usize, ClientError> {
        check_id(request_id)?;
        let shared = &self.shared;
        let mut core = shared.lock();
        if core.signed_out {
            return Err(ClientError::SignedOut);
        }
        if messages.is_empty() {
            return Ok(0);
        }
        let change = shared.cache.upsert_messages(request_id, messages)?;
        shared.publish_change(&change);
        let stored = change.inserted.len() + change.updated.len();
        let now = shared.clock.now_ms();
        shared.handle(
            &mut core,
            Event::CacheUpdated {
                request_id: request_id.to_string(),
                summary: change.summary,
                now_ms: now,
            },
        );
        Ok(stored)
    }

    /// Client-side network counters (requests, messages fetched, bytes).
    pub fn net_stats(&self) -> NetStats {
        self.shared.api.stats()
    }

    /// The cache (read access for tools and tests; the client is its only writer).
    pub fn cache(&self) -> &MessageCache {
        &self.shared.cache
    }

    /// Blocks until every observer event published so far has been delivered.
    /// Must not be called from an observer.
    pub fn flush_observers(&self) {
        self.shared.hub.flush();
    }

    // ------------------------------------------------------------- internals

    /// Feeds one event built with the current time.
    fn feed(&self, event: impl FnOnce(i64) -> Event) {
        let mut core = self.shared.lock();
        if core.signed_out {
            return;
        }
        let now = self.shared.clock.now_ms();
        self.shared.handle(&mut core, event(now));
    }

    /// Runs `future` on the client's runtime; the result can be awaited anywhere.
    async fn spawn<T: Send + 'static>(
        &self,
        future: impl Future<Output = Result<T, ClientError>> + Send + 'static,
    ) -> Result<T, ClientError> {
        match self.shared.runtime.spawn(future).await {
            Ok(result) => result,
            Err(e) if e.is_panic() => Err(ClientError::Cache(format!("internal task failed: {e}"))),
            Err(_) => Err(ClientError::SignedOut),
        }
    }

    /// Feeds a resync-like event and waits until the chat has no sync work left.
    async fn run_and_wait(
        &self,
        request_id: &str,
        event: impl FnOnce(String, i64) -> Event + Send + 'static,
    ) -> Result<ChatSyncMeta, ClientError> {
        let shared = Arc::clone(&self.shared);
        let id = request_id.to_string();
        self.spawn(async move {
            let mut changes = shared.watch();
            let start = {
                let mut core = shared.lock();
                if core.signed_out {
                    return Err(ClientError::SignedOut);
                }
                let start = core.error_serial;
                let now = shared.clock.now_ms();
                shared.handle(&mut core, event(id.clone(), now));
                start
            };
            loop {
                {
                    let core = shared.lock();
                    if core.signed_out || core.shut_down {
                        return Err(ClientError::SignedOut);
                    }
                    if !core.engine.has_pending_work(&id) {
                        // An error of this run wins, even when the chat is still
                        // SYNCED from before (e.g. the resync button while offline).
                        let error = recorded_error(&core, &id, start);
                        drop(core);
                        return match error {
                            Some(error) => Err(error),
                            None => Ok(shared.cache.get_sync_meta(&id)?),
                        };
                    }
                }
                if changes.changed().await.is_err() {
                    return Err(ClientError::SignedOut);
                }
            }
        })
        .await
    }

    /// Hands the outbox stored by earlier runs to the engine, once, in order.
    fn load_outbox(&self, core: &mut Core) {
        if core.outbox_loaded {
            return;
        }
        core.outbox_loaded = true;
        let entries = match self.shared.cache.outbox() {
            Ok(entries) => entries,
            Err(e) => {
                self.shared.cache_failed(None, &e.into());
                return;
            }
        };
        for entry in entries {
            let now = self.shared.clock.now_ms();
            self.shared.handle(
                core,
                Event::OutgoingQueued {
                    request_id: entry.request_id,
                    client_temp_id: entry.client_temp_id,
                    failed: entry.status == MessageStatus::Failed,
                    now_ms: now,
                },
            );
        }
    }

    /// Enforces the cache caps and tells the engine about the chats that changed.
    fn evict(&self, core: &mut Core) {
        let limits = &self.shared.config.eviction;
        if limits.max_messages_per_chat.is_none() && limits.max_messages_total.is_none() {
            return;
        }
        let report = match self.shared.cache.evict(limits) {
            Ok(report) => report,
            Err(e) => {
                self.shared.cache_failed(None, &e.into());
                return;
            }
        };
        for (request_id, _) in report.per_chat {
            if let Ok(summary) = self.shared.cache.summary(&request_id) {
                let now = self.shared.clock.now_ms();
                self.shared.handle(
                    core,
                    Event::CacheUpdated {
                        request_id,
                        summary,
                        now_ms: now,
                    },
                );
            }
        }
    }
}

impl Drop for ChatSyncClient {
    fn drop(&mut self) {
        self.shutdown();
        if let Some(runtime) = self.runtime.take() {
            // Never blocks, so dropping the client inside an async context is fine.
            runtime.shutdown_background();
        }
    }
}

/// The chat's error recorded after `start`, if any.
fn recorded_error(core: &Core, request_id: &str, start: u64) -> Option<ClientError> {
    core.errors
        .get(&Some(request_id.to_string()))
        .filter(|e| e.serial > start)
        .map(|e| e.error.clone())
}

/// The chat's message with this `client_temp_id`: the server's copy once sent,
/// else the local outgoing row.
fn find_by_client_temp_id(
    cache: &MessageCache,
    request_id: &str,
    client_temp_id: &str,
) -> Result<ChatMessage, ClientError> {
    let messages = cache.get_cached_messages(request_id, None)?;
    let mut matching: Vec<ChatMessage> = messages
        .into_iter()
        .filter(|m| m.client_temp_id.as_deref() == Some(client_temp_id))
        .collect();
    matching.sort_by_key(|m| m.sequence_number.is_none());
    matching.into_iter().next().ok_or_else(|| {
        ClientError::InvalidArgument(format!("no message {client_temp_id} in chat {request_id}"))
    })
}

fn check_id(request_id: &str) -> Result<(), ClientError> {
    if request_id.is_empty() || request_id.len() > crate::wire::MAX_ID_BYTES {
        return Err(ClientError::InvalidArgument(format!(
            "a chat id must be 1..={} bytes",
            crate::wire::MAX_ID_BYTES
        )));
    }
    Ok(())
}

/// Opens the cache file, recovering from corruption (logged).
fn open_cache_file(path: &Path, options: CacheOptions) -> Result<MessageCache, ClientError> {
    let (cache, recovery) = MessageCache::open_or_recover(path, options)?;
    if let Some(report) = recovery {
        tracing::warn!(
            "the cache file was unreadable ({}); moved it to {} and started a new one, keeping {} unsent message(s)",
            report.reason,
            report.moved_aside_to.display(),
            report.outbox_salvaged
        );
    }
    Ok(cache)
}

/// A per-client seed for the engine's reconnect jitter, so many clients spread out.
fn jitter_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    nanos ^ (u64::from(std::process::id()) << 32)
}
