//! Connection set-up and the versioned schema (modelled on the `ConnectionInitializer`
//! of mozilla application-services: PRAGMAs, `init` for a fresh file, `upgrade_from`
//! one version at a time, each step in its own transaction, the version in
//! `PRAGMA user_version`, a newer file rejected).

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::CacheOptions;
use super::error::{CacheError, Failure, Result};
use crate::runs::SeqRuns;
use crate::types::SeqRange;

/// The schema version this build writes.
pub(crate) const CURRENT_VERSION: i64 = 4;

/// Version 1: the seed's schema, exactly as the seed specifies it.
pub(crate) const SCHEMA_V1: &str = "
CREATE TABLE messages (
  id TEXT PRIMARY KEY,
  request_id TEXT NOT NULL,
  sender_id TEXT,
  sender_json TEXT,
  content TEXT NOT NULL,
  sequence_number INTEGER,
  is_screenshot INTEGER DEFAULT 0,
  screenshot_file_name TEXT,
  is_read_by_current_user INTEGER DEFAULT 0,
  created_at TEXT NOT NULL,
  updated_at TEXT,
  status TEXT,
  temp_id TEXT,
  client_temp_id TEXT,
  is_system_message INTEGER DEFAULT 0,
  file_name TEXT,
  file_size INTEGER,
  file_mime_type TEXT,
  cached_at INTEGER NOT NULL
);
CREATE INDEX idx_messages_request_id ON messages(request_id);
CREATE INDEX idx_messages_request_sequence ON messages(request_id, sequence_number);
CREATE INDEX idx_messages_cached_at ON messages(cached_at);
CREATE TABLE chat_sync_state (
  request_id TEXT PRIMARY KEY,
  local_min_seq INTEGER,
  local_max_seq INTEGER,
  last_known_backend_seq INTEGER,
  sync_state TEXT NOT NULL DEFAULT 'UNKNOWN',
  last_validated_at INTEGER NOT NULL,
  message_count INTEGER DEFAULT 0
);
CREATE TABLE chat_meta (
  request_id TEXT PRIMARY KEY,
  latest_sequence INTEGER,
  last_updated INTEGER NOT NULL,
  message_count INTEGER DEFAULT 0
);
";

/// Version 2: what the design needs beyond the seed. Each statement says why.
const MIGRATION_V1_TO_V2: &str = "
-- Invariant: a sequence is Some(n >= 1) or absent. A v1 row with a sequence < 1
-- was never a server sequence: it becomes an unsequenced (local) row.
UPDATE messages SET sequence_number = NULL WHERE sequence_number < 1;

-- The seed's add_message rule: the same sequence twice in a chat is one row. v1 did
-- not enforce it; keep the most recently cached row of each (chat, sequence).
DELETE FROM messages AS m
 WHERE m.sequence_number IS NOT NULL
   AND EXISTS (SELECT 1 FROM messages AS o
                WHERE o.request_id = m.request_id
                  AND o.sequence_number = m.sequence_number
                  AND (o.cached_at > m.cached_at
                       OR (o.cached_at = m.cached_at AND o.rowid > m.rowid)));

-- ... and SQLite enforces it from now on (NULLs, the local rows, never collide).
-- The unique index also serves every per-chat lookup, so the seed's separate
-- request_id index is dropped: one b-tree less to update per inserted message.
DROP INDEX idx_messages_request_sequence;
DROP INDEX idx_messages_request_id;
CREATE UNIQUE INDEX idx_messages_request_sequence ON messages(request_id, sequence_number);

-- A row with a sequence is stored by the server: its status is 'sent'.
UPDATE messages SET status = 'sent' WHERE sequence_number IS NOT NULL;

-- SeqRuns persisted: one row per contiguous run of cached sequences, so summary()
-- and validation read O(runs), never the messages.
CREATE TABLE seq_runs (
  request_id TEXT NOT NULL,
  start_seq INTEGER NOT NULL CHECK (start_seq >= 1),
  end_seq INTEGER NOT NULL CHECK (end_seq >= start_seq),
  PRIMARY KEY (request_id, start_seq)
) WITHOUT ROWID;

