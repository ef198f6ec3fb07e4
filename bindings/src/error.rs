//! The two error types of the boundary: [`ChatSyncError`] (thrown by the client's
//! methods) and [`CallbackError`] (thrown by the platform's foreign-trait code).

use chatsync::ClientError;
use chatsync::client::ErrorKind as CoreErrorKind;

/// The error every fallible [`crate::ChatSyncClient`] method throws. Each variant is
/// one kind of failure; its text (Kotlin `message`, Swift `message`, Python
/// `str(e)`) is the core's human-readable explanation, e.g.
/// `network unavailable: connection refused`.
///
/// Exposed as a flat error: the foreign side sees one exception class per variant
/// whose message is the text, so there is no field that could clash with
/// `Throwable.message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
#[uniffi(flat_error)]
pub enum ChatSyncError {
    /// No connection, or the device is offline.
    #[error("{0}")]
    Network(String),
    /// The server did not answer in time.
    #[error("{0}")]
    Timeout(String),
    /// The server failed (5xx).
    #[error("{0}")]
    Server(String),
    /// The credentials were rejected, even after asking the token provider again.
    #[error("{0}")]
    Unauthorized(String),
    /// The server's answer broke the protocol; nothing of it was stored.
    #[error("{0}")]
    BadData(String),
    /// The chat (ticket) does not exist or is not visible to this user.
    #[error("{0}")]
    NotFound(String),
    /// The server refused the request (4xx).
    #[error("{0}")]
    Rejected(String),
    /// The local cache failed.
    #[error("{0}")]
    Cache(String),
    /// The caller passed something unusable.
    #[error("{0}")]
    InvalidArgument(String),
    /// The client was signed out (or shut down); create a new one.
    #[error("{0}")]
    SignedOut(String),
}

impl From<ClientError> for ChatSyncError {
    fn from(error: ClientError) -> ChatSyncError {
        let text = error.to_string();
        match error.kind() {
            CoreErrorKind::Network => ChatSyncError::Network(text),
            CoreErrorKind::Timeout => ChatSyncError::Timeout(text),
            CoreErrorKind::Server => ChatSyncError::Server(text),
            CoreErrorKind::Unauthorized => ChatSyncError::Unauthorized(text),
            CoreErrorKind::BadData => ChatSyncError::BadData(text),
            CoreErrorKind::NotFound => ChatSyncError::NotFound(text),
            CoreErrorKind::Rejected => ChatSyncError::Rejected(text),
            CoreErrorKind::Cache => ChatSyncError::Cache(text),
            CoreErrorKind::InvalidArgument => ChatSyncError::InvalidArgument(text),
            CoreErrorKind::SignedOut => ChatSyncError::SignedOut(text),
        }
    }
}

impl ChatSyncError {
    /// The kind of failure (the same classification observers see in
    /// [`crate::SyncEvent::Failure`]).
    pub fn kind(&self) -> crate::ErrorKind {
        use crate::ErrorKind as K;
        match self {
            ChatSyncError::Network(_) => K::Network,
            ChatSyncError::Timeout(_) => K::Timeout,
            ChatSyncError::Server(_) => K::Server,
            ChatSyncError::Unauthorized(_) => K::Unauthorized,
            ChatSyncError::BadData(_) => K::BadData,
            ChatSyncError::NotFound(_) => K::NotFound,
            ChatSyncError::Rejected(_) => K::Rejected,
            ChatSyncError::Cache(_) => K::Cache,
            ChatSyncError::InvalidArgument(_) => K::InvalidArgument,
            ChatSyncError::SignedOut(_) => K::SignedOut,
        }
    }
}

/// What a foreign-trait method (observer, token provider, legacy cache, log sink)
/// throws to report a failure. Any other exception the platform code throws is
/// converted into [`CallbackError::Failed`] too, so a throwing callback never
/// panics a Rust thread. Kotlin: `CallbackException.Failed(reason)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum CallbackError {
    /// The callback failed; `reason` says why (it is logged or reported).
    #[error("{reason}")]
    Failed {
        /// Human-readable reason.
        reason: String,
    },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for CallbackError {
    fn from(error: uniffi::UnexpectedUniFFICallbackError) -> CallbackError {
        CallbackError::Failed {
            reason: format!("the callback threw: {}", error.reason),
        }
    }
}
