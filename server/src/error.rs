//! Errors of the library API and their HTTP mapping.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::wire::ErrorBody;

/// Why a library call (start, in-process helper) failed.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The configuration is unusable (e.g. duplicate tokens, seeding without both roles).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Binding the listening socket failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The SQLite database failed.
    #[error("database error: {0}")]
    Db(#[from] rusqlite::Error),
    /// A file could not be read.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// No such ticket or user.
    #[error("not found: {0}")]
    NotFound(String),
    /// The input breaks a rule of docs/protocol.md (bad content, bad sequence, ...).
    #[error("bad input: {0}")]
    BadInput(String),
    /// The server task ended unexpectedly.
    #[error("server task failed: {0}")]
    Task(String),
}

/// An HTTP error answer: a status and the `{"detail"}` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// 4xx for the client's mistakes, 5xx only for the server's own faults.
    pub status: StatusCode,
    /// The `detail` text.
    pub detail: String,
}

impl ApiError {
    /// An error with the given status and detail.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            detail: detail.into(),
        }
    }

    /// 400 Bad Request.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, detail)
    }

    /// 401 Unauthorized.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, detail)
    }

    /// 404 Not Found.
    pub fn not_found(detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, detail)
    }
}

impl From<ServerError> for ApiError {
    fn from(error: ServerError) -> Self {
        match error {
            ServerError::NotFound(what) => ApiError::not_found(what),
            ServerError::BadInput(what) => ApiError::bad_request(what),
            other => {
                tracing::error!(error = %other, "internal error");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal server error")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let unauthorized = self.status == StatusCode::UNAUTHORIZED;
        let mut response = (
            self.status,
            axum::Json(ErrorBody {
                detail: self.detail,
            }),
        )
            .into_response();
        if unauthorized {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}
