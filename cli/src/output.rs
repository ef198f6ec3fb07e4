//! The JSON shapes of `chatsync client` (camelCase, as `docs/cli.md` documents them)
//! and the human-readable renderings of the same data.
//!
//! The core's types serialize in snake_case for storage; these are separate output
//! types so a change in the core never silently changes what scripts parse.

use std::io::Write;

use chatsync::{ChatMessage, ChatSyncMeta, MessageStatus, SyncEvent, SyncState, TicketSummary};
use serde::Serialize;
use serde_json::{Value, json};

/// One ticket of `tickets` (and of the `ticketsChanged` watch event).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketJson {
    /// Ticket id (the chat's `requestId`).
    pub id: String,
    /// Ticket title.
    pub title: String,
    /// The backend's highest sequence of the chat; `null` when the backend cannot say.
    pub last_message_sequence: Option<i64>,
    /// The chat's stored sync state: `UNKNOWN`, `SYNCED` or `OUT_OF_SYNC`.
    pub sync_state: &'static str,
    /// Ticket status as the backend spells it.
    pub status: String,
    /// Messages the user has not read.
    pub unread_count: i64,
    /// Last activity, RFC 3339.
    pub updated_at: String,
    /// Cached messages of the chat (with a sequence number).
    pub message_count: i64,
    /// Highest cached sequence, if any.
    pub local_max_seq: Option<i64>,
    /// The backend sequence the cache last learned.
    pub last_known_backend_seq: Option<i64>,
}

impl TicketJson {
    /// The ticket with the chat's stored meta (`None` when it cannot be read).
    pub fn new(ticket: &TicketSummary, meta: Option<&ChatSyncMeta>) -> TicketJson {
        TicketJson {
            id: ticket.id.clone(),
            title: ticket.title.clone(),
            last_message_sequence: ticket.last_message_sequence,
            sync_state: meta.map_or(SyncState::Unknown, |m| m.sync_state).as_str(),
            status: ticket.status.clone(),
            unread_count: ticket.unread_count,
            updated_at: ticket.updated_at.clone(),
            message_count: meta.map_or(0, |m| m.message_count),
            local_max_seq: meta.and_then(|m| m.local_max_seq),
            last_known_backend_seq: meta.and_then(|m| m.last_known_backend_seq),
        }
    }
}

/// One message of `open`, `resync` and `messagesChanged`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageJson {
    /// Server id, or `local:<clientTempId>` for an outgoing message not yet stored.
    pub id: String,
    /// Per-chat sequence; `null` for a pending or failed outgoing message.
    pub sequence_number: Option<i64>,
    /// Text.
    pub content: String,
    /// `sent`, `pending` or `failed`.
    pub status: &'static str,
    /// The idempotency key of a message sent by this user, else `null`.
    pub client_temp_id: Option<String>,
    /// Author id, if known.
    pub sender_id: Option<String>,
    /// Author display name, if known.
    pub sender_name: Option<String>,
    /// Creation time, RFC 3339.
    pub created_at: String,
    /// True for system messages.
    pub is_system_message: bool,
}

impl From<&ChatMessage> for MessageJson {
    fn from(m: &ChatMessage) -> MessageJson {
        MessageJson {
            id: m.id.clone(),
            sequence_number: m.sequence_number,
            content: m.content.clone(),
            status: m.status.as_str(),
            client_temp_id: m.client_temp_id.clone(),
            sender_id: m.sender_id.clone(),
            sender_name: m.sender.as_ref().map(|s| s.full_name.clone()),
            created_at: m.created_at.clone(),
            is_system_message: m.is_system_message,
        }
    }
}

/// The `meta` object of `open` and `resync`: exactly the five fields.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetaJson {
    /// Lowest cached sequence.
    pub local_min_seq: Option<i64>,
    /// Highest cached sequence.
    pub local_max_seq: Option<i64>,
    /// The backend's highest sequence as last learned; `null` = unknown.
    pub last_known_backend_seq: Option<i64>,
    /// Cached messages with a sequence number.
    pub message_count: i64,
    /// The stored sync state.
    pub sync_state: &'static str,
}

impl From<&ChatSyncMeta> for MetaJson {
    fn from(m: &ChatSyncMeta) -> MetaJson {
        MetaJson {
            local_min_seq: m.local_min_seq,
            local_max_seq: m.local_max_seq,
            last_known_backend_seq: m.last_known_backend_seq,
            message_count: m.message_count,
            sync_state: m.sync_state.as_str(),
        }
    }
}

