//! [`ChatSyncClient`]: the core's client as a UniFFI object, and [`SubscriptionHandle`].

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chatsync::observe::Subscription;

use crate::callbacks::{AuthTokenProvider, ObserverAdapter, SyncObserver, TokenAdapter};
use crate::error::ChatSyncError;
use crate::types::*;

/// The defaults of the core for `base_url` and `cache_path` (absent = in memory):
/// resync window 200, pages of 50, revalidation every 5 minutes, 500 ms gap grace,
/// 15 s request / 5 s connect timeouts, cache caps of 10 000 per chat and 200 000
/// in total.
#[uniffi::export]
pub fn default_client_config(base_url: String, cache_path: Option<String>) -> ClientConfig {
    chatsync::ClientConfig::new(base_url, cache_path.map(std::path::PathBuf::from)).into()
}

/// The longest outgoing message `send_message` accepts, in characters (Unicode scalar
/// values): the protocol's content limit.
#[uniffi::export]
pub fn max_outgoing_message_chars() -> u32 {
    saturating_u32(chatsync::client::MAX_OUTGOING_CHARS)
}

/// One signed-in account's sync service (the seed's `ChatSyncService`).
///
/// Every method is safe to call from any thread. Methods that touch the network
/// are async and run on the client's own tokio runtime (two worker threads), so
/// they can be awaited from any executor and never block the caller's thread.
/// The synchronous methods read or write the local SQLite cache only, or just
/// feed an event to the engine. Close (Kotlin `close()`, Python `del`) to stop
/// its network tasks; `shutdown` does so explicitly.
#[derive(Debug, uniffi::Object)]
pub struct ChatSyncClient {
    inner: Arc<chatsync::ChatSyncClient>,
}

impl ChatSyncClient {
    /// The core client (for the bridge and Rust callers).
    pub fn core(&self) -> Arc<chatsync::ChatSyncClient> {
        Arc::clone(&self.inner)
    }
}

/// Synchronous methods: local cache reads and engine inputs, no network wait.
#[uniffi::export]
impl ChatSyncClient {
    /// Builds a client: opens (creates, migrates, or recovers) the cache. No network
    /// work starts until `start` or a method that needs it.
    #[uniffi::constructor]
    pub fn new(
        config: ClientConfig,
        tokens: Arc<dyn AuthTokenProvider>,
    ) -> Result<Arc<ChatSyncClient>, ChatSyncError> {
        let config = config.to_core()?;
        let inner = chatsync::ChatSyncClient::new(config, Arc::new(TokenAdapter(tokens)))?;
        Ok(Arc::new(ChatSyncClient {
            inner: Arc::new(inner),
        }))
    }

    /// Goes online: opens the realtime socket, refreshes the ticket list (metadata
    /// only), hands the stored outbox to the engine. Idempotent; returns at once.
    pub fn start(&self) {
        self.inner.start();
    }

    /// Stops every network task, timer and the socket; the cache stays. Later calls
    /// that need the network fail with `SignedOut`.
    pub fn shutdown(&self) {
        self.inner.shutdown();
    }

    /// The user opens a chat: returns the cached messages and meta at once (from
    /// SQLite, no network wait); validation and any scoped resync follow in the
    /// background and are reported to observers.
    pub fn open_chat(&self, request_id: String) -> Result<OpenedChat, ChatSyncError> {
        Ok(self.inner.open_chat(&request_id)?.into())
    }

    /// The user leaves the chat: its timers and retries stop.
    pub fn close_chat(&self, request_id: String) {
        self.inner.close_chat(&request_id);
    }

    /// The device is online again (debounce before calling): open chats heal
    /// through validation; no message fetch for closed chats.
    pub fn on_connectivity_restored(&self) {
        self.inner.on_connectivity_restored();
    }

    /// The device lost connectivity: no request is made until it is restored.
    pub fn on_connectivity_lost(&self) {
        self.inner.on_connectivity_lost();
    }

    /// A message pushed through another channel (a push notification): stored and
    /// handled exactly like a realtime frame.
    pub fn on_new_message(&self, message: ChatMessage) -> Result<(), ChatSyncError> {
        Ok(self.inner.on_new_message(message.into())?)
    }

    /// A backend sequence learned by the app; may raise or lower the known value.
    /// A negative value is ignored (and logged).
    pub fn update_backend_sequence(&self, request_id: String, seq: i64) {
        self.inner.update_backend_sequence(&request_id, seq);
    }

