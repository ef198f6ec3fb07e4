//! [`Event`]: everything the driver tells the engine.
//!
//! Every event that follows a cache write carries the chat's fresh [`SeqSummary`],
//! read from the cache *after* the write. The driver feeds events one at a time, in
//! the order the underlying things happened (cache writes in particular).

use crate::types::SeqRange;
use crate::validate::SeqSummary;

/// Why a request failed, as the driver classifies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// No connection, DNS, reset: retryable.
    Network,
    /// The request timed out: retryable.
    Timeout,
    /// The server answered 5xx: retryable.
    Server5xx,
    /// 401 even after the driver asked the token provider once more: not retried
    /// until [`Event::CredentialsRenewed`].
    Unauthorized,
    /// The answer failed validation (nothing of it was stored): retryable, the chat
    /// is never marked SYNCED on it.
    BadData,
    /// 404: the chat (ticket) does not exist (any more): not retried.
    NotFound,
    /// Any other 4xx: the request itself is wrong; not retried (a send becomes failed).
    Rejected,
}

impl FailureKind {
    /// True for the failures worth retrying with backoff.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            FailureKind::Network
                | FailureKind::Timeout
                | FailureKind::Server5xx
                | FailureKind::BadData
        )
    }

    /// Lower-case spelling for logs and scenario files (`network`, `timeout`, `server5xx`,
    /// `unauthorized`, `bad-data`, `not-found`, `rejected`).
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Network => "network",
            FailureKind::Timeout => "timeout",
            FailureKind::Server5xx => "server5xx",
            FailureKind::Unauthorized => "unauthorized",
            FailureKind::BadData => "bad-data",
            FailureKind::NotFound => "not-found",
            FailureKind::Rejected => "rejected",
        }
    }

    /// Parses [`FailureKind::as_str`]'s spelling.
    pub fn parse(text: &str) -> Option<FailureKind> {
        [
            FailureKind::Network,
            FailureKind::Timeout,
            FailureKind::Server5xx,
            FailureKind::Unauthorized,
            FailureKind::BadData,
            FailureKind::NotFound,
            FailureKind::Rejected,
        ]
        .into_iter()
        .find(|k| k.as_str() == text)
    }
}

/// One ticket of a ticket-list answer, reduced to what the engine needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketSeq {
    /// The chat id.
    pub request_id: String,
    /// The ticket's `lastMessageSequence`; `None` (null) = the backend cannot say.
    pub last_message_sequence: Option<i64>,
}

