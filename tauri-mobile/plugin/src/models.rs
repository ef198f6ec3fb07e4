//! The JSON shapes the webview sees (camelCase), converted from and to the core's
//! types. Kept separate from the core's serde derives so a change in the core
//! never silently changes the JavaScript API (`guest-js/index.ts` mirrors these).
//!
//! Sync states are spelled `UNKNOWN` / `SYNCED` / `OUT_OF_SYNC`, message statuses
//! `pending` / `sent` / `failed` (the core's own spellings).

use chatsync::client::{LoadEarlierOutcome, OpenedChat, SyncEvent};
use chatsync::{
    ChatMessage, ChatSyncMeta, LastMessageInfo, MessageStatus, Sender, SeqRange, SyncState,
    TicketSummary,
};
use serde::{Deserialize, Serialize};

/// Why something failed, as JavaScript sees it (`ErrorKind` in guest-js).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ErrorKindView {
    /// The server could not be reached.
    Network,
    /// A request took too long.
    Timeout,
    /// The server failed (5xx).
    Server,
    /// The token was rejected.
    Unauthorized,
    /// The server sent data that failed validation (nothing was stored).
    BadData,
    /// The chat or message does not exist.
    NotFound,
    /// The server refused the request.
    Rejected,
    /// The local cache failed.
    Cache,
    /// An argument was not acceptable.
    InvalidArgument,
    /// There is no session.
    SignedOut,
}

/// A message's author.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SenderView {
    /// User id.
    pub id: String,
    /// Display name.
    pub full_name: String,
    /// True for the technician side.
    pub is_technician: bool,
}

impl From<Sender> for SenderView {
    fn from(s: Sender) -> Self {
        SenderView {
            id: s.id,
            full_name: s.full_name,
            is_technician: s.is_technician,
        }
    }
}

impl From<SenderView> for Sender {
    fn from(s: SenderView) -> Self {
        Sender {
            id: s.id,
            full_name: s.full_name,
            is_technician: s.is_technician,
        }
    }
}

/// One chat message (every column of the core's `ChatMessage`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageView {
    /// Server id, or `local:<clientTempId>` for a local outgoing message.
    pub id: String,
    /// The chat (ticket) id.
    pub request_id: String,
    /// Author id.
    #[serde(default)]
    pub sender_id: Option<String>,
    /// Author.
    #[serde(default)]
    pub sender: Option<SenderView>,
    /// Text.
    pub content: String,
    /// Per-chat sequence; null only for local outgoing messages.
    #[serde(default)]
    pub sequence_number: Option<i64>,
    /// Screenshot flag.
    #[serde(default)]
    pub is_screenshot: bool,
    /// Screenshot file name.
    #[serde(default)]
    pub screenshot_file_name: Option<String>,
    /// Read by the signed-in user.
    #[serde(default)]
    pub is_read_by_current_user: bool,
    /// Creation time, RFC 3339 UTC.
    pub created_at: String,
    /// Last edit time.
    #[serde(default)]
    pub updated_at: Option<String>,
    /// Delivery status.
    #[serde(default)]
    pub status: MessageStatus,
    /// Legacy temporary id.
    #[serde(default)]
    pub temp_id: Option<String>,
    /// Idempotency key of an outgoing message.
    #[serde(default)]
    pub client_temp_id: Option<String>,
    /// System message flag.
    #[serde(default)]
    pub is_system_message: bool,
    /// Attachment name.
    #[serde(default)]
    pub file_name: Option<String>,
    /// Attachment size in bytes.
    #[serde(default)]
    pub file_size: Option<i64>,
    /// Attachment MIME type.
    #[serde(default)]
    pub file_mime_type: Option<String>,
    /// When the row was cached, ms since the epoch.
    #[serde(default)]
    pub cached_at: i64,
}

impl From<ChatMessage> for MessageView {
    fn from(m: ChatMessage) -> Self {
        MessageView {
            id: m.id,
            request_id: m.request_id,
            sender_id: m.sender_id,
            sender: m.sender.map(Into::into),
            content: m.content,
            sequence_number: m.sequence_number,
            is_screenshot: m.is_screenshot,
            screenshot_file_name: m.screenshot_file_name,
            is_read_by_current_user: m.is_read_by_current_user,
            created_at: m.created_at,
            updated_at: m.updated_at,
            status: m.status,
            temp_id: m.temp_id,
            client_temp_id: m.client_temp_id,
            is_system_message: m.is_system_message,
            file_name: m.file_name,
            file_size: m.file_size,
            file_mime_type: m.file_mime_type,
            cached_at: m.cached_at,
        }
    }
}