    /// The last stored ticket list (no network).
    pub fn cached_tickets(&self) -> Result<Vec<TicketSummary>, ChatSyncError> {
        Ok(tickets_out(self.inner.cached_tickets()?))
    }

    /// True only while a resync's network work runs for the chat.
    pub fn is_chat_syncing(&self, request_id: String) -> bool {
        self.inner.is_chat_syncing(&request_id)
    }

    /// The chat's live sync state (UNKNOWN for a chat not validated in this run).
    pub fn sync_state(&self, request_id: String) -> SyncState {
        self.inner.sync_state(&request_id).into()
    }

    /// The chat's stored sync meta.
    pub fn get_sync_meta(&self, request_id: String) -> Result<ChatSyncMeta, ChatSyncError> {
        Ok(self.inner.get_sync_meta(&request_id)?.into())
    }

    /// The newest `limit` cached messages (all when absent), ascending by sequence,
    /// then local outgoing messages in send order. No network.
    pub fn get_cached_messages(
        &self,
        request_id: String,
        limit: Option<u32>,
    ) -> Result<Vec<ChatMessage>, ChatSyncError> {
        Ok(messages_out(
            self.inner.get_cached_messages(&request_id, limit)?,
        ))
    }

    /// The `limit` cached messages just below `before_seq`, ascending. No network.
    pub fn get_messages_before(
        &self,
        request_id: String,
        before_seq: i64,
        limit: u32,
    ) -> Result<Vec<ChatMessage>, ChatSyncError> {
        Ok(messages_out(self.inner.get_messages_before(
            &request_id,
            before_seq,
            limit,
        )?))
    }

    /// The chat's recorded history gaps ("load earlier"), ascending.
    pub fn history_gaps(&self, request_id: String) -> Result<Vec<SeqRange>, ChatSyncError> {
        Ok(ranges_out(self.inner.history_gaps(&request_id)?))
    }

    /// The app came to the foreground: reconnects if needed and refreshes metadata.
    pub fn on_app_resume(&self) {
        self.inner.on_app_resume();
    }

    /// New credentials after an auth error: network work resumes.
    pub fn on_credentials_renewed(&self) {
        self.inner.on_credentials_renewed();
    }

    /// Subscribes `observer` to one chat's events plus client-wide ones (or, with
    /// `request_id` absent, to every event). It first receives a snapshot (each
    /// chat's state and syncing flag, and the connection), then every later event,
    /// in order. Closing or cancelling the returned handle unsubscribes; the handle
    /// is the only thing keeping the subscription, and the observer is held only
    /// by the client's dispatcher (no reference cycle through the handle).
    pub fn subscribe(
        &self,
        observer: Arc<dyn SyncObserver>,
        request_id: Option<String>,
    ) -> Arc<SubscriptionHandle> {
        let subscription = self
            .inner
            .subscribe(Arc::new(ObserverAdapter(observer)), request_id);
        Arc::new(SubscriptionHandle {
            subscription: Mutex::new(Some(subscription)),
        })
    }

    /// Stores server messages obtained elsewhere, checked like a page; returns how
    /// many rows were inserted or updated.
    pub fn import_messages(
        &self,
        request_id: String,
        messages: Vec<ChatMessage>,
    ) -> Result<u32, ChatSyncError> {
        let messages = messages_in(messages);
        Ok(saturating_u32(
            self.inner.import_messages(&request_id, &messages)?,
        ))
    }

    /// Client-side network counters.
    pub fn net_stats(&self) -> NetStats {
        self.inner.net_stats().into()
    }

    /// Blocks until every observer event published so far has been delivered (for
    /// tests and tools). Must not be called from an observer.
    pub fn flush_observers(&self) {
        self.inner.flush_observers();
    }
}

/// Asynchronous methods: they wait for the network (or for sync work) on the
/// client's runtime.
#[uniffi::export(async_runtime = "tokio")]
impl ChatSyncClient {
    /// Resyncs one chat, only when it is OUT_OF_SYNC; returns the meta when the run
    /// ends. Throws the run's error when it ended without SYNCED.
    pub async fn resync(&self, request_id: String) -> Result<ChatSyncMeta, ChatSyncError> {
        Ok(self.inner.resync(&request_id).await?.into())
    }

