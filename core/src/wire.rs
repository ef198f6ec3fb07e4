//! Wire types: the JSON shapes of `docs/protocol.md` (camelCase), and their
//! checked conversion into the stored types of [`crate::types`].
//!
//! API Boundary: nothing received from the network reaches the cache or the
//! engine without passing [`decode_ticket_list`], [`decode_message_page`],
//! [`decode_sent_message`] or [`decode_realtime_frame`]. They reject what the
//! contract forbids (non-positive sequences, duplicate sequences, a page outside
//! the requested range, a message of another chat, absurd sizes) with a
//! [`WireError`], so bad server data never becomes a SYNCED chat.

use serde::{Deserialize, Serialize};

use crate::types::{
    ChatMessage, HistoryEpoch, LastMessageInfo, MessageStatus, Sender, TicketSummary,
};

/// Longest text field accepted from the server, in bytes (the reference server
/// limits content to 10,000 characters; anything near this is hostile or broken).
pub const MAX_TEXT_BYTES: usize = 256 * 1024;
/// Longest id accepted from the server, in bytes.
pub const MAX_ID_BYTES: usize = 256;

/// Why a server response or frame was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Not JSON, or JSON of the wrong shape or types.
    #[error("malformed server data: {0}")]
    Malformed(String),
    /// Well-formed JSON that breaks the contract (a rule of docs/protocol.md).
    #[error("invalid server data: {0}")]
    Invalid(String),
}

fn invalid(text: impl Into<String>) -> WireError {
    WireError::Invalid(text.into())
}

/// A message's author on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireSender {
    /// User id.
    pub id: String,
    /// Display name.
    pub full_name: String,
    /// Technician side of the ticket.
    #[serde(default)]
    pub is_technician: bool,
}

/// `ChatMessage` on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireChatMessage {
    /// Server id.
    pub id: String,
    /// The ticket.
    pub request_id: String,
    /// Author id.
    #[serde(default)]
    pub sender_id: Option<String>,
    /// Author.
    #[serde(default)]
    pub sender: Option<WireSender>,
    /// Text.
    pub content: String,
    /// Per-chat sequence, `>= 1`.
    pub sequence_number: i64,
    /// Screenshot flag.
    #[serde(default)]
    pub is_screenshot: bool,
    /// Screenshot file name.
    #[serde(default)]
    pub screenshot_file_name: Option<String>,
    /// Read by the signed-in user.
    #[serde(default)]
    pub is_read_by_current_user: bool,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// RFC 3339 edit time.
    #[serde(default)]
    pub updated_at: Option<String>,
    /// Server status (`sent`, ...).
    #[serde(default)]
    pub status: Option<String>,
    /// Idempotency key chosen by the sending client.
    #[serde(default)]
    pub client_temp_id: Option<String>,
    /// System message flag.
    #[serde(default)]
    pub is_system_message: bool,
    /// Attachment name.
    #[serde(default)]
    pub file_name: Option<String>,
    /// Attachment size.
    #[serde(default)]
    pub file_size: Option<i64>,
    /// Attachment MIME type.
    #[serde(default)]
    pub file_mime_type: Option<String>,
}

/// `lastMessage` of a ticket on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireLastMessage {
    /// Text.
    pub content: String,
    /// Author's display name.
    #[serde(default)]
    pub sender_name: Option<String>,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// Its sequence.
    pub sequence_number: i64,
}

/// `TicketSummary` on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireTicketSummary {
    /// Ticket id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Status.
    #[serde(default)]
    pub status: String,
    /// Unread messages.
    #[serde(default)]
    pub unread_count: i64,
    /// RFC 3339 last activity.
    #[serde(default)]
    pub updated_at: String,
    /// Newest message.
    #[serde(default)]
    pub last_message: Option<WireLastMessage>,
    /// Highest sequence; null = unknown.
    #[serde(default)]
    pub last_message_sequence: Option<i64>,
    /// The ticket's history epoch; absent from older backends.
    #[serde(default)]
    pub history: Option<WireHistory>,
}

/// The History object (protocol 4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireHistory {
    /// `>= 0`; 0 = never rewritten.
    pub epoch: i64,
    /// The epoch the latest rewrite replaced.
    #[serde(default)]
    pub previous_epoch: Option<i64>,
    /// The highest sequence the latest rewrite kept.
    #[serde(default)]
    pub kept_through_sequence: Option<i64>,
}

