//! The SQLite message cache: the seed's `sqlite-message-cache`, with the runs of
//! [`SeqRuns`] persisted so validation is O(1), an outbox for unsent messages, the
//! ticket list, eviction and corruption recovery.
//!
//! - **Transactions.** Every write is one `BEGIN IMMEDIATE` transaction on the single
//!   writer connection; the chat's runs, min / max / count and window start are written
//!   in the same transaction as its messages, so [`MessageCache::summary`] is always the
//!   truth about the rows and never scans them.
//! - **Readers.** A file-backed cache reads through a small pool of read-only
//!   connections under WAL, so reading the latest messages never waits behind a long
//!   write; each read is one read transaction (a consistent snapshot). An in-memory
//!   cache has one connection for both.
//! - **Files.** The database (and its `-wal` / `-shm`) is owner-only (0600) on unix.
//!   The schema is versioned in `PRAGMA user_version` (see `schema.rs`); a file from a
//!   newer chatsync is [`CacheError::IncompatibleVersion`].
//! - **Corruption.** A garbage, truncated or malformed file is [`CacheError::Corrupt`];
//!   [`MessageCache::open_or_recover`] moves it aside, salvages the outbox and recreates
//!   the cache (messages are re-downloadable, unsent outgoing messages are not).
//! - **Clock.** The cache reads no clock, except `open_or_recover`, which names the
//!   moved-aside file after the current time.

mod error;
mod read;
mod rows;
mod schema;
mod write;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

pub use error::CacheError;
use error::{Failure, Result};

use crate::runs::SeqRuns;
use crate::types::{ChatSyncMeta, MessageStatus};
use crate::validate::SeqSummary;

pub use crate::types::ChatMessage;

/// Options of [`MessageCache::open`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheOptions {
    /// How long a connection waits for a lock before failing with `Sqlite("... busy")` (default 5 s).
    pub busy_timeout: Duration,
    /// `PRAGMA journal_size_limit`: the WAL is truncated to this size after a checkpoint (default 4 MiB).
    pub journal_size_limit_bytes: i64,
    /// Limits applied once when the cache is opened; [`MessageCache::evict`] applies any limits later.
    pub eviction: EvictionLimits,
}

impl Default for CacheOptions {
    fn default() -> CacheOptions {
        CacheOptions {
            busy_timeout: Duration::from_secs(5),
            journal_size_limit_bytes: 4 * 1024 * 1024,
            eviction: EvictionLimits::default(),
        }
    }
}

/// Caps on the number of cached sequenced messages. `None` means no cap. Eviction never
/// removes a message of a chat's newest window, nor a local outgoing message, so a cap
/// bounds the history outside the windows only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvictionLimits {
    /// At most this many sequenced messages per chat (default 10 000).
    pub max_messages_per_chat: Option<i64>,
    /// At most this many sequenced messages over all chats (default 200 000).
    pub max_messages_total: Option<i64>,
}

impl Default for EvictionLimits {
    fn default() -> EvictionLimits {
        EvictionLimits {
            max_messages_per_chat: Some(10_000),
            max_messages_total: Some(200_000),
        }
    }
}

impl EvictionLimits {
    /// No caps at all: [`MessageCache::evict`] removes nothing.
    pub fn unlimited() -> EvictionLimits {
        EvictionLimits {
            max_messages_per_chat: None,
            max_messages_total: None,
        }
    }
}

/// What one write changed in one chat, for the driver's `MessagesChanged` notification.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessagesChange {
    /// The chat.
    pub request_id: String,
    /// Rows that did not exist before, as stored.
    pub inserted: Vec<ChatMessage>,
    /// Rows that existed with other content, as stored now.
    pub updated: Vec<ChatMessage>,
    /// Ids of rows that are gone (replaced by the server, reconciled local rows, truncated).
    pub removed_ids: Vec<String>,
    /// `client_temp_id`s whose local outgoing row and outbox entry were reconciled away.
    pub reconciled_client_temp_ids: Vec<String>,
    /// The chat's summary after the write.
    pub summary: SeqSummary,
}

impl MessagesChange {
    /// True when nothing was inserted, updated or removed.
    pub fn is_empty(&self) -> bool {
        self.inserted.is_empty() && self.updated.is_empty() && self.removed_ids.is_empty()
    }
}

/// A chat as opening it shows it, read in one snapshot by [`MessageCache::chat_page`].
#[derive(Debug, Clone, PartialEq)]
pub struct ChatPage {
    /// The newest cached messages, then the local outgoing ones (as `get_cached_messages`).
    pub messages: Vec<ChatMessage>,
    /// The chat's meta (as `get_sync_meta`).
    pub meta: ChatSyncMeta,
    /// Every persisted run with the window start (as `runs`): the validator's summary
    /// and the history gaps.
    pub runs: SeqRuns,
}

/// One unsent outgoing message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// The chat.
    pub request_id: String,
    /// The idempotency key sent with the message.
    pub client_temp_id: String,
    /// Text content.
    pub content: String,
    /// `Pending` or `Failed`.
    pub status: MessageStatus,
    /// Failed delivery attempts so far.
    pub attempts: i64,
    /// When it was enqueued, ms since the Unix epoch.
    pub created_at_ms: i64,
}