-- SeqRuns' window start (the first sequence of the newest window); it depends on
-- the history of inserts and windowed resyncs, so it cannot be derived from rows.
ALTER TABLE chat_sync_state ADD COLUMN window_start INTEGER;

-- Unsent outgoing messages: not re-downloadable, so kept self-contained (content,
-- author, status, attempts) for recovery to salvage even when messages is lost.
-- position = enqueue order; local_id = the row in messages that the UI shows.
CREATE TABLE outbox (
  position INTEGER PRIMARY KEY AUTOINCREMENT,
  client_temp_id TEXT NOT NULL UNIQUE,
  request_id TEXT NOT NULL,
  local_id TEXT NOT NULL UNIQUE REFERENCES messages(id),
  content TEXT NOT NULL,
  sender_json TEXT,
  status TEXT NOT NULL CHECK (status IN ('pending', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  created_at_ms INTEGER NOT NULL
);
CREATE INDEX idx_outbox_request ON outbox(request_id, position);

-- v1 kept outgoing messages only as unsequenced rows. One already answered by the
-- server (a sequenced row of the chat with the same client_temp_id) is dropped; every
-- other one is queued under its client_temp_id (or temp_id, or id), which the server
-- deduplicates, so a re-send is harmless.
DELETE FROM messages AS m
 WHERE m.sequence_number IS NULL AND m.client_temp_id IS NOT NULL
   AND EXISTS (SELECT 1 FROM messages AS s
                WHERE s.request_id = m.request_id AND s.sequence_number IS NOT NULL
                  AND s.client_temp_id = m.client_temp_id);
UPDATE messages SET client_temp_id = COALESCE(client_temp_id, temp_id, id),
                    status = CASE status WHEN 'failed' THEN 'failed' ELSE 'pending' END
 WHERE sequence_number IS NULL;
INSERT OR IGNORE INTO outbox (client_temp_id, request_id, local_id, content, sender_json,
                              status, attempts, created_at_ms)
SELECT client_temp_id, request_id, id, content, sender_json, status, 0, cached_at
  FROM messages WHERE sequence_number IS NULL ORDER BY cached_at, rowid;
-- Two v1 rows with one key are one message to the server: keep the queued one.
DELETE FROM messages
 WHERE sequence_number IS NULL AND id NOT IN (SELECT local_id FROM outbox);

-- The last ticket list (metadata shown before any chat is opened), in server order.
CREATE TABLE tickets (
  position INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  title TEXT NOT NULL,
  status TEXT NOT NULL,
  unread_count INTEGER NOT NULL,
  updated_at TEXT NOT NULL,
  last_message_json TEXT,
  last_message_sequence INTEGER
);

-- A state validated by older code under the O(n) rules is not trusted after the data
-- was normalised: every chat is re-validated (UNKNOWN is the default, not an error).
UPDATE chat_sync_state SET sync_state = 'UNKNOWN';
";

/// Version 3: the history epoch (protocol 4.3) the chat's cached messages belong to;
/// NULL = none seen yet (every chat of an older file: adopted on the next answer).
const MIGRATION_V2_TO_V3: &str = "
ALTER TABLE chat_sync_state ADD COLUMN history_epoch INTEGER;
";

/// Version 4: conditional GET of the ticket list (protocol 6.1). The stored list keeps
/// each entry's `history` as the server reported it (so a `304 Not Modified` can be
/// answered from the stored rows exactly as the `200` was, history included), and the
/// list's strong `ETag` lives in a one-row table written in the transaction that
/// stores the list. An older file has no tag: its first refresh is unconditional.
const MIGRATION_V3_TO_V4: &str = "
ALTER TABLE tickets ADD COLUMN history_epoch INTEGER;
ALTER TABLE tickets ADD COLUMN history_previous_epoch INTEGER;
ALTER TABLE tickets ADD COLUMN history_kept_through INTEGER;
CREATE TABLE ticket_list_etag (
  singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
  etag TEXT NOT NULL
);
";

/// Sets the per-connection PRAGMAs of the writer (outside any transaction, as
/// `journal_mode` requires).
pub(crate) fn setup_writer(conn: &Connection, options: &CacheOptions, file: bool) -> Result<()> {
    conn.busy_timeout(options.busy_timeout)?;
    if file {
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Failure::Cache(CacheError::Sqlite(format!(
                "could not enable WAL (journal_mode is {mode})"
            ))));
        }
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "journal_size_limit", options.journal_size_limit_bytes)?;
    }
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    stable_plans(conn)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// Sets the per-connection PRAGMAs of a read-only connection.
pub(crate) fn setup_reader(conn: &Connection, options: &CacheOptions) -> Result<()> {
    conn.busy_timeout(options.busy_timeout)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    stable_plans(conn)?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(())
}

