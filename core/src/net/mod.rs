//! Network I/O of the driver: the REST API client, the realtime WebSocket and TLS.
//!
//! API Boundary: these modules only move bytes and decode them through
//! [`crate::wire`]; they make no sync decision (that is the engine's job) and never
//! log or store a token.

pub mod api;
pub mod realtime;
pub mod tls;

pub use api::{ApiClient, ApiConfig, ApiError, AuthTokenProvider, NetStats};
pub use realtime::{RealtimeConfig, RealtimeEvent, RealtimeHandle};
