//! SQLite storage: users, tickets, messages, read pointers.
//!
//! One connection behind a mutex; every write runs in a `BEGIN IMMEDIATE`
//! transaction, and the sequence of a new message is `tickets.last_seq + 1`, read and
//! bumped inside that transaction, with `UNIQUE(ticket_id, sequence_number)` as the
//! backstop. Changes are handed to the push dispatcher *after* COMMIT and *before* the
//! mutex is released, so pushes leave in commit (= sequence) order per ticket.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use tokio::sync::mpsc::UnboundedSender;

use crate::config::{Role, UserSpec};
use crate::error::ServerError;
use crate::seed::SeedTicket;
use crate::wire::{ChatMessage, History, LastMessage, Sender, TicketSummary};

/// A user as the server knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct User {
    pub id: String,
    pub role: Role,
    pub full_name: String,
    pub token: String,
}

/// Users by id and by token; fixed once the server has started.
#[derive(Debug, Default)]
pub(crate) struct Users {
    by_id: HashMap<String, User>,
    by_token: HashMap<String, String>,
    order: Vec<String>,
}

impl Users {
    pub fn get(&self, id: &str) -> Option<&User> {
        self.by_id.get(id)
    }

    pub fn by_token(&self, token: &str) -> Option<&User> {
        self.by_token.get(token).and_then(|id| self.by_id.get(id))
    }

    /// In configuration order, then database order.
    pub fn all(&self) -> impl Iterator<Item = &User> {
        self.order.iter().filter_map(|id| self.by_id.get(id))
    }

    fn sender(&self, id: &str) -> Option<Sender> {
        self.get(id).map(|u| Sender {
            id: u.id.clone(),
            full_name: u.full_name.clone(),
            is_technician: u.role == Role::Technician,
        })
    }
}

/// Which slice of a chat a page request wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PageQuery {
    After(i64),
    Before(i64),
    Latest,
}

/// A page as the store returns it (before faults are applied).
#[derive(Debug, Clone)]
pub(crate) struct Page {
    pub messages: Vec<ChatMessage>,
    pub last_seq: i64,
    pub history: History,
    pub has_more: bool,
}

/// What a post did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostOutcome {
    /// The stored message, as its sender sees it.
    pub message: ChatMessage,
    /// False when the `clientTempId` was already used: no new message was written.
    pub created: bool,
}

/// What a restore did, read in the transaction that did it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestoreOutcome {
    /// Messages deleted; 0 when `up_to` was not below the ticket's highest sequence.
    pub removed: u64,
    /// The ticket's highest sequence afterwards.
    pub last_message_sequence: i64,
    /// The ticket's history afterwards: a new epoch when `removed > 0`, else unchanged.
    pub history: History,
}

/// A committed change the push dispatcher turns into frames.
#[derive(Debug, Clone)]
pub(crate) struct Change {
    pub committed_at: Instant,
    pub kind: ChangeKind,
}

#[derive(Debug, Clone)]
pub(crate) enum ChangeKind {
    /// A new message; `message` as its sender sees it, sent to every recipient with
    /// `isReadByCurrentUser` set per recipient.
    MessageNew {
        ticket_id: String,
        message: Box<ChatMessage>,
        recipients: Vec<(String, bool)>,
    },
    /// A ticket's metadata changed.
    TicketUpdated {
        ticket_id: String,
        last_seq: i64,
        history: History,
        recipients: Vec<String>,
    },
}

pub(crate) struct Store {
    conn: Mutex<Connection>,
    users: Arc<Users>,
    changes: UnboundedSender<Change>,
}

/// The schema version this server writes (`PRAGMA user_version`).
pub(crate) const SCHEMA_VERSION: i64 = 2;