/// Something that happened, reported by the driver. Time enters only through `now_ms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The client started (or signed in): the engine asks for realtime and the ticket list.
    Started {
        /// Current time.
        now_ms: i64,
    },
    /// The ticket list answered (the driver already stored it). Metadata only.
    TicketsLoaded {
        /// Every ticket of the answer.
        tickets: Vec<TicketSeq>,
        /// Current time.
        now_ms: i64,
    },
    /// The ticket-list request failed.
    TicketsFailed {
        /// Why.
        error: FailureKind,
        /// Current time.
        now_ms: i64,
    },
    /// The user opened a chat; the driver already returned the cached messages to the UI.
    ChatOpened {
        /// The chat.
        request_id: String,
        /// The chat's cache summary.
        summary: SeqSummary,
        /// The backend sequence persisted in the cache (`last_known_backend_seq`), if any.
        stored_backend_seq: Option<i64>,
        /// Current time.
        now_ms: i64,
    },
    /// The user closed (left) a chat.
    ChatClosed {
        /// The chat.
        request_id: String,
        /// Current time.
        now_ms: i64,
    },
    /// `resync(request_id)`: runs only when the chat is OUT_OF_SYNC.
    ResyncRequested {
        /// The chat.
        request_id: String,
        /// Current time.
        now_ms: i64,
    },
    /// `manual_resync(request_id)`: always runs (at least one network round trip).
    ManualResyncRequested {
        /// The chat.
        request_id: String,
        /// Current time.
        now_ms: i64,
    },
    /// Realtime pushes carried messages up to `seq`; the driver validated and stored
    /// them, and raised the persisted backend sequence to at least `seq` in the same
    /// transaction (`MessageCache::store_pushed`), so no `PersistBackendSeq` follows.
    PushStored {
        /// The chat.
        request_id: String,
        /// The highest sequence among the stored pushes.
        seq: i64,
        /// Fresh summary after storing it.
        summary: SeqSummary,
        /// Current time.
        now_ms: i64,
    },
    /// A realtime frame failed validation (nothing was stored). The engine reports it
    /// and asks for fresh metadata, so whatever the frame carried is found missing
    /// by validation instead of being lost silently.
    PushRejected {
        /// The chat, when the frame named one.
        request_id: Option<String>,
        /// Current time.
        now_ms: i64,
    },
    /// `update_backend_sequence`, or a `ticket.updated` push: a backend sequence learned
    /// without messages.
    BackendSeqObserved {
        /// The chat.
        request_id: String,
        /// The sequence.
        seq: i64,
        /// True for a snapshot (may lower the known value: the server went back);
        /// false for a push (only raises).
        authoritative: bool,
        /// Current time.
        now_ms: i64,
    },
    /// A [`crate::engine::Command::FetchMessages`] answered; the page was stored.
    FetchCompleted {
        /// The chat.
        request_id: String,
        /// The command's `fetch_id`.
        fetch_id: u64,
        /// Fresh summary after storing the page.
        summary: SeqSummary,
        /// The page's `lastMessageSequence` (`None` when absent or null).
        last_message_sequence: Option<i64>,
        /// Lowest and highest sequence in the page; `None` for an empty page.
        page: Option<SeqRange>,
        /// True when the server has more messages in the query's direction.
        has_more: bool,
        /// Current time.
        now_ms: i64,
    },
    /// A [`crate::engine::Command::FetchMessages`] failed; nothing was stored.
    FetchFailed {
        /// The chat.
        request_id: String,
        /// The command's `fetch_id`.
        fetch_id: u64,
        /// Why.
        error: FailureKind,
        /// Current time.
        now_ms: i64,
    },
    /// The driver executed `SetWindowStart` or `TruncateAbove`; the chat's fresh summary.
    CacheUpdated {
        /// The chat.
        request_id: String,
        /// Fresh summary.
        summary: SeqSummary,
        /// Current time.
        now_ms: i64,
    },
    /// `load_earlier`: fill (the top of) a recorded history gap, one page.
    LoadEarlier {
        /// The chat.
        request_id: String,
        /// The history gap to fill (the driver takes the highest of `SeqRuns::history_gaps`).
        gap: SeqRange,
        /// Current time.
        now_ms: i64,
    },
    /// An outgoing message is in the persistent outbox (new, or found at start-up).
    OutgoingQueued {
        /// The chat.
        request_id: String,
        /// Its idempotency key.
        client_temp_id: String,
        /// True when the outbox row is already marked failed (found at start-up).
        failed: bool,
        /// Current time.
        now_ms: i64,
    },
    /// The server stored an outgoing message as `seq`; the driver reconciled the local row.
    SendSucceeded {
        /// The chat.
        request_id: String,
        /// Its idempotency key.
        client_temp_id: String,
        /// The sequence the server gave it.
        seq: i64,
        /// Fresh summary after the reconciliation.
        summary: SeqSummary,
        /// Current time.
        now_ms: i64,
    },
    /// Sending an outgoing message failed.
    SendFailed {
        /// The chat.
        request_id: String,
        /// Its idempotency key.
        client_temp_id: String,
        /// Why.
        error: FailureKind,
        /// Current time.
        now_ms: i64,
    },
    /// `retry_send`: the user asks to send a failed message again.
    RetrySend {
        /// The chat.
        request_id: String,
        /// Its idempotency key.
        client_temp_id: String,
        /// Current time.
        now_ms: i64,
    },
    /// The platform reports no network (`on_connectivity_lost`).
    ConnectivityLost {
        /// Current time.
        now_ms: i64,
    },
    /// The platform reports network again (`on_connectivity_restored`).
    ConnectivityRestored {
        /// Current time.
        now_ms: i64,
    },
    /// The realtime socket is up (first connect or reconnect: counts as connectivity restored).
    RealtimeConnected {
        /// Current time.
        now_ms: i64,
    },
    /// The realtime socket closed, failed to connect, or was found dead.
    RealtimeDisconnected {
        /// Current time.
        now_ms: i64,
    },
    /// The app came to the foreground (`on_app_resume`).
    AppResumed {
        /// Current time.
        now_ms: i64,
    },
    /// `background_revalidate`: metadata only.
    BackgroundRevalidate {
        /// Current time.
        now_ms: i64,
    },
    /// `refresh_tickets`: the app asks for the ticket list now (metadata only). A
    /// scheduled retry is not waited for; a request already in flight is followed by
    /// one more, so the answer postdates the call.
    TicketsRequested {
        /// Current time.
        now_ms: i64,
    },
    /// The server refused the realtime upgrade with 401 even after a fresh token:
    /// like an HTTP 401, all network work stops until `CredentialsRenewed`.
    RealtimeUnauthorized {
        /// Current time.
        now_ms: i64,
    },
    /// New credentials after an auth error: network work resumes.
    CredentialsRenewed {
        /// Current time.
        now_ms: i64,
    },
    /// A timer the engine scheduled is due.
    TimerFired {
        /// The key of the `ScheduleTimer` command.
        key: crate::engine::TimerKey,
        /// Current time.
        now_ms: i64,
    },
    /// `sign_out`: forget everything.
    SignedOut {
        /// Current time.
        now_ms: i64,
    },
}

impl Event {
    /// The event's time.
    pub fn now_ms(&self) -> i64 {
        match self {
            Event::Started { now_ms }
            | Event::TicketsLoaded { now_ms, .. }
            | Event::TicketsFailed { now_ms, .. }
            | Event::ChatOpened { now_ms, .. }
            | Event::ChatClosed { now_ms, .. }
            | Event::ResyncRequested { now_ms, .. }
            | Event::ManualResyncRequested { now_ms, .. }
            | Event::PushStored { now_ms, .. }
            | Event::PushRejected { now_ms, .. }
            | Event::BackendSeqObserved { now_ms, .. }
            | Event::FetchCompleted { now_ms, .. }
            | Event::FetchFailed { now_ms, .. }
            | Event::CacheUpdated { now_ms, .. }
            | Event::LoadEarlier { now_ms, .. }
            | Event::OutgoingQueued { now_ms, .. }
            | Event::SendSucceeded { now_ms, .. }
            | Event::SendFailed { now_ms, .. }
            | Event::RetrySend { now_ms, .. }
            | Event::ConnectivityLost { now_ms }
            | Event::ConnectivityRestored { now_ms }
            | Event::RealtimeConnected { now_ms }
            | Event::RealtimeDisconnected { now_ms }
            | Event::AppResumed { now_ms }
            | Event::BackgroundRevalidate { now_ms }
            | Event::TicketsRequested { now_ms }
            | Event::RealtimeUnauthorized { now_ms }
            | Event::CredentialsRenewed { now_ms }
            | Event::TimerFired { now_ms, .. }
            | Event::SignedOut { now_ms } => *now_ms,
        }
    }
}
