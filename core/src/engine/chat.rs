//! Per-chat bookkeeping of the engine (private).

use crate::engine::command::FetchQuery;
use crate::types::{SeqRange, SyncState};
use crate::validate::SeqSummary;

/// Everything the engine remembers about one chat.
#[derive(Debug, Clone, Default)]
pub(crate) struct Chat {
    pub state: SyncState,
    /// The state the cache holds for this chat as far as the engine knows (the last
    /// `PersistSyncState` or `MarkAllUnknown`); `None` = not known, the next persist writes.
    pub persisted: Option<SyncState>,
    /// The merged backend sequence; `None` = unknown.
    pub backend: Option<i64>,
    /// Engine epoch of the last push that raised `backend` (a snapshot issued before
    /// it may not lower `backend`: it is older than the push).
    pub push_raised_epoch: u64,
    /// The cache summary as last reported by the driver.
    pub summary: SeqSummary,
    pub open: bool,
    pub syncing: bool,
    /// Set when connectivity was restored: validation may not declare SYNCED until
    /// fresh metadata (a ticket list or a page's `lastMessageSequence`) arrived.
    pub needs_metadata: bool,
    /// A non-retryable failure stopped automatic runs until reopen / manual / restore.
    pub halted: bool,
    /// A manual resync asked for while an unrelated fetch was in flight.
    pub manual_wanted: bool,
    /// The one fetch of this chat in flight, if any.
    pub fetch: Option<InFlight>,
    /// The running resync or initial load, if any (single-flight).
    pub run: Option<Run>,
    /// A `load_earlier` waiting for the chat's fetch slot.
    pub earlier_queued: Option<SeqRange>,
    /// Failed resync attempts since the last success (backoff exponent).
    pub resync_attempt: u32,
    /// The outbox, in send order.
    pub outbox: Vec<Outgoing>,
    /// Failed send attempts since the last success (backoff exponent).
    pub send_attempt: u32,
}

/// What a fetch in flight is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// A step of the chat's run.
    Run,
    /// A `load_earlier` page.
    Earlier,
    /// A run's fetch whose chat was closed meanwhile: its data is still stored.
    Orphan,
}

#[derive(Debug, Clone)]
pub(crate) struct InFlight {
    pub fetch_id: u64,
    pub purpose: Purpose,
    pub issued_epoch: u64,
    pub query: FetchQuery,
    pub limit: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RunKind {
    /// Empty cache: load the latest window; not a sync decision (no syncing flag).
    InitialLoad,
    /// A resync (automatic or manual): the syncing flag is on while it fetches.
    Resync,
}

/// A first fetch a run makes whatever the validation says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Forced {
    /// The latest window (initial load, or a manual resync of an empty chat).
    LatestWindow,
    /// The messages after the local max (manual resync: learn the backend's state).
    AfterMax(i64),
}

/// Progress of a windowed download (`Latest`, then `Before(..)` pages downward).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Windowed {
    pub target_low: Option<i64>,
    pub lowest: Option<i64>,
}

#[derive(Debug, Clone)]
pub(crate) struct Run {
    pub kind: RunKind,
    pub forced: Option<Forced>,
    pub windowed: Option<Windowed>,
    /// `SetWindowStart` was emitted; waiting for `CacheUpdated`.
    pub awaiting_window: bool,
    /// The previous planned fetch with the summary and backend it was planned on:
    /// planning the same fetch on the same data again means the server did not deliver.
    pub last_plan: Option<(FetchQuery, i64, SeqSummary, i64)>,
}

impl Run {
    pub fn new(kind: RunKind, forced: Option<Forced>) -> Run {
        Run {
            kind,
            forced,
            windowed: None,
            awaiting_window: false,
            last_plan: None,
        }
    }
}

/// The delivery state of one outbox entry, as the engine sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutgoingState {
    /// Waiting for its turn (or for connectivity, or for a retry timer).
    Pending,
    /// A `SendOutgoing` is in flight.
    Sending,
    /// Failed permanently; waits for `RetrySend`.
    Failed,
}

#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    pub client_temp_id: String,
    pub state: OutgoingState,
}