impl From<MessageView> for ChatMessage {
    fn from(m: MessageView) -> Self {
        ChatMessage {
            id: m.id,
            request_id: m.request_id,
            sender_id: m.sender_id,
            sender: m.sender.map(Into::into),
            content: m.content,
            sequence_number: m.sequence_number,
            is_screenshot: m.is_screenshot,
            screenshot_file_name: m.screenshot_file_name,
            is_read_by_current_user: m.is_read_by_current_user,
            created_at: m.created_at,
            updated_at: m.updated_at,
            status: m.status,
            temp_id: m.temp_id,
            client_temp_id: m.client_temp_id,
            is_system_message: m.is_system_message,
            file_name: m.file_name,
            file_size: m.file_size,
            file_mime_type: m.file_mime_type,
            cached_at: m.cached_at,
        }
    }
}

fn messages(list: Vec<ChatMessage>) -> Vec<MessageView> {
    list.into_iter().map(Into::into).collect()
}

/// The newest message of a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LastMessageView {
    /// Text.
    pub content: String,
    /// Author's display name.
    pub sender_name: Option<String>,
    /// Creation time.
    pub created_at: String,
    /// Its sequence number.
    pub sequence_number: i64,
}

impl From<LastMessageInfo> for LastMessageView {
    fn from(l: LastMessageInfo) -> Self {
        LastMessageView {
            content: l.content,
            sender_name: l.sender_name,
            created_at: l.created_at,
            sequence_number: l.sequence_number,
        }
    }
}

/// One ticket (metadata only) with its chat's sync state at the time of the call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketView {
    /// Ticket id = the chat's request id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Backend status (`open`, `resolved`, ...).
    pub status: String,
    /// Unread messages.
    pub unread_count: i64,
    /// Last activity.
    pub updated_at: String,
    /// Newest message.
    pub last_message: Option<LastMessageView>,
    /// Highest backend sequence (0 = empty chat, null = unknown).
    pub last_message_sequence: Option<i64>,
    /// The chat's sync state.
    pub sync_state: SyncState,
    /// True while the chat's resync does network work.
    pub is_syncing: bool,
}

impl TicketView {
    /// Combines a ticket with its chat's live state.
    pub fn new(t: TicketSummary, sync_state: SyncState, is_syncing: bool) -> Self {
        TicketView {
            id: t.id,
            title: t.title,
            status: t.status,
            unread_count: t.unread_count,
            updated_at: t.updated_at,
            last_message: t.last_message.map(Into::into),
            last_message_sequence: t.last_message_sequence,
            sync_state,
            is_syncing,
        }
    }
}

/// The seed's `ChatSyncMeta`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetaView {
    /// Chat id.
    pub request_id: String,
    /// Lowest cached sequence.
    pub local_min_seq: Option<i64>,
    /// Highest cached sequence.
    pub local_max_seq: Option<i64>,
    /// Backend's highest sequence as last learned.
    pub last_known_backend_seq: Option<i64>,
    /// Sync state.
    pub sync_state: SyncState,
    /// Last validation time, ms since the epoch (0 = never).
    pub last_validated_at: i64,
    /// Cached messages with a sequence.
    pub message_count: i64,
}

impl From<ChatSyncMeta> for MetaView {
    fn from(m: ChatSyncMeta) -> Self {
        MetaView {
            request_id: m.request_id,
            local_min_seq: m.local_min_seq,
            local_max_seq: m.local_max_seq,
            last_known_backend_seq: m.last_known_backend_seq,
            sync_state: m.sync_state,
            last_validated_at: m.last_validated_at,
            message_count: m.message_count,
        }
    }
}

/// An inclusive range of sequence numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeView {
    /// First sequence.
    pub start: i64,
    /// Last sequence (inclusive).
    pub end: i64,
}

impl From<SeqRange> for RangeView {
    fn from(r: SeqRange) -> Self {
        RangeView {
            start: r.start,
            end: r.end,
        }
    }
}

/// Converts core ranges.
pub fn ranges(list: Vec<SeqRange>) -> Vec<RangeView> {
    list.into_iter().map(Into::into).collect()
}

/// What `open_chat` returns at once, from the cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenedChatView {
    /// Cached messages, oldest first.
    pub messages: Vec<MessageView>,
    /// The chat's meta.
    pub meta: MetaView,
    /// Recorded history gaps.
    pub history_gaps: Vec<RangeView>,
    /// True when a resync is already running.
    pub is_syncing: bool,
}

