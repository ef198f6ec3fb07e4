//! The reads of [`MessageCache`]. Each is one read transaction (a consistent snapshot).

use rusqlite::{Connection, OptionalExtension, params};

use super::error::{CacheError, Result};
use super::rows::{
    MESSAGE_COLUMNS, MESSAGE_COLUMNS_M, SenderMemo, message_from_row, message_from_row_with,
    parse_sender,
};
use super::schema::runs_from_rows;
use super::{ChatPage, MessageCache, OutboxEntry};
use crate::runs::SeqRuns;
use crate::types::{
    ChatMessage, ChatSyncMeta, HistoryEpoch, LastMessageInfo, MessageStatus, SeqRange,
    SequenceValidationResult, SyncState, TicketSummary,
};
use crate::validate::{SeqSummary, validate};

/// `window_start, local_min_seq, local_max_seq, message_count` of a chat.
type MetaColumns = (Option<i64>, Option<i64>, Option<i64>, Option<i64>);

/// `limit` as an SQLite LIMIT (`-1` = none).
fn sql_limit(limit: Option<usize>) -> i64 {
    limit.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX))
}

/// The stored window start of a chat and its backend sequence.
struct StateRow {
    window_start: Option<i64>,
    backend: Option<i64>,
}

fn state_row(conn: &Connection, request_id: &str) -> Result<Option<StateRow>> {
    let mut statement = conn.prepare_cached(
        "SELECT window_start, last_known_backend_seq FROM chat_sync_state WHERE request_id = ?1",
    )?;
    Ok(statement
        .query_row(params![request_id], |r| {
            Ok(StateRow {
                window_start: r.get(0)?,
                backend: r.get(1)?,
            })
        })
        .optional()?)
}

