//! The writes of [`MessageCache`]. Each is one transaction; every write of messages
//! updates the chat's persisted runs and meta columns in the same transaction.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use super::error::{CacheError, Result, invalid};
use super::read::{OUTBOX_COLUMNS, load_runs, outbox_from_row, salvage_sender};
use super::rows::{
    MESSAGE_COLUMNS, MESSAGE_PLACEHOLDERS, bind_message, message_from_row, rfc3339_from_ms,
    same_content, sender_json,
};
use super::{
    EvictionLimits, EvictionReport, MAX_ETAG_BYTES, MessageCache, MessagesChange, OutboxEntry,
};
use crate::history::{HistoryVerdict, judge};
use crate::runs::SeqRuns;
use crate::types::{ChatMessage, HistoryEpoch, MessageStatus, Sender, SyncState, TicketSummary};
use crate::validate::SeqSummary;

/// Writes the difference between `old` and `new` runs of a chat, and the chat's
/// min / max / count / window start (creating its `chat_sync_state` row if needed).
pub(crate) fn persist_runs(
    conn: &Connection,
    request_id: &str,
    old: &SeqRuns,
    new: &SeqRuns,
) -> Result<()> {
    let old_runs: BTreeMap<i64, i64> = old.runs().map(|r| (r.start, r.end)).collect();
    let new_runs: BTreeMap<i64, i64> = new.runs().map(|r| (r.start, r.end)).collect();
    {
        let mut delete =
            conn.prepare_cached("DELETE FROM seq_runs WHERE request_id = ?1 AND start_seq = ?2")?;
        for start in old_runs.keys().filter(|s| !new_runs.contains_key(s)) {
            delete.execute(params![request_id, start])?;
        }
        let mut upsert = conn.prepare_cached(
            "INSERT INTO seq_runs (request_id, start_seq, end_seq) VALUES (?1, ?2, ?3)
             ON CONFLICT(request_id, start_seq) DO UPDATE SET end_seq = excluded.end_seq",
        )?;
        for (start, end) in &new_runs {
            if old_runs.get(start) != Some(end) {
                upsert.execute(params![request_id, start, end])?;
            }
        }
    }
    conn.prepare_cached(
        "INSERT INTO chat_sync_state (request_id, local_min_seq, local_max_seq, message_count,
                                      window_start, sync_state, last_validated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'UNKNOWN', 0)
         ON CONFLICT(request_id) DO UPDATE SET local_min_seq = excluded.local_min_seq,
             local_max_seq = excluded.local_max_seq, message_count = excluded.message_count,
             window_start = excluded.window_start",
    )?
    .execute(params![
        request_id,
        new.min_seq(),
        new.max_seq(),
        new.count(),
        new.window_start()
    ])?;
    Ok(())
}

/// Checks a message that claims to be a server message of `request_id`.
fn check_server_message(request_id: &str, message: &ChatMessage) -> Result<()> {
    if message.request_id != request_id {
        return Err(invalid(format!(
            "message {} belongs to chat {}, not {request_id}",
            message.id, message.request_id
        )));
    }
    match message.sequence_number {
        Some(seq) if seq >= 1 => {}
        other => {
            return Err(invalid(format!(
                "server message {} of chat {request_id} has sequence {other:?}; \
                 a server message needs a sequence >= 1",
                message.id
            )));
        }
    }
    if message.id.is_empty() || message.id.starts_with("local:") {
        return Err(invalid(format!(
            "server message id {:?} is empty or in the local namespace",
            message.id
        )));
    }
    Ok(())
}

/// One transaction's worth of message writes to one chat, with its runs kept in memory
/// and written back once at the end (per batch, not per row).
struct Batch<'c> {
    conn: &'c Connection,
    request_id: String,
    before: SeqRuns,
    runs: SeqRuns,
    change: MessagesChange,
    outbox_in_chat: bool,
    /// The fast-path insert, prepared once per batch.
    insert: rusqlite::CachedStatement<'c>,
}

/// `INSERT ... ON CONFLICT DO NOTHING` of a whole message row.
static INSERT_OR_NOTHING: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES ({MESSAGE_PLACEHOLDERS}) ON CONFLICT DO NOTHING"
    )
});

impl<'c> Batch<'c> {
    fn begin(conn: &'c Connection, request_id: &str) -> Result<Batch<'c>> {
        let runs = load_runs(conn, request_id)?;
        let outbox_in_chat: bool = conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM outbox WHERE request_id = ?1)")?
            .query_row(params![request_id], |r| r.get(0))?;
        Ok(Batch {
            conn,
            request_id: request_id.to_string(),
            before: runs.clone(),
            runs,
            change: MessagesChange {
                request_id: request_id.to_string(),
                ..MessagesChange::default()
            },
            outbox_in_chat,
            insert: conn.prepare_cached(&INSERT_OR_NOTHING)?,
        })
    }

