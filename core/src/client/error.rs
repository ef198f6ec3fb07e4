//! The client's API errors: what callers, observers and the bindings see.
//!
//! Internal failures (HTTP, SQLite, decoding) are mapped here at the boundary, each
//! to one [`ClientError`] variant with a human-readable message, so no internal type
//! crosses into the platform layers.

use crate::cache::CacheError;
use crate::engine::FailureKind;
use crate::net::ApiError;

/// What kind of failure an error or an observer's error event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ErrorKind {
    /// No connection (or the device is offline).
    Network,
    /// The server did not answer in time.
    Timeout,
    /// The server failed (5xx).
    Server,
    /// The credentials were rejected, even after asking the token provider again.
    Unauthorized,
    /// The server's answer broke the protocol; nothing of it was stored.
    BadData,
    /// The chat (ticket) does not exist or is not visible to this user.
    NotFound,
    /// The server refused the request (4xx).
    Rejected,
    /// The local cache failed.
    Cache,
    /// The caller passed something unusable.
    InvalidArgument,
    /// The client was signed out; create a new one.
    SignedOut,
}

impl ErrorKind {
    /// Lower-case spelling for logs and JSON output (`network`, `bad-data`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Network => "network",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Server => "server",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::BadData => "bad-data",
            ErrorKind::NotFound => "not-found",
            ErrorKind::Rejected => "rejected",
            ErrorKind::Cache => "cache",
            ErrorKind::InvalidArgument => "invalid-argument",
            ErrorKind::SignedOut => "signed-out",
        }
    }
}

impl From<FailureKind> for ErrorKind {
    fn from(kind: FailureKind) -> ErrorKind {
        match kind {
            FailureKind::Network => ErrorKind::Network,
            FailureKind::Timeout => ErrorKind::Timeout,
            FailureKind::Server5xx => ErrorKind::Server,
            FailureKind::Unauthorized => ErrorKind::Unauthorized,
            FailureKind::BadData => ErrorKind::BadData,
            FailureKind::NotFound => ErrorKind::NotFound,
            FailureKind::Rejected => ErrorKind::Rejected,
        }
    }
}

/// An error returned by a [`crate::client::ChatSyncClient`] method. Every variant's
/// text says what happened in words a user or app developer can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// No connection, or the device is offline.
    #[error("network unavailable: {0}")]
    Network(String),
    /// The server did not answer in time.
    #[error("the server did not answer in time")]
    Timeout,
    /// The server failed (5xx).
    #[error("server error: {0}")]
    Server(String),
    /// The credentials were rejected.
    #[error("not authorized: {0}")]
    Unauthorized(String),
    /// The server's answer broke the protocol; nothing of it was stored.
    #[error("the server sent invalid data: {0}")]
    BadData(String),
    /// Unknown or invisible chat.
    #[error("not found: {0}")]
    NotFound(String),
    /// The server refused the request.
    #[error("rejected by the server: {0}")]
    Rejected(String),
    /// The local cache failed.
    #[error("local cache error: {0}")]
    Cache(String),
    /// The caller passed something unusable.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The client was signed out.
    #[error("signed out: this client no longer syncs; create a new one")]
    SignedOut,
}

impl ClientError {
    /// The error's kind.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ClientError::Network(_) => ErrorKind::Network,
            ClientError::Timeout => ErrorKind::Timeout,
            ClientError::Server(_) => ErrorKind::Server,
            ClientError::Unauthorized(_) => ErrorKind::Unauthorized,
            ClientError::BadData(_) => ErrorKind::BadData,
            ClientError::NotFound(_) => ErrorKind::NotFound,
            ClientError::Rejected(_) => ErrorKind::Rejected,
            ClientError::Cache(_) => ErrorKind::Cache,
            ClientError::InvalidArgument(_) => ErrorKind::InvalidArgument,
            ClientError::SignedOut => ErrorKind::SignedOut,
        }
    }

    /// An error of `kind` with `message` as its details.
    pub fn from_kind(kind: ErrorKind, message: String) -> ClientError {
        match kind {
            ErrorKind::Network => ClientError::Network(message),
            ErrorKind::Timeout => ClientError::Timeout,
            ErrorKind::Server => ClientError::Server(message),
            ErrorKind::Unauthorized => ClientError::Unauthorized(message),
            ErrorKind::BadData => ClientError::BadData(message),
            ErrorKind::NotFound => ClientError::NotFound(message),
            ErrorKind::Rejected => ClientError::Rejected(message),
            ErrorKind::Cache => ClientError::Cache(message),
            ErrorKind::InvalidArgument => ClientError::InvalidArgument(message),
            ErrorKind::SignedOut => ClientError::SignedOut,
        }
    }
}

impl From<CacheError> for ClientError {
    fn from(error: CacheError) -> ClientError {
        ClientError::Cache(error.to_string())
    }
}

impl From<ApiError> for ClientError {
    fn from(error: ApiError) -> ClientError {
        let text = error.to_string();
        match error {
            ApiError::Network(_) => ClientError::Network(text),
            ApiError::Timeout => ClientError::Timeout,
            ApiError::Server { .. } => ClientError::Server(text),
            ApiError::Unauthorized(_) | ApiError::TokenProvider(_) => {
                ClientError::Unauthorized(text)
            }
            ApiError::NotFound(_) => ClientError::NotFound(text),
            ApiError::Rejected { .. } => ClientError::Rejected(text),
            ApiError::BadData(_) | ApiError::TooLarge { .. } => ClientError::BadData(text),
            ApiError::InvalidUrl(_) => ClientError::InvalidArgument(text),
        }
    }
}

/// How the engine classifies a failed request.
pub(crate) fn failure_kind(error: &ApiError) -> FailureKind {
    match error {
        ApiError::Network(_) => FailureKind::Network,
        ApiError::Timeout => FailureKind::Timeout,
        ApiError::Server { .. } => FailureKind::Server5xx,
        ApiError::Unauthorized(_) | ApiError::TokenProvider(_) => FailureKind::Unauthorized,
        ApiError::NotFound(_) => FailureKind::NotFound,
        ApiError::Rejected { .. } | ApiError::InvalidUrl(_) => FailureKind::Rejected,
        ApiError::BadData(_) | ApiError::TooLarge { .. } => FailureKind::BadData,
    }
}