/// Turns on the query planner stability guarantee, so a cached statement keeps its
/// plan when new values are bound. Without it SQLite marks a bound `LIMIT ?` (and a
/// few other parameters) "reprepare on bind": every execution of such a cached
/// statement re-parsed its SQL, which was a quarter of the time of opening a chat.
/// The cache's queries are primary-key and unique-index lookups, whose plans do not
/// depend on the values.
fn stable_plans(conn: &Connection) -> Result<()> {
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

/// Brings the schema to [`CURRENT_VERSION`]: `init` for a fresh file, else one
/// `upgrade_from` step per version, each in its own transaction that also sets
/// `user_version` (a failed step leaves the file at the previous version).
pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let objects: i64 = tx.query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| r.get(0))?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if objects == 0 {
            init(&tx)?;
            tx.pragma_update(None, "user_version", CURRENT_VERSION)?;
            tx.commit()?;
            return Ok(());
        }
        let version = if version == 0 {
            // The seed's apps never set user_version: a file holding the seed's
            // tables is version 1; anything else is not a chatsync cache.
            let has_messages: Option<String> = tx
                .query_row(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'messages'",
                    [],
                    |r| r.get(0),
                )
                .optional()?;
            if has_messages.is_none() {
                return Err(Failure::Cache(CacheError::Corrupt {
                    path: Default::default(),
                    detail: "not a chatsync cache (no messages table, user_version 0)".into(),
                }));
            }
            1
        } else {
            version
        };
        if version > CURRENT_VERSION {
            return Err(Failure::Cache(CacheError::IncompatibleVersion {
                found: version,
                supported: CURRENT_VERSION,
            }));
        }
        if version == CURRENT_VERSION {
            return Ok(());
        }
        upgrade_from(&tx, version)?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
    }
}

/// A fresh file: the seed's version 1 followed by every upgrade, in one transaction,
/// so a fresh cache and a migrated one have exactly the same schema.
fn init(conn: &Connection) -> Result<()> {
    conn.execute_batch(SCHEMA_V1)?;
    for version in 1..CURRENT_VERSION {
        upgrade_from(conn, version)?;
    }
    Ok(())
}

/// Upgrades the schema from `version` to `version + 1`.
fn upgrade_from(conn: &Connection, version: i64) -> Result<()> {
    match version {
        1 => {
            conn.execute_batch(MIGRATION_V1_TO_V2)?;
            rebuild_all_runs(conn)
        }
        2 => Ok(conn.execute_batch(MIGRATION_V2_TO_V3)?),
        3 => Ok(conn.execute_batch(MIGRATION_V3_TO_V4)?),
        other => Err(Failure::Cache(CacheError::Sqlite(format!(
            "no migration from schema version {other}"
        )))),
    }
}

