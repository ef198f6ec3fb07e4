//! Read-only queries of the reference server's SQLite file.
//!
//! The harnesses check what the server *really* stored (not what a client was told),
//! e.g. that every `clientTempId` was written exactly once. The server keeps its
//! database in WAL mode, so this connection reads committed data while the server
//! runs, without blocking it.

use std::path::Path;

use rusqlite::{Connection, OpenFlags, params};

/// One message as the server stored it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// Ticket id.
    pub ticket_id: String,
    /// Sequence within the ticket.
    pub seq: i64,
    /// Server id.
    pub id: String,
    /// Author id (`None` for system messages).
    pub sender_id: Option<String>,
    /// Text.
    pub content: String,
    /// Idempotency key sent by the author, if any.
    pub client_temp_id: Option<String>,
}

/// A read-only connection to a server database file.
pub struct ServerDb {
    conn: Connection,
}

impl std::fmt::Debug for ServerDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerDb").finish_non_exhaustive()
    }
}

fn stored(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredMessage> {
    Ok(StoredMessage {
        ticket_id: r.get(0)?,
        seq: r.get(1)?,
        id: r.get(2)?,
        sender_id: r.get(3)?,
        content: r.get(4)?,
        client_temp_id: r.get(5)?,
    })
}

const COLUMNS: &str = "ticket_id, sequence_number, id, sender_id, content, client_temp_id";

impl ServerDb {
    /// Opens `path` read-only (the server must have created it).
    pub fn open(path: &Path) -> rusqlite::Result<ServerDb> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok(ServerDb { conn })
    }

    /// Every message `sender_id` wrote with a `clientTempId`, by ticket and sequence.
    pub fn messages_with_client_temp_id(
        &self,
        sender_id: &str,
    ) -> rusqlite::Result<Vec<StoredMessage>> {
        let mut statement = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM messages WHERE sender_id = ?1 AND client_temp_id IS NOT NULL
              ORDER BY ticket_id, sequence_number"
        ))?;
        statement
            .query_map(params![sender_id], stored)?
            .collect::<rusqlite::Result<_>>()
    }

    /// The ticket's messages with sequence `>= from_seq`, ascending.
    pub fn messages_from(
        &self,
        ticket_id: &str,
        from_seq: i64,
    ) -> rusqlite::Result<Vec<StoredMessage>> {
        let mut statement = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM messages WHERE ticket_id = ?1 AND sequence_number >= ?2
              ORDER BY sequence_number"
        ))?;
        statement
            .query_map(params![ticket_id, from_seq], stored)?
            .collect::<rusqlite::Result<_>>()
    }

    /// The ticket's highest sequence (0 when it has no message).
    pub fn last_seq(&self, ticket_id: &str) -> rusqlite::Result<i64> {
        self.conn.query_row(
            "SELECT COALESCE(MAX(sequence_number), 0) FROM messages WHERE ticket_id = ?1",
            params![ticket_id],
            |r| r.get(0),
        )
    }
}
