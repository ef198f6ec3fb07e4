//! [`SyncEvent`]: what observers of a [`crate::client::ChatSyncClient`] receive.

use crate::client::error::ErrorKind;
use crate::observe::EventFilter;
use crate::types::{ChatMessage, SyncState, TicketSummary};

/// One observer event. Events are delivered in the order they happened (so in order
/// per chat), on the client's dispatch thread, never while the client holds a lock.
#[derive(Debug, Clone, PartialEq)]
pub enum SyncEvent {
    /// A chat's sync state changed.
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
    /// Cached messages of a chat changed: exactly these rows.
    MessagesChanged {
        /// The chat.
        request_id: String,
        /// New rows (a page, a push, a queued outgoing message, a server copy).
        inserted: Vec<ChatMessage>,
        /// Rows whose fields changed (an edit, an outgoing message's status).
        updated: Vec<ChatMessage>,
        /// Ids of rows that are gone (a local outgoing row replaced by the server's
        /// copy, messages removed because the server went back, evicted history).
        removed_ids: Vec<String>,
    },
    /// The ticket list was refreshed (metadata only).
    TicketsChanged {
        /// The stored list, most recent activity first.
        tickets: Vec<TicketSummary>,
    },
    /// A `load_earlier` finished.
    LoadEarlierFinished {
        /// The chat.
        request_id: String,
        /// False when it failed or could not run.
        ok: bool,
    },
    /// Connectivity or the realtime socket changed.
    ConnectionChanged {
        /// False after `on_connectivity_lost`, until connectivity is back.
        online: bool,
        /// True while the realtime WebSocket is up.
        realtime_connected: bool,
    },
    /// Something failed that the app or the user may want to know.
    Error {
        /// The chat concerned, if any.
        request_id: Option<String>,
        /// What kind of failure.
        kind: ErrorKind,
        /// Human-readable details.
        message: String,
    },
}

impl SyncEvent {
    /// The chat the event concerns; `None` for client-wide events.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            SyncEvent::SyncStateChanged { request_id, .. }
            | SyncEvent::SyncingChanged { request_id, .. }
            | SyncEvent::MessagesChanged { request_id, .. }
            | SyncEvent::LoadEarlierFinished { request_id, .. } => Some(request_id),
            SyncEvent::Error { request_id, .. } => request_id.as_deref(),
            SyncEvent::TicketsChanged { .. } | SyncEvent::ConnectionChanged { .. } => None,
        }
    }
}

/// A subscription's filter: one chat's events plus every client-wide event, or all.
pub(crate) struct ChatFilter(pub Option<String>);

impl EventFilter<SyncEvent> for ChatFilter {
    fn accepts(&self, event: &SyncEvent) -> bool {
        match (&self.0, event.request_id()) {
            (None, _) | (_, None) => true,
            (Some(wanted), Some(id)) => wanted == id,
        }
    }
}