/// What `meta ID` prints: the stored meta, flat, with the chat id.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredMetaJson {
    /// The chat.
    pub request_id: String,
    /// Lowest cached sequence.
    pub local_min_seq: Option<i64>,
    /// Highest cached sequence.
    pub local_max_seq: Option<i64>,
    /// The backend's highest sequence as last learned.
    pub last_known_backend_seq: Option<i64>,
    /// Cached messages with a sequence number.
    pub message_count: i64,
    /// The stored sync state.
    pub sync_state: &'static str,
    /// When validation last ran, ms since the Unix epoch (0 = never).
    pub last_validated_at: i64,
}

impl From<&ChatSyncMeta> for StoredMetaJson {
    fn from(m: &ChatSyncMeta) -> StoredMetaJson {
        StoredMetaJson {
            request_id: m.request_id.clone(),
            local_min_seq: m.local_min_seq,
            local_max_seq: m.local_max_seq,
            last_known_backend_seq: m.last_known_backend_seq,
            message_count: m.message_count,
            sync_state: m.sync_state.as_str(),
            last_validated_at: m.last_validated_at,
        }
    }
}

/// What `open` and `resync` print.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatJson {
    /// The chat.
    pub request_id: String,
    /// The chat's live state when the command ended.
    pub state: &'static str,
    /// The stored meta.
    pub meta: MetaJson,
    /// Every cached message, ascending by sequence, then local outgoing ones.
    pub messages: Vec<MessageJson>,
    /// `null` on success, else what went wrong.
    pub error: Option<String>,
}

/// The `message` object of `send`: exactly the five fields.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SentJson {
    /// The idempotency key.
    pub client_temp_id: Option<String>,
    /// Text.
    pub content: String,
    /// `sent`, `pending` or `failed`.
    pub status: &'static str,
    /// The server's sequence once sent, else `null`.
    pub sequence_number: Option<i64>,
    /// The server id once sent, else the local id `local:<clientTempId>`.
    pub id: String,
}

impl From<&ChatMessage> for SentJson {
    fn from(m: &ChatMessage) -> SentJson {
        SentJson {
            client_temp_id: m.client_temp_id.clone(),
            content: m.content.clone(),
            status: m.status.as_str(),
            sequence_number: m.sequence_number,
            id: m.id.clone(),
        }
    }
}

/// What `send` prints.
#[derive(Debug, Clone, Serialize)]
pub struct SendJson {
    /// The message as it stands.
    pub message: SentJson,
    /// `null` when sent, else why not (the message stays in the outbox unless failed).
    pub error: Option<String>,
}

/// One `watch` line: the observer event as a JSON object with a `type`.
/// `ticket_meta` supplies the stored meta of a ticket for `ticketsChanged`.
pub fn event_json(event: &SyncEvent, ticket_meta: impl Fn(&str) -> Option<ChatSyncMeta>) -> Value {
    match event {
        SyncEvent::SyncStateChanged { request_id, state } => json!({
            "type": "syncStateChanged", "requestId": request_id, "state": state.as_str(),
        }),
        SyncEvent::SyncingChanged {
            request_id,
            syncing,
        } => json!({
            "type": "syncingChanged", "requestId": request_id, "syncing": syncing,
        }),
        SyncEvent::MessagesChanged {
            request_id,
            inserted,
            updated,
            removed_ids,
        } => json!({
            "type": "messagesChanged",
            "requestId": request_id,
            "inserted": inserted.iter().map(MessageJson::from).collect::<Vec<_>>(),
            "updated": updated.iter().map(MessageJson::from).collect::<Vec<_>>(),
            "removedIds": removed_ids,
        }),
        SyncEvent::TicketsChanged { tickets } => json!({
            "type": "ticketsChanged",
            "tickets": tickets
                .iter()
                .map(|t| TicketJson::new(t, ticket_meta(&t.id).as_ref()))
                .collect::<Vec<_>>(),
        }),
        SyncEvent::LoadEarlierFinished { request_id, ok } => json!({
            "type": "loadEarlierFinished", "requestId": request_id, "ok": ok,
        }),
        SyncEvent::ConnectionChanged {
            online,
            realtime_connected,
        } => json!({
            "type": "connectionChanged", "online": online, "realtimeConnected": realtime_connected,
        }),
        SyncEvent::Error {
            request_id,
            kind,
            message,
        } => json!({
            "type": "error", "requestId": request_id, "kind": kind.as_str(), "message": message,
        }),
    }
}

