//! The migration bridge (the seed's 5.2) for apps moving from a legacy cache.

use std::sync::Arc;

use chatsync::client::MessageCacheBridge as CoreBridge;

use crate::callbacks::{LegacyAdapter, LegacyMessageCache};
use crate::client::ChatSyncClient;
use crate::error::ChatSyncError;
use crate::types::{BridgePhase, ChatMessage, ImportReport, messages_out};

/// Reads per phase, mirrors every stored change into the legacy cache in phases
/// 1 and 2 (until the bridge is dropped), and imports the legacy cache once.
/// It holds the client and the legacy cache; the legacy cache must not hold the
/// bridge (that would be a cycle).
#[derive(Debug, uniffi::Object)]
pub struct MessageCacheBridge {
    inner: CoreBridge,
}

#[uniffi::export]
impl MessageCacheBridge {
    /// Attaches a bridge in `phase` to `client`.
    #[uniffi::constructor]
    pub fn new(
        client: Arc<ChatSyncClient>,
        legacy: Arc<dyn LegacyMessageCache>,
        phase: BridgePhase,
    ) -> Arc<MessageCacheBridge> {
        Arc::new(MessageCacheBridge {
            inner: CoreBridge::new(client.core(), Arc::new(LegacyAdapter(legacy)), phase.into()),
        })
    }

    /// The phase in force.
    pub fn phase(&self) -> BridgePhase {
        self.inner.phase().into()
    }

    /// The chat's cached messages through the bridge: from the legacy cache in
    /// phase 1 (sorted by sequence, unsent last), from SQLite otherwise. No network.
    pub fn get_cached_messages(
        &self,
        request_id: String,
    ) -> Result<Vec<ChatMessage>, ChatSyncError> {
        Ok(messages_out(self.inner.get_cached_messages(&request_id)?))
    }

    /// Copies every sequenced legacy message into SQLite (upserts: a repeat changes
    /// nothing). Local work only (the legacy cache and SQLite), no network; run it
    /// off the main thread for large caches.
    pub fn import_legacy(&self) -> ImportReport {
        self.inner.import_legacy().into()
    }
}
