//! Mapping between [`ChatMessage`] and the `messages` table, and small value helpers.

use rusqlite::Row;
use serde::Deserialize;

use crate::types::{ChatMessage, MessageStatus, Sender};

/// Every column of `messages`, in the order [`message_from_row`] reads them.
pub(crate) const MESSAGE_COLUMNS: &str = "id, request_id, sender_id, sender_json, content, \
     sequence_number, is_screenshot, screenshot_file_name, is_read_by_current_user, created_at, \
     updated_at, status, temp_id, client_temp_id, is_system_message, file_name, file_size, \
     file_mime_type, cached_at";

/// The same columns prefixed with `m.` for joins.
pub(crate) const MESSAGE_COLUMNS_M: &str = "m.id, m.request_id, m.sender_id, m.sender_json, \
     m.content, m.sequence_number, m.is_screenshot, m.screenshot_file_name, \
     m.is_read_by_current_user, m.created_at, m.updated_at, m.status, m.temp_id, \
     m.client_temp_id, m.is_system_message, m.file_name, m.file_size, m.file_mime_type, \
     m.cached_at";

/// `INSERT ... VALUES` placeholders for [`MESSAGE_COLUMNS`].
pub(crate) const MESSAGE_PLACEHOLDERS: &str =
    "?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19";

/// The sender as stored in `sender_json`; also reads the camelCase spelling older
/// (TypeScript) writers used, so a migrated row keeps its author.
#[derive(Deserialize)]
struct StoredSender {
    id: String,
    #[serde(alias = "fullName", default)]
    full_name: String,
    #[serde(alias = "isTechnician", default)]
    is_technician: bool,
}

/// Serialises a sender for `sender_json`.
pub(crate) fn sender_json(sender: &Option<Sender>) -> Option<String> {
    sender
        .as_ref()
        .map(|s| serde_json::to_string(s).unwrap_or_else(|_| String::from("null")))
}

/// Parses `sender_json` leniently: unreadable JSON means "author unknown", never an error.
pub(crate) fn parse_sender(json: Option<&str>) -> Option<Sender> {
    let stored: StoredSender = serde_json::from_str(json?).ok()?;
    Some(Sender {
        id: stored.id,
        full_name: stored.full_name,
        is_technician: stored.is_technician,
    })
}

/// Parsed senders of one read, by their stored JSON: a page holds the few authors of
/// a chat many times over, so each distinct `sender_json` is parsed once per read
/// (parsing was a tenth of the cost of reading a first page).
#[derive(Default)]
pub(crate) struct SenderMemo {
    parsed: Vec<(String, Option<Sender>)>,
}

impl SenderMemo {
    /// Distinct JSON texts remembered per read; a page with more authors parses the rest.
    const CAPACITY: usize = 8;

    fn sender(&mut self, json: Option<&str>) -> Option<Sender> {
        let json = json?;
        if let Some((_, sender)) = self.parsed.iter().find(|(seen, _)| seen == json) {
            return sender.clone();
        }
        let sender = parse_sender(Some(json));
        if self.parsed.len() < Self::CAPACITY {
            self.parsed.push((json.to_string(), sender.clone()));
        }
        sender
    }
}

/// Reads one `messages` row selected with [`MESSAGE_COLUMNS`].
pub(crate) fn message_from_row(row: &Row<'_>) -> rusqlite::Result<ChatMessage> {
    message_from_row_with(row, &mut SenderMemo::default())
}

/// [`message_from_row`] for a read of many rows, sharing `senders` between them.
pub(crate) fn message_from_row_with(
    row: &Row<'_>,
    senders: &mut SenderMemo,
) -> rusqlite::Result<ChatMessage> {
    let sequence_number: Option<i64> = row.get(5)?;
    let status = match (text_at(row, 11)?, sequence_number) {
        // A row with a sequence is stored by the server whatever its column says.
        (_, Some(_)) => MessageStatus::Sent,
        (Some("failed"), None) => MessageStatus::Failed,
        (_, None) => MessageStatus::Pending,
    };
    let flag = |index: usize| -> rusqlite::Result<bool> {
        Ok(row.get::<_, Option<i64>>(index)?.unwrap_or(0) != 0)
    };
    Ok(ChatMessage {
        id: row.get(0)?,
        request_id: row.get(1)?,
        sender_id: row.get(2)?,
        sender: senders.sender(text_at(row, 3)?),
        content: row.get(4)?,
        sequence_number,
        is_screenshot: flag(6)?,
        screenshot_file_name: row.get(7)?,
        is_read_by_current_user: flag(8)?,
        created_at: row.get(9)?,
        updated_at: row.get(10)?,
        status,
        temp_id: row.get(12)?,
        client_temp_id: row.get(13)?,
        is_system_message: flag(14)?,
        file_name: row.get(15)?,
        file_size: row.get(16)?,
        file_mime_type: row.get(17)?,
        cached_at: row.get(18)?,
    })
}

/// A text column borrowed from the row (no copy), `None` for NULL.
fn text_at<'r>(row: &'r Row<'_>, index: usize) -> rusqlite::Result<Option<&'r str>> {
    row.get_ref(index)?.as_str_or_null().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// Binds every column of `message` (in [`MESSAGE_COLUMNS`] order) to `statement`.
pub(crate) fn bind_message(
    statement: &mut rusqlite::CachedStatement<'_>,
    message: &ChatMessage,
) -> rusqlite::Result<usize> {
    statement.execute(rusqlite::params![
        message.id,
        message.request_id,
        message.sender_id,
        sender_json(&message.sender),
        message.content,
        message.sequence_number,
        message.is_screenshot as i64,
        message.screenshot_file_name,
        message.is_read_by_current_user as i64,
        message.created_at,
        message.updated_at,
        message.status.as_str(),
        message.temp_id,
        message.client_temp_id,
        message.is_system_message as i64,
        message.file_name,
        message.file_size,
        message.file_mime_type,
        message.cached_at,
    ])
}

/// True when two messages are the same row apart from when they were cached.
pub(crate) fn same_content(a: &ChatMessage, b: &ChatMessage) -> bool {
    ChatMessage {
        cached_at: 0,
        ..a.clone()
    } == ChatMessage {
        cached_at: 0,
        ..b.clone()
    }
}

/// RFC 3339 UTC with milliseconds (`2024-05-01T12:00:00.000Z`) of a Unix time in ms.
pub(crate) fn rfc3339_from_ms(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    // Civil-from-days (proleptic Gregorian), days since 1970-01-01.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1_000 % 60,
        in_day % 1_000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(rfc3339_from_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_from_ms(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(
            rfc3339_from_ms(1_714_564_800_000),
            "2024-05-01T12:00:00.000Z"
        );
        assert_eq!(rfc3339_from_ms(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn sender_json_round_trips_and_reads_camel_case() {
        let sender = Some(Sender {
            id: "u1".into(),
            full_name: "Ada".into(),
            is_technician: true,
        });
        assert_eq!(parse_sender(sender_json(&sender).as_deref()), sender);
        assert_eq!(
            parse_sender(Some(r#"{"id":"u1","fullName":"Ada","isTechnician":true}"#)),
            sender
        );
        assert_eq!(parse_sender(Some("not json")), None);
        assert_eq!(parse_sender(None), None);
    }
}