/// The summary and backend sequence from the persisted runs: O(runs in the window),
/// no message scan: one primary-key lookup in `chat_sync_state` and one primary-key
/// range of `seq_runs`. Call it inside a read transaction (both must see one snapshot).
///
/// Measured choices: two plain lookups cost less than one LEFT JOIN of the two tables,
/// and no `ORDER BY` (SQLite's sorter set-up would cost more than the lookup; the few
/// runs are sorted here).
pub(crate) fn summary_in(conn: &Connection, request_id: &str) -> Result<(SeqSummary, Option<i64>)> {
    let state: Option<(Option<i64>, Option<i64>, Option<i64>)> = conn
        .prepare_cached(
            "SELECT window_start, local_max_seq, last_known_backend_seq
               FROM chat_sync_state WHERE request_id = ?1",
        )?
        .query_row(params![request_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    let Some((window_start, max_seq, backend)) = state else {
        return Ok((SeqSummary::empty(), None));
    };
    let (Some(window_start), Some(max_seq)) = (window_start, max_seq) else {
        return Ok((SeqSummary::empty(), backend));
    };
    let mut statement = conn.prepare_cached(
        "SELECT start_seq, end_seq FROM seq_runs WHERE request_id = ?1 AND start_seq >= ?2",
    )?;
    let mut rows = statement.query(params![request_id, window_start])?;
    let mut runs: Vec<(i64, i64)> = Vec::new();
    while let Some(row) = rows.next()? {
        runs.push((row.get(0)?, row.get(1)?));
    }
    runs.sort_unstable();
    let window_holes = runs
        .windows(2)
        .map(|pair| SeqRange::new(pair[0].1 + 1, pair[1].0 - 1))
        .collect();
    Ok((
        SeqSummary {
            max_seq: Some(max_seq),
            window_start: Some(window_start),
            window_holes,
        },
        backend,
    ))
}

/// The persisted runs of a chat, with its window start.
pub(crate) fn load_runs(conn: &Connection, request_id: &str) -> Result<SeqRuns> {
    let window_start: Option<i64> = conn
        .prepare_cached("SELECT window_start FROM chat_sync_state WHERE request_id = ?1")?
        .query_row(params![request_id], |r| r.get(0))
        .optional()?
        .flatten();
    let mut statement =
        conn.prepare_cached("SELECT start_seq, end_seq FROM seq_runs WHERE request_id = ?1")?;
    // Unordered on purpose (see `summary_in`); `from_parts` orders them.
    let ranges = statement
        .query_map(params![request_id], |r| {
            Ok(SeqRange {
                start: r.get(0)?,
                end: r.get(1)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(SeqRuns::from_parts(ranges, window_start))
}

/// The chat's meta (see [`MessageCache::get_sync_meta`]); call it in a read transaction.
fn sync_meta_in(conn: &Connection, request_id: &str) -> Result<ChatSyncMeta> {
    let mut statement = conn.prepare_cached(
        "SELECT local_min_seq, local_max_seq, last_known_backend_seq, sync_state,
                last_validated_at, message_count
           FROM chat_sync_state WHERE request_id = ?1",
    )?;
    let meta = statement
        .query_row(params![request_id], |r| {
            let state: String = r.get(3)?;
            Ok(ChatSyncMeta {
                request_id: request_id.to_string(),
                local_min_seq: r.get(0)?,
                local_max_seq: r.get(1)?,
                last_known_backend_seq: r.get(2)?,
                sync_state: SyncState::parse(&state).unwrap_or_default(),
                last_validated_at: r.get(4)?,
                message_count: r.get::<_, Option<i64>>(5)?.unwrap_or(0),
            })
        })
        .optional()?;
    Ok(meta.unwrap_or_else(|| ChatSyncMeta {
        request_id: request_id.to_string(),
        local_min_seq: None,
        local_max_seq: None,
        last_known_backend_seq: None,
        sync_state: SyncState::Unknown,
        last_validated_at: 0,
        message_count: 0,
    }))
}

/// The latest `limit` sequenced messages and the local outgoing ones (see
/// [`MessageCache::get_cached_messages`]); call it in a read transaction.
fn cached_messages_in(
    conn: &Connection,
    request_id: &str,
    limit: Option<usize>,
) -> Result<Vec<ChatMessage>> {
    let mut statement = conn.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages
          WHERE request_id = ?1 AND sequence_number IS NOT NULL
          ORDER BY sequence_number DESC LIMIT ?2"
    ))?;
    let mut senders = SenderMemo::default();
    let mut messages: Vec<ChatMessage> = statement
        .query_map(params![request_id, sql_limit(limit)], |row| {
            message_from_row_with(row, &mut senders)
        })?
        .collect::<rusqlite::Result<_>>()?;
    messages.reverse();
    messages.extend(local_messages(conn, request_id)?);
    Ok(messages)
}

/// The chat's local outgoing rows, in outbox order.
fn local_messages(conn: &Connection, request_id: &str) -> Result<Vec<ChatMessage>> {
    let mut statement = conn.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS_M} FROM outbox AS o JOIN messages AS m ON m.id = o.local_id
          WHERE o.request_id = ?1 ORDER BY o.position"
    ))?;
    Ok(statement
        .query_map(params![request_id], message_from_row)?
        .collect::<rusqlite::Result<_>>()?)
}

pub(crate) fn outbox_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxEntry> {
    let status: String = row.get(3)?;
    Ok(OutboxEntry {
        request_id: row.get(0)?,
        client_temp_id: row.get(1)?,
        content: row.get(2)?,
        status: if status == "failed" {
            MessageStatus::Failed
        } else {
            MessageStatus::Pending
        },
        attempts: row.get(4)?,
        created_at_ms: row.get(5)?,
    })
}

pub(crate) const OUTBOX_COLUMNS: &str =
    "request_id, client_temp_id, content, status, attempts, created_at_ms";

/// The seed's literal O(n) validation: scans the chat's rows (MIN / MAX / COUNT and the
/// contiguity of the newest window), using only the stored window start.
pub(crate) fn full_scan_summary(conn: &Connection, request_id: &str) -> Result<SeqSummary> {
    let stored_start: Option<i64> = state_row(conn, request_id)?.and_then(|s| s.window_start);
    let scanned = runs_from_rows(conn, request_id)?;
    let Some(max) = scanned.max_seq() else {
        return Ok(SeqSummary::empty());
    };
    // The window start settles on the scanned runs exactly as SeqRuns settles it.
    let window_start = SeqRuns::from_parts(scanned.runs().collect::<Vec<_>>(), stored_start)
        .window_start()
        .unwrap_or(max);
    let (count, min_in_window, max_in_window): (i64, i64, i64) = conn
        .prepare_cached(
            "SELECT COUNT(*), MIN(sequence_number), MAX(sequence_number) FROM messages
              WHERE request_id = ?1 AND sequence_number >= ?2",
        )?
        .query_row(params![request_id, window_start], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    let window_holes = if count == max_in_window - min_in_window + 1 {
        Vec::new()
    } else {
        let mut holes = Vec::new();
        let mut statement = conn.prepare_cached(
            "SELECT sequence_number FROM messages
              WHERE request_id = ?1 AND sequence_number >= ?2 ORDER BY sequence_number",
        )?;
        let mut rows = statement.query(params![request_id, window_start])?;
        let mut previous: Option<i64> = None;
        while let Some(row) = rows.next()? {
            let seq: i64 = row.get(0)?;
            if let Some(prev) = previous
                && seq > prev + 1
            {
                holes.push(SeqRange::new(prev + 1, seq - 1));
            }
            previous = Some(seq);
        }
        holes
    };
    Ok(SeqSummary {
        max_seq: Some(max),
        window_start: Some(window_start),
        window_holes,
    })
}

fn backend_seq(conn: &Connection, request_id: &str) -> Result<Option<i64>> {
    Ok(state_row(conn, request_id)?.and_then(|s| s.backend))
}

impl MessageCache {
    /// The latest `limit` sequenced messages ascending by sequence (`None` = all),
    /// followed by the chat's local outgoing messages (no sequence; pending / failed)
    /// in outbox order.
    pub fn get_cached_messages(
        &self,
        request_id: &str,
        limit: Option<usize>,
    ) -> std::result::Result<Vec<ChatMessage>, CacheError> {
        self.read(|conn| cached_messages_in(conn, request_id, limit))
    }

    /// What opening a chat shows, in one read transaction (one consistent snapshot):
    /// exactly what [`MessageCache::get_cached_messages`], [`MessageCache::get_sync_meta`]
    /// and [`MessageCache::runs`] return, read at once.
    pub fn chat_page(
        &self,
        request_id: &str,
        limit: Option<usize>,
    ) -> std::result::Result<ChatPage, CacheError> {
        self.read(|conn| {
            Ok(ChatPage {
                messages: cached_messages_in(conn, request_id, limit)?,
                meta: sync_meta_in(conn, request_id)?,
                runs: load_runs(conn, request_id)?,
            })
        })
    }

    /// The `limit` sequenced messages with the highest sequence below `before_seq`, ascending.
    pub fn get_messages_before(
        &self,
        request_id: &str,
        before_seq: i64,
        limit: usize,
    ) -> std::result::Result<Vec<ChatMessage>, CacheError> {
        self.read(|conn| {
            let mut statement = conn.prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages
                  WHERE request_id = ?1 AND sequence_number IS NOT NULL AND sequence_number < ?2
                  ORDER BY sequence_number DESC LIMIT ?3"
            ))?;
            let mut senders = SenderMemo::default();
            let mut messages: Vec<ChatMessage> = statement
                .query_map(
                    params![request_id, before_seq, sql_limit(Some(limit))],
                    |row| message_from_row_with(row, &mut senders),
                )?
                .collect::<rusqlite::Result<_>>()?;
            messages.reverse();
            Ok(messages)
        })
    }

    /// The chat's meta; for a chat never seen: UNKNOWN, no sequences, count 0,
    /// `last_validated_at` 0.
    pub fn get_sync_meta(&self, request_id: &str) -> std::result::Result<ChatSyncMeta, CacheError> {
        self.read(|conn| sync_meta_in(conn, request_id))
    }

    /// The validator's view of the chat, from the persisted runs (O(runs in the
    /// window)), never a scan of messages.
    pub fn summary(&self, request_id: &str) -> std::result::Result<SeqSummary, CacheError> {
        self.read(|conn| Ok(summary_in(conn, request_id)?.0))
    }

    /// Every persisted run of the chat, with its window start.
    pub fn runs(&self, request_id: &str) -> std::result::Result<SeqRuns, CacheError> {
        self.read(|conn| load_runs(conn, request_id))
    }

    /// The recorded history gaps below the window (what "load earlier" fills), ascending.
    pub fn history_gaps(&self, request_id: &str) -> std::result::Result<Vec<SeqRange>, CacheError> {
        Ok(self.runs(request_id)?.history_gaps())
    }

    /// `validate(summary, stored last_known_backend_seq)`: the O(1) path.
    pub fn validate_sequences(
        &self,
        request_id: &str,
    ) -> std::result::Result<SequenceValidationResult, CacheError> {
        self.read(|conn| {
            let (summary, backend) = summary_in(conn, request_id)?;
            Ok(validate(&summary, backend))
        })
    }

    /// The seed's literal O(n) check (MIN / MAX / COUNT and the contiguity of the newest
    /// window, by scanning rows), kept as an integrity check; it always agrees with
    /// [`MessageCache::validate_sequences`].
    pub fn validate_sequences_full_scan(
        &self,
        request_id: &str,
    ) -> std::result::Result<SequenceValidationResult, CacheError> {
        self.read(|conn| {
            let summary = full_scan_summary(conn, request_id)?;
            Ok(validate(&summary, backend_seq(conn, request_id)?))
        })
    }

    /// The exact ranges to fetch to make the chat valid (`validate_sequences(..).missing`).
    pub fn missing_ranges(
        &self,
        request_id: &str,
    ) -> std::result::Result<Vec<SeqRange>, CacheError> {
        Ok(self.validate_sequences(request_id)?.missing)
    }

    /// Every chat the cache knows (sync state, messages, outbox or ticket metadata), sorted.
    pub fn chat_ids(&self) -> std::result::Result<Vec<String>, CacheError> {
        self.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT request_id FROM chat_sync_state UNION SELECT request_id FROM chat_meta
                 UNION SELECT request_id FROM outbox ORDER BY 1",
            )?;
            Ok(statement
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?)
        })
    }

    /// The last stored ticket list, in stored order (`history` is `None`: the driver
    /// applies it to each chat when a list arrives, see `apply_history`;
    /// [`MessageCache::tickets_with_etag`] returns it as stored).
    pub fn get_tickets(&self) -> std::result::Result<Vec<TicketSummary>, CacheError> {
        self.read(|conn| read_tickets(conn, false))
    }

    /// The `ETag` stored with the ticket list (protocol 6.1), if the stored list came
    /// with one and has not been replaced or cleared since.
    pub fn ticket_list_etag(&self) -> std::result::Result<Option<String>, CacheError> {
        self.read(stored_etag)
    }

    /// The stored ticket list exactly as the answer that carried `etag` delivered it,
    /// `history` included, when `etag` is still the stored tag; `None` when the stored
    /// list has another tag or none (it was replaced or cleared). Tag and list are
    /// read in one snapshot, so the list returned is the one that tag describes.
    pub fn tickets_with_etag(
        &self,
        etag: &str,
    ) -> std::result::Result<Option<Vec<TicketSummary>>, CacheError> {
        self.read(|conn| {
            if stored_etag(conn)?.as_deref() != Some(etag) {
                return Ok(None);
            }
            Ok(Some(read_tickets(conn, true)?))
        })
    }

    /// Every outbox entry (all chats), in enqueue order.
    pub fn outbox(&self) -> std::result::Result<Vec<OutboxEntry>, CacheError> {
        self.read(|conn| {
            let mut statement = conn.prepare_cached(&format!(
                "SELECT {OUTBOX_COLUMNS} FROM outbox ORDER BY position"
            ))?;
            Ok(statement
                .query_map([], outbox_from_row)?
                .collect::<rusqlite::Result<_>>()?)
        })
    }

    /// The outbox entry with this key, if still queued.
    pub fn outbox_entry(
        &self,
        client_temp_id: &str,
    ) -> std::result::Result<Option<OutboxEntry>, CacheError> {
        self.read(|conn| {
            let mut statement = conn.prepare_cached(&format!(
                "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE client_temp_id = ?1"
            ))?;
            Ok(statement
                .query_row(params![client_temp_id], outbox_from_row)
                .optional()?)
        })
    }

    /// `PRAGMA integrity_check` is "ok", and for every chat the persisted runs, window
    /// start, min / max / count equal what a scan of its rows gives, and every outbox
    /// entry has its local row (and every unsequenced row an outbox entry). Any
    /// disagreement is [`CacheError::Corrupt`] naming it.
    pub fn integrity_check(&self) -> std::result::Result<(), CacheError> {
        let path = self.path.clone();
        let corrupt = move |detail: String| CacheError::Corrupt {
            path: path.clone(),
            detail,
        };
        let problems = self.read(|conn| {
            let mut problems = Vec::new();
            let report: Vec<String> = conn
                .prepare("PRAGMA integrity_check")?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            if report != ["ok"] {
                problems.push(format!("integrity_check: {}", report.join("; ")));
            }
            let chats: Vec<String> = conn
                .prepare(
                    "SELECT request_id FROM chat_sync_state UNION SELECT request_id FROM messages
                     UNION SELECT request_id FROM seq_runs ORDER BY 1",
                )?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            for chat in chats {
                let stored = load_runs(conn, &chat)?;
                let raw: Vec<SeqRange> = conn
                    .prepare_cached(
                        "SELECT start_seq, end_seq FROM seq_runs WHERE request_id = ?1
                          ORDER BY start_seq",
                    )?
                    .query_map(params![chat], |r| {
                        Ok(SeqRange {
                            start: r.get(0)?,
                            end: r.get(1)?,
                        })
                    })?
                    .collect::<rusqlite::Result<_>>()?;
                let scanned = runs_from_rows(conn, &chat)?;
                if raw != scanned.runs().collect::<Vec<_>>() {
                    problems.push(format!("chat {chat}: runs {raw:?} but rows give {:?}", scanned.runs().collect::<Vec<_>>()));
                }
                let row: Option<MetaColumns> = conn
                    .prepare_cached(
                        "SELECT window_start, local_min_seq, local_max_seq, message_count
                           FROM chat_sync_state WHERE request_id = ?1",
                    )?
                    .query_row(params![chat], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                    .optional()?;
                let (window_start, min, max, count) = row.unwrap_or((None, None, None, Some(0)));
                if window_start != stored.window_start() {
                    problems.push(format!(
                        "chat {chat}: window start {window_start:?} is not a run start"
                    ));
                }
                if (min, max, count.unwrap_or(0)) != (scanned.min_seq(), scanned.max_seq(), scanned.count()) {
                    problems.push(format!(
                        "chat {chat}: meta min/max/count {min:?}/{max:?}/{count:?} but rows give \
                         {:?}/{:?}/{}",
                        scanned.min_seq(),
                        scanned.max_seq(),
                        scanned.count()
                    ));
                }
            }
            let orphans: i64 = conn.query_row(
                "SELECT (SELECT COUNT(*) FROM outbox WHERE local_id NOT IN (SELECT id FROM messages))
                      + (SELECT COUNT(*) FROM messages WHERE sequence_number IS NULL
                           AND id NOT IN (SELECT local_id FROM outbox))",
                [],
                |r| r.get(0),
            )?;
            if orphans != 0 {
                problems.push(format!("{orphans} outbox entries or local rows without their pair"));
            }
            Ok(problems)
        })?;
        if problems.is_empty() {
            Ok(())
        } else {
            Err(corrupt(problems.join("; ")))
        }
    }
}

