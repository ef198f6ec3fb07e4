//! The seed's migration bridge (5.2): moving existing users from an app's legacy
//! message cache (IndexedDB in Tauri, Room or Core Data on mobile) to the SQLite cache.
//!
//! Phase 1 writes both and reads the legacy cache; phase 2 (the default) writes both
//! and reads SQLite; phase 3 uses SQLite only. "Writes both" means every change the
//! client stores is mirrored into the legacy cache, so an app can roll back a phase
//! without losing messages. [`MessageCacheBridge::import_legacy`] copies what the
//! legacy cache holds into SQLite once (upserts, so repeating it changes nothing).

use std::sync::Arc;

use crate::client::{ChatSyncClient, ClientError, SyncEvent};
use crate::observe::Subscription;
use crate::types::ChatMessage;

/// The app's legacy cache, implemented by the platform (foreign trait in the bindings).
/// Errors are plain strings; they are logged and reported, never fatal to syncing.
pub trait LegacyMessageCache: Send + Sync {
    /// Every chat id the legacy cache holds.
    fn chat_ids(&self) -> Result<Vec<String>, String>;
    /// The legacy cache's messages of a chat, in any order.
    fn get_cached_messages(&self, request_id: &str) -> Result<Vec<ChatMessage>, String>;
    /// Adds or replaces messages (by id).
    fn put_messages(&self, request_id: &str, messages: Vec<ChatMessage>) -> Result<(), String>;
    /// Removes messages by id (missing ids are ignored).
    fn remove_messages(&self, request_id: &str, ids: Vec<String>) -> Result<(), String>;
}

/// Which cache reads come from, and whether writes are mirrored to the legacy one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BridgePhase {
    /// Phase 1: write both, read the legacy cache.
    WriteBothReadLegacy,
    /// Phase 2 (default): write both, read SQLite.
    #[default]
    WriteBothReadSqlite,
    /// Phase 3: SQLite only.
    SqliteOnly,
}

impl BridgePhase {
    fn mirrors_writes(self) -> bool {
        self != BridgePhase::SqliteOnly
    }
}

/// What [`MessageCacheBridge::import_legacy`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Chats read from the legacy cache.
    pub chats: usize,
    /// Messages stored in SQLite (new or updated rows).
    pub imported: usize,
    /// Messages skipped: no sequence number (never confirmed by the server) or invalid.
    pub skipped: usize,
    /// Chats whose legacy data could not be read or stored, with the reason.
    pub failed_chats: Vec<(String, String)>,
}

/// The bridge: reads per phase, mirrors writes, imports once.
pub struct MessageCacheBridge {
    client: Arc<ChatSyncClient>,
    legacy: Arc<dyn LegacyMessageCache>,
    phase: BridgePhase,
    _mirror: Option<Subscription>,
}

impl std::fmt::Debug for MessageCacheBridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageCacheBridge")
            .field("phase", &self.phase)
            .finish_non_exhaustive()
    }
}

impl MessageCacheBridge {
    /// Attaches a bridge to `client`. In phases 1 and 2 every stored change is
    /// mirrored into `legacy` until the bridge is dropped.
    pub fn new(
        client: Arc<ChatSyncClient>,
        legacy: Arc<dyn LegacyMessageCache>,
        phase: BridgePhase,
    ) -> MessageCacheBridge {
        let mirror = phase.mirrors_writes().then(|| {
            let target = Arc::clone(&legacy);
            client.subscribe(
                Arc::new(move |event: SyncEvent| mirror(&*target, event)),
                None,
            )
        });
        MessageCacheBridge {
            client,
            legacy,
            phase,
            _mirror: mirror,
        }
    }

    /// The phase in force.
    pub fn phase(&self) -> BridgePhase {
        self.phase
    }

    /// The seed's `getCachedMessages` through the bridge: from the legacy cache in
    /// phase 1 (sorted by sequence, unsent last), from SQLite otherwise.
    pub fn get_cached_messages(&self, request_id: &str) -> Result<Vec<ChatMessage>, ClientError> {
        match self.phase {
            BridgePhase::WriteBothReadLegacy => {
                let mut messages = self
                    .legacy
                    .get_cached_messages(request_id)
                    .map_err(ClientError::Cache)?;
                messages.sort_by_key(|m| (m.sequence_number.is_none(), m.sequence_number));
                Ok(messages)
            }
            _ => self.client.get_cached_messages(request_id, None),
        }
    }

    /// One-shot import of the legacy cache into SQLite: every message with a
    /// sequence number is upserted (so importing twice changes nothing) and the
    /// engine learns the new cache summaries; chats are validated when opened.
    pub fn import_legacy(&self) -> ImportReport {
        let mut report = ImportReport::default();
        let ids = match self.legacy.chat_ids() {
            Ok(ids) => ids,
            Err(e) => {
                report.failed_chats.push((String::new(), e));
                return report;
            }
        };
        for id in ids {
            report.chats += 1;
            let messages = match self.legacy.get_cached_messages(&id) {
                Ok(messages) => messages,
                Err(e) => {
                    report.failed_chats.push((id, e));
                    continue;
                }
            };
            let (sequenced, skipped): (Vec<ChatMessage>, Vec<ChatMessage>) = messages
                .into_iter()
                .partition(|m| m.request_id == id && m.sequence_number.is_some_and(|s| s >= 1));
            report.skipped += skipped.len();
            match self.client.import_messages(&id, &sequenced) {
                Ok(stored) => report.imported += stored,
                Err(e) => report.failed_chats.push((id, e.to_string())),
            }
        }
        report
    }
}

/// Mirrors one stored change into the legacy cache (phases 1 and 2).
fn mirror(legacy: &dyn LegacyMessageCache, event: SyncEvent) {
    let SyncEvent::MessagesChanged {
        request_id,
        inserted,
        updated,
        removed_ids,
    } = event
    else {
        return;
    };
    if !removed_ids.is_empty()
        && let Err(e) = legacy.remove_messages(&request_id, removed_ids)
    {
        tracing::warn!(chat = %request_id, "legacy cache mirror (remove) failed: {e}");
    }
    let mut put = inserted;
    put.extend(updated);
    if !put.is_empty()
        && let Err(e) = legacy.put_messages(&request_id, put)
    {
        tracing::warn!(chat = %request_id, "legacy cache mirror (put) failed: {e}");
    }
}
