//! The JSON shapes of `docs/protocol.md`, as this server writes them.
//!
//! Independent of the `chatsync` core crate on purpose: the server and the client are
//! two implementations of the same document. Every field is always written (`null`
//! when there is no value); field names are camelCase.

use serde::{Deserialize, Serialize};

/// A message's author.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sender {
    /// User id.
    pub id: String,
    /// Display name.
    pub full_name: String,
    /// True when the author is the ticket's technician side.
    pub is_technician: bool,
}

/// `ChatMessage`: one stored message as seen by one user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatMessage {
    /// Server id (a UUID string).
    pub id: String,
    /// The ticket.
    pub request_id: String,
    /// Author id; `null` for system messages.
    pub sender_id: Option<String>,
    /// Author; `null` for system messages.
    pub sender: Option<Sender>,
    /// Text.
    pub content: String,
    /// Per-ticket sequence, 1, 2, 3, ... gapless.
    pub sequence_number: i64,
    /// The message is a screenshot.
    pub is_screenshot: bool,
    /// Screenshot file name.
    pub screenshot_file_name: Option<String>,
    /// The requesting user wrote it or has read up to it.
    pub is_read_by_current_user: bool,
    /// RFC 3339 UTC creation time, millisecond precision.
    pub created_at: String,
    /// RFC 3339 UTC time of the last change (equal to `createdAt`: messages are never edited).
    pub updated_at: Option<String>,
    /// Always `"sent"` for stored messages.
    pub status: String,
    /// The sender's idempotency key, when it gave one.
    pub client_temp_id: Option<String>,
    /// Written by the system, not by a user.
    pub is_system_message: bool,
    /// Attachment name.
    pub file_name: Option<String>,
    /// Attachment size in bytes.
    pub file_size: Option<i64>,
    /// Attachment MIME type.
    pub file_mime_type: Option<String>,
}

/// `lastMessage` of a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LastMessage {
    /// Text.
    pub content: String,
    /// Author's display name; `null` for system messages.
    pub sender_name: Option<String>,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// Its sequence (the ticket's highest).
    pub sequence_number: i64,
}

/// `History`: which rewrite of a ticket's message history an answer belongs to
/// (`docs/protocol.md` section 4.3).
///
/// A rewrite is a restore from a backup that removed at least one of the ticket's
/// messages; sequences above `keptThroughSequence` may then be reused for different
/// messages. The server always writes all three fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct History {
    /// `0` while the ticket's history was never rewritten; every rewrite gives a value
    /// strictly greater than the ticket's previous epoch (the reference server uses
    /// `max(now_ms, previous + 1)`), so epochs of a ticket only ever increase.
    pub epoch: i64,
    /// The epoch the latest rewrite replaced; `None` exactly when `epoch` is 0.
    pub previous_epoch: Option<i64>,
    /// The highest sequence that survived the latest rewrite: messages
    /// `1..=keptThroughSequence` are exactly those of `previousEpoch`. `None` exactly
    /// when `epoch` is 0.
    pub kept_through_sequence: Option<i64>,
}

impl History {
    /// The history of a ticket that was never rewritten: epoch 0, both other fields null.
    pub const ORIGINAL: History = History {
        epoch: 0,
        previous_epoch: None,
        kept_through_sequence: None,
    };
}

/// `TicketSummary`: one ticket in the list, as seen by one user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketSummary {
    /// Ticket id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Workflow status (`open`, `in_progress`, `waiting_for_requester`, `resolved`).
    pub status: String,
    /// Messages the user has not read (not counting their own).
    pub unread_count: i64,
    /// RFC 3339 time of the last activity (last message, or creation).
    pub updated_at: String,
    /// The newest message; `null` when the chat is empty.
    pub last_message: Option<LastMessage>,
    /// Highest sequence in the chat, 0 when empty; `null` only under the null-sequence fault.
    pub last_message_sequence: Option<i64>,
    /// The ticket's history epoch (never affected by the null-sequence fault).
    pub history: History,
}

/// Body of `GET /api/v1/chat/requests`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketList {
    /// Most recent activity first.
    pub chat_messages: Vec<TicketSummary>,
}

/// Body of `GET /api/v1/chat/requests/{requestId}/messages`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessagePage {
    /// Ascending by sequence.
    pub messages: Vec<ChatMessage>,
    /// The chat's highest sequence (0 when empty); `null` only under the null-sequence fault.
    pub last_message_sequence: Option<i64>,
    /// The ticket's history, read together with the messages and `lastMessageSequence`
    /// (no write can come between them).
    pub history: History,
    /// More messages exist in the requested direction.
    pub has_more: bool,
}

/// A server -> client WebSocket text frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Frame {
    /// A new message in a ticket the user is party to.
    #[serde(rename = "message.new", rename_all = "camelCase")]
    MessageNew {
        /// The ticket.
        request_id: String,
        /// The message as the recipient sees it.
        message: Box<ChatMessage>,
    },
    /// A ticket's metadata changed.
    #[serde(rename = "ticket.updated", rename_all = "camelCase")]
    TicketUpdated {
        /// The ticket.
        request_id: String,
        /// Its highest sequence now; `null` only under the null-sequence fault.
        last_message_sequence: Option<i64>,
        /// Its history epoch now.
        history: History,
    },
}

/// Every 4xx and 5xx body: `{"detail": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Human-readable reason.
    pub detail: String,
}
