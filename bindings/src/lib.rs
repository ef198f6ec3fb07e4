//! `chatsync-ffi`: the UniFFI layer over the chatsync core, for Kotlin (Android),
//! Swift (iOS) and Python (scripting and tests).
//!
//! This crate is a thin boundary and holds no sync logic:
//! - [`ChatSyncClient`] wraps [`chatsync::ChatSyncClient`] method for method; methods
//!   that touch the network are `async` (Kotlin `suspend`, Swift `async`, Python
//!   coroutines) and run on the core's own tokio runtime, so no caller thread ever
//!   blocks on the network;
//! - records and enums mirror the core's types and are converted at this boundary,
//!   so the core stays free of UniFFI;
//! - every fallible method throws [`ChatSyncError`], whose text is the core's
//!   human-readable message;
//! - the platform implements foreign traits: [`SyncObserver`], [`AuthTokenProvider`],
//!   [`LegacyMessageCache`] and [`LogSink`]; every foreign method returns a
//!   `Result` with [`CallbackError`], so a foreign exception is reported, never a panic;
//! - [`ChatSyncClient::subscribe`] returns a [`SubscriptionHandle`]; dropping (closing)
//!   or cancelling it unsubscribes. The core's observer hub is the only owner of
//!   the foreign observer, so no Rust <-> foreign reference cycle exists.

mod bridge;
mod callbacks;
mod client;
mod error;
mod logging;
mod types;

pub use bridge::MessageCacheBridge;
pub use callbacks::{AuthTokenProvider, LegacyMessageCache, SyncObserver};
pub use client::{
    ChatSyncClient, SubscriptionHandle, default_client_config, max_outgoing_message_chars,
};
pub use error::{CallbackError, ChatSyncError};
pub use logging::{LogLevel, LogRecord, LogSink, clear_log_sink, set_log_level, set_log_sink};
pub use types::*;

uniffi::setup_scaffolding!();
