//! Test data shared by the suite and the criterion benches: realistic message rows,
//! caches of a given size, and the bare-SQLite baselines (the seed's `messages` table
//! with the cache's indexes, the same PRAGMAs).

use std::path::Path;

use chatsync::cache::{CacheOptions, EvictionLimits, MessageCache};
use chatsync::{ChatMessage, MessageStatus, Sender};
use rusqlite::{Connection, params};

use crate::BenchError;

/// Rows written per `upsert_messages` call when filling a cache.
pub const FILL_BATCH: i64 = 10_000;

/// Cache options without eviction caps (a benchmark chat may exceed the defaults).
pub fn unlimited() -> CacheOptions {
    CacheOptions {
        eviction: EvictionLimits::unlimited(),
        ..CacheOptions::default()
    }
}

const PHRASES: &[&str] = &[
    "Thanks, that worked.",
    "Could you restart the laptop and try again?",
    "The VPN client still drops the connection every few minutes, even on the office Wi-Fi.",
    "I've attached a screenshot of the error dialog.",
    "We pushed a fix for the print queue; please check whether the 3rd floor printer works now.",
    "ok",
    "Your access to the finance shared drive has been approved and should be active within the hour.",
];

/// Message `seq` of `chat`: a server-shaped row (sender, timestamps, status Sent) with
/// a content of varied length, as the seed data has.
pub fn message(chat: &str, seq: i64) -> ChatMessage {
    let technician = seq % 2 == 0;
    let sender = if technician {
        ("technician-1", "Sam Ortega")
    } else {
        ("requester-1", "Dana Whitfield")
    };
    ChatMessage {
        id: format!("{chat}-m{seq}"),
        request_id: chat.to_string(),
        sender_id: Some(sender.0.to_string()),
        sender: Some(Sender {
            id: sender.0.to_string(),
            full_name: sender.1.to_string(),
            is_technician: technician,
        }),
        content: format!("{} (#{seq})", PHRASES[(seq as usize) % PHRASES.len()]),
        sequence_number: Some(seq),
        is_screenshot: false,
        screenshot_file_name: None,
        is_read_by_current_user: true,
        created_at: "2025-01-15T09:30:00.000Z".to_string(),
        updated_at: None,
        status: MessageStatus::Sent,
        temp_id: None,
        client_temp_id: None,
        is_system_message: false,
        file_name: None,
        file_size: None,
        file_mime_type: None,
        cached_at: 1_736_933_400_000 + seq,
    }
}

/// Writes messages `1..=n` of `chat` through `upsert_messages` in batches of
/// [`FILL_BATCH`], then records `n` as the backend sequence (so the chat is valid).
pub fn fill(cache: &MessageCache, chat: &str, n: i64) -> Result<(), BenchError> {
    let mut start = 1;
    while start <= n {
        let end = (start + FILL_BATCH - 1).min(n);
        let batch: Vec<ChatMessage> = (start..=end).map(|s| message(chat, s)).collect();
        cache.upsert_messages(chat, &batch)?;
        start = end + 1;
    }
    cache.update_backend_sequence(chat, Some(n))?;
    Ok(())
}

/// The seed's `messages` table with the cache's indexes (unique (chat, sequence),
/// `cached_at`), in a WAL file with `synchronous = NORMAL`, as the cache sets it up.
pub fn raw_messages_db(path: &Path) -> Result<Connection, BenchError> {
    let conn = Connection::open(path)?;
    conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0))?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    stable_plans(&conn)?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS messages (
           id TEXT PRIMARY KEY, request_id TEXT NOT NULL, sender_id TEXT, sender_json TEXT,
           content TEXT NOT NULL, sequence_number INTEGER, is_screenshot INTEGER DEFAULT 0,
           screenshot_file_name TEXT, is_read_by_current_user INTEGER DEFAULT 0,
           created_at TEXT NOT NULL, updated_at TEXT, status TEXT, temp_id TEXT,
           client_temp_id TEXT, is_system_message INTEGER DEFAULT 0, file_name TEXT,
           file_size INTEGER, file_mime_type TEXT, cached_at INTEGER NOT NULL);
         CREATE UNIQUE INDEX IF NOT EXISTS idx_messages_request_sequence
           ON messages(request_id, sequence_number);
         CREATE INDEX IF NOT EXISTS idx_messages_cached_at ON messages(cached_at);",
    )?;
    Ok(conn)
}

const RAW_INSERT: &str = "INSERT INTO messages (id, request_id, sender_id, sender_json, content,
   sequence_number, is_screenshot, screenshot_file_name, is_read_by_current_user, created_at,
   updated_at, status, temp_id, client_temp_id, is_system_message, file_name, file_size,
   file_mime_type, cached_at)
   VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)";