    /// Writes the runs back and returns the change with the fresh summary.
    fn finish(mut self) -> Result<MessagesChange> {
        if self.runs != self.before {
            persist_runs(self.conn, &self.request_id, &self.before, &self.runs)?;
        } else {
            self.conn
                .prepare_cached(
                    "INSERT OR IGNORE INTO chat_sync_state (request_id, sync_state, last_validated_at)
                     VALUES (?1, 'UNKNOWN', 0)",
                )?
                .execute(params![self.request_id])?;
        }
        self.change.summary = self.runs.summary();
        Ok(self.change)
    }

    /// Records that row `id` is gone.
    /// A row inserted earlier in this batch simply disappears from `inserted` (rare path).
    fn note_removed(&mut self, id: &str) {
        self.change.updated.retain(|m| m.id != id);
        if let Some(index) = self.change.inserted.iter().position(|m| m.id == id) {
            self.change.inserted.remove(index);
        } else {
            self.change.removed_ids.push(id.to_string());
        }
    }

    /// Deletes the outbox entry and local row of `client_temp_id` if it is queued in this chat.
    fn reconcile_local(&mut self, client_temp_id: &str) -> Result<bool> {
        let entry: Option<(String, String)> = self
            .conn
            .prepare_cached("SELECT local_id, request_id FROM outbox WHERE client_temp_id = ?1")?
            .query_row(params![client_temp_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let Some((local_id, chat)) = entry else {
            return Ok(false);
        };
        if chat != self.request_id {
            return Ok(false);
        }
        self.conn
            .prepare_cached("DELETE FROM outbox WHERE client_temp_id = ?1")?
            .execute(params![client_temp_id])?;
        self.conn
            .prepare_cached("DELETE FROM messages WHERE id = ?1")?
            .execute(params![local_id])?;
        self.note_removed(&local_id);
        self.change
            .reconciled_client_temp_ids
            .push(client_temp_id.to_string());
        Ok(true)
    }

    /// Deletes the row holding `seq` in this chat unless it is `keep_id`.
    fn remove_other_at(&mut self, seq: i64, keep_id: &str) -> Result<()> {
        let other: Option<String> = self
            .conn
            .prepare_cached(
                "SELECT id FROM messages WHERE request_id = ?1 AND sequence_number = ?2 AND id <> ?3",
            )?
            .query_row(params![self.request_id, seq, keep_id], |r| r.get(0))
            .optional()?;
        if let Some(other) = other {
            self.conn
                .prepare_cached("DELETE FROM messages WHERE id = ?1")?
                .execute(params![other])?;
            self.note_removed(&other);
        }
        Ok(())
    }

    /// Idempotent upsert of one checked server message.
    fn apply(&mut self, message: &ChatMessage) -> Result<()> {
        let seq = message.sequence_number.unwrap_or_default();
        let stored = ChatMessage {
            status: MessageStatus::Sent,
            ..message.clone()
        };
        if self.outbox_in_chat
            && let Some(ct) = &message.client_temp_id
        {
            self.reconcile_local(ct)?;
        }
        // Fast path: a new row is one INSERT (the common case of a page or a push).
        if bind_message(&mut self.insert, &stored)? == 1 {
            self.runs.insert(seq);
            self.change.inserted.push(stored);
            return Ok(());
        }
        // The id or the (chat, sequence) is already held.
        let existing: Option<ChatMessage> = self
            .conn
            .prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?1"
            ))?
            .query_row(params![stored.id], message_from_row)
            .optional()?;
        match existing {
            Some(existing) => {
                if existing.request_id != self.request_id {
                    return Err(invalid(format!(
                        "message id {} already belongs to chat {}",
                        stored.id, existing.request_id
                    )));
                }
                let Some(old_seq) = existing.sequence_number else {
                    return Err(invalid(format!(
                        "message id {} collides with a local outgoing message",
                        stored.id
                    )));
                };
                if same_content(&existing, &stored) {
                    return Ok(());
                }
                if old_seq != seq {
                    self.remove_other_at(seq, &stored.id)?;
                    self.runs.remove(old_seq);
                }
                let mut update = self.conn.prepare_cached(&format!(
                    "UPDATE messages SET ({MESSAGE_COLUMNS}) = ({MESSAGE_PLACEHOLDERS}) WHERE id = ?1"
                ))?;
                bind_message(&mut update, &stored)?;
                self.runs.insert(seq);
                self.change.updated.retain(|m| m.id != stored.id);
                if let Some(m) = self.change.inserted.iter_mut().find(|m| m.id == stored.id) {
                    *m = stored;
                } else {
                    self.change.updated.push(stored);
                }
            }
            None => {
                // The server is authoritative: its message replaces the one at this sequence.
                self.remove_other_at(seq, &stored.id)?;
                let mut insert = self.conn.prepare_cached(&format!(
                    "INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES ({MESSAGE_PLACEHOLDERS})"
                ))?;
                bind_message(&mut insert, &stored)?;
                self.runs.insert(seq);
                self.change.inserted.push(stored);
            }
        }
        Ok(())
    }
}