impl From<OpenedChat> for OpenedChatView {
    fn from(o: OpenedChat) -> Self {
        OpenedChatView {
            messages: messages(o.messages),
            meta: o.meta.into(),
            history_gaps: ranges(o.history_gaps),
            is_syncing: o.is_syncing,
        }
    }
}

/// The result of one "load earlier" page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadEarlierView {
    /// Messages fetched into the gap.
    pub loaded: Vec<MessageView>,
    /// Gaps still recorded.
    pub remaining_gaps: Vec<RangeView>,
}

impl From<LoadEarlierOutcome> for LoadEarlierView {
    fn from(o: LoadEarlierOutcome) -> Self {
        LoadEarlierView {
            loaded: messages(o.loaded),
            remaining_gaps: ranges(o.remaining_gaps),
        }
    }
}

/// The result of `import_legacy_messages`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportReport {
    /// Messages the core accepted.
    pub imported: usize,
    /// Local-only messages (no sequence number): not server data, not imported.
    pub skipped: usize,
    /// Messages the core refused.
    pub rejected: usize,
    /// The first few reasons for refusals.
    pub errors: Vec<String>,
}

/// The active session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionInfo {
    /// Backend origin, normalized (no trailing slash).
    pub server_url: String,
    /// The SQLite cache file of this server.
    pub cache_path: String,
}

/// A state change sent through a subscription's channel (`SyncEvent` in guest-js).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum SyncEventView {
    /// A chat's sync state changed (also the subscription's first snapshot).
    SyncStateChanged {
        /// Chat id.
        request_id: String,
        /// New state.
        state: SyncState,
    },
    /// A chat's resync started or ended its network work.
    SyncingChanged {
        /// Chat id.
        request_id: String,
        /// True while syncing.
        syncing: bool,
    },
    /// Cached messages of a chat changed.
    MessagesChanged {
        /// Chat id.
        request_id: String,
        /// New rows.
        inserted: Vec<MessageView>,
        /// Changed rows.
        updated: Vec<MessageView>,
        /// Removed row ids.
        removed_ids: Vec<String>,
    },
    /// The ticket list changed.
    TicketsChanged {
        /// The new list.
        tickets: Vec<TicketView>,
    },
    /// A "load earlier" run ended.
    LoadEarlierFinished {
        /// Chat id.
        request_id: String,
        /// True when it succeeded.
        ok: bool,
    },
    /// Connectivity or the realtime socket changed.
    ConnectionChanged {
        /// Network reachable (as reported by the platform).
        online: bool,
        /// The WebSocket is connected.
        realtime_connected: bool,
    },
    /// Background work failed.
    Error {
        /// The chat concerned, if any.
        request_id: Option<String>,
        /// Why.
        kind: ErrorKindView,
        /// Human-readable text.
        message: String,
    },
}

impl SyncEventView {
    /// Converts a core event; `ticket_state` gives each ticket's live state.
    pub fn from_event(
        event: SyncEvent,
        ticket_state: impl Fn(&str) -> (SyncState, bool),
    ) -> SyncEventView {
        match event {
            SyncEvent::SyncStateChanged { request_id, state } => {
                SyncEventView::SyncStateChanged { request_id, state }
            }
            SyncEvent::SyncingChanged {
                request_id,
                syncing,
            } => SyncEventView::SyncingChanged {
                request_id,
                syncing,
            },
            SyncEvent::MessagesChanged {
                request_id,
                inserted,
                updated,
                removed_ids,
            } => SyncEventView::MessagesChanged {
                request_id,
                inserted: messages(inserted),
                updated: messages(updated),
                removed_ids,
            },
            SyncEvent::TicketsChanged { tickets } => SyncEventView::TicketsChanged {
                tickets: tickets
                    .into_iter()
                    .map(|t| {
                        let (state, syncing) = ticket_state(&t.id);
                        TicketView::new(t, state, syncing)
                    })
                    .collect(),
            },
            SyncEvent::LoadEarlierFinished { request_id, ok } => {
                SyncEventView::LoadEarlierFinished { request_id, ok }
            }
            SyncEvent::ConnectionChanged {
                online,
                realtime_connected,
            } => SyncEventView::ConnectionChanged {
                online,
                realtime_connected,
            },
            SyncEvent::Error {
                request_id,
                kind,
                message,
            } => SyncEventView::Error {
                request_id,
                kind: kind.into(),
                message,
            },
        }
    }
}