/// Rebuilds `seq_runs` and the seed's meta columns of every chat from its rows, with the
/// seed's semantics for a v1 file: the window is min..=max (continuity between min and max).
fn rebuild_all_runs(conn: &Connection) -> Result<()> {
    conn.execute_batch(
        "INSERT OR IGNORE INTO chat_sync_state (request_id, sync_state, last_validated_at)
         SELECT DISTINCT request_id, 'UNKNOWN', 0 FROM messages;",
    )?;
    let chats: Vec<String> = conn
        .prepare("SELECT request_id FROM chat_sync_state")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for chat in chats {
        let runs = runs_from_rows(conn, &chat)?;
        let runs = SeqRuns::from_parts(runs.runs().collect::<Vec<_>>(), runs.min_seq());
        super::write::persist_runs(conn, &chat, &SeqRuns::new(), &runs)?;
    }
    Ok(())
}

/// The runs of a chat computed by scanning its rows (the integrity check's side).
pub(crate) fn runs_from_rows(conn: &Connection, request_id: &str) -> Result<SeqRuns> {
    let mut statement = conn.prepare_cached(
        "SELECT sequence_number FROM messages
          WHERE request_id = ?1 AND sequence_number IS NOT NULL ORDER BY sequence_number",
    )?;
    let mut rows = statement.query(params![request_id])?;
    let mut ranges: Vec<SeqRange> = Vec::new();
    while let Some(row) = rows.next()? {
        let seq: i64 = row.get(0)?;
        match ranges.last_mut() {
            Some(last) if last.end + 1 == seq => last.end = seq,
            Some(last) if last.end >= seq => {}
            _ => ranges.push(SeqRange {
                start: seq,
                end: seq,
            }),
        }
    }
    Ok(SeqRuns::from_parts(ranges, None))
}

/// Checks the file header before SQLite touches the file: a non-empty file must carry
/// the SQLite magic, and (when no WAL is pending) be as long as its header says.
/// SQLite itself would open a truncated file and fail only when a missing page is read.
pub(crate) fn check_header(path: &Path) -> std::result::Result<(), CacheError> {
    use std::io::Read;
    let corrupt = |detail: String| CacheError::Corrupt {
        path: path.to_path_buf(),
        detail,
    };
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(CacheError::Io(format!(
                "cannot read {}: {e}",
                path.display()
            )));
        }
    };
    let len = file
        .metadata()
        .map_err(|e| CacheError::Io(format!("cannot stat {}: {e}", path.display())))?
        .len();
    if len == 0 {
        return Ok(());
    }
    let mut header = [0u8; 100];
    if len < header.len() as u64 {
        return Err(corrupt(format!(
            "file is {len} bytes, shorter than an SQLite header (truncated or not a database)"
        )));
    }
    file.read_exact(&mut header)
        .map_err(|e| CacheError::Io(format!("cannot read {}: {e}", path.display())))?;
    if &header[..16] != b"SQLite format 3\0" {
        return Err(corrupt(
            "file is not an SQLite database (bad header)".into(),
        ));
    }
    let page_size = match u16::from_be_bytes([header[16], header[17]]) {
        1 => 65_536u64,
        n => u64::from(n),
    };
    if !(512..=65_536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(corrupt(format!("invalid page size {page_size} in header")));
    }
    let change_counter = u32::from_be_bytes([header[24], header[25], header[26], header[27]]);
    let pages = u32::from_be_bytes([header[28], header[29], header[30], header[31]]);
    let valid_for = u32::from_be_bytes([header[92], header[93], header[94], header[95]]);
    let wal = path.with_file_name(format!(
        "{}-wal",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    let wal_pending = std::fs::metadata(&wal)
        .map(|m| m.len() > 0)
        .unwrap_or(false);
    if !wal_pending && valid_for == change_counter && pages > 0 {
        let expected = u64::from(pages) * page_size;
        if len < expected {
            return Err(corrupt(format!(
                "file is truncated: {len} bytes, the header says {pages} pages of {page_size} \
                 bytes ({expected} bytes)"
            )));
        }
    }
    Ok(())
}