/// Version 0 -> 1: the original tables. `IF NOT EXISTS` keeps it harmless on a file
/// that already has them.
const MIGRATE_TO_V1: &str = "
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('requester', 'technician')),
    full_name TEXT NOT NULL,
    token TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS tickets (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    status TEXT NOT NULL,
    requester_id TEXT NOT NULL REFERENCES users(id),
    technician_id TEXT NOT NULL REFERENCES users(id),
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    last_seq INTEGER NOT NULL DEFAULT 0 CHECK (last_seq >= 0)
);
CREATE INDEX IF NOT EXISTS tickets_requester ON tickets(requester_id);
CREATE INDEX IF NOT EXISTS tickets_technician ON tickets(technician_id);
CREATE TABLE IF NOT EXISTS messages (
    id TEXT PRIMARY KEY,
    ticket_id TEXT NOT NULL REFERENCES tickets(id),
    sequence_number INTEGER NOT NULL CHECK (sequence_number >= 1),
    sender_id TEXT REFERENCES users(id),
    content TEXT NOT NULL,
    is_screenshot INTEGER NOT NULL DEFAULT 0,
    screenshot_file_name TEXT,
    created_ms INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'sent',
    client_temp_id TEXT,
    is_system_message INTEGER NOT NULL DEFAULT 0,
    file_name TEXT,
    file_size INTEGER,
    file_mime_type TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS messages_ticket_seq ON messages(ticket_id, sequence_number);
CREATE UNIQUE INDEX IF NOT EXISTS messages_client_temp_id
    ON messages(ticket_id, sender_id, client_temp_id) WHERE client_temp_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS reads (
    ticket_id TEXT NOT NULL REFERENCES tickets(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    read_up_to INTEGER NOT NULL DEFAULT 0,
    unread INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (ticket_id, user_id)
);
";

/// Version 1 -> 2: each ticket's history epoch (`docs/protocol.md` section 4.3).
/// `epoch` 0 means never rewritten; `previous_epoch` and `kept_through` are NULL then.
const MIGRATE_TO_V2: &str = "
ALTER TABLE tickets ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0 CHECK (epoch >= 0);
ALTER TABLE tickets ADD COLUMN previous_epoch INTEGER CHECK (previous_epoch >= 0);
ALTER TABLE tickets ADD COLUMN kept_through INTEGER CHECK (kept_through >= 0);
";

/// The steps, in order: `MIGRATIONS[i]` takes a database from version `i` to `i + 1`.
const MIGRATIONS: [&str; SCHEMA_VERSION as usize] = [MIGRATE_TO_V1, MIGRATE_TO_V2];

/// The database's schema version, or a configuration error when this server cannot
/// open it (newer than [`SCHEMA_VERSION`], or negative). Reads only.
fn known_version(conn: &Connection) -> Result<i64, ServerError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(ServerError::Config(format!(
            "database schema version {version} is newer than this server ({SCHEMA_VERSION})"
        )));
    }
    if version < 0 {
        return Err(ServerError::Config(format!(
            "database schema version {version} is not a chatsync-server version"
        )));
    }
    Ok(version)
}

/// Brings the database to [`SCHEMA_VERSION`], one transaction per step (the step's
/// DDL and its `user_version` commit together, so a crash leaves a whole version).
/// A database newer than this server, or with a negative version, is refused untouched.
fn migrate(conn: &mut Connection) -> Result<(), ServerError> {
    let version = known_version(conn)?;
    for (from, step) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Re-read inside the write lock: another process may have migrated meanwhile.
        let current = known_version(&tx)?;
        if current > from as i64 {
            continue;
        }
        tx.execute_batch(step)?;
        tx.execute_batch(&format!("PRAGMA user_version = {};", from + 1))?;
        tx.commit()?;
        tracing::info!(version = from + 1, "database schema migrated");
    }
    Ok(())
}

const MESSAGE_COLUMNS: &str = "id, ticket_id, sequence_number, sender_id, content, is_screenshot, \
     screenshot_file_name, created_ms, status, client_temp_id, is_system_message, file_name, \
     file_size, file_mime_type";

/// Current time in Unix milliseconds.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// RFC 3339 UTC with milliseconds, fixed width: `2026-11-25T10:00:00.123Z`.
pub(crate) fn rfc3339(ms: i64) -> String {
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) else {
        return "1970-01-01T00:00:00.000Z".to_string();
    };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// A random token: 32 hex digits from the OS generator.
pub(crate) fn random_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

struct Row {
    id: String,
    ticket_id: String,
    seq: i64,
    sender_id: Option<String>,
    content: String,
    is_screenshot: bool,
    screenshot_file_name: Option<String>,
    created_ms: i64,
    status: String,
    client_temp_id: Option<String>,
    is_system: bool,
    file_name: Option<String>,
    file_size: Option<i64>,
    file_mime_type: Option<String>,
}

fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok(Row {
        id: r.get(0)?,
        ticket_id: r.get(1)?,
        seq: r.get(2)?,
        sender_id: r.get(3)?,
        content: r.get(4)?,
        is_screenshot: r.get(5)?,
        screenshot_file_name: r.get(6)?,
        created_ms: r.get(7)?,
        status: r.get(8)?,
        client_temp_id: r.get(9)?,
        is_system: r.get(10)?,
        file_name: r.get(11)?,
        file_size: r.get(12)?,
        file_mime_type: r.get(13)?,
    })
}

struct TicketRow {
    requester_id: String,
    technician_id: String,
    last_seq: i64,
    updated_ms: i64,
    history: History,
}

impl TicketRow {
    fn parties(&self) -> Vec<String> {
        vec![self.requester_id.clone(), self.technician_id.clone()]
    }

    fn has_party(&self, user_id: &str) -> bool {
        self.requester_id == user_id || self.technician_id == user_id
    }
}

fn ticket_row(conn: &Connection, ticket_id: &str) -> rusqlite::Result<Option<TicketRow>> {
    conn.prepare_cached(
        "SELECT requester_id, technician_id, last_seq, updated_ms, epoch, previous_epoch, \
         kept_through FROM tickets WHERE id = ?1",
    )?
    .query_row([ticket_id], |r| {
        Ok(TicketRow {
            requester_id: r.get(0)?,
            technician_id: r.get(1)?,
            last_seq: r.get(2)?,
            updated_ms: r.get(3)?,
            history: read_history(r, 4)?,
        })
    })
    .optional()
}

/// The history stored in columns `first..first + 3` (epoch, previous, kept-through).
fn read_history(r: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<History> {
    Ok(History {
        epoch: r.get(first)?,
        previous_epoch: r.get(first + 1)?,
        kept_through_sequence: r.get(first + 2)?,
    })
}

fn unknown_ticket(ticket_id: &str) -> ServerError {
    ServerError::NotFound(format!("ticket {ticket_id:?} not found"))
}

/// Recounts a user's unread messages in a ticket (messages above the read pointer not
/// written by the user).
fn recount_unread(conn: &Connection, ticket_id: &str, user_id: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE reads SET unread = (SELECT COUNT(*) FROM messages m WHERE m.ticket_id = ?1 \
           AND m.sequence_number > reads.read_up_to \
           AND (m.sender_id IS NULL OR m.sender_id != ?2)) \
         WHERE ticket_id = ?1 AND user_id = ?2",
        params![ticket_id, user_id],
    )?;
    Ok(())
}

impl Store {
    /// Opens (creating if needed) the database, upserts the configured users and
    /// returns the store with the full user set.
    pub fn open(
        db: Option<&Path>,
        configured: &[UserSpec],
        changes: UnboundedSender<Change>,
    ) -> Result<Store, ServerError> {
        let mut conn = match db {
            Some(path) => Connection::open(path)?,
            None => Connection::open_in_memory()?,
        };
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // Refuse a file of a newer server before changing anything in it (journal mode).
        known_version(&conn)?;
        if db.is_some() {
            conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
            conn.execute_batch("PRAGMA synchronous = NORMAL;")?;
        }
        conn.execute_batch("PRAGMA foreign_keys = ON;")?;
        migrate(&mut conn)?;
        let users = Self::sync_users(&mut conn, configured)?;
        Ok(Store {
            conn: Mutex::new(conn),
            users: Arc::new(users),
            changes,
        })
    }