/// `GET /api/v1/chat/requests` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireTicketList {
    /// The tickets, most recent activity first.
    pub chat_messages: Vec<WireTicketSummary>,
}

/// `GET .../messages` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireMessagePage {
    /// Ascending by sequence.
    pub messages: Vec<WireChatMessage>,
    /// The chat's highest sequence; null = unknown.
    #[serde(default)]
    pub last_message_sequence: Option<i64>,
    /// More messages exist in the requested direction.
    #[serde(default)]
    pub has_more: bool,
    /// The chat's history epoch; absent from older backends.
    #[serde(default)]
    pub history: Option<WireHistory>,
}

/// `POST .../messages` request body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireSendRequest {
    /// Text.
    pub content: String,
    /// Idempotency key.
    pub client_temp_id: String,
}

/// `POST .../read` request body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireReadRequest {
    /// Everything up to and including this sequence is read.
    pub up_to_sequence: i64,
}

/// A server -> client WebSocket text frame, as received.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type")]
enum WireFrame {
    #[serde(rename = "message.new", rename_all = "camelCase")]
    MessageNew {
        request_id: String,
        message: Box<WireChatMessage>,
    },
    #[serde(rename = "ticket.updated", rename_all = "camelCase")]
    TicketUpdated {
        request_id: String,
        #[serde(default)]
        last_message_sequence: Option<i64>,
        #[serde(default)]
        history: Option<WireHistory>,
    },
    #[serde(other)]
    Unknown,
}

/// Which page of a chat was asked for; a response must stay inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PageQuery {
    /// Messages with sequence `> n`, ascending, the first `limit`.
    After(i64),
    /// The `limit` messages with the highest sequence `< n`.
    Before(i64),
    /// The latest `limit` messages.
    Latest,
}

/// A checked message page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessagePage {
    /// Ascending, unique, positive sequences, all of the requested chat and range.
    pub messages: Vec<ChatMessage>,
    /// The chat's highest sequence as the server reported it (`None` = unknown).
    pub last_message_sequence: Option<i64>,
    /// More messages exist in the requested direction.
    pub has_more: bool,
    /// The chat's history epoch as the server reported it (`None` = not reported).
    pub history: Option<HistoryEpoch>,
}

/// A checked realtime frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RealtimeFrame {
    /// A new message in a chat the user is party to.
    MessageNew {
        /// The chat.
        request_id: String,
        /// The message, sequence `>= 1`.
        message: Box<ChatMessage>,
    },
    /// A chat's metadata changed; its highest sequence is now this (`None` = unknown).
    TicketUpdated {
        /// The chat.
        request_id: String,
        /// The backend sequence.
        last_message_sequence: Option<i64>,
        /// The chat's history epoch (`None` = not reported).
        history: Option<HistoryEpoch>,
    },
    /// A frame type this client does not know; ignored by contract.
    Ignored,
}

fn parse<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, WireError> {
    serde_json::from_slice(body).map_err(|e| WireError::Malformed(e.to_string()))
}

fn check_id(what: &str, id: &str) -> Result<(), WireError> {
    if id.is_empty() || id.len() > MAX_ID_BYTES {
        return Err(invalid(format!(
            "{what} must be 1..={MAX_ID_BYTES} bytes, got {}",
            id.len()
        )));
    }
    Ok(())
}

fn check_text(what: &str, text: &str) -> Result<(), WireError> {
    if text.len() > MAX_TEXT_BYTES {
        return Err(invalid(format!(
            "{what} is {} bytes, over the {MAX_TEXT_BYTES}-byte limit",
            text.len()
        )));
    }
    Ok(())
}

/// Checks a History object (protocol 4.3): a non-negative epoch, a previous epoch
/// below it, a non-negative kept sequence.
fn check_history(history: Option<WireHistory>) -> Result<Option<HistoryEpoch>, WireError> {
    let Some(h) = history else {
        return Ok(None);
    };
    if h.epoch < 0 {
        return Err(invalid(format!("history.epoch {} is negative", h.epoch)));
    }
    if let Some(previous) = h.previous_epoch
        && !(0..h.epoch).contains(&previous)
    {
        return Err(invalid(format!(
            "history.previousEpoch {previous} is not in 0..{}",
            h.epoch
        )));
    }
    if let Some(kept) = h.kept_through_sequence
        && kept < 0
    {
        return Err(invalid(format!(
            "history.keptThroughSequence {kept} is negative"
        )));
    }
    Ok(Some(HistoryEpoch {
        epoch: h.epoch,
        previous_epoch: h.previous_epoch,
        kept_through_sequence: h.kept_through_sequence,
    }))
}

