//! [`Command`]: everything the engine asks the driver to do, and the observer
//! [`Notification`]s among them.
//!
//! Commands of one [`crate::engine::Engine::handle`] call are executed in order.
//! Each command's doc says which event the driver must feed back.

use std::fmt;

use crate::engine::event::FailureKind;
use crate::types::{MessageStatus, SyncState};

/// Which messages a [`Command::FetchMessages`] asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FetchQuery {
    /// Messages with a sequence `> seq`, ascending, at most `limit`.
    After(i64),
    /// Messages with a sequence `< seq`: the `limit` newest of them.
    Before(i64),
    /// The `limit` newest messages of the chat.
    Latest,
}

/// Identifies a timer. At most one timer per key exists: scheduling a key again moves it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TimerKey {
    /// A push gap's grace period is over: fetch the missing range unless it closed.
    GapGrace(String),
    /// Retry a failed resync (capped exponential backoff; open chats only).
    ResyncRetry(String),
    /// Periodic revalidation of an open chat.
    Revalidate(String),
    /// Retry the chat's outbox after a retryable send failure.
    SendRetry(String),
    /// Retry a failed ticket-list refresh.
    TicketsRetry,
    /// Reconnect the realtime socket.
    RealtimeReconnect,
    /// A start or restoration waited long enough for the socket: refresh the ticket
    /// list without it.
    SocketWait,
}

impl fmt::Display for TimerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimerKey::GapGrace(id) => write!(f, "gap-grace {id}"),
            TimerKey::ResyncRetry(id) => write!(f, "resync-retry {id}"),
            TimerKey::Revalidate(id) => write!(f, "revalidate {id}"),
            TimerKey::SendRetry(id) => write!(f, "send-retry {id}"),
            TimerKey::TicketsRetry => write!(f, "tickets-retry"),
            TimerKey::RealtimeReconnect => write!(f, "realtime-reconnect"),
            TimerKey::SocketWait => write!(f, "socket-wait"),
        }
    }
}

/// What observers are told. Delivered in the order emitted (so in order per chat).
///
/// `MessagesChanged` is not here: the driver emits it, since only it knows which rows
/// a page, a push, a send or a truncation inserted, updated or removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// A chat's sync state changed (emitted only on a real change).
    SyncStateChanged {
        /// The chat.
        request_id: String,
        /// The new state.
        state: SyncState,
    },
    /// `is_chat_syncing` changed: true only while a resync's network work runs.
    SyncingChanged {
        /// The chat.
        request_id: String,
        /// The new value.
        syncing: bool,
    },
    /// A ticket-list answer was applied.
    TicketsChanged,
    /// A `load_earlier` finished (its page is stored when `ok`).
    LoadEarlierFinished {
        /// The chat.
        request_id: String,
        /// False when it failed or could not run (offline, signed out, auth error).
        ok: bool,
    },
    /// Something went wrong that the user or the app may want to know.
    Error {
        /// The chat concerned, if any.
        request_id: Option<String>,
        /// What kind of failure.
        kind: FailureKind,
        /// Human-readable details.
        message: String,
    },
}