/// An outbox entry read from a corrupt file, with the author of its local row.
#[derive(Debug, Clone)]
pub(crate) struct Salvaged {
    entry: OutboxEntry,
    sender: Option<Sender>,
}

/// Reads what it can of the outbox of a (moved-aside, corrupt) file, read-only; a v1
/// file's unsent rows are read from `messages`. Any failure ends the salvage with what
/// was read so far.
pub(crate) fn salvage_outbox(path: &Path) -> Vec<Salvaged> {
    let Ok(conn) = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    ) else {
        return Vec::new();
    };
    // A truncated file is refused by SQLite (its header counts more pages than the
    // file holds) unless the schema is "writable"; on this read-only connection that
    // only makes SQLite read the pages that are there.
    let _ = conn.pragma_update(None, "writable_schema", true);
    let queries = [
        format!("SELECT {OUTBOX_COLUMNS}, sender_json FROM outbox ORDER BY position"),
        "SELECT request_id, COALESCE(client_temp_id, temp_id, id), content,
                COALESCE(status, 'pending'), 0, cached_at, sender_json
           FROM messages WHERE sequence_number IS NULL ORDER BY cached_at"
            .to_string(),
    ];
    for sql in queries {
        let mut statement = match conn.prepare(&sql) {
            Ok(statement) => statement,
            Err(error) => {
                tracing::warn!(%error, "outbox salvage: query failed");
                continue;
            }
        };
        let Ok(rows) = statement.query_map([], |r| {
            Ok(Salvaged {
                entry: outbox_from_row(r)?,
                sender: salvage_sender(r.get(6)?),
            })
        }) else {
            continue;
        };
        let salvaged: Vec<Salvaged> = rows.map_while(|r| r.ok()).collect();
        tracing::info!(
            entries = salvaged.len(),
            "salvaged outbox from a corrupt cache"
        );
        return salvaged;
    }
    Vec::new()
}

/// Inserts a local outgoing row and its outbox entry.
fn insert_outgoing(
    conn: &Connection,
    entry: &OutboxEntry,
    sender: Option<Sender>,
) -> Result<ChatMessage> {
    let message = ChatMessage {
        id: format!("local:{}", entry.client_temp_id),
        request_id: entry.request_id.clone(),
        sender_id: sender.as_ref().map(|s| s.id.clone()),
        sender,
        content: entry.content.clone(),
        sequence_number: None,
        is_screenshot: false,
        screenshot_file_name: None,
        is_read_by_current_user: true,
        created_at: rfc3339_from_ms(entry.created_at_ms),
        updated_at: None,
        status: entry.status,
        temp_id: None,
        client_temp_id: Some(entry.client_temp_id.clone()),
        is_system_message: false,
        file_name: None,
        file_size: None,
        file_mime_type: None,
        cached_at: entry.created_at_ms,
    };
    let mut insert = conn.prepare_cached(&format!(
        "INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES ({MESSAGE_PLACEHOLDERS})"
    ))?;
    bind_message(&mut insert, &message)?;
    conn.prepare_cached(
        "INSERT INTO outbox (client_temp_id, request_id, local_id, content, sender_json, status,
                             attempts, created_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        entry.client_temp_id,
        entry.request_id,
        message.id,
        entry.content,
        sender_json(&message.sender),
        entry.status.as_str(),
        entry.attempts,
        entry.created_at_ms
    ])?;
    conn.prepare_cached(
        "INSERT OR IGNORE INTO chat_sync_state (request_id, sync_state, last_validated_at)
         VALUES (?1, 'UNKNOWN', 0)",
    )?
    .execute(params![entry.request_id])?;
    Ok(message)
}

fn queued(conn: &Connection, client_temp_id: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM outbox WHERE client_temp_id = ?1)
                 OR EXISTS (SELECT 1 FROM messages WHERE id = 'local:' || ?1)",
        )?
        .query_row(params![client_temp_id], |r| r.get(0))?)
}

/// Deletes rows by id, removing their sequences from `runs`.
fn delete_sequenced(conn: &Connection, rows: &[(String, i64)], runs: &mut SeqRuns) -> Result<()> {
    let mut delete = conn.prepare_cached("DELETE FROM messages WHERE id = ?1")?;
    for (id, seq) in rows {
        delete.execute(params![id])?;
        runs.remove(*seq);
    }
    Ok(())
}

/// The upsert of [`MessageCache::upsert_messages`] inside the caller's transaction.
fn upsert_in(
    tx: &Connection,
    request_id: &str,
    messages: &[ChatMessage],
) -> Result<MessagesChange> {
    let mut batch = Batch::begin(tx, request_id)?;
    for message in messages {
        batch.apply(message)?;
    }
    batch.finish()
}