fn check_backend_seq(seq: Option<i64>) -> Result<(), WireError> {
    match seq {
        Some(n) if n < 0 => Err(invalid(format!("lastMessageSequence {n} is negative"))),
        _ => Ok(()),
    }
}

impl WireChatMessage {
    /// Checks the message against the contract and converts it, stamping `cached_at`.
    pub fn into_stored(self, cached_at: i64) -> Result<ChatMessage, WireError> {
        check_id("message id", &self.id)?;
        check_id("requestId", &self.request_id)?;
        check_text("content", &self.content)?;
        if self.sequence_number < 1 {
            return Err(invalid(format!(
                "message {} has sequence {}, sequences start at 1",
                self.id, self.sequence_number
            )));
        }
        let optional_texts = [
            &self.sender_id,
            &self.client_temp_id,
            &self.screenshot_file_name,
            &self.file_name,
        ];
        for text in optional_texts.into_iter().flatten() {
            check_text("a message field", text)?;
        }
        Ok(ChatMessage {
            id: self.id,
            request_id: self.request_id,
            sender_id: self.sender_id,
            sender: self.sender.map(|s| Sender {
                id: s.id,
                full_name: s.full_name,
                is_technician: s.is_technician,
            }),
            content: self.content,
            sequence_number: Some(self.sequence_number),
            is_screenshot: self.is_screenshot,
            screenshot_file_name: self.screenshot_file_name,
            is_read_by_current_user: self.is_read_by_current_user,
            created_at: self.created_at,
            updated_at: self.updated_at,
            status: MessageStatus::Sent,
            temp_id: None,
            client_temp_id: self.client_temp_id,
            is_system_message: self.is_system_message,
            file_name: self.file_name,
            file_size: self.file_size,
            file_mime_type: self.file_mime_type,
            cached_at,
        })
    }
}

/// Decodes and checks a ticket list body: ids unique and sane, sequences non-negative.
pub fn decode_ticket_list(body: &[u8]) -> Result<Vec<TicketSummary>, WireError> {
    let list: WireTicketList = parse(body)?;
    let mut seen = std::collections::HashSet::with_capacity(list.chat_messages.len());
    list.chat_messages
        .into_iter()
        .map(|t| {
            check_id("ticket id", &t.id)?;
            check_text("title", &t.title)?;
            check_backend_seq(t.last_message_sequence)?;
            let history = check_history(t.history)?;
            if !seen.insert(t.id.clone()) {
                return Err(invalid(format!("ticket {} listed twice", t.id)));
            }
            let last_message = match t.last_message {
                Some(m) => {
                    check_text("lastMessage.content", &m.content)?;
                    if m.sequence_number < 1 {
                        return Err(invalid(format!(
                            "ticket {}: lastMessage sequence {}",
                            t.id, m.sequence_number
                        )));
                    }
                    Some(LastMessageInfo {
                        content: m.content,
                        sender_name: m.sender_name,
                        created_at: m.created_at,
                        sequence_number: m.sequence_number,
                    })
                }
                None => None,
            };
            Ok(TicketSummary {
                id: t.id,
                title: t.title,
                status: t.status,
                unread_count: t.unread_count.max(0),
                updated_at: t.updated_at,
                last_message,
                last_message_sequence: t.last_message_sequence,
                history,
            })
        })
        .collect()
}

