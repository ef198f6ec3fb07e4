//! The plugin's error: what every command rejects with.
//!
//! Serialized for JavaScript as `{ "kind": "<errorKind>", "message": "<text>" }`
//! (the guest API turns it into a `ChatSyncError`), so the webview can tell an
//! auth failure from a network one without parsing text.

use chatsync::client::{ClientError, ErrorKind};
use serde::Serialize;
use serde::ser::{SerializeStruct, Serializer};

use crate::models::ErrorKindView;

/// Result of the plugin's operations.
pub type Result<T> = std::result::Result<T, Error>;

/// Why a plugin command failed. Every variant has a human-readable message.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No session: `sign_in` was not called, or `sign_out` was.
    #[error("not signed in")]
    NotSignedIn,
    /// The core refused or failed the operation.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// An argument from the webview is not acceptable (nothing was changed).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The cache directory could not be found or created.
    #[error("cannot prepare the cache directory: {0}")]
    CacheDir(String),
}

impl Error {
    /// The machine-readable kind sent to JavaScript.
    pub fn kind(&self) -> ErrorKindView {
        match self {
            Error::NotSignedIn => ErrorKindView::SignedOut,
            Error::Client(error) => error.kind().into(),
            Error::InvalidArgument(_) => ErrorKindView::InvalidArgument,
            Error::CacheDir(_) => ErrorKindView::Cache,
        }
    }
}

impl From<ErrorKind> for ErrorKindView {
    fn from(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::Network => ErrorKindView::Network,
            ErrorKind::Timeout => ErrorKindView::Timeout,
            ErrorKind::Server => ErrorKindView::Server,
            ErrorKind::Unauthorized => ErrorKindView::Unauthorized,
            ErrorKind::BadData => ErrorKindView::BadData,
            ErrorKind::NotFound => ErrorKindView::NotFound,
            ErrorKind::Rejected => ErrorKindView::Rejected,
            ErrorKind::Cache => ErrorKindView::Cache,
            ErrorKind::InvalidArgument => ErrorKindView::InvalidArgument,
            ErrorKind::SignedOut => ErrorKindView::SignedOut,
        }
    }
}

impl Serialize for Error {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut state = serializer.serialize_struct("Error", 2)?;
        state.serialize_field("kind", &self.kind())?;
        state.serialize_field("message", &self.to_string())?;
        state.end()
    }
}