    fn sync_users(conn: &mut Connection, configured: &[UserSpec]) -> Result<Users, ServerError> {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let existing: i64 = tx.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?;
        let defaults;
        let wanted: &[UserSpec] = if configured.is_empty() && existing == 0 {
            defaults = crate::config::default_users();
            &defaults
        } else {
            configured
        };
        let mut seen_ids = std::collections::HashSet::new();
        let mut seen_tokens = std::collections::HashSet::new();
        for spec in wanted {
            if spec.id.is_empty() || spec.full_name.is_empty() {
                return Err(ServerError::Config(
                    "every user needs a non-empty id and fullName".into(),
                ));
            }
            if !seen_ids.insert(spec.id.clone()) {
                return Err(ServerError::Config(format!("user id {:?} twice", spec.id)));
            }
            let old_token: Option<String> = tx
                .query_row("SELECT token FROM users WHERE id = ?1", [&spec.id], |r| {
                    r.get(0)
                })
                .optional()?;
            let token = match (&spec.token, old_token) {
                (Some(t), _) if t.is_empty() || t.chars().any(|c| c.is_whitespace()) => {
                    return Err(ServerError::Config(format!(
                        "token of user {:?} must be non-empty and without spaces",
                        spec.id
                    )));
                }
                (Some(t), _) => t.clone(),
                (None, Some(old)) => old,
                (None, None) => random_token(),
            };
            if !seen_tokens.insert(token.clone()) {
                return Err(ServerError::Config(format!(
                    "token of user {:?} is used by another user",
                    spec.id
                )));
            }
            // Free the token if another stored user holds it, then upsert.
            tx.execute(
                "UPDATE users SET token = lower(hex(randomblob(16))) WHERE token = ?1 AND id != ?2",
                params![token, spec.id],
            )?;
            tx.execute(
                "INSERT INTO users (id, role, full_name, token) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT(id) DO UPDATE SET role = excluded.role, full_name = excluded.full_name, \
                 token = excluded.token",
                params![spec.id, spec.role.as_str(), spec.full_name, token],
            )?;
        }
        let mut users = Users::default();
        {
            let mut stmt =
                tx.prepare("SELECT id, role, full_name, token FROM users ORDER BY rowid")?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })?;
            let mut stored = Vec::new();
            for row in rows {
                stored.push(row?);
            }
            // Configured users first, in configuration order; then the others.
            stored.sort_by_key(|(id, ..)| {
                wanted
                    .iter()
                    .position(|s| &s.id == id)
                    .unwrap_or(usize::MAX)
            });
            for (id, role, full_name, token) in stored {
                let role = Role::parse(&role).unwrap_or(Role::Requester);
                users.by_token.insert(token.clone(), id.clone());
                users.order.push(id.clone());
                users.by_id.insert(
                    id.clone(),
                    User {
                        id,
                        role,
                        full_name,
                        token,
                    },
                );
            }
        }
        tx.commit()?;
        Ok(users)
    }

    pub fn users(&self) -> Arc<Users> {
        self.users.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a transaction open (rusqlite rolls
        // back on drop), so the connection is still consistent.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn emit(&self, kind: ChangeKind) {
        let change = Change {
            committed_at: Instant::now(),
            kind,
        };
        if self.changes.send(change).is_err() {
            tracing::debug!("push dispatcher gone; change not pushed");
        }
    }

    fn to_wire(&self, row: Row, viewer: &str, read_up_to: i64) -> ChatMessage {
        let own = row.sender_id.as_deref() == Some(viewer);
        let created = rfc3339(row.created_ms);
        ChatMessage {
            sender: row
                .sender_id
                .as_deref()
                .and_then(|id| self.users.sender(id)),
            id: row.id,
            request_id: row.ticket_id,
            sender_id: row.sender_id,
            content: row.content,
            sequence_number: row.seq,
            is_screenshot: row.is_screenshot,
            screenshot_file_name: row.screenshot_file_name,
            is_read_by_current_user: own || row.seq <= read_up_to,
            updated_at: Some(created.clone()),
            created_at: created,
            status: row.status,
            client_temp_id: row.client_temp_id,
            is_system_message: row.is_system,
            file_name: row.file_name,
            file_size: row.file_size,
            file_mime_type: row.file_mime_type,
        }
    }

    /// Number of tickets stored.
    pub fn ticket_count(&self) -> Result<i64, ServerError> {
        let conn = self.lock();
        Ok(conn.query_row("SELECT COUNT(*) FROM tickets", [], |r| r.get(0))?)
    }

    /// Ticket ids in creation order.
    pub fn ticket_ids(&self) -> Result<Vec<String>, ServerError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached("SELECT id FROM tickets ORDER BY rowid")?;
        let ids = stmt
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(ids)
    }

    /// The ticket's highest sequence (0 when empty).
    pub fn last_sequence(&self, ticket_id: &str) -> Result<i64, ServerError> {
        let conn = self.lock();
        ticket_row(&conn, ticket_id)?
            .map(|t| t.last_seq)
            .ok_or_else(|| unknown_ticket(ticket_id))
    }

    /// Creates an empty ticket between a requester and a technician.
    pub fn create_ticket(
        &self,
        id: Option<&str>,
        title: &str,
        requester_id: &str,
        technician_id: &str,
    ) -> Result<String, ServerError> {
        self.check_parties(requester_id, technician_id)?;
        if title.trim().is_empty() {
            return Err(ServerError::BadInput("title must not be empty".into()));
        }
        let id = match id {
            Some("") => {
                return Err(ServerError::BadInput("ticket id must not be empty".into()));
            }
            Some(id) => id.to_string(),
            None => uuid::Uuid::new_v4().to_string(),
        };
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if ticket_row(&tx, &id)?.is_some() {
            return Err(ServerError::BadInput(format!(
                "ticket {id:?} already exists"
            )));
        }
        let now = now_ms();
        tx.execute(
            "INSERT INTO tickets (id, title, status, requester_id, technician_id, created_ms, updated_ms) \
             VALUES (?1, ?2, 'open', ?3, ?4, ?5, ?5)",
            params![id, title, requester_id, technician_id, now],
        )?;
        for user in [requester_id, technician_id] {
            tx.execute(
                "INSERT INTO reads (ticket_id, user_id) VALUES (?1, ?2)",
                params![id, user],
            )?;
        }
        tx.commit()?;
        self.emit(ChangeKind::TicketUpdated {
            ticket_id: id.clone(),
            last_seq: 0,
            history: History::ORIGINAL,
            recipients: vec![requester_id.to_string(), technician_id.to_string()],
        });
        Ok(id)
    }

    fn check_parties(&self, requester_id: &str, technician_id: &str) -> Result<(), ServerError> {
        match self.users.get(requester_id) {
            Some(u) if u.role == Role::Requester => {}
            Some(_) => {
                return Err(ServerError::BadInput(format!(
                    "user {requester_id:?} is not a requester"
                )));
            }
            None => {
                return Err(ServerError::NotFound(format!(
                    "user {requester_id:?} not found"
                )));
            }
        }
        match self.users.get(technician_id) {
            Some(u) if u.role == Role::Technician => Ok(()),
            Some(_) => Err(ServerError::BadInput(format!(
                "user {technician_id:?} is not a technician"
            ))),
            None => Err(ServerError::NotFound(format!(
                "user {technician_id:?} not found"
            ))),
        }
    }

    /// Writes generated seed tickets in one transaction.
    pub fn insert_seed(
        &self,
        tickets: &[SeedTicket],
        requester_id: &str,
        technician_id: &str,
    ) -> Result<(), ServerError> {
        self.check_parties(requester_id, technician_id)?;
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut ticket_stmt = tx.prepare(
                "INSERT INTO tickets (id, title, status, requester_id, technician_id, created_ms, \
                 updated_ms, last_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            let mut read_stmt = tx.prepare(
                "INSERT INTO reads (ticket_id, user_id, read_up_to, unread) VALUES (?1, ?2, ?3, ?4)",
            )?;
            let mut msg_stmt = tx.prepare(
                "INSERT INTO messages (id, ticket_id, sequence_number, sender_id, content, \
                 is_screenshot, screenshot_file_name, created_ms, status, is_system_message, \
                 file_name, file_size, file_mime_type) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'sent', ?9, ?10, ?11, ?12)",
            )?;
            for t in tickets {
                let last_seq = t.messages.len() as i64;
                let updated = t.messages.last().map_or(t.created_ms, |m| m.created_ms);
                ticket_stmt.execute(params![
                    t.id,
                    t.title,
                    t.status,
                    requester_id,
                    technician_id,
                    t.created_ms,
                    updated,
                    last_seq
                ])?;
                for (i, m) in t.messages.iter().enumerate() {
                    let sender = match m.from {
                        Some(Role::Requester) => Some(requester_id),
                        Some(Role::Technician) => Some(technician_id),
                        None => None,
                    };
                    msg_stmt.execute(params![
                        m.id,
                        t.id,
                        i as i64 + 1,
                        sender,
                        m.content,
                        m.screenshot.is_some(),
                        m.screenshot.as_ref().map(|s| &s.file_name),
                        m.created_ms,
                        sender.is_none(),
                        m.screenshot.as_ref().map(|s| &s.file_name),
                        m.screenshot.as_ref().map(|s| s.file_size),
                        m.screenshot.as_ref().map(|_| "image/png"),
                    ])?;
                }
                for (user, side) in [
                    (requester_id, Role::Requester),
                    (technician_id, Role::Technician),
                ] {
                    let read_up_to = t.read_up_to(side);
                    let unread = t.messages[read_up_to as usize..]
                        .iter()
                        .filter(|m| m.from != Some(side))
                        .count() as i64;
                    read_stmt.execute(params![t.id, user, read_up_to, unread])?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The ticket list of `user_id`, most recent activity first (ties by id).
    pub fn list_tickets(&self, user_id: &str) -> Result<Vec<TicketSummary>, ServerError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT t.id, t.title, t.status, t.updated_ms, t.last_seq, COALESCE(r.unread, 0), \
                    m.content, m.sender_id, m.created_ms, t.epoch, t.previous_epoch, \
                    t.kept_through \
             FROM tickets t \
             LEFT JOIN reads r ON r.ticket_id = t.id AND r.user_id = ?1 \
             LEFT JOIN messages m ON m.ticket_id = t.id AND m.sequence_number = t.last_seq \
             WHERE t.requester_id = ?1 OR t.technician_id = ?1 \
             ORDER BY t.updated_ms DESC, t.id ASC",
        )?;
        let rows = stmt.query_map([user_id], |r| {
            let last_seq: i64 = r.get(4)?;
            let content: Option<String> = r.get(6)?;
            let sender_id: Option<String> = r.get(7)?;
            let created_ms: Option<i64> = r.get(8)?;
            Ok((
                TicketSummary {
                    id: r.get(0)?,
                    title: r.get(1)?,
                    status: r.get(2)?,
                    updated_at: rfc3339(r.get(3)?),
                    unread_count: r.get(5)?,
                    last_message: None,
                    last_message_sequence: Some(last_seq),
                    history: read_history(r, 9)?,
                },
                content.zip(created_ms).map(|(c, ms)| (c, sender_id, ms)),
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (mut summary, last) = row?;
            if let Some((content, sender_id, ms)) = last {
                summary.last_message = Some(LastMessage {
                    content,
                    sender_name: sender_id
                        .as_deref()
                        .and_then(|id| self.users.get(id))
                        .map(|u| u.full_name.clone()),
                    created_at: rfc3339(ms),
                    sequence_number: summary.last_message_sequence.unwrap_or(0),
                });
            }
            out.push(summary);
        }
        Ok(out)
    }

    /// A page of `ticket_id` for `user_id` (404 when the user is not a party).
    pub fn page(
        &self,
        user_id: &str,
        ticket_id: &str,
        query: PageQuery,
        limit: u32,
    ) -> Result<Page, ServerError> {
        let conn = self.lock();
        let ticket = ticket_row(&conn, ticket_id)?
            .filter(|t| t.has_party(user_id))
            .ok_or_else(|| unknown_ticket(ticket_id))?;
        let read_up_to: i64 = conn
            .query_row(
                "SELECT read_up_to FROM reads WHERE ticket_id = ?1 AND user_id = ?2",
                params![ticket_id, user_id],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0);
        let fetch = i64::from(limit) + 1;
        let (sql, bound) = match query {
            PageQuery::After(n) => (
                format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages WHERE ticket_id = ?1 \
                     AND sequence_number > ?2 ORDER BY sequence_number ASC LIMIT ?3"
                ),
                n,
            ),
            PageQuery::Before(n) => (
                format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages WHERE ticket_id = ?1 \
                     AND sequence_number < ?2 ORDER BY sequence_number DESC LIMIT ?3"
                ),
                n,
            ),
            PageQuery::Latest => (
                format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages WHERE ticket_id = ?1 \
                     AND sequence_number <= ?2 ORDER BY sequence_number DESC LIMIT ?3"
                ),
                i64::MAX,
            ),
        };
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt
            .query_map(params![ticket_id, bound, fetch], read_row)?
            .collect::<rusqlite::Result<Vec<Row>>>()?;
        let has_more = rows.len() as i64 == fetch;
        rows.truncate(limit as usize);
        if !matches!(query, PageQuery::After(_)) {
            rows.reverse();
        }
        Ok(Page {
            messages: rows
                .into_iter()
                .map(|r| self.to_wire(r, user_id, read_up_to))
                .collect(),
            last_seq: ticket.last_seq,
            history: ticket.history,
            has_more,
        })
    }

    /// Stores a message (or finds the one with the same `clientTempId`) and pushes it.
    pub fn post(
        &self,
        user_id: &str,
        ticket_id: &str,
        content: &str,
        client_temp_id: Option<&str>,
    ) -> Result<PostOutcome, ServerError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let ticket = ticket_row(&tx, ticket_id)?
            .filter(|t| t.has_party(user_id))
            .ok_or_else(|| unknown_ticket(ticket_id))?;
        if let Some(temp) = client_temp_id {
            let existing = tx
                .query_row(
                    &format!(
                        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE ticket_id = ?1 \
                         AND sender_id = ?2 AND client_temp_id = ?3"
                    ),
                    params![ticket_id, user_id, temp],
                    read_row,
                )
                .optional()?;
            if let Some(row) = existing {
                drop(tx);
                return Ok(PostOutcome {
                    message: self.to_wire(row, user_id, 0),
                    created: false,
                });
            }
        }
        let seq = ticket.last_seq + 1;
        let created_ms = now_ms().max(ticket.updated_ms);
        let id = uuid::Uuid::new_v4().to_string();
        // Cached statements: a post is the hot path (each prepare costs as much as a step).
        tx.prepare_cached(
            "INSERT INTO messages (id, ticket_id, sequence_number, sender_id, content, created_ms, \
             status, client_temp_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'sent', ?7)",
        )?
        .execute(params![
            id,
            ticket_id,
            seq,
            user_id,
            content,
            created_ms,
            client_temp_id
        ])?;
        tx.prepare_cached("UPDATE tickets SET last_seq = ?2, updated_ms = ?3 WHERE id = ?1")?
            .execute(params![ticket_id, seq, created_ms])?;
        tx.prepare_cached(
            "UPDATE reads SET unread = unread + 1 WHERE ticket_id = ?1 AND user_id != ?2",
        )?
        .execute(params![ticket_id, user_id])?;
        tx.commit()?;
        let message = self.to_wire(
            Row {
                id,
                ticket_id: ticket_id.to_string(),
                seq,
                sender_id: Some(user_id.to_string()),
                content: content.to_string(),
                is_screenshot: false,
                screenshot_file_name: None,
                created_ms,
                status: "sent".to_string(),
                client_temp_id: client_temp_id.map(str::to_string),
                is_system: false,
                file_name: None,
                file_size: None,
                file_mime_type: None,
            },
            user_id,
            0,
        );
        let parties = ticket.parties();
        self.emit(ChangeKind::MessageNew {
            ticket_id: ticket_id.to_string(),
            message: Box::new(message.clone()),
            recipients: parties.iter().map(|p| (p.clone(), p == user_id)).collect(),
        });
        self.emit(ChangeKind::TicketUpdated {
            ticket_id: ticket_id.to_string(),
            last_seq: seq,
            history: ticket.history,
            recipients: parties,
        });
        drop(conn);
        Ok(PostOutcome {
            message,
            created: true,
        })
    }

    /// Moves `user_id`'s read pointer up to `min(up_to, last_seq)`; never down.
    /// Returns whether anything changed.
    pub fn mark_read(
        &self,
        user_id: &str,
        ticket_id: &str,
        up_to: i64,
    ) -> Result<bool, ServerError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let ticket = ticket_row(&tx, ticket_id)?
            .filter(|t| t.has_party(user_id))
            .ok_or_else(|| unknown_ticket(ticket_id))?;
        let old: i64 = tx
            .query_row(
                "SELECT read_up_to FROM reads WHERE ticket_id = ?1 AND user_id = ?2",
                params![ticket_id, user_id],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0);
        let new = up_to.min(ticket.last_seq).max(old);
        if new == old {
            return Ok(false);
        }
        tx.execute(
            "INSERT INTO reads (ticket_id, user_id, read_up_to) VALUES (?1, ?2, ?3) \
             ON CONFLICT(ticket_id, user_id) DO UPDATE SET read_up_to = excluded.read_up_to",
            params![ticket_id, user_id, new],
        )?;
        recount_unread(&tx, ticket_id, user_id)?;
        tx.commit()?;
        self.emit(ChangeKind::TicketUpdated {
            ticket_id: ticket_id.to_string(),
            last_seq: ticket.last_seq,
            history: ticket.history,
            recipients: vec![user_id.to_string()],
        });
        Ok(true)
    }

    /// "Restores the ticket from a backup": deletes messages above `up_to`, so the next
    /// post reuses `up_to + 1`, and gives the ticket a new history epoch
    /// (`max(now_ms, epoch + 1)`, previous = the old epoch, kept-through = `up_to`) in
    /// the same transaction. Nothing changes when `up_to` is not below the last sequence.
    pub fn restore(&self, ticket_id: &str, up_to: i64) -> Result<RestoreOutcome, ServerError> {
        if up_to < 0 {
            return Err(ServerError::BadInput(format!(
                "upToSequence must be >= 0, got {up_to}"
            )));
        }
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let ticket = ticket_row(&tx, ticket_id)?.ok_or_else(|| unknown_ticket(ticket_id))?;
        if up_to >= ticket.last_seq {
            return Ok(RestoreOutcome {
                removed: 0,
                last_message_sequence: ticket.last_seq,
                history: ticket.history,
            });
        }
        let removed = tx.execute(
            "DELETE FROM messages WHERE ticket_id = ?1 AND sequence_number > ?2",
            params![ticket_id, up_to],
        )?;
        let updated: i64 = tx.query_row(
            "SELECT COALESCE((SELECT created_ms FROM messages WHERE ticket_id = ?1 \
               AND sequence_number = ?2), (SELECT created_ms FROM tickets WHERE id = ?1))",
            params![ticket_id, up_to],
            |r| r.get(0),
        )?;
        let old_epoch = ticket.history.epoch;
        let epoch = now_ms().max(old_epoch.saturating_add(1));
        let history = History {
            epoch,
            previous_epoch: Some(old_epoch),
            kept_through_sequence: Some(up_to),
        };
        tx.execute(
            "UPDATE tickets SET last_seq = ?2, updated_ms = ?3, epoch = ?4, previous_epoch = ?5, \
             kept_through = ?6 WHERE id = ?1",
            params![ticket_id, up_to, updated, epoch, old_epoch, up_to],
        )?;
        tx.execute(
            "UPDATE reads SET read_up_to = MIN(read_up_to, ?2) WHERE ticket_id = ?1",
            params![ticket_id, up_to],
        )?;
        for user in ticket.parties() {
            recount_unread(&tx, ticket_id, &user)?;
        }
        tx.commit()?;
        self.emit(ChangeKind::TicketUpdated {
            ticket_id: ticket_id.to_string(),
            last_seq: up_to,
            history,
            recipients: ticket.parties(),
        });
        Ok(RestoreOutcome {
            removed: removed as u64,
            last_message_sequence: up_to,
            history,
        })
    }

    /// The ticket's current history (not affected by any fault).
    pub fn history(&self, ticket_id: &str) -> Result<History, ServerError> {
        let conn = self.lock();
        ticket_row(&conn, ticket_id)?
            .map(|t| t.history)
            .ok_or_else(|| unknown_ticket(ticket_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_fixed_width_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_795_000_000_123), "2026-11-18T11:06:40.123Z");
        assert_eq!(
            rfc3339(i64::MAX),
            "1970-01-01T00:00:00.000Z",
            "out of range falls back"
        );
    }

    #[test]
    fn users_are_validated_and_tokens_kept_across_opens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let dup = [
            UserSpec::new("a", Role::Requester, "A").with_token("same"),
            UserSpec::new("b", Role::Technician, "B").with_token("same"),
        ];
        assert!(matches!(
            Store::open(None, &dup, tx.clone()),
            Err(ServerError::Config(_))
        ));
        let spaced = [UserSpec::new("a", Role::Requester, "A").with_token("has space")];
        assert!(Store::open(None, &spaced, tx.clone()).is_err());
        let first = Store::open(Some(&path), &[], tx.clone()).unwrap();
        let tokens: Vec<String> = first.users().all().map(|u| u.token.clone()).collect();
        assert_eq!(tokens.len(), 2, "default users");
        drop(first);
        let again = Store::open(Some(&path), &[], tx).unwrap();
        let tokens_again: Vec<String> = again.users().all().map(|u| u.token.clone()).collect();
        assert_eq!(tokens, tokens_again);
    }
}
