//! The driver: executes the engine's commands against the cache, the server and
//! timers, and turns everything that happens into engine events.
//!
//! Architecture Invariant: one lock (`Shared::core`) serialises *cache write +
//! engine event*: every page, push and send answer is validated (by the wire
//! decoders), upserted, and only then reported to the engine with the summary read
//! in the same critical section. So the engine always sees summaries in the order
//! the writes happened. Network I/O, timers and observer callbacks never run under
//! the lock; callbacks run on the observer hub's thread.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio::task::AbortHandle;

use crate::cache::{CacheError, MessageCache, MessagesChange};
use crate::client::config::ClientConfig;
use crate::client::error::{ClientError, ErrorKind, failure_kind};
use crate::client::events::SyncEvent;
use crate::engine::{Command, Engine, Event, FailureKind, FetchQuery, Notification, TicketSeq};
use crate::engine::{RealtimeState, TimerKey};
use crate::history::HistoryVerdict;
use crate::net::ApiClient;
use crate::net::api::TicketListAnswer;
use crate::net::realtime::{self, RealtimeEvent, RealtimeHandle};
use crate::observe::ObserverHub;
use crate::types::{ChatMessage, HistoryEpoch, SeqRange, TicketSummary};
use crate::wire::{PageQuery, RealtimeFrame};

/// At most this many queued realtime events are handled under one lock (and their
/// pushes stored in one transaction per chat): a bound on how long one batch holds the
/// lock, far above what a burst of pushes queues between two reads of the socket.
const PUSH_BATCH_MAX: usize = 64;

/// A monotonic clock anchored at the wall clock when the client was built: engine
/// times are milliseconds since the Unix epoch that never go backwards.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    wall_at_start_ms: i64,
    start: Instant,
}

impl Clock {
    pub(crate) fn new() -> Clock {
        Clock {
            wall_at_start_ms: crate::clock::now_ms(),
            start: Instant::now(),
        }
    }

    pub(crate) fn now_ms(&self) -> i64 {
        let elapsed = i64::try_from(self.start.elapsed().as_millis()).unwrap_or(i64::MAX);
        self.wall_at_start_ms.saturating_add(elapsed)
    }
}

/// The last error the engine reported for a chat (or client-wide), numbered so a
/// waiter can tell whether it happened after it started waiting.
#[derive(Debug, Clone)]
pub(crate) struct RecordedError {
    pub serial: u64,
    pub error: ClientError,
}

/// A ticket-list answer ready to be processed: a full list to store with its tag, or
/// the stored list a `304 Not Modified` confirmed.
enum TicketsAnswer {
    Full {
        tickets: Vec<TicketSummary>,
        etag: Option<String>,
    },
    Stored(Vec<TicketSummary>),
}

/// Everything behind the lock.
pub(crate) struct Core {
    pub engine: Engine,
    /// Timers by key: (instance id, task). A replaced or cancelled timer is aborted.
    timers: HashMap<TimerKey, (u64, AbortHandle)>,
    /// The one realtime connection: (connection id, handle).
    realtime: Option<(u64, RealtimeHandle)>,
    /// Network tasks in flight (aborted on sign-out and shutdown).
    tasks: Vec<AbortHandle>,
    /// Set by `start`.
    pub started: bool,
    /// The outbox stored by earlier runs has been handed to the engine.
    pub outbox_loaded: bool,
    /// Set by sign-out: nothing is written or fetched any more.
    pub signed_out: bool,
    /// Set by shutdown (or drop): network results are ignored.
    pub shut_down: bool,
    /// Errors by chat (`None` = client-wide), the newest of each.
    pub errors: HashMap<Option<String>, RecordedError>,
    /// Counter of `errors` entries.
    pub error_serial: u64,
    /// Outcome of the newest ticket-list request: its serial and error, if it failed.
    pub tickets_serial: u64,
    /// The newest ticket refresh failure, if the newest refresh failed.
    pub tickets_error: Option<ClientError>,
    /// `load_earlier` outcomes by chat: (serial, ok).
    pub earlier: HashMap<String, (u64, bool)>,
    /// Details of the newest request failure per chat, to enrich the engine's message.
    failure_details: HashMap<Option<String>, String>,
    /// The last published `ConnectionChanged`.
    connection: (bool, bool),
    /// Failed delivery attempts by `client_temp_id`: the serial of the newest.
    send_failures: HashMap<String, u64>,
    /// The history epoch each chat's cache belongs to, as applied by this client
    /// (absent = not applied yet this session; the cache knows).
    history_epochs: HashMap<String, i64>,
}