/// One human-readable line for a watch event.
pub fn event_line(event: &SyncEvent) -> String {
    match event {
        SyncEvent::SyncStateChanged { request_id, state } => {
            format!("{request_id}: state {}", state.as_str())
        }
        SyncEvent::SyncingChanged {
            request_id,
            syncing,
        } => format!(
            "{request_id}: {}",
            if *syncing {
                "syncing..."
            } else {
                "sync finished"
            }
        ),
        SyncEvent::MessagesChanged {
            request_id,
            inserted,
            updated,
            removed_ids,
        } => {
            let mut parts = Vec::new();
            for m in inserted {
                parts.push(format!("+ {}", message_line(m)));
            }
            for m in updated {
                parts.push(format!("~ {}", message_line(m)));
            }
            if !removed_ids.is_empty() {
                parts.push(format!(
                    "- {} row(s) replaced or removed",
                    removed_ids.len()
                ));
            }
            format!("{request_id}: messages\n    {}", parts.join("\n    "))
        }
        SyncEvent::TicketsChanged { tickets } => {
            format!("ticket list: {} ticket(s)", tickets.len())
        }
        SyncEvent::LoadEarlierFinished { request_id, ok } => {
            format!(
                "{request_id}: load earlier {}",
                if *ok { "done" } else { "failed" }
            )
        }
        SyncEvent::ConnectionChanged {
            online,
            realtime_connected,
        } => format!(
            "connection: {}, realtime {}",
            if *online { "online" } else { "offline" },
            if *realtime_connected {
                "connected"
            } else {
                "disconnected"
            }
        ),
        SyncEvent::Error {
            request_id,
            kind,
            message,
        } => match request_id {
            Some(id) => format!("{id}: error ({}): {message}", kind.as_str()),
            None => format!("error ({}): {message}", kind.as_str()),
        },
    }
}

/// `#12 [sent] Sam Ortega: text` (the sequence is `-` for an unsent message).
pub fn message_line(m: &ChatMessage) -> String {
    let seq = m
        .sequence_number
        .map_or_else(|| "-".to_string(), |s| s.to_string());
    let who = m
        .sender
        .as_ref()
        .map(|s| s.full_name.clone())
        .or_else(|| m.sender_id.clone())
        .unwrap_or_else(|| {
            if m.is_system_message {
                "(system)".to_string()
            } else {
                "?".to_string()
            }
        });
    let status = match m.status {
        MessageStatus::Sent => String::new(),
        other => format!(" [{}]", other.as_str()),
    };
    format!("#{seq}{status} {who}: {}", one_line(&m.content, 100))
}

/// The text on one line, cut to `max` characters.
fn one_line(text: &str, max: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() > max {
        let cut: String = flat.chars().take(max).collect();
        format!("{cut}...")
    } else {
        flat
    }
}

/// `1..30` / `-` for a range of optional sequences.
pub fn seq_range(min: Option<i64>, max: Option<i64>) -> String {
    match (min, max) {
        (Some(a), Some(b)) => format!("{a}..{b}"),
        _ => "-".to_string(),
    }
}

/// `42` / `unknown`.
pub fn opt_seq(seq: Option<i64>) -> String {
    seq.map_or_else(|| "unknown".to_string(), |s| s.to_string())
}

/// Human rendering of an `open`/`resync` result.
pub fn chat_text(chat: &ChatJson, messages: &[ChatMessage]) -> String {
    const SHOWN: usize = 20;
    let meta = &chat.meta;
    let mut out = format!(
        "chat {}: {}\n  cached: {} message(s), sequences {}; backend sequence {}; stored state {}\n",
        chat.request_id,
        chat.state,
        meta.message_count,
        seq_range(meta.local_min_seq, meta.local_max_seq),
        opt_seq(meta.last_known_backend_seq),
        meta.sync_state,
    );
    if messages.len() > SHOWN {
        out.push_str(&format!(
            "  ... {} earlier message(s) (all of them with --json)\n",
            messages.len() - SHOWN
        ));
    }
    for m in messages.iter().skip(messages.len().saturating_sub(SHOWN)) {
        out.push_str(&format!("  {}\n", message_line(m)));
    }
    if let Some(error) = &chat.error {
        out.push_str(&format!("  error: {error}\n"));
    }
    out
}

/// Writes `text` to stdout and flushes. A closed pipe is not an error worth a panic.
pub fn print_out(text: &str) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    if !text.ends_with('\n') {
        stdout.write_all(b"\n")?;
    }
    stdout.flush()
}

/// Writes one compact JSON document and a newline to stdout.
pub fn print_json(value: &impl Serialize) -> std::io::Result<()> {
    let text = serde_json::to_string(value).map_err(std::io::Error::other)?;
    print_out(&text)
}
