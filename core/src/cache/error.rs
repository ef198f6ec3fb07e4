//! [`CacheError`]: every way a cache call can fail, as a typed error.

use std::path::{Path, PathBuf};

use rusqlite::ErrorCode;

/// Why a cache call failed. A failed write has written nothing (its transaction was rolled back).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CacheError {
    /// The file is not an SQLite database, is truncated or malformed, or fails the
    /// integrity check. [`MessageCache::open_or_recover`](super::MessageCache::open_or_recover)
    /// moves such a file aside and recreates the cache.
    #[error("cache file {} is corrupt: {detail}", path.display())]
    Corrupt {
        /// The file (`:memory:` for an in-memory cache).
        path: PathBuf,
        /// What SQLite or the integrity check reported.
        detail: String,
    },
    /// The file was written by a newer chatsync (its `user_version` is higher than this
    /// build supports). Never recovered automatically: the file is left untouched.
    #[error(
        "cache schema version {found} is newer than the supported version {supported}; \
         upgrade the app or delete the cache"
    )]
    IncompatibleVersion {
        /// The file's `PRAGMA user_version`.
        found: i64,
        /// The newest version this build can read and write.
        supported: i64,
    },
    /// The file could not be created, opened, moved or given owner-only permissions.
    #[error("cache I/O error: {0}")]
    Io(String),
    /// A message or value that would break the cache's invariants (nothing was written).
    #[error("invalid data for the cache: {0}")]
    InvalidData(String),
    /// `enqueue_outgoing` with a `client_temp_id` that is already queued or stored.
    #[error("client_temp_id {0} is already queued")]
    AlreadyQueued(String),
    /// Any other SQLite failure (for example still busy after the busy timeout).
    #[error("sqlite error: {0}")]
    Sqlite(String),
}

impl CacheError {
    /// Maps an SQLite error, classifying corruption by its result code.
    pub(crate) fn from_sqlite(path: &Path, error: rusqlite::Error) -> CacheError {
        match error.sqlite_error_code() {
            Some(ErrorCode::DatabaseCorrupt) | Some(ErrorCode::NotADatabase) => {
                CacheError::Corrupt {
                    path: path.to_path_buf(),
                    detail: error.to_string(),
                }
            }
            _ => CacheError::Sqlite(error.to_string()),
        }
    }

    /// True for errors that `open_or_recover` recovers from.
    pub(crate) fn is_corrupt(&self) -> bool {
        matches!(self, CacheError::Corrupt { .. })
    }
}

/// Internal result: SQLite errors carried unmapped until the public method adds the path.
pub(crate) type Result<T> = std::result::Result<T, Failure>;

/// An internal failure: either a ready [`CacheError`] or a raw SQLite error.
#[derive(Debug)]
pub(crate) enum Failure {
    Cache(CacheError),
    Sqlite(rusqlite::Error),
}

impl From<rusqlite::Error> for Failure {
    fn from(error: rusqlite::Error) -> Failure {
        Failure::Sqlite(error)
    }
}

impl From<CacheError> for Failure {
    fn from(error: CacheError) -> Failure {
        Failure::Cache(error)
    }
}

impl Failure {
    pub(crate) fn into_cache_error(self, path: &Path) -> CacheError {
        match self {
            Failure::Cache(error) => error,
            Failure::Sqlite(error) => CacheError::from_sqlite(path, error),
        }
    }
}

/// Shorthand for an [`CacheError::InvalidData`] failure.
pub(crate) fn invalid(message: impl Into<String>) -> Failure {
    Failure::Cache(CacheError::InvalidData(message.into()))
}