impl Core {
    /// True when a delivery attempt of `client_temp_id` failed after serial `start`.
    pub(crate) fn send_failures_since(&self, client_temp_id: &str, start: u64) -> bool {
        self.send_failures
            .get(client_temp_id)
            .is_some_and(|&serial| serial > start)
    }

    fn record_send_failure(&mut self, client_temp_id: &str) {
        self.error_serial += 1;
        self.send_failures
            .insert(client_temp_id.to_string(), self.error_serial);
    }
}

/// What the client and its tasks share.
pub(crate) struct Shared {
    pub config: ClientConfig,
    pub cache: Arc<MessageCache>,
    pub api: ApiClient,
    pub hub: ObserverHub<SyncEvent>,
    pub runtime: tokio::runtime::Handle,
    pub clock: Clock,
    core: Mutex<Core>,
    /// Bumped after every handled event; waiters re-check their condition.
    changed: watch::Sender<u64>,
    next_id: AtomicU64,
}

impl Shared {
    pub(crate) fn new(
        config: ClientConfig,
        cache: Arc<MessageCache>,
        api: ApiClient,
        runtime: tokio::runtime::Handle,
        jitter_seed: u64,
    ) -> Shared {
        let engine = Engine::new(config.engine_config(jitter_seed));
        Shared {
            config,
            cache,
            api,
            hub: ObserverHub::new("chatsync-observers"),
            runtime,
            clock: Clock::new(),
            core: Mutex::new(Core {
                engine,
                timers: HashMap::new(),
                realtime: None,
                tasks: Vec::new(),
                started: false,
                outbox_loaded: false,
                signed_out: false,
                shut_down: false,
                errors: HashMap::new(),
                error_serial: 0,
                tickets_serial: 0,
                tickets_error: None,
                earlier: HashMap::new(),
                failure_details: HashMap::new(),
                connection: (true, false),
                send_failures: HashMap::new(),
                history_epochs: HashMap::new(),
            }),
            changed: watch::channel(0).0,
            next_id: AtomicU64::new(1),
        }
    }