    /// The user's resync button: always runs, returns the meta when the run ends;
    /// throws when offline or when the run failed.
    pub async fn manual_resync(&self, request_id: String) -> Result<ChatSyncMeta, ChatSyncError> {
        Ok(self.inner.manual_resync(&request_id).await?.into())
    }

    /// Refreshes the ticket list now (metadata only) and returns the stored list.
    pub async fn refresh_tickets(&self) -> Result<Vec<TicketSummary>, ChatSyncError> {
        Ok(tickets_out(self.inner.refresh_tickets().await?))
    }

    /// Back-pagination: fetches one page at the top of the newest history gap.
    pub async fn load_earlier(
        &self,
        request_id: String,
    ) -> Result<LoadEarlierOutcome, ChatSyncError> {
        Ok(self.inner.load_earlier(&request_id).await?.into())
    }

    /// Queues an outgoing message durably in the outbox and returns its optimistic
    /// local copy (pending, a fresh `client_temp_id`, no sequence). Delivery runs in
    /// the background, in order, retried, idempotent; observers see the server's
    /// copy replace it.
    pub async fn send_message(
        &self,
        request_id: String,
        content: String,
    ) -> Result<ChatMessage, ChatSyncError> {
        Ok(self.inner.send_message(&request_id, &content).await?.into())
    }

    /// Sends a failed outgoing message again.
    pub async fn retry_send(
        &self,
        request_id: String,
        client_temp_id: String,
    ) -> Result<(), ChatSyncError> {
        Ok(self.inner.retry_send(&request_id, &client_temp_id).await?)
    }

    /// Waits until the outgoing message is sent (returns the server's copy), failed,
    /// or its first attempt failed, or `timeout_ms` passed (returns the local copy).
    pub async fn wait_for_send(
        &self,
        request_id: String,
        client_temp_id: String,
        timeout_ms: u64,
    ) -> Result<ChatMessage, ChatSyncError> {
        let timeout = Duration::from_millis(timeout_ms);
        Ok(self
            .inner
            .wait_for_send(&request_id, &client_temp_id, timeout)
            .await?
            .into())
    }

    /// Marks the chat read up to `up_to_sequence` on the server.
    pub async fn mark_read(
        &self,
        request_id: String,
        up_to_sequence: i64,
    ) -> Result<(), ChatSyncError> {
        Ok(self.inner.mark_read(&request_id, up_to_sequence).await?)
    }

    /// For WorkManager / BGAppRefreshTask: refreshes metadata only (no message
    /// fetch), waiting at most `budget_ms`, and reports which cached chats the
    /// fresh metadata proves incomplete.
    pub async fn background_revalidate(
        &self,
        budget_ms: u64,
    ) -> Result<BackgroundReport, ChatSyncError> {
        let budget = Duration::from_millis(budget_ms);
        Ok(self.inner.background_revalidate(budget).await?.into())
    }

    /// Signs out: stops everything and deletes the cache's contents. The client is
    /// unusable afterwards.
    pub async fn sign_out(&self) -> Result<(), ChatSyncError> {
        Ok(self.inner.sign_out().await?)
    }

    /// Waits until the chat settles (SYNCED; OUT_OF_SYNC after a failed attempt;
    /// UNKNOWN with no metadata on its way) or `timeout_ms` passed; returns the
    /// state then. For tools and tests.
    pub async fn wait_until_settled(&self, request_id: String, timeout_ms: u64) -> SyncState {
        let timeout = Duration::from_millis(timeout_ms);
        self.inner
            .wait_until_settled(&request_id, timeout)
            .await
            .into()
    }
}

/// A live subscription. `cancel()` or closing/dropping the handle unsubscribes:
/// no event is delivered after `cancel` returns, except one already being delivered.
/// The core lets go of the observer when that delivery ends (`flush_observers`
/// waits for it), so the foreign object may outlive `cancel` by one callback.
#[derive(Debug, uniffi::Object)]
pub struct SubscriptionHandle {
    subscription: Mutex<Option<Subscription>>,
}

#[uniffi::export]
impl SubscriptionHandle {
    /// Unsubscribes now. Idempotent.
    pub fn cancel(&self) {
        let taken = self
            .subscription
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(subscription) = taken {
            subscription.cancel();
        }
    }

    /// False once `cancel` was called.
    pub fn is_active(&self) -> bool {
        self.subscription
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }
}