/// Deletes the chat's server messages above `seq` inside the caller's transaction
/// (local outgoing rows have no sequence and stay).
fn truncate_in(tx: &Connection, request_id: &str, seq: i64) -> Result<MessagesChange> {
    let mut batch = Batch::begin(tx, request_id)?;
    let doomed: Vec<(String, i64)> = tx
        .prepare_cached(
            "SELECT id, sequence_number FROM messages
              WHERE request_id = ?1 AND sequence_number > ?2",
        )?
        .query_map(params![request_id, seq], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    tx.prepare_cached("DELETE FROM messages WHERE request_id = ?1 AND sequence_number > ?2")?
        .execute(params![request_id, seq])?;
    for (id, _) in &doomed {
        batch.note_removed(id);
    }
    batch.runs.truncate_above(seq);
    batch.finish()
}

/// Judges `seen` against the chat's stored epoch inside the caller's write transaction
/// and applies the verdict (discard, record the epoch).
fn apply_history_in(
    tx: &Connection,
    request_id: &str,
    seen: &HistoryEpoch,
) -> Result<(HistoryVerdict, Option<MessagesChange>)> {
    let verdict = judge(stored_epoch(tx, request_id)?, seen);
    let change = match verdict {
        HistoryVerdict::Current | HistoryVerdict::Stale => return Ok((verdict, None)),
        HistoryVerdict::Adopt => None,
        HistoryVerdict::Rewritten { keep_through } => {
            Some(truncate_in(tx, request_id, keep_through)?)
        }
    };
    tx.prepare_cached(
        "INSERT INTO chat_sync_state (request_id, history_epoch, sync_state, last_validated_at)
         VALUES (?1, ?2, 'UNKNOWN', 0)
         ON CONFLICT(request_id) DO UPDATE SET history_epoch = excluded.history_epoch",
    )?
    .execute(params![request_id, seen.epoch])?;
    Ok((verdict, change))
}

/// The stored history epoch of a chat.
fn stored_epoch(conn: &Connection, request_id: &str) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT history_epoch FROM chat_sync_state WHERE request_id = ?1")?
        .query_row(params![request_id], |r| r.get(0))
        .optional()?
        .flatten())
}

impl MessageCache {
    /// [`check_server_message`] for each message, as the caller's error.
    fn check_server_messages(
        &self,
        request_id: &str,
        messages: &[ChatMessage],
    ) -> std::result::Result<(), CacheError> {
        for message in messages {
            check_server_message(request_id, message)
                .map_err(|e| e.into_cache_error(&self.path))?;
        }
        Ok(())
    }

    /// Idempotent upsert of server messages of one chat, in one transaction.
    ///
    /// Every message must have `request_id == request_id` and a sequence `>= 1`, else
    /// [`CacheError::InvalidData`] and nothing is written. The same id again is one row
    /// (updated if any field but `cached_at` changed); a sequence held by another id is
    /// replaced by the incoming message (the server is authoritative: removed +
    /// inserted); a message whose `client_temp_id` matches a queued outgoing message of
    /// this chat replaces its local row and outbox entry (`removed_ids` gets the local
    /// id, `reconciled_client_temp_ids` the key). Apply `removed_ids` before the rest.
    pub fn upsert_messages(
        &self,
        request_id: &str,
        messages: &[ChatMessage],
    ) -> std::result::Result<MessagesChange, CacheError> {
        self.check_server_messages(request_id, messages)?;
        self.write(|tx| upsert_in(tx, request_id, messages))
    }

    /// Stores pushed messages: [`MessageCache::upsert_messages`], and in the same
    /// transaction raises `last_known_backend_seq` to at least their highest sequence
    /// (a push proves the backend reached it). One commit per batch of pushes, where an
    /// upsert followed by [`MessageCache::update_backend_sequence`] would be two.
    pub fn store_pushed(
        &self,
        request_id: &str,
        messages: &[ChatMessage],
    ) -> std::result::Result<MessagesChange, CacheError> {
        self.check_server_messages(request_id, messages)?;
        let highest = messages.iter().filter_map(|m| m.sequence_number).max();
        self.write(|tx| {
            let change = upsert_in(tx, request_id, messages)?;
            if let Some(seq) = highest {
                tx.prepare_cached(
                    "UPDATE chat_sync_state
                        SET last_known_backend_seq = MAX(COALESCE(last_known_backend_seq, 0), ?2)
                      WHERE request_id = ?1",
                )?
                .execute(params![request_id, seq])?;
            }
            Ok(change)
        })
    }