    /// The lock; a panic elsewhere never makes the client unusable.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Core> {
        self.core
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A receiver that sees a new value after every handled event.
    pub(crate) fn watch(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Feeds `event` (and the feedback its commands produce) to the engine and
    /// executes the commands, in order, under the held lock.
    pub(crate) fn handle(self: &Arc<Self>, core: &mut Core, event: Event) {
        let mut queue = vec![event];
        while let Some(event) = queue.pop() {
            let commands = core.engine.handle(event);
            let mut feedback = Vec::new();
            for command in commands {
                if let Some(event) = self.execute(core, command) {
                    feedback.push(event);
                }
            }
            // Feedback is handled in the order its commands were executed.
            feedback.reverse();
            queue.extend(feedback);
        }
        self.publish_connection(core);
        self.changed.send_modify(|generation| *generation += 1);
    }

    /// Runs one command; returns the event to feed back at once, if any.
    fn execute(self: &Arc<Self>, core: &mut Core, command: Command) -> Option<Event> {
        let now = self.clock.now_ms();
        match command {
            Command::FetchMessages {
                request_id,
                fetch_id,
                query,
                limit,
            } => {
                self.spawn_fetch(core, request_id, fetch_id, query, limit);
                None
            }
            Command::SetWindowStart { request_id, seq } => {
                match self.cache.set_window_start(&request_id, seq) {
                    Ok(summary) => Some(Event::CacheUpdated {
                        request_id,
                        summary,
                        now_ms: now,
                    }),
                    Err(e) => {
                        self.cache_failed(Some(&request_id), &e.into());
                        None
                    }
                }
            }
            Command::TruncateAbove { request_id, seq } => {
                match self.cache.truncate_above(&request_id, seq) {
                    Ok(change) => {
                        self.publish_change(&change);
                        Some(Event::CacheUpdated {
                            request_id,
                            summary: change.summary,
                            now_ms: now,
                        })
                    }
                    Err(e) => {
                        self.cache_failed(Some(&request_id), &e.into());
                        None
                    }
                }
            }
            Command::PersistSyncState {
                request_id,
                state,
                validated_at_ms,
            } => {
                if let Err(e) = self
                    .cache
                    .update_sync_state(&request_id, state, validated_at_ms)
                {
                    self.cache_failed(Some(&request_id), &e.into());
                }
                None
            }
            Command::PersistBackendSeq { request_id, seq } => {
                if let Err(e) = self.cache.update_backend_sequence(&request_id, Some(seq)) {
                    self.cache_failed(Some(&request_id), &e.into());
                }
                None
            }
            Command::MarkAllUnknown => {
                if let Err(e) = self.cache.mark_all_chats_unknown() {
                    self.cache_failed(None, &e.into());
                }
                None
            }
            Command::RefreshTickets => {
                self.spawn_tickets(core);
                None
            }
            Command::SendOutgoing {
                request_id,
                client_temp_id,
            } => self.dispatch_send(core, request_id, client_temp_id),
            Command::SetOutgoingStatus {
                request_id,
                client_temp_id,
                status,
            } => {
                match self.cache.set_outgoing_status(&client_temp_id, status) {
                    Ok(Some(message)) => self.hub.publish(SyncEvent::MessagesChanged {
                        request_id,
                        inserted: Vec::new(),
                        updated: vec![message],
                        removed_ids: Vec::new(),
                    }),
                    Ok(None) => {}
                    Err(e) => self.cache_failed(Some(&request_id), &e.into()),
                }
                None
            }
            Command::ConnectRealtime => {
                self.connect_realtime(core);
                None
            }
            Command::DisconnectRealtime => {
                core.realtime = None;
                None
            }
            Command::ScheduleTimer { key, at_ms } => {
                self.schedule_timer(core, key, at_ms);
                None
            }
            Command::CancelTimer { key } => {
                if let Some((_, task)) = core.timers.remove(&key) {
                    task.abort();
                }
                None
            }
            Command::ClearLocalData => {
                core.history_epochs.clear();
                if let Err(e) = self.cache.clear() {
                    self.cache_failed(None, &e.into());
                }
                None
            }
            Command::Notify(notification) => {
                self.notify(core, notification);
                None
            }
        }
    }

    fn notify(&self, core: &mut Core, notification: Notification) {
        let event = match notification {
            Notification::SyncStateChanged { request_id, state } => {
                SyncEvent::SyncStateChanged { request_id, state }
            }
            Notification::SyncingChanged {
                request_id,
                syncing,
            } => SyncEvent::SyncingChanged {
                request_id,
                syncing,
            },
            Notification::TicketsChanged => {
                core.tickets_serial += 1;
                core.tickets_error = None;
                match self.cache.get_tickets() {
                    Ok(tickets) => SyncEvent::TicketsChanged { tickets },
                    Err(e) => {
                        self.cache_failed(None, &e.into());
                        return;
                    }
                }
            }
            Notification::LoadEarlierFinished { request_id, ok } => {
                core.error_serial += 1;
                core.earlier
                    .insert(request_id.clone(), (core.error_serial, ok));
                SyncEvent::LoadEarlierFinished { request_id, ok }
            }
            Notification::Error {
                request_id,
                kind,
                message,
            } => {
                let message = match core.failure_details.remove(&request_id) {
                    Some(detail) => format!("{message}: {detail}"),
                    None => message,
                };
                let kind = ErrorKind::from(kind);
                core.error_serial += 1;
                let recorded = RecordedError {
                    serial: core.error_serial,
                    error: ClientError::from_kind(kind, message.clone()),
                };
                core.errors.insert(request_id.clone(), recorded);
                SyncEvent::Error {
                    request_id,
                    kind,
                    message,
                }
            }
        };
        self.hub.publish(event);
    }

    /// Publishes `ConnectionChanged` when connectivity or the socket changed.
    fn publish_connection(&self, core: &mut Core) {
        let now = (
            core.engine.is_online(),
            core.engine.realtime_state() == RealtimeState::Connected,
        );
        if now != core.connection {
            core.connection = now;
            self.hub.publish(SyncEvent::ConnectionChanged {
                online: now.0,
                realtime_connected: now.1,
            });
        }
    }

    pub(crate) fn publish_change(&self, change: &MessagesChange) {
        if change.is_empty() {
            return;
        }
        self.hub.publish(SyncEvent::MessagesChanged {
            request_id: change.request_id.clone(),
            inserted: change.inserted.clone(),
            updated: change.updated.clone(),
            removed_ids: change.removed_ids.clone(),
        });
    }

    /// A cache write failed: logged and reported to observers (the engine's view is
    /// not updated, so nothing is ever validated on data that was not stored).
    pub(crate) fn cache_failed(&self, request_id: Option<&str>, error: &ClientError) {
        tracing::error!(chat = request_id, "cache write failed: {error}");
        self.hub.publish(SyncEvent::Error {
            request_id: request_id.map(str::to_string),
            kind: ErrorKind::Cache,
            message: error.to_string(),
        });
    }

    /// True when a network result must be dropped (sign-out, shutdown).
    fn is_closed(core: &Core) -> bool {
        core.signed_out || core.shut_down
    }

    fn track(&self, core: &mut Core, task: AbortHandle) {
        core.tasks.retain(|t| !t.is_finished());
        core.tasks.push(task);
    }

    /// Aborts every network task, timer and the socket.
    pub(crate) fn stop_everything(&self, core: &mut Core) {
        for task in core.tasks.drain(..) {
            task.abort();
        }
        for (_, (_, task)) in core.timers.drain() {
            task.abort();
        }
        core.realtime = None;
    }

    // ------------------------------------------------------------------ fetches

    fn spawn_fetch(
        self: &Arc<Self>,
        core: &mut Core,
        request_id: String,
        fetch_id: u64,
        query: FetchQuery,
        limit: i64,
    ) {
        let shared = Arc::clone(self);
        let page_query = match query {
            FetchQuery::After(n) => PageQuery::After(n),
            FetchQuery::Before(n) => PageQuery::Before(n),
            FetchQuery::Latest => PageQuery::Latest,
        };
        let limit = u32::try_from(limit.clamp(1, 500)).unwrap_or(500);
        let task = self.runtime.spawn(async move {
            let now = shared.clock.now_ms();
            let result = shared
                .api
                .fetch_messages(&request_id, page_query, limit, now)
                .await;
            let mut core = shared.lock();
            if Shared::is_closed(&core) {
                return;
            }
            let now = shared.clock.now_ms();
            // Every failure leaves its detail for a waiting caller, then tells the engine.
            let failed = |core: &mut Core, request_id: String, error, detail: String| {
                core.failure_details
                    .insert(Some(request_id.clone()), detail);
                Event::FetchFailed {
                    request_id,
                    fetch_id,
                    error,
                    now_ms: now,
                }
            };
            let verdict = match &result {
                Ok(page) => page
                    .history
                    .map(|seen| shared.apply_history(&mut core, &request_id, &seen)),
                Err(_) => None,
            };
            let event = match result {
                Ok(_) if verdict == Some(HistoryVerdict::Stale) => {
                    let detail = "the page predates a history rewrite already applied";
                    tracing::info!(chat = %request_id, "{detail}; not stored");
                    failed(&mut core, request_id, FailureKind::BadData, detail.into())
                }
                Ok(page) => match shared.cache.upsert_messages(&request_id, &page.messages) {
                    Ok(change) => {
                        shared.publish_change(&change);
                        let seqs = page.messages.iter().filter_map(|m| m.sequence_number);
                        let range = seqs
                            .clone()
                            .min()
                            .zip(seqs.max())
                            .map(|(a, b)| SeqRange::new(a, b));
                        Event::FetchCompleted {
                            request_id,
                            fetch_id,
                            summary: change.summary,
                            last_message_sequence: page.last_message_sequence,
                            page: range,
                            has_more: page.has_more,
                            now_ms: now,
                        }
                    }
                    Err(e) => {
                        tracing::warn!(chat = %request_id, "page not stored: {e}");
                        failed(&mut core, request_id, FailureKind::BadData, e.to_string())
                    }
                },
                Err(e) => {
                    tracing::info!(chat = %request_id, "message page request failed: {e}");
                    failed(&mut core, request_id, failure_kind(&e), e.to_string())
                }
            };
            shared.handle(&mut core, event);
        });
        self.track(core, task.abort_handle());
    }

    /// Requests the ticket list, conditionally when the cache holds a list with an
    /// `ETag` (protocol 6.1), and hands the answer to [`Shared::on_tickets_answer`].
    /// A `304` is resolved from the cache under the lock: the list stored with the tag
    /// sent, exactly as that `200` stored it. If that list was replaced or cleared while
    /// the request was in flight, the request is repeated without a condition.
    fn spawn_tickets(self: &Arc<Self>, core: &mut Core) {
        let shared = Arc::clone(self);
        let task = self.runtime.spawn(async move {
            let mut condition = match shared.cache.ticket_list_etag() {
                Ok(tag) => tag,
                Err(e) => {
                    tracing::warn!("cannot read the ticket list ETag; asking in full: {e}");
                    None
                }
            };
            loop {
                let result = shared.api.fetch_ticket_list(condition.as_deref()).await;
                let mut core = shared.lock();
                if Shared::is_closed(&core) {
                    return;
                }
                let answer = match result {
                    Ok(TicketListAnswer::Full { tickets, etag }) => {
                        Ok(TicketsAnswer::Full { tickets, etag })
                    }
                    Ok(TicketListAnswer::NotModified) => {
                        let Some(tag) = condition.take() else {
                            // fetch_ticket_list only answers NotModified to a tag sent.
                            continue;
                        };
                        match shared.cache.tickets_with_etag(&tag) {
                            Ok(Some(tickets)) => Ok(TicketsAnswer::Stored(tickets)),
                            Ok(None) => {
                                tracing::info!(
                                    "304, but the list stored with that ETag was replaced \
                                     meanwhile; asking again in full"
                                );
                                continue;
                            }
                            Err(e) => Err(ClientError::from(e)),
                        }
                    }
                    Err(e) => {
                        tracing::info!("ticket list request failed: {e}");
                        core.failure_details.insert(None, e.to_string());
                        let now = shared.clock.now_ms();
                        let event = Event::TicketsFailed {
                            error: failure_kind(&e),
                            now_ms: now,
                        };
                        shared.tickets_failed(&mut core, event, ClientError::from(e));
                        return;
                    }
                };
                shared.on_tickets_answer(&mut core, answer);
                return;
            }
        });
        self.track(core, task.abort_handle());
    }

    /// Stores a full list with its tag (one transaction; a list without a tag forgets
    /// the stored one), or takes the stored list a `304` confirmed, then applies the
    /// histories and tells the engine: the same events for both, so a `304` is
    /// processed exactly as the `200` that stored the list would be again.
    fn on_tickets_answer(
        self: &Arc<Self>,
        core: &mut Core,
        answer: Result<TicketsAnswer, ClientError>,
    ) {
        let now = self.clock.now_ms();
        let stored = answer.and_then(|answer| match answer {
            TicketsAnswer::Full { tickets, etag } => self
                .cache
                .store_ticket_list(&tickets, etag.as_deref(), now)
                .map(|()| tickets)
                .map_err(ClientError::from),
            TicketsAnswer::Stored(tickets) => Ok(tickets),
        });
        let tickets = match stored {
            Ok(tickets) => tickets,
            Err(e) => {
                core.failure_details.insert(None, e.to_string());
                let event = Event::TicketsFailed {
                    error: FailureKind::BadData,
                    now_ms: now,
                };
                self.tickets_failed(core, event, e);
                return;
            }
        };
        let histories = tickets
            .iter()
            .filter_map(|t| t.history.map(|seen| (t.id.clone(), seen)))
            .collect();
        let verdicts = self.apply_histories(core, histories);
        let tickets = tickets
            .iter()
            .map(|t| TicketSeq {
                request_id: t.id.clone(),
                // A stale entry's sequence belongs to an older history.
                last_message_sequence: t
                    .last_message_sequence
                    .filter(|_| verdicts.get(&t.id) != Some(&HistoryVerdict::Stale)),
            })
            .collect();
        self.handle(
            core,
            Event::TicketsLoaded {
                tickets,
                now_ms: now,
            },
        );
    }

    /// Reports a failed refresh to the engine and records it for a waiting
    /// `refresh_tickets` (success is recorded when the engine announces the new list).
    fn tickets_failed(self: &Arc<Self>, core: &mut Core, event: Event, error: ClientError) {
        self.handle(core, event);
        core.tickets_serial += 1;
        core.tickets_error = Some(error);
        self.changed.send_modify(|generation| *generation += 1);
    }

    // ------------------------------------------------------------------ sends

    /// Starts the POST of an outbox entry, or answers at once when the entry was
    /// already reconciled (its WebSocket echo or a page arrived first).
    fn dispatch_send(
        self: &Arc<Self>,
        core: &mut Core,
        request_id: String,
        client_temp_id: String,
    ) -> Option<Event> {
        let now = self.clock.now_ms();
        let entry = match self.cache.outbox_entry(&client_temp_id) {
            Ok(entry) => entry,
            Err(e) => {
                self.cache_failed(Some(&request_id), &e.into());
                return Some(Event::SendFailed {
                    request_id,
                    client_temp_id,
                    error: FailureKind::Network,
                    now_ms: now,
                });
            }
        };
        let Some(entry) = entry else {
            let stored = self
                .cache
                .get_cached_messages(&request_id, None)
                .ok()
                .and_then(|messages| {
                    messages.into_iter().find(|m| {
                        m.client_temp_id.as_deref() == Some(client_temp_id.as_str())
                            && m.sequence_number.is_some()
                    })
                });
            return Some(match (stored, self.cache.summary(&request_id)) {
                (Some(message), Ok(summary)) => Event::SendSucceeded {
                    request_id,
                    client_temp_id,
                    seq: message.sequence_number.unwrap_or_default(),
                    summary,
                    now_ms: now,
                },
                _ => Event::SendFailed {
                    request_id,
                    client_temp_id,
                    error: FailureKind::Rejected,
                    now_ms: now,
                },
            });
        };
        let shared = Arc::clone(self);
        let task = self.runtime.spawn(async move {
            let now = shared.clock.now_ms();
            let result = shared
                .api
                .send_message(&request_id, &entry.content, &client_temp_id, now)
                .await;
            let mut core = shared.lock();
            if Shared::is_closed(&core) {
                return;
            }
            let now = shared.clock.now_ms();
            let event = match result {
                Ok(server_copy) => match shared.cache.reconcile_sent(&client_temp_id, &server_copy)
                {
                    Ok(change) => {
                        shared.publish_change(&change);
                        Event::SendSucceeded {
                            request_id,
                            client_temp_id,
                            seq: server_copy.sequence_number.unwrap_or_default(),
                            summary: change.summary,
                            now_ms: now,
                        }
                    }
                    Err(e) => {
                        core.record_send_failure(&client_temp_id);
                        core.failure_details
                            .insert(Some(request_id.clone()), e.to_string());
                        Event::SendFailed {
                            request_id,
                            client_temp_id,
                            error: FailureKind::BadData,
                            now_ms: now,
                        }
                    }
                },
                Err(e) => {
                    tracing::info!(chat = %request_id, "send failed: {e}");
                    core.record_send_failure(&client_temp_id);
                    let error = failure_kind(&e);
                    core.failure_details
                        .insert(Some(request_id.clone()), e.to_string());
                    Event::SendFailed {
                        request_id,
                        client_temp_id,
                        error,
                        now_ms: now,
                    }
                }
            };
            shared.handle(&mut core, event);
        });
        self.track(core, task.abort_handle());
        None
    }

    // ------------------------------------------------------------------ timers

    fn schedule_timer(self: &Arc<Self>, core: &mut Core, key: TimerKey, at_ms: i64) {
        let delay = Duration::from_millis(u64::try_from(at_ms - self.clock.now_ms()).unwrap_or(0));
        let instance = self.next_id();
        let shared = Arc::clone(self);
        let fired_key = key.clone();
        let task = self.runtime.spawn(async move {
            tokio::time::sleep(delay).await;
            let mut core = shared.lock();
            if Shared::is_closed(&core) {
                return;
            }
            if core
                .timers
                .get(&fired_key)
                .is_some_and(|(id, _)| *id == instance)
            {
                core.timers.remove(&fired_key);
            }
            let now = shared.clock.now_ms();
            shared.handle(
                &mut core,
                Event::TimerFired {
                    key: fired_key,
                    now_ms: now,
                },
            );
        });
        if let Some((_, previous)) = core.timers.insert(key, (instance, task.abort_handle())) {
            previous.abort();
        }
    }

    // ------------------------------------------------------------------ realtime

    fn connect_realtime(self: &Arc<Self>, core: &mut Core) {
        let connection = self.next_id();
        let (sender, mut receiver) = mpsc::channel(256);
        let handle = {
            let _entered = self.runtime.enter();
            realtime::connect(self.api.clone(), self.config.realtime.clone(), sender)
        };
        core.realtime = Some((connection, handle));
        let shared = Arc::clone(self);
        let reader = self.runtime.spawn(async move {
            while let Some(first) = receiver.recv().await {
                // Group commit: whatever is queued already is handled under one lock,
                // and consecutive pushes of a chat are stored in one transaction.
                let mut events = vec![first];
                while events.len() < PUSH_BATCH_MAX {
                    match receiver.try_recv() {
                        Ok(event) => events.push(event),
                        Err(_) => break,
                    }
                }
                let last = events.iter().any(|event| {
                    matches!(
                        event,
                        RealtimeEvent::Disconnected { .. } | RealtimeEvent::Unauthorized
                    )
                });
                let mut core = shared.lock();
                if Shared::is_closed(&core)
                    || core.realtime.as_ref().map(|(id, _)| *id) != Some(connection)
                {
                    return;
                }
                shared.on_realtime_batch(&mut core, events);
                if last {
                    return;
                }
            }
        });
        self.track(core, reader.abort_handle());
    }

    /// Handles realtime events in order, except that the pushes of one chat are
    /// gathered and stored in one transaction: a `ticket.updated` of that chat in the
    /// epoch already applied is handled after them (it only ever raises the backend
    /// sequence, which the pushes raise as far); any other event, and a `ticket.updated`
    /// that may announce a rewrite, first stores what was gathered.
    fn on_realtime_batch(self: &Arc<Self>, core: &mut Core, events: Vec<RealtimeEvent>) {
        let mut pushes: Option<(String, Vec<ChatMessage>)> = None;
        let mut deferred: Vec<RealtimeEvent> = Vec::new();
        for event in events {
            match event {
                RealtimeEvent::Frame(RealtimeFrame::MessageNew {
                    request_id,
                    message,
                }) => {
                    if pushes.as_ref().is_some_and(|(chat, _)| *chat != request_id) {
                        self.flush_pushes(core, &mut pushes, &mut deferred);
                    }
                    pushes
                        .get_or_insert_with(|| (request_id, Vec::new()))
                        .1
                        .push(*message);
                }
                RealtimeEvent::Frame(RealtimeFrame::TicketUpdated {
                    ref request_id,
                    ref history,
                    ..
                }) if pushes.as_ref().is_some_and(|(chat, _)| chat == request_id)
                    && history.is_none_or(|seen| {
                        core.history_epochs.get(request_id) == Some(&seen.epoch)
                    }) =>
                {
                    deferred.push(event);
                }
                other => {
                    self.flush_pushes(core, &mut pushes, &mut deferred);
                    self.on_realtime(core, other);
                }
            }
        }
        self.flush_pushes(core, &mut pushes, &mut deferred);
    }

    /// Stores the gathered pushes, then applies the events deferred behind them.
    fn flush_pushes(
        self: &Arc<Self>,
        core: &mut Core,
        pushes: &mut Option<(String, Vec<ChatMessage>)>,
        deferred: &mut Vec<RealtimeEvent>,
    ) {
        if let Some((request_id, messages)) = pushes.take() {
            self.store_pushes(core, &request_id, messages);
        }
        for event in deferred.drain(..) {
            self.on_realtime(core, event);
        }
    }

    fn on_realtime(self: &Arc<Self>, core: &mut Core, event: RealtimeEvent) {
        let now = self.clock.now_ms();
        match event {
            RealtimeEvent::Connected => {
                tracing::info!("realtime connected");
                self.handle(core, Event::RealtimeConnected { now_ms: now });
            }
            RealtimeEvent::Frame(RealtimeFrame::MessageNew {
                request_id,
                message,
            }) => self.store_pushes(core, &request_id, vec![*message]),
            RealtimeEvent::Frame(RealtimeFrame::TicketUpdated {
                request_id,
                last_message_sequence,
                history,
            }) => {
                let verdict = history.map(|seen| self.apply_history(core, &request_id, &seen));
                if verdict == Some(HistoryVerdict::Stale) {
                    return;
                }
                // Null means "no information": nothing to learn. After a rewrite the
                // frame's sequence may be lower than any before: it is the new truth.
                if let Some(seq) = last_message_sequence {
                    self.handle(
                        core,
                        Event::BackendSeqObserved {
                            request_id,
                            seq,
                            authoritative: matches!(
                                verdict,
                                Some(HistoryVerdict::Rewritten { .. })
                            ),
                            now_ms: now,
                        },
                    );
                }
            }
            RealtimeEvent::Frame(RealtimeFrame::Ignored) => {}
            RealtimeEvent::BadFrame(e) => {
                tracing::warn!("realtime frame rejected: {e}");
                core.failure_details.insert(None, e.to_string());
                self.handle(
                    core,
                    Event::PushRejected {
                        request_id: None,
                        now_ms: now,
                    },
                );
            }
            RealtimeEvent::Disconnected { reason } => {
                tracing::info!("realtime disconnected: {reason}");
                core.realtime = None;
                self.handle(core, Event::RealtimeDisconnected { now_ms: now });
            }
            RealtimeEvent::Unauthorized => {
                tracing::warn!("realtime upgrade refused: not authorized");
                core.realtime = None;
                self.handle(core, Event::RealtimeUnauthorized { now_ms: now });
            }
        }
    }

    /// Applies a reported history epoch to the chat's cache (the client rule of
    /// protocol section 5): [`Shared::apply_histories`] for one chat.
    fn apply_history(
        self: &Arc<Self>,
        core: &mut Core,
        request_id: &str,
        seen: &HistoryEpoch,
    ) -> HistoryVerdict {
        let verdicts = self.apply_histories(core, vec![(request_id.to_string(), *seen)]);
        verdicts
            .get(request_id)
            .copied()
            .unwrap_or(HistoryVerdict::Current)
    }

    /// Applies the history epochs one answer reported (one per chat) to the cache in one
    /// transaction: a rewrite's removals are published and the engine gets the fresh
    /// summary. Epochs this client already applied cost nothing; a cache failure is
    /// reported and the answers treated as current. Returns each chat's verdict.
    fn apply_histories(
        self: &Arc<Self>,
        core: &mut Core,
        answers: Vec<(String, HistoryEpoch)>,
    ) -> HashMap<String, HistoryVerdict> {
        let mut verdicts = HashMap::with_capacity(answers.len());
        let pending: Vec<(String, HistoryEpoch)> = answers
            .into_iter()
            .filter(|(request_id, seen)| {
                let known = core.history_epochs.get(request_id) == Some(&seen.epoch);
                if known {
                    verdicts.insert(request_id.clone(), HistoryVerdict::Current);
                }
                !known
            })
            .collect();
        if pending.is_empty() {
            return verdicts;
        }
        let borrowed: Vec<(&str, HistoryEpoch)> = pending
            .iter()
            .map(|(id, seen)| (id.as_str(), *seen))
            .collect();
        let applied = match self.cache.apply_histories(&borrowed) {
            Ok(applied) => applied,
            Err(e) => {
                let chat = (pending.len() == 1).then(|| pending[0].0.as_str());
                self.cache_failed(chat, &e.into());
                return verdicts;
            }
        };
        for ((request_id, seen), (verdict, change)) in pending.into_iter().zip(applied) {
            if verdict != HistoryVerdict::Stale {
                core.history_epochs.insert(request_id.clone(), seen.epoch);
            }
            if let Some(change) = change {
                tracing::info!(
                    chat = %request_id,
                    "history rewritten (epoch {}): {verdict:?}, {} cached messages discarded",
                    seen.epoch,
                    change.removed_ids.len()
                );
                self.publish_change(&change);
                let now = self.clock.now_ms();
                self.handle(
                    core,
                    Event::CacheUpdated {
                        request_id: request_id.clone(),
                        summary: change.summary,
                        now_ms: now,
                    },
                );
            }
            verdicts.insert(request_id, verdict);
        }
        verdicts
    }

    /// Stores pushed messages of one chat (from the socket or `on_new_message`) in one
    /// transaction with the backend sequence they prove, and tells the engine. A
    /// message that breaks the contract is rejected alone; the others are stored.
    pub(crate) fn store_pushes(
        self: &Arc<Self>,
        core: &mut Core,
        request_id: &str,
        messages: Vec<ChatMessage>,
    ) {
        let mut valid = Vec::with_capacity(messages.len());
        for message in messages {
            if message.request_id != request_id {
                self.reject_push(
                    core,
                    request_id,
                    ClientError::BadData(format!(
                        "a push for {request_id} carries a message of {}",
                        message.request_id
                    )),
                );
            } else if message.sequence_number.is_none_or(|seq| seq < 1) {
                self.reject_push(
                    core,
                    request_id,
                    ClientError::BadData(format!(
                        "pushed message {} has no valid sequence",
                        message.id
                    )),
                );
            } else {
                valid.push(message);
            }
        }
        let Some(seq) = valid.iter().filter_map(|m| m.sequence_number).max() else {
            return;
        };
        match self.cache.store_pushed(request_id, &valid) {
            Ok(change) => {
                self.publish_change(&change);
                let now = self.clock.now_ms();
                self.handle(
                    core,
                    Event::PushStored {
                        request_id: request_id.to_string(),
                        seq,
                        summary: change.summary,
                        now_ms: now,
                    },
                );
            }
            Err(CacheError::InvalidData(_)) if valid.len() > 1 => {
                // One message broke a cache rule: store the others one by one.
                for message in valid {
                    self.store_pushes(core, request_id, vec![message]);
                }
            }
            Err(e) => self.reject_push(core, request_id, e.into()),
        }
    }

    fn reject_push(self: &Arc<Self>, core: &mut Core, request_id: &str, error: ClientError) {
        tracing::warn!(chat = %request_id, "push not stored: {error}");
        core.failure_details
            .insert(Some(request_id.to_string()), error.to_string());
        let now = self.clock.now_ms();
        self.handle(
            core,
            Event::PushRejected {
                request_id: Some(request_id.to_string()),
                now_ms: now,
            },
        );
    }
}

/// The error a waiter reports when the engine could not even start the work.
pub(crate) fn offline_or_blocked(engine: &Engine) -> ClientError {
    if engine.is_auth_blocked() {
        ClientError::Unauthorized("sign in again to sync".into())
    } else {
        ClientError::Network("offline".into())
    }
}
