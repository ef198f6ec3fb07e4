//! Foreign traits the platform implements, and their adapters to the core's traits.
//!
//! Every method returns `Result<_, CallbackError>`: an exception thrown by the
//! platform code becomes an `Err` (logged or reported by the core), never a panic
//! of the Rust thread that called it.

use std::sync::Arc;

use chatsync::client::LegacyMessageCache as CoreLegacyCache;
use chatsync::net::AuthTokenProvider as CoreTokenProvider;
use chatsync::observe::Observer;

use crate::error::CallbackError;
use crate::types::{ChatMessage, SyncEvent, messages_in, messages_out};

/// Receives the client's events (see `ChatSyncClient::subscribe`). Called on the
/// client's dispatch thread (a Rust background thread), in order; the observer may
/// call back into the client. A thrown error is logged and delivery goes on.
#[uniffi::export(foreign)]
pub trait SyncObserver: Send + Sync {
    /// One event.
    fn on_event(&self, event: SyncEvent) -> Result<(), CallbackError>;
}

/// Supplies the bearer token of the signed-in user. Called on a Rust runtime
/// thread before requests; may block briefly (e.g. to read the keystore).
#[uniffi::export(foreign)]
pub trait AuthTokenProvider: Send + Sync {
    /// The token to use. `rejected` is the token the server just refused with 401
    /// (refresh it), absent on a first request. Throw to report that no token can
    /// be had; the request then fails as unauthorized.
    fn token(&self, rejected: Option<String>) -> Result<String, CallbackError>;
}

/// The app's legacy message cache (Room, Core Data, ...) for the migration bridge.
/// Errors are logged and reported in the import report, never fatal to syncing.
#[uniffi::export(foreign)]
pub trait LegacyMessageCache: Send + Sync {
    /// Every chat id the legacy cache holds.
    fn chat_ids(&self) -> Result<Vec<String>, CallbackError>;
    /// The legacy cache's messages of a chat, in any order.
    fn get_cached_messages(&self, request_id: String) -> Result<Vec<ChatMessage>, CallbackError>;
    /// Adds or replaces messages (by id).
    fn put_messages(
        &self,
        request_id: String,
        messages: Vec<ChatMessage>,
    ) -> Result<(), CallbackError>;
    /// Removes messages by id (missing ids are ignored).
    fn remove_messages(&self, request_id: String, ids: Vec<String>) -> Result<(), CallbackError>;
}

/// Adapts a foreign [`SyncObserver`] to the core's observer hub, which is its only owner.
pub(crate) struct ObserverAdapter(pub Arc<dyn SyncObserver>);

impl Observer<chatsync::SyncEvent> for ObserverAdapter {
    fn on_event(&self, event: chatsync::SyncEvent) {
        if let Err(e) = self.0.on_event(event.into()) {
            tracing::warn!("a sync observer failed: {e}");
        }
    }
}

/// Adapts a foreign [`AuthTokenProvider`] to the core's. Never logs the token.
pub(crate) struct TokenAdapter(pub Arc<dyn AuthTokenProvider>);

impl CoreTokenProvider for TokenAdapter {
    fn token(&self, rejected: Option<String>) -> Result<String, String> {
        self.0.token(rejected).map_err(|e| e.to_string())
    }
}

/// Adapts a foreign [`LegacyMessageCache`] to the core's bridge.
pub(crate) struct LegacyAdapter(pub Arc<dyn LegacyMessageCache>);

impl CoreLegacyCache for LegacyAdapter {
    fn chat_ids(&self) -> Result<Vec<String>, String> {
        self.0.chat_ids().map_err(|e| e.to_string())
    }

    fn get_cached_messages(&self, request_id: &str) -> Result<Vec<chatsync::ChatMessage>, String> {
        self.0
            .get_cached_messages(request_id.to_string())
            .map(messages_in)
            .map_err(|e| e.to_string())
    }

    fn put_messages(
        &self,
        request_id: &str,
        messages: Vec<chatsync::ChatMessage>,
    ) -> Result<(), String> {
        self.0
            .put_messages(request_id.to_string(), messages_out(messages))
            .map_err(|e| e.to_string())
    }

    fn remove_messages(&self, request_id: &str, ids: Vec<String>) -> Result<(), String> {
        self.0
            .remove_messages(request_id.to_string(), ids)
            .map_err(|e| e.to_string())
    }
}