/// One thing the driver must do. See each variant for the event to feed back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Request messages. Feed back exactly one [`crate::engine::Event::FetchCompleted`]
    /// (after validating and upserting the page) or [`crate::engine::Event::FetchFailed`]
    /// with the same `fetch_id`. At most one fetch per chat is in flight at any time.
    FetchMessages {
        /// The chat.
        request_id: String,
        /// Correlates the answer.
        fetch_id: u64,
        /// Which messages.
        query: FetchQuery,
        /// At most this many (`<= page_size`).
        limit: i64,
    },
    /// `cache.set_window_start(seq)` (a windowed resync records its gap); then feed back
    /// [`crate::engine::Event::CacheUpdated`].
    SetWindowStart {
        /// The chat.
        request_id: String,
        /// The first sequence of the newest window.
        seq: i64,
    },
    /// The server went back: delete this chat's *server* messages with a sequence above
    /// `seq`, keep every unsent outgoing message; then feed back
    /// [`crate::engine::Event::CacheUpdated`].
    TruncateAbove {
        /// The chat.
        request_id: String,
        /// The backend's (lower) sequence.
        seq: i64,
    },
    /// Persist the chat's sync state (and `last_validated_at` when `Some`). No feedback.
    PersistSyncState {
        /// The chat.
        request_id: String,
        /// The new state.
        state: SyncState,
        /// When a validation produced it.
        validated_at_ms: Option<i64>,
    },
    /// Persist `last_known_backend_seq`. No feedback.
    PersistBackendSeq {
        /// The chat.
        request_id: String,
        /// The merged value.
        seq: i64,
    },
    /// Persist UNKNOWN for every chat of the cache (connectivity restored). No feedback.
    MarkAllUnknown,
    /// Fetch the ticket list (metadata only). Feed back `TicketsLoaded` or `TicketsFailed`.
    RefreshTickets,
    /// POST the outbox message `client_temp_id` (with its `clientTempId`). Feed back
    /// `SendSucceeded` or `SendFailed`. At most one per chat is in flight.
    SendOutgoing {
        /// The chat.
        request_id: String,
        /// The outbox entry.
        client_temp_id: String,
    },
    /// Persist the status of an outbox message (failed, or pending again). No feedback;
    /// the driver emits `MessagesChanged`.
    SetOutgoingStatus {
        /// The chat.
        request_id: String,
        /// The outbox entry.
        client_temp_id: String,
        /// `Pending` or `Failed`.
        status: MessageStatus,
    },
    /// Open the realtime socket. Feed back `RealtimeConnected` or `RealtimeDisconnected`.
    ConnectRealtime,
    /// Close the realtime socket (sign-out). No feedback expected.
    DisconnectRealtime,
    /// Fire `TimerFired { key }` at `at_ms` (replacing any timer with this key).
    ScheduleTimer {
        /// The timer.
        key: TimerKey,
        /// When, on the driver's clock.
        at_ms: i64,
    },
    /// Drop the timer `key` if it has not fired (a late fire is ignored anyway).
    CancelTimer {
        /// The timer.
        key: TimerKey,
    },
    /// Sign-out: delete the cache and the outbox. No feedback.
    ClearLocalData,
    /// Deliver to observers.
    Notify(Notification),
}

impl fmt::Display for Command {
    /// The one-line spelling used by scenario files, e.g. `fetch 42 after 10 limit 5`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::FetchMessages {
                request_id,
                query,
                limit,
                ..
            } => match query {
                FetchQuery::After(s) => write!(f, "fetch {request_id} after {s} limit {limit}"),
                FetchQuery::Before(s) => write!(f, "fetch {request_id} before {s} limit {limit}"),
                FetchQuery::Latest => write!(f, "fetch {request_id} latest limit {limit}"),
            },
            Command::SetWindowStart { request_id, seq } => {
                write!(f, "set-window-start {request_id} {seq}")
            }
            Command::TruncateAbove { request_id, seq } => {
                write!(f, "truncate-above {request_id} {seq}")
            }
            Command::PersistSyncState {
                request_id, state, ..
            } => write!(f, "persist-state {request_id} {}", state.as_str()),
            Command::PersistBackendSeq { request_id, seq } => {
                write!(f, "persist-backend {request_id} {seq}")
            }
            Command::MarkAllUnknown => write!(f, "mark-all-unknown"),
            Command::RefreshTickets => write!(f, "refresh-tickets"),
            Command::SendOutgoing {
                request_id,
                client_temp_id,
            } => write!(f, "send {request_id} {client_temp_id}"),
            Command::SetOutgoingStatus {
                request_id,
                client_temp_id,
                status,
            } => write!(
                f,
                "set-outgoing-status {request_id} {client_temp_id} {}",
                status.as_str()
            ),
            Command::ConnectRealtime => write!(f, "connect-realtime"),
            Command::DisconnectRealtime => write!(f, "disconnect-realtime"),
            Command::ScheduleTimer { key, at_ms } => write!(f, "schedule {key} at {at_ms}"),
            Command::CancelTimer { key } => write!(f, "cancel {key}"),
            Command::ClearLocalData => write!(f, "clear-local-data"),
            Command::Notify(n) => match n {
                Notification::SyncStateChanged { request_id, state } => {
                    write!(f, "notify state {request_id} {}", state.as_str())
                }
                Notification::SyncingChanged {
                    request_id,
                    syncing,
                } => write!(f, "notify syncing {request_id} {syncing}"),
                Notification::TicketsChanged => write!(f, "notify tickets-changed"),
                Notification::LoadEarlierFinished { request_id, ok } => write!(
                    f,
                    "notify load-earlier-finished {request_id} {}",
                    if *ok { "ok" } else { "failed" }
                ),
                Notification::Error {
                    request_id, kind, ..
                } => match request_id {
                    Some(id) => write!(f, "notify error {id} {}", kind.as_str()),
                    None => write!(f, "notify error {}", kind.as_str()),
                },
            },
        }
    }
}