/// What [`MessageCache::evict`] removed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EvictionReport {
    /// Messages removed in total.
    pub evicted: i64,
    /// Messages removed per chat (chats with none omitted), by chat id.
    pub per_chat: Vec<(String, i64)>,
}

/// What [`MessageCache::open_or_recover`] did with a corrupt file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Where the corrupt file was moved (its `-wal` / `-shm` beside it with the same suffixes).
    pub moved_aside_to: PathBuf,
    /// Outbox entries read from the corrupt file and queued again in the new one.
    pub outbox_salvaged: usize,
    /// Why the file was recovered (the `Corrupt` error's text).
    pub reason: String,
}

/// The longest ticket-list `ETag` the cache stores (and the client keeps), in bytes.
/// Real tags are tens of bytes; anything longer is not worth a conditional request.
pub const MAX_ETAG_BYTES: usize = 1024;

/// Readers kept open for reuse by a file-backed cache.
const MAX_IDLE_READERS: usize = 4;

/// The SQLite message cache. `Send + Sync`: share it as `Arc<MessageCache>`.
pub struct MessageCache {
    /// The file, or `:memory:`.
    path: PathBuf,
    options: CacheOptions,
    /// Idle read-only connections (file-backed only; `None` = read through the writer).
    /// Declared before `writer` so they close first: the writer, closing last,
    /// checkpoints the WAL into the file and removes it.
    readers: Option<Mutex<Vec<Connection>>>,
    writer: Mutex<Connection>,
    /// Write transactions committed through this handle (see [`MessageCache::commits`]).
    commits: AtomicU64,
}

impl std::fmt::Debug for MessageCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageCache")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock rolled its transaction back (Transaction's drop),
    // so the connection is still usable.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl MessageCache {
    /// Opens the cache file, creating it owner-only (0600 on unix) or migrating it to
    /// the current schema, then applies `options.eviction` once.
    ///
    /// Errors: [`CacheError::Corrupt`] for a file that is not a (chatsync) SQLite
    /// database or is truncated; [`CacheError::IncompatibleVersion`] for a file from a
    /// newer chatsync (left untouched); [`CacheError::Io`] when it cannot be created.
    pub fn open(
        path: &Path,
        options: CacheOptions,
    ) -> std::result::Result<MessageCache, CacheError> {
        schema::check_header(path)?;
        create_owner_only(path)?;
        let map = |e: Failure| e.into_cache_error(path);
        let mut conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| CacheError::from_sqlite(path, e))?;
        schema::setup_writer(&conn, &options, true).map_err(map)?;
        schema::migrate(&mut conn).map_err(|e| with_path(map(e), path))?;
        // Touch every table once, so a malformed file fails here rather than later.
        conn.query_row(
            "SELECT (SELECT COUNT(*) FROM chat_sync_state) + (SELECT COUNT(*) FROM outbox)
                  + (SELECT COUNT(*) FROM seq_runs) + (SELECT COUNT(*) FROM tickets)
                  + (SELECT COUNT(*) FROM chat_meta)
                  + (SELECT COUNT(*) FROM (SELECT 1 FROM messages LIMIT 1))",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map_err(|e| CacheError::from_sqlite(path, e))?;
        let cache = MessageCache {
            path: path.to_path_buf(),
            options: options.clone(),
            writer: Mutex::new(conn),
            commits: AtomicU64::new(0),
            readers: Some(Mutex::new(Vec::new())),
        };
        cache.evict(&options.eviction)?;
        Ok(cache)
    }

    /// An empty cache in memory (tests, or a platform without storage): the same schema
    /// and behaviour, one connection for reads and writes.
    pub fn open_in_memory(options: CacheOptions) -> std::result::Result<MessageCache, CacheError> {
        let path = PathBuf::from(":memory:");
        let map = |e: Failure| e.into_cache_error(&path);
        let mut conn =
            Connection::open_in_memory().map_err(|e| CacheError::from_sqlite(&path, e))?;
        schema::setup_writer(&conn, &options, false).map_err(map)?;
        schema::migrate(&mut conn).map_err(map)?;
        Ok(MessageCache {
            path,
            options,
            writer: Mutex::new(conn),
            commits: AtomicU64::new(0),
            readers: None,
        })
    }

    /// Opens; on [`CacheError::Corrupt`] moves the bad file (and its `-wal` / `-shm`)
    /// aside to `<path>.corrupt-<ms>`, salvages the outbox (unsent outgoing messages) if
    /// the moved file is still readable, recreates the cache and queues them again.
    /// Messages are not salvaged: they are re-downloadable. Any other error (notably
    /// [`CacheError::IncompatibleVersion`]) is returned as is, the file untouched.
    pub fn open_or_recover(
        path: &Path,
        options: CacheOptions,
    ) -> std::result::Result<(MessageCache, Option<RecoveryReport>), CacheError> {
        match MessageCache::open(path, options.clone()) {
            Ok(cache) => Ok((cache, None)),
            Err(error) if error.is_corrupt() => {
                let reason = error.to_string();
                tracing::warn!(%reason, "cache file is corrupt; recovering");
                let aside = PathBuf::from(format!(
                    "{}.corrupt-{}",
                    path.display(),
                    crate::clock::now_ms()
                ));
                move_aside(path, &aside)?;
                let salvaged = write::salvage_outbox(&aside);
                let cache = MessageCache::open(path, options)?;
                let count = cache.restore_outbox(&salvaged)?;
                Ok((
                    cache,
                    Some(RecoveryReport {
                        moved_aside_to: aside,
                        outbox_salvaged: count,
                        reason,
                    }),
                ))
            }
            Err(error) => Err(error),
        }
    }

    /// The file of this cache (`:memory:` for an in-memory one).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many write transactions this handle has committed. Unchanged between two
    /// calls means nothing was written through this handle in between (so a snapshot
    /// read before is still current, as far as this handle's writes go).
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Acquire)
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction on the writer; commits on `Ok`.
    fn write<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>,
    ) -> std::result::Result<T, CacheError> {
        let mut conn = lock(&self.writer);
        let run = || -> Result<T> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let value = f(&tx)?;
            tx.commit()?;
            self.commits.fetch_add(1, Ordering::Release);
            Ok(value)
        };
        run().map_err(|e| e.into_cache_error(&self.path))
    }

    /// Runs `f` in one read transaction (a consistent snapshot over several statements)
    /// on a reader, or on the writer for an in-memory cache.
    fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T>,
    ) -> std::result::Result<T, CacheError> {
        self.with_reader(|conn| {
            conn.prepare_cached("BEGIN DEFERRED")?.execute([])?;
            match f(conn) {
                Ok(value) => {
                    conn.prepare_cached("COMMIT")?.execute([])?;
                    Ok(value)
                }
                Err(error) => {
                    // Ends the read transaction; a failure here changes nothing for a reader.
                    let _ = conn.execute_batch("ROLLBACK");
                    Err(error)
                }
            }
        })
    }

    /// Runs `f` on an idle reader (opening one if none is idle), or on the writer for an
    /// in-memory cache.
    fn with_reader<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T>,
    ) -> std::result::Result<T, CacheError> {
        let Some(pool) = &self.readers else {
            let conn = lock(&self.writer);
            return f(&conn).map_err(|e| e.into_cache_error(&self.path));
        };
        let idle = lock(pool).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => self.open_reader()?,
        };
        let result = f(&conn);
        if conn.is_autocommit() {
            let mut idle = lock(pool);
            if idle.len() < MAX_IDLE_READERS {
                idle.push(conn);
            }
        }
        result.map_err(|e| e.into_cache_error(&self.path))
    }

    fn open_reader(&self) -> std::result::Result<Connection, CacheError> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| CacheError::from_sqlite(&self.path, e))?;
        schema::setup_reader(&conn, &self.options).map_err(|e| e.into_cache_error(&self.path))?;
        Ok(conn)
    }
}