/// Decodes and checks a message page of `request_id` fetched with `query` and `limit`:
/// ascending unique positive sequences, at most `limit` of them, all inside the
/// requested range, none above the reported `lastMessageSequence`.
pub fn decode_message_page(
    body: &[u8],
    request_id: &str,
    query: PageQuery,
    limit: u32,
    cached_at: i64,
) -> Result<MessagePage, WireError> {
    let page: WireMessagePage = parse(body)?;
    check_backend_seq(page.last_message_sequence)?;
    if page.messages.len() > limit as usize {
        return Err(invalid(format!(
            "{} messages for limit {limit}",
            page.messages.len()
        )));
    }
    let mut previous: Option<i64> = None;
    let mut messages = Vec::with_capacity(page.messages.len());
    for wire in page.messages {
        let message = wire.into_stored(cached_at)?;
        let seq = message.sequence_number.unwrap_or_default();
        if message.request_id != request_id {
            return Err(invalid(format!(
                "message {} belongs to {}, not {request_id}",
                message.id, message.request_id
            )));
        }
        if previous.is_some_and(|p| seq <= p) {
            return Err(invalid(format!(
                "sequence {seq} after {} is not ascending and unique",
                previous.unwrap_or(0)
            )));
        }
        // Density (protocol rule 1): sequences 1..=N all exist, so a page is one
        // contiguous slice of them.
        if let Some(p) = previous
            && seq != p.saturating_add(1)
        {
            return Err(invalid(format!(
                "sequence {seq} follows {p}: a page has no holes"
            )));
        }
        let in_range = match query {
            PageQuery::After(n) => seq > n,
            PageQuery::Before(n) => seq < n,
            PageQuery::Latest => true,
        };
        if !in_range {
            return Err(invalid(format!(
                "sequence {seq} lies outside the requested {query:?}"
            )));
        }
        if page.last_message_sequence.is_some_and(|last| seq > last) {
            return Err(invalid(format!(
                "sequence {seq} above lastMessageSequence {:?}",
                page.last_message_sequence
            )));
        }
        previous = Some(seq);
        messages.push(message);
    }
    check_page_density(&messages, query, limit, page.has_more)?;
    Ok(MessagePage {
        messages,
        last_message_sequence: page.last_message_sequence,
        has_more: page.has_more,
        history: check_history(page.history)?,
    })
}

/// The page-level consequences of density: an `After(n)` page starts at `n + 1`; a
/// latest or `Before` page that is not full reaches sequence 1 (nothing older exists);
/// an empty page has `hasMore: false`.
fn check_page_density(
    messages: &[ChatMessage],
    query: PageQuery,
    limit: u32,
    has_more: bool,
) -> Result<(), WireError> {
    let Some(first) = messages.first().and_then(|m| m.sequence_number) else {
        if has_more {
            return Err(invalid("an empty page claims hasMore"));
        }
        return Ok(());
    };
    match query {
        PageQuery::After(n) if first != n.saturating_add(1) => Err(invalid(format!(
            "a page after {n} starts at {first}, skipping messages"
        ))),
        PageQuery::Before(_) | PageQuery::Latest
            if messages.len() < limit as usize && first != 1 =>
        {
            Err(invalid(format!(
                "a page of {} (limit {limit}) starts at {first}: older messages exist",
                messages.len()
            )))
        }
        _ => Ok(()),
    }
}

/// Decodes and checks the response to a send of `client_temp_id` into `request_id`.
pub fn decode_sent_message(
    body: &[u8],
    request_id: &str,
    client_temp_id: &str,
    cached_at: i64,
) -> Result<ChatMessage, WireError> {
    let wire: WireChatMessage = parse(body)?;
    let message = wire.into_stored(cached_at)?;
    if message.request_id != request_id {
        return Err(invalid(format!(
            "sent message came back in {}, not {request_id}",
            message.request_id
        )));
    }
    if message
        .client_temp_id
        .as_deref()
        .is_some_and(|c| c != client_temp_id)
    {
        return Err(invalid(format!(
            "sent {client_temp_id} but got {:?} back",
            message.client_temp_id
        )));
    }
    Ok(ChatMessage {
        client_temp_id: Some(client_temp_id.to_string()),
        ..message
    })
}