fn insert_row(
    statement: &mut rusqlite::CachedStatement<'_>,
    m: &ChatMessage,
) -> rusqlite::Result<()> {
    let sender_json = m
        .sender
        .as_ref()
        .map(|s| serde_json::to_string(s).unwrap_or_default());
    statement.execute(params![
        m.id,
        m.request_id,
        m.sender_id,
        sender_json,
        m.content,
        m.sequence_number,
        m.is_screenshot,
        m.screenshot_file_name,
        m.is_read_by_current_user,
        m.created_at,
        m.updated_at,
        "sent",
        m.temp_id,
        m.client_temp_id,
        m.is_system_message,
        m.file_name,
        m.file_size,
        m.file_mime_type,
        m.cached_at,
    ])?;
    Ok(())
}

/// Inserts `rows` with one prepared statement in a single transaction.
pub fn raw_insert_one_transaction(
    conn: &mut Connection,
    rows: &[ChatMessage],
) -> Result<(), BenchError> {
    let tx = conn.transaction()?;
    {
        let mut statement = tx.prepare_cached(RAW_INSERT)?;
        for m in rows {
            insert_row(&mut statement, m)?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// Inserts `rows` with one prepared statement, committing after every row.
pub fn raw_insert_commit_per_row(
    conn: &mut Connection,
    rows: &[ChatMessage],
) -> Result<(), BenchError> {
    for m in rows {
        let tx = conn.transaction()?;
        {
            let mut statement = tx.prepare_cached(RAW_INSERT)?;
            insert_row(&mut statement, m)?;
        }
        tx.commit()?;
    }
    Ok(())
}

/// The bare query of a first page: every column of the newest `limit` rows of `chat`,
/// read into owned values (what any reader of those rows must at least do).
pub fn floor_query(conn: &Connection, chat: &str, limit: i64) -> Result<usize, BenchError> {
    let mut statement = conn.prepare_cached(
        "SELECT id, request_id, sender_id, sender_json, content, sequence_number, is_screenshot,
                screenshot_file_name, is_read_by_current_user, created_at, updated_at, status,
                temp_id, client_temp_id, is_system_message, file_name, file_size,
                file_mime_type, cached_at
           FROM messages WHERE request_id = ?1 AND sequence_number IS NOT NULL
          ORDER BY sequence_number DESC LIMIT ?2",
    )?;
    let mut rows = statement.query(params![chat, limit])?;
    let mut n = 0;
    while let Some(row) = rows.next()? {
        let mut values: Vec<rusqlite::types::Value> = Vec::with_capacity(19);
        for i in 0..19 {
            values.push(row.get(i)?);
        }
        std::hint::black_box(&values);
        n += 1;
    }
    Ok(n)
}

/// The same query, stepping over the rows without reading any column: SQLite's own
/// share of the first page (index seek and row lookups), the lowest possible cost.
pub fn step_only_query(conn: &Connection, chat: &str, limit: i64) -> Result<usize, BenchError> {
    let mut statement = conn.prepare_cached(
        "SELECT id, request_id, sender_id, sender_json, content, sequence_number, is_screenshot,
                screenshot_file_name, is_read_by_current_user, created_at, updated_at, status,
                temp_id, client_temp_id, is_system_message, file_name, file_size,
                file_mime_type, cached_at
           FROM messages WHERE request_id = ?1 AND sequence_number IS NOT NULL
          ORDER BY sequence_number DESC LIMIT ?2",
    )?;
    let mut rows = statement.query(params![chat, limit])?;
    let mut n = 0;
    while rows.next()?.is_some() {
        n += 1;
    }
    Ok(n)
}

/// A read-only connection to a cache file, for [`floor_query`].
pub fn read_only(path: &Path) -> Result<Connection, BenchError> {
    let conn = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.set_prepared_statement_cache_capacity(8);
    stable_plans(&conn)?;
    Ok(conn)
}

/// The query planner stability guarantee, as the cache sets it on its connections:
/// without it SQLite re-prepares a cached statement with a bound `LIMIT ?` on every
/// execution, so a baseline without it would not be the floor.
fn stable_plans(conn: &Connection) -> Result<(), BenchError> {
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filled_cache_is_valid_and_the_floor_query_reads_its_newest_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.sqlite");
        let cache = MessageCache::open(&path, unlimited()).unwrap();
        fill(&cache, "chat", 120).unwrap();
        assert!(cache.validate_sequences("chat").unwrap().valid);
        assert_eq!(cache.get_sync_meta("chat").unwrap().message_count, 120);
        let conn = read_only(&path).unwrap();
        assert_eq!(floor_query(&conn, "chat", 50).unwrap(), 50);
        assert_eq!(floor_query(&conn, "other", 50).unwrap(), 0);
        assert_eq!(step_only_query(&conn, "chat", 50).unwrap(), 50);
    }

    #[test]
    fn raw_inserts_store_every_row() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = raw_messages_db(&dir.path().join("raw.sqlite")).unwrap();
        let rows: Vec<ChatMessage> = (1..=30).map(|s| message("c", s)).collect();
        raw_insert_one_transaction(&mut conn, &rows[..10]).unwrap();
        raw_insert_commit_per_row(&mut conn, &rows[10..]).unwrap();
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM messages", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 30);
        // The unique index holds, as in the cache.
        assert!(raw_insert_one_transaction(&mut conn, &rows[..1]).is_err());
    }
}