/// Adds the path to a `Corrupt` error raised before the path was known.
fn with_path(error: CacheError, path: &Path) -> CacheError {
    match error {
        CacheError::Corrupt { detail, .. } => CacheError::Corrupt {
            path: path.to_path_buf(),
            detail,
        },
        other => other,
    }
}

/// Creates the file owner-only before SQLite opens it (SQLite gives `-wal` and `-shm`
/// the permissions of the database file), and tightens an existing file's mode.
fn create_owner_only(path: &Path) -> std::result::Result<(), CacheError> {
    let io = |what: &str, e: std::io::Error| {
        CacheError::Io(format!("cannot {what} {}: {e}", path.display()))
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| io("create the directory of", e))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(path).map_err(|e| io("create", e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = file
            .metadata()
            .map_err(|e| io("stat", e))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(|e| io("chmod", e))?;
        }
        for suffix in ["-wal", "-shm"] {
            let side = sidecar(path, suffix);
            if let Ok(meta) = std::fs::metadata(&side)
                && meta.permissions().mode() & 0o077 != 0
            {
                std::fs::set_permissions(&side, std::fs::Permissions::from_mode(0o600))
                    .map_err(|e| io("chmod", e))?;
            }
        }
    }
    drop(file);
    Ok(())
}

/// `<path><suffix>`, e.g. the `-wal` file of a database.
fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// Moves the database and its `-wal` / `-shm` to `aside` (with the same suffixes, so
/// SQLite still finds the WAL of the moved file).
fn move_aside(path: &Path, aside: &Path) -> std::result::Result<(), CacheError> {
    std::fs::rename(path, aside).map_err(|e| {
        CacheError::Io(format!(
            "cannot move {} aside to {}: {e}",
            path.display(),
            aside.display()
        ))
    })?;
    for suffix in ["-wal", "-shm"] {
        let side = sidecar(path, suffix);
        if side.exists() {
            std::fs::rename(&side, sidecar(aside, suffix)).map_err(|e| {
                CacheError::Io(format!("cannot move {} aside: {e}", side.display()))
            })?;
        }
    }
    Ok(())
}