/// Salvage helper: reads the sender of an outbox entry.
pub(crate) fn salvage_sender(json: Option<String>) -> Option<crate::types::Sender> {
    parse_sender(json.as_deref())
}

/// The stored ticket-list `ETag`, if any.
fn stored_etag(conn: &Connection) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT etag FROM ticket_list_etag WHERE singleton = 1")?
        .query_row([], |r| r.get(0))
        .optional()?)
}

/// The stored ticket rows in order, with their stored `history` when `with_history`.
fn read_tickets(conn: &Connection, with_history: bool) -> Result<Vec<TicketSummary>> {
    let mut statement = conn.prepare_cached(
        "SELECT id, title, status, unread_count, updated_at, last_message_json,
                last_message_sequence, history_epoch, history_previous_epoch,
                history_kept_through FROM tickets ORDER BY position",
    )?;
    Ok(statement
        .query_map([], |r| {
            let last_json: Option<String> = r.get(5)?;
            let epoch: Option<i64> = r.get(7)?;
            Ok(TicketSummary {
                id: r.get(0)?,
                title: r.get(1)?,
                status: r.get(2)?,
                unread_count: r.get(3)?,
                updated_at: r.get(4)?,
                last_message: last_json
                    .and_then(|j| serde_json::from_str::<LastMessageInfo>(&j).ok()),
                last_message_sequence: r.get(6)?,
                history: match epoch {
                    Some(epoch) if with_history => Some(HistoryEpoch {
                        epoch,
                        previous_epoch: r.get(8)?,
                        kept_through_sequence: r.get(9)?,
                    }),
                    _ => None,
                },
            })
        })?
        .collect::<rusqlite::Result<_>>()?)
}