    /// The seed's `add_message`: [`MessageCache::upsert_messages`] with one message.
    pub fn add_message(
        &self,
        message: &ChatMessage,
    ) -> std::result::Result<MessagesChange, CacheError> {
        self.upsert_messages(&message.request_id, std::slice::from_ref(message))
    }

    /// The seed's `cache_messages`: replaces every server message of the chat with these
    /// (local outgoing rows kept, reconciled as in `upsert_messages`); the runs are rebuilt
    /// from the new set with the seed's semantics (the window is min..=max).
    pub fn cache_messages(
        &self,
        request_id: &str,
        messages: &[ChatMessage],
    ) -> std::result::Result<MessagesChange, CacheError> {
        self.check_server_messages(request_id, messages)?;
        self.write(|tx| {
            let mut batch = Batch::begin(tx, request_id)?;
            let keep: HashSet<&str> = messages.iter().map(|m| m.id.as_str()).collect();
            let old: Vec<(String, i64)> = tx
                .prepare_cached(
                    "SELECT id, sequence_number FROM messages
                      WHERE request_id = ?1 AND sequence_number IS NOT NULL",
                )?
                .query_map(params![request_id], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            let (kept, gone): (Vec<_>, Vec<_>) = old
                .into_iter()
                .partition(|(id, _)| keep.contains(id.as_str()));
            let mut scratch = SeqRuns::new();
            delete_sequenced(tx, &gone, &mut scratch)?;
            for (id, _) in &gone {
                batch.note_removed(id);
            }
            let mut runs = SeqRuns::new();
            for (_, seq) in &kept {
                runs.insert(*seq);
            }
            batch.runs = runs;
            for message in messages {
                batch.apply(message)?;
            }
            let min = batch.runs.min_seq();
            batch.runs = SeqRuns::from_parts(batch.runs.runs().collect::<Vec<_>>(), min);
            batch.finish()
        })
    }

    /// Sets the chat's sync state, and `last_validated_at` when `validated_at_ms` is given.
    pub fn update_sync_state(
        &self,
        request_id: &str,
        state: SyncState,
        validated_at_ms: Option<i64>,
    ) -> std::result::Result<(), CacheError> {
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO chat_sync_state (request_id, sync_state, last_validated_at)
                 VALUES (?1, ?2, COALESCE(?3, 0))
                 ON CONFLICT(request_id) DO UPDATE SET sync_state = excluded.sync_state,
                     last_validated_at = COALESCE(?3, last_validated_at)",
            )?
            .execute(params![request_id, state.as_str(), validated_at_ms])?;
            Ok(())
        })
    }

    /// Sets `last_known_backend_seq`; `None` clears it (unknown). A negative sequence is
    /// [`CacheError::InvalidData`].
    pub fn update_backend_sequence(
        &self,
        request_id: &str,
        seq: Option<i64>,
    ) -> std::result::Result<(), CacheError> {
        if let Some(s) = seq
            && s < 0
        {
            return Err(CacheError::InvalidData(format!(
                "backend sequence {s} of chat {request_id} is negative"
            )));
        }
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO chat_sync_state (request_id, last_known_backend_seq, sync_state,
                                              last_validated_at)
                 VALUES (?1, ?2, 'UNKNOWN', 0)
                 ON CONFLICT(request_id) DO UPDATE SET
                     last_known_backend_seq = excluded.last_known_backend_seq",
            )?
            .execute(params![request_id, seq])?;
            Ok(())
        })
    }

    /// Sets every chat to UNKNOWN (connectivity restored).
    pub fn mark_all_chats_unknown(&self) -> std::result::Result<(), CacheError> {
        self.write(|tx| {
            tx.execute("UPDATE chat_sync_state SET sync_state = 'UNKNOWN'", [])?;
            Ok(())
        })
    }

    /// [`SeqRuns::set_window_start`] on the persisted runs; returns the fresh summary.
    pub fn set_window_start(
        &self,
        request_id: &str,
        seq: i64,
    ) -> std::result::Result<SeqSummary, CacheError> {
        self.write(|tx| {
            let before = load_runs(tx, request_id)?;
            let mut runs = before.clone();
            runs.set_window_start(seq);
            if runs != before {
                persist_runs(tx, request_id, &before, &runs)?;
            }
            Ok(runs.summary())
        })
    }

    /// Deletes the chat's server messages with a sequence above `seq` (the server went
    /// back); every local outgoing row is kept.
    pub fn truncate_above(
        &self,
        request_id: &str,
        seq: i64,
    ) -> std::result::Result<MessagesChange, CacheError> {
        self.write(|tx| truncate_in(tx, request_id, seq))
    }

    /// The epoch the chat's cached messages belong to (protocol 4.3); `None` = none seen.
    pub fn history_epoch(&self, request_id: &str) -> std::result::Result<Option<i64>, CacheError> {
        self.read(|conn| stored_epoch(conn, request_id))
    }

    /// Applies the client rule for history rewrites (see [`crate::history::judge`]) to
    /// an answer's `seen` epoch: [`MessageCache::apply_histories`] for one chat.
    pub fn apply_history(
        &self,
        request_id: &str,
        seen: &HistoryEpoch,
    ) -> std::result::Result<(HistoryVerdict, Option<MessagesChange>), CacheError> {
        let mut applied = self.apply_histories(&[(request_id, *seen)])?;
        Ok(applied.pop().expect("one outcome per answer"))
    }

    /// Applies the client rule for history rewrites to the epochs one answer reported
    /// per chat (a ticket list: one per ticket), in one transaction: a rewrite discards
    /// the chat's cached server messages above what it kept (every local outgoing row is
    /// kept) and records the new epoch; a first epoch is recorded; current or stale ones
    /// write nothing (nothing at all is written when every one is). Returns, in order,
    /// each verdict and, for a rewrite, what was removed.
    pub fn apply_histories(
        &self,
        answers: &[(&str, HistoryEpoch)],
    ) -> std::result::Result<Vec<(HistoryVerdict, Option<MessagesChange>)>, CacheError> {
        let verdicts = self.read(|conn| {
            answers
                .iter()
                .map(|(request_id, seen)| Ok(judge(stored_epoch(conn, request_id)?, seen)))
                .collect::<Result<Vec<_>>>()
        })?;
        if verdicts
            .iter()
            .all(|v| matches!(v, HistoryVerdict::Current | HistoryVerdict::Stale))
        {
            return Ok(verdicts.into_iter().map(|v| (v, None)).collect());
        }
        self.write(|tx| {
            answers
                .iter()
                .map(|(request_id, seen)| apply_history_in(tx, request_id, seen))
                .collect()
        })
    }

    /// Replaces the stored ticket list (order kept) and records each ticket's
    /// `last_message_sequence` in `chat_meta.latest_sequence` (a `None` keeps the previous
    /// value). Does not touch `chat_sync_state`. Duplicate ticket ids or a negative
    /// sequence are [`CacheError::InvalidData`] (nothing written). The list has no
    /// `ETag`: a stored one is forgotten in the same transaction
    /// ([`MessageCache::store_ticket_list`] with `None`).
    pub fn store_tickets(
        &self,
        tickets: &[TicketSummary],
        now_ms: i64,
    ) -> std::result::Result<(), CacheError> {
        self.store_ticket_list(tickets, None, now_ms)
    }

    /// [`MessageCache::store_tickets`] for an answer that carried `etag` (the server's
    /// strong entity tag, protocol 6.1), stored with each entry's `history`: the list
    /// and its tag are written in one transaction, so a stored tag always describes
    /// exactly the stored list. `None` forgets any stored tag. An empty or over-long
    /// (over 1 KiB) tag is [`CacheError::InvalidData`] (nothing written).
    pub fn store_ticket_list(
        &self,
        tickets: &[TicketSummary],
        etag: Option<&str>,
        now_ms: i64,
    ) -> std::result::Result<(), CacheError> {
        if let Some(tag) = etag
            && (tag.is_empty() || tag.len() > MAX_ETAG_BYTES)
        {
            return Err(CacheError::InvalidData(format!(
                "a ticket list ETag must be 1..={MAX_ETAG_BYTES} bytes, got {}",
                tag.len()
            )));
        }
        let mut seen = HashSet::new();
        for ticket in tickets {
            if !seen.insert(ticket.id.as_str()) {
                return Err(CacheError::InvalidData(format!(
                    "ticket {} appears twice in the list",
                    ticket.id
                )));
            }
            if let Some(s) = ticket.last_message_sequence
                && s < 0
            {
                return Err(CacheError::InvalidData(format!(
                    "ticket {} has a negative last message sequence {s}",
                    ticket.id
                )));
            }
        }
        self.write(|tx| {
            tx.execute("DELETE FROM tickets", [])?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO tickets (position, id, title, status, unread_count, updated_at,
                                      last_message_json, last_message_sequence, history_epoch,
                                      history_previous_epoch, history_kept_through)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?;
            let mut meta = tx.prepare_cached(
                "INSERT INTO chat_meta (request_id, latest_sequence, last_updated, message_count)
                 VALUES (?1, ?2, ?3, COALESCE((SELECT message_count FROM chat_sync_state
                                                WHERE request_id = ?1), 0))
                 ON CONFLICT(request_id) DO UPDATE SET
                     latest_sequence = COALESCE(excluded.latest_sequence, latest_sequence),
                     last_updated = excluded.last_updated, message_count = excluded.message_count",
            )?;
            for (position, ticket) in tickets.iter().enumerate() {
                let last_json = ticket
                    .last_message
                    .as_ref()
                    .and_then(|m| serde_json::to_string(m).ok());
                insert.execute(params![
                    position as i64,
                    ticket.id,
                    ticket.title,
                    ticket.status,
                    ticket.unread_count,
                    ticket.updated_at,
                    last_json,
                    ticket.last_message_sequence,
                    ticket.history.map(|h| h.epoch),
                    ticket.history.and_then(|h| h.previous_epoch),
                    ticket.history.and_then(|h| h.kept_through_sequence)
                ])?;
                meta.execute(params![ticket.id, ticket.last_message_sequence, now_ms])?;
            }
            match etag {
                Some(tag) => tx.execute(
                    "INSERT INTO ticket_list_etag (singleton, etag) VALUES (1, ?1)
                     ON CONFLICT(singleton) DO UPDATE SET etag = excluded.etag",
                    params![tag],
                )?,
                None => tx.execute("DELETE FROM ticket_list_etag", [])?,
            };
            Ok(())
        })
    }

    /// Queues an outgoing message: an outbox entry and its local row (id
    /// `local:<client_temp_id>`, status `Pending`, no sequence, `created_at` = RFC 3339 of
    /// `now_ms`). A key already queued is [`CacheError::AlreadyQueued`].
    pub fn enqueue_outgoing(
        &self,
        request_id: &str,
        content: &str,
        client_temp_id: &str,
        sender: Option<Sender>,
        now_ms: i64,
    ) -> std::result::Result<ChatMessage, CacheError> {
        if client_temp_id.is_empty() || request_id.is_empty() {
            return Err(CacheError::InvalidData(
                "an outgoing message needs a chat id and a client_temp_id".into(),
            ));
        }
        self.write(|tx| {
            if queued(tx, client_temp_id)? {
                return Err(CacheError::AlreadyQueued(client_temp_id.to_string()).into());
            }
            let entry = OutboxEntry {
                request_id: request_id.to_string(),
                client_temp_id: client_temp_id.to_string(),
                content: content.to_string(),
                status: MessageStatus::Pending,
                attempts: 0,
                created_at_ms: now_ms,
            };
            insert_outgoing(tx, &entry, sender)
        })
    }

    /// Sets an outbox entry's and its local row's status (`Pending` or `Failed`;
    /// `Sent` is [`CacheError::InvalidData`]); `Failed` increments `attempts`. Returns the
    /// updated local message, `None` when the entry no longer exists (already reconciled).
    pub fn set_outgoing_status(
        &self,
        client_temp_id: &str,
        status: MessageStatus,
    ) -> std::result::Result<Option<ChatMessage>, CacheError> {
        if status == MessageStatus::Sent {
            return Err(CacheError::InvalidData(
                "an outbox entry is pending or failed; a sent message is reconciled instead".into(),
            ));
        }
        self.write(|tx| {
            let local_id: Option<String> = tx
                .prepare_cached("SELECT local_id FROM outbox WHERE client_temp_id = ?1")?
                .query_row(params![client_temp_id], |r| r.get(0))
                .optional()?;
            let Some(local_id) = local_id else {
                return Ok(None);
            };
            tx.prepare_cached(
                "UPDATE outbox SET status = ?2, attempts = attempts + ?3 WHERE client_temp_id = ?1",
            )?
            .execute(params![
                client_temp_id,
                status.as_str(),
                i64::from(status == MessageStatus::Failed)
            ])?;
            tx.prepare_cached("UPDATE messages SET status = ?2 WHERE id = ?1")?
                .execute(params![local_id, status.as_str()])?;
            Ok(tx
                .prepare_cached(&format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?1"
                ))?
                .query_row(params![local_id], message_from_row)
                .optional()?)
        })
    }

    /// The POST answered with the server copy: deletes the outbox entry and local row and
    /// upserts the server copy, in one transaction. Idempotent: a second call, or one after
    /// the echo reconciled it, changes nothing.
    pub fn reconcile_sent(
        &self,
        client_temp_id: &str,
        server_copy: &ChatMessage,
    ) -> std::result::Result<MessagesChange, CacheError> {
        check_server_message(&server_copy.request_id, server_copy)
            .map_err(|e| e.into_cache_error(&self.path))?;
        self.write(|tx| {
            let chat: Option<String> = tx
                .prepare_cached("SELECT request_id FROM outbox WHERE client_temp_id = ?1")?
                .query_row(params![client_temp_id], |r| r.get(0))
                .optional()?;
            if let Some(chat) = chat
                && chat != server_copy.request_id
            {
                return Err(invalid(format!(
                    "outbox entry {client_temp_id} is queued in chat {chat}, \
                     the server copy is in {}",
                    server_copy.request_id
                )));
            }
            let mut batch = Batch::begin(tx, &server_copy.request_id)?;
            batch.reconcile_local(client_temp_id)?;
            batch.apply(server_copy)?;
            batch.finish()
        })
    }

    /// Eviction: first each chat above `max_messages_per_chat`, then all chats above
    /// `max_messages_total`, deleting sequenced messages oldest first by `cached_at` (then
    /// chat, then sequence), never a message of a chat's newest window and never a local
    /// outgoing row. The runs are updated in the same transaction. Negative caps are
    /// [`CacheError::InvalidData`].
    pub fn evict(
        &self,
        limits: &EvictionLimits,
    ) -> std::result::Result<EvictionReport, CacheError> {
        for cap in [limits.max_messages_per_chat, limits.max_messages_total]
            .into_iter()
            .flatten()
        {
            if cap < 0 {
                return Err(CacheError::InvalidData(format!(
                    "negative eviction cap {cap}"
                )));
            }
        }
        self.write(|tx| {
            let mut victims: BTreeMap<String, Vec<(String, i64)>> = BTreeMap::new();
            if let Some(cap) = limits.max_messages_per_chat {
                let over: Vec<(String, i64, i64)> = tx
                    .prepare_cached(
                        "SELECT request_id, message_count, window_start FROM chat_sync_state
                          WHERE message_count > ?1 AND window_start IS NOT NULL",
                    )?
                    .query_map(params![cap], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect::<rusqlite::Result<_>>()?;
                let mut pick = tx.prepare_cached(
                    "SELECT id, sequence_number FROM messages
                      WHERE request_id = ?1 AND sequence_number < ?2
                      ORDER BY cached_at, sequence_number LIMIT ?3",
                )?;
                for (chat, count, window_start) in over {
                    let rows: Vec<(String, i64)> = pick
                        .query_map(params![chat, window_start, count - cap], |r| {
                            Ok((r.get(0)?, r.get(1)?))
                        })?
                        .collect::<rusqlite::Result<_>>()?;
                    if !rows.is_empty() {
                        victims.insert(chat, rows);
                    }
                }
            }
            if let Some(cap) = limits.max_messages_total {
                let total: i64 = tx.query_row(
                    "SELECT COALESCE(SUM(message_count), 0) FROM chat_sync_state",
                    [],
                    |r| r.get(0),
                )?;
                let already: i64 = victims.values().map(|v| v.len() as i64).sum();
                let excess = total - already - cap;
                if excess > 0 {
                    let chosen: HashSet<String> = victims
                        .values()
                        .flatten()
                        .map(|(id, _)| id.clone())
                        .collect();
                    let mut pick = tx.prepare_cached(
                        "SELECT m.request_id, m.id, m.sequence_number FROM messages AS m
                           JOIN chat_sync_state AS s ON s.request_id = m.request_id
                          WHERE m.sequence_number < s.window_start
                          ORDER BY m.cached_at, m.request_id, m.sequence_number",
                    )?;
                    let mut rows = pick.query([])?;
                    let mut taken = 0;
                    while taken < excess {
                        let Some(row) = rows.next()? else { break };
                        let (chat, id, seq): (String, String, i64) =
                            (row.get(0)?, row.get(1)?, row.get(2)?);
                        if chosen.contains(&id) {
                            continue;
                        }
                        victims.entry(chat).or_default().push((id, seq));
                        taken += 1;
                    }
                }
            }
            let mut report = EvictionReport::default();
            for (chat, rows) in victims {
                let before = load_runs(tx, &chat)?;
                let mut runs = before.clone();
                delete_sequenced(tx, &rows, &mut runs)?;
                persist_runs(tx, &chat, &before, &runs)?;
                report.evicted += rows.len() as i64;
                report.per_chat.push((chat, rows.len() as i64));
            }
            Ok(report)
        })
    }

    /// Sign-out: deletes every row of every table (messages, sync state, runs, meta,
    /// tickets and their `ETag`, outbox).
    pub fn clear(&self) -> std::result::Result<(), CacheError> {
        self.write(|tx| {
            tx.execute_batch(
                "DELETE FROM outbox; DELETE FROM messages; DELETE FROM seq_runs;
                 DELETE FROM chat_sync_state; DELETE FROM chat_meta; DELETE FROM tickets;
                 DELETE FROM ticket_list_etag;",
            )?;
            Ok(())
        })
    }

    /// Queues salvaged outbox entries again (keys already present are skipped); returns
    /// how many were queued.
    pub(crate) fn restore_outbox(
        &self,
        salvaged: &[Salvaged],
    ) -> std::result::Result<usize, CacheError> {
        self.write(|tx| {
            let mut restored = 0;
            let mut seen: HashMap<&str, ()> = HashMap::new();
            for item in salvaged {
                let key = item.entry.client_temp_id.as_str();
                if key.is_empty()
                    || item.entry.request_id.is_empty()
                    || seen.insert(key, ()).is_some()
                    || queued(tx, key)?
                {
                    continue;
                }
                insert_outgoing(tx, &item.entry, item.sender.clone())?;
                restored += 1;
            }
            Ok(restored)
        })
    }
}