/// Decodes and checks one realtime text frame; unknown frame types are [`RealtimeFrame::Ignored`].
pub fn decode_realtime_frame(text: &str, cached_at: i64) -> Result<RealtimeFrame, WireError> {
    match parse::<WireFrame>(text.as_bytes())? {
        WireFrame::MessageNew {
            request_id,
            message,
        } => {
            check_id("requestId", &request_id)?;
            let message = Box::new(message.into_stored(cached_at)?);
            if message.request_id != request_id {
                return Err(invalid(format!(
                    "frame for {request_id} carries a message of {}",
                    message.request_id
                )));
            }
            Ok(RealtimeFrame::MessageNew {
                request_id,
                message,
            })
        }
        WireFrame::TicketUpdated {
            request_id,
            last_message_sequence,
            history,
        } => {
            check_id("requestId", &request_id)?;
            check_backend_seq(last_message_sequence)?;
            Ok(RealtimeFrame::TicketUpdated {
                request_id,
                last_message_sequence,
                history: check_history(history)?,
            })
        }
        WireFrame::Unknown => Ok(RealtimeFrame::Ignored),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(seq: i64) -> serde_json::Value {
        json!({"id": format!("m{seq}"), "requestId": "t1", "senderId": "u1",
               "sender": {"id": "u1", "fullName": "Ada", "isTechnician": false},
               "content": "hi", "sequenceNumber": seq, "createdAt": "2026-11-25T10:00:00Z",
               "status": "sent", "somethingNew": 1})
    }

    fn page(messages: Vec<serde_json::Value>, last: Option<i64>) -> Vec<u8> {
        serde_json::to_vec(
            &json!({"messages": messages, "lastMessageSequence": last, "hasMore": false}),
        )
        .unwrap()
    }

    #[test]
    fn a_good_page_decodes_and_ignores_unknown_fields() {
        let decoded = decode_message_page(
            &page(vec![message(3), message(4)], Some(9)),
            "t1",
            PageQuery::After(2),
            10,
            7,
        )
        .unwrap();
        assert_eq!(decoded.messages.len(), 2);
        assert_eq!(decoded.messages[1].sequence_number, Some(4));
        assert_eq!(decoded.messages[0].cached_at, 7);
        assert_eq!(decoded.last_message_sequence, Some(9));
    }

    #[test]
    fn pages_breaking_the_contract_are_rejected() {
        let cases = [
            (page(vec![message(0)], Some(5)), PageQuery::Latest),
            (page(vec![message(-3)], Some(5)), PageQuery::Latest),
            (
                page(vec![message(4), message(4)], Some(5)),
                PageQuery::Latest,
            ),
            (
                page(vec![message(5), message(4)], Some(5)),
                PageQuery::Latest,
            ),
            (page(vec![message(2)], Some(5)), PageQuery::After(2)),
            (page(vec![message(6)], Some(9)), PageQuery::Before(6)),
            (page(vec![message(7)], Some(5)), PageQuery::Latest),
            (page(vec![], Some(-1)), PageQuery::Latest),
            (b"{\"messages\": 3}".to_vec(), PageQuery::Latest),
            (b"not json".to_vec(), PageQuery::Latest),
        ];
        for (body, query) in cases {
            assert!(
                decode_message_page(&body, "t1", query, 10, 0).is_err(),
                "{}",
                String::from_utf8_lossy(&body)
            );
        }
        let other_chat = page(vec![message(1)], Some(1));
        assert!(decode_message_page(&other_chat, "t2", PageQuery::Latest, 10, 0).is_err());
        let too_many = page(vec![message(1), message(2)], Some(2));
        assert!(decode_message_page(&too_many, "t1", PageQuery::Latest, 1, 0).is_err());
    }

    #[test]
    fn pages_breaking_density_are_rejected() {
        let huge = page(vec![message(i64::MAX)], Some(i64::MAX));
        assert!(decode_message_page(&huge, "t1", PageQuery::After(10), 2, 0).is_err());
        assert!(decode_message_page(&huge, "t1", PageQuery::Latest, 50, 0).is_err());
        let hole = page(vec![message(3), message(5)], Some(5));
        assert!(decode_message_page(&hole, "t1", PageQuery::After(2), 10, 0).is_err());
        let short_latest = page(vec![message(4), message(5)], Some(5));
        assert!(decode_message_page(&short_latest, "t1", PageQuery::Latest, 10, 0).is_err());
        assert!(decode_message_page(&short_latest, "t1", PageQuery::Before(6), 10, 0).is_err());
        let endless =
            serde_json::to_vec(&json!({"messages": [], "lastMessageSequence": 5, "hasMore": true}))
                .unwrap();
        assert!(decode_message_page(&endless, "t1", PageQuery::After(0), 10, 0).is_err());
        // What a truthful server sends still decodes.
        let full_latest = page(vec![message(4), message(5)], Some(5));
        assert!(decode_message_page(&full_latest, "t1", PageQuery::Latest, 2, 0).is_ok());
        let all = page(vec![message(1), message(2)], Some(2));
        assert!(decode_message_page(&all, "t1", PageQuery::Latest, 10, 0).is_ok());
        let tail = page(vec![message(3), message(4)], Some(9));
        assert!(decode_message_page(&tail, "t1", PageQuery::After(2), 2, 0).is_ok());
    }

    #[test]
    fn frames_decode_and_unknown_types_are_ignored() {
        let frame =
            json!({"type": "message.new", "requestId": "t1", "message": message(3)}).to_string();
        assert!(matches!(
            decode_realtime_frame(&frame, 0),
            Ok(RealtimeFrame::MessageNew { .. })
        ));
        let update = json!({"type": "ticket.updated", "requestId": "t1", "lastMessageSequence": 4})
            .to_string();
        assert_eq!(
            decode_realtime_frame(&update, 0),
            Ok(RealtimeFrame::TicketUpdated {
                request_id: "t1".into(),
                last_message_sequence: Some(4),
                history: None,
            })
        );
        let rewritten = json!({"type": "ticket.updated", "requestId": "t1",
            "lastMessageSequence": 990,
            "history": {"epoch": 7, "previousEpoch": 0, "keptThroughSequence": 990}})
        .to_string();
        assert_eq!(
            decode_realtime_frame(&rewritten, 0),
            Ok(RealtimeFrame::TicketUpdated {
                request_id: "t1".into(),
                last_message_sequence: Some(990),
                history: Some(HistoryEpoch {
                    epoch: 7,
                    previous_epoch: Some(0),
                    kept_through_sequence: Some(990),
                }),
            })
        );
        assert_eq!(
            decode_realtime_frame(r#"{"type":"typing","requestId":"t1"}"#, 0),
            Ok(RealtimeFrame::Ignored)
        );
        let mismatched =
            json!({"type": "message.new", "requestId": "t9", "message": message(3)}).to_string();
        assert!(decode_realtime_frame(&mismatched, 0).is_err());
        assert!(decode_realtime_frame("{\"type\":\"message.new\"", 0).is_err());
    }

    #[test]
    fn ticket_lists_are_checked() {
        let good = json!({"chatMessages": [{"id": "t1", "title": "Printer", "status": "open", "unreadCount": 2,
            "updatedAt": "2026-11-25T10:00:00Z", "lastMessage": null, "lastMessageSequence": null}]});
        let tickets = decode_ticket_list(good.to_string().as_bytes()).unwrap();
        assert_eq!(tickets[0].last_message_sequence, None);
        let twice =
            json!({"chatMessages": [{"id": "t1", "title": "a"}, {"id": "t1", "title": "b"}]});
        assert!(decode_ticket_list(twice.to_string().as_bytes()).is_err());
        let negative =
            json!({"chatMessages": [{"id": "t1", "title": "a", "lastMessageSequence": -2}]});
        assert!(decode_ticket_list(negative.to_string().as_bytes()).is_err());
        let huge =
            json!({"chatMessages": [{"id": "t1", "title": "a", "lastMessageSequence": 1e30}]});
        assert!(decode_ticket_list(huge.to_string().as_bytes()).is_err());
    }

    #[test]
    fn history_objects_are_checked_everywhere_they_appear() {
        let list = |history: serde_json::Value| {
            json!({"chatMessages": [{"id": "t1", "title": "T", "status": "open",
                "unreadCount": 0, "updatedAt": "2024-05-01T12:00:00.000Z",
                "lastMessage": null, "lastMessageSequence": 0, "history": history}]})
            .to_string()
        };
        let never = json!({"epoch": 0, "previousEpoch": null, "keptThroughSequence": null});
        let tickets = decode_ticket_list(list(never).as_bytes()).unwrap();
        assert_eq!(
            tickets[0].history,
            Some(HistoryEpoch {
                epoch: 0,
                previous_epoch: None,
                kept_through_sequence: None
            })
        );
        let absent = json!({"chatMessages": [{"id": "t1", "title": "T",
            "lastMessageSequence": 0}]})
        .to_string();
        assert_eq!(
            decode_ticket_list(absent.as_bytes()).unwrap()[0].history,
            None
        );
        for bad in [
            json!({"epoch": -1}),
            json!({"epoch": 5, "previousEpoch": 5, "keptThroughSequence": 1}),
            json!({"epoch": 5, "previousEpoch": -1, "keptThroughSequence": 1}),
            json!({"epoch": 5, "previousEpoch": 0, "keptThroughSequence": -3}),
            json!({"epoch": "5"}),
        ] {
            assert!(
                decode_ticket_list(list(bad.clone()).as_bytes()).is_err(),
                "{bad} accepted in a ticket list"
            );
            let frame = json!({"type": "ticket.updated", "requestId": "t1",
                "lastMessageSequence": 1, "history": bad})
            .to_string();
            assert!(
                decode_realtime_frame(&frame, 0).is_err(),
                "{frame} accepted"
            );
            let page = json!({"messages": [], "lastMessageSequence": 0, "hasMore": false,
                "history": bad})
            .to_string();
            assert!(
                decode_message_page(page.as_bytes(), "t1", PageQuery::Latest, 50, 0).is_err(),
                "{page} accepted"
            );
        }
    }
}
