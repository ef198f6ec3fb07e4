//! Records and enums mirroring the core's types, with conversions at the boundary.
//!
//! Field meanings are the core's (`chatsync::types`); only representations change:
//! durations are milliseconds, counts are `u32` (saturating), sequences stay `i64`.

use std::time::Duration;

use chatsync::client as core_client;
use chatsync::net::NetStats as CoreNetStats;

/// The per-chat sync state: UNKNOWN (not validated yet, not an error), SYNCED
/// (cache proven complete), OUT_OF_SYNC (proven incomplete; a resync is due).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum SyncState {
    /// Local data not yet validated against the backend sequence.
    Unknown,
    /// The newest run is contiguous and ends at the backend sequence.
    Synced,
    /// Proven missing or incomplete message data.
    OutOfSync,
}

impl From<chatsync::SyncState> for SyncState {
    fn from(state: chatsync::SyncState) -> SyncState {
        match state {
            chatsync::SyncState::Unknown => SyncState::Unknown,
            chatsync::SyncState::Synced => SyncState::Synced,
            chatsync::SyncState::OutOfSync => SyncState::OutOfSync,
        }
    }
}

/// Delivery status of a message as the local user sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum MessageStatus {
    /// Queued in the outbox, not yet acknowledged by the server.
    Pending,
    /// Stored by the server (it has a sequence number).
    Sent,
    /// The last delivery attempt failed permanently; the user may retry.
    Failed,
}

impl From<chatsync::MessageStatus> for MessageStatus {
    fn from(status: chatsync::MessageStatus) -> MessageStatus {
        match status {
            chatsync::MessageStatus::Pending => MessageStatus::Pending,
            chatsync::MessageStatus::Sent => MessageStatus::Sent,
            chatsync::MessageStatus::Failed => MessageStatus::Failed,
        }
    }
}

impl From<MessageStatus> for chatsync::MessageStatus {
    fn from(status: MessageStatus) -> chatsync::MessageStatus {
        match status {
            MessageStatus::Pending => chatsync::MessageStatus::Pending,
            MessageStatus::Sent => chatsync::MessageStatus::Sent,
            MessageStatus::Failed => chatsync::MessageStatus::Failed,
        }
    }
}

/// What kind of failure an observer's [`SyncEvent::Failure`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum ErrorKind {
    /// No connection (or the device is offline).
    Network,
    /// The server did not answer in time.
    Timeout,
    /// The server failed (5xx).
    Server,
    /// The credentials were rejected.
    Unauthorized,
    /// The server's answer broke the protocol; nothing of it was stored.
    BadData,
    /// The chat does not exist or is not visible to this user.
    NotFound,
    /// The server refused the request (4xx).
    Rejected,
    /// The local cache failed.
    Cache,
    /// The caller passed something unusable.
    InvalidArgument,
    /// The client was signed out.
    SignedOut,
}

impl From<core_client::ErrorKind> for ErrorKind {
    fn from(kind: core_client::ErrorKind) -> ErrorKind {
        use core_client::ErrorKind as K;
        match kind {
            K::Network => ErrorKind::Network,
            K::Timeout => ErrorKind::Timeout,
            K::Server => ErrorKind::Server,
            K::Unauthorized => ErrorKind::Unauthorized,
            K::BadData => ErrorKind::BadData,
            K::NotFound => ErrorKind::NotFound,
            K::Rejected => ErrorKind::Rejected,
            K::Cache => ErrorKind::Cache,
            K::InvalidArgument => ErrorKind::InvalidArgument,
            K::SignedOut => ErrorKind::SignedOut,
        }
    }
}

/// The author of a message.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Sender {
    /// The user's id.
    pub id: String,
    /// Display name.
    pub full_name: String,
    /// True for the technician side of a ticket.
    pub is_technician: bool,
}

impl From<chatsync::Sender> for Sender {
    fn from(s: chatsync::Sender) -> Sender {
        Sender {
            id: s.id,
            full_name: s.full_name,
            is_technician: s.is_technician,
        }
    }
}

impl From<Sender> for chatsync::Sender {
    fn from(s: Sender) -> chatsync::Sender {
        chatsync::Sender {
            id: s.id,
            full_name: s.full_name,
            is_technician: s.is_technician,
        }
    }
}

/// One chat message. `sequence_number` is set (>= 1) for every message the server
/// stored and absent only for local outgoing messages (pending or failed).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ChatMessage {
    /// Server id; for a local outgoing message, `local:<client_temp_id>`.
    pub id: String,
    /// The ticket (chat) this message belongs to.
    pub request_id: String,
    /// The author's id, if known.
    pub sender_id: Option<String>,
    /// The author, if known.
    pub sender: Option<Sender>,
    /// Text content.
    pub content: String,
    /// Per-chat sequence number, absent until the server stored the message.
    pub sequence_number: Option<i64>,
    /// True when the message is a screenshot.
    pub is_screenshot: bool,
    /// File name of the screenshot, if any.
    pub screenshot_file_name: Option<String>,
    /// True when the signed-in user has read it.
    pub is_read_by_current_user: bool,
    /// Creation time, RFC 3339 UTC.
    pub created_at: String,
    /// Last edit time, RFC 3339 UTC.
    pub updated_at: Option<String>,
    /// Delivery status as the local user sees it.
    pub status: MessageStatus,
    /// Legacy temporary id.
    pub temp_id: Option<String>,
    /// The client-chosen idempotency key of an outgoing message.
    pub client_temp_id: Option<String>,
    /// True for messages generated by the system.
    pub is_system_message: bool,
    /// Attached file name, if any.
    pub file_name: Option<String>,
    /// Attached file size in bytes, if any.
    pub file_size: Option<i64>,
    /// Attached file MIME type, if any.
    pub file_mime_type: Option<String>,
    /// When this row was written to the cache, ms since the Unix epoch.
    pub cached_at: i64,
}

impl From<chatsync::ChatMessage> for ChatMessage {
    fn from(m: chatsync::ChatMessage) -> ChatMessage {
        ChatMessage {
            id: m.id,
            request_id: m.request_id,
            sender_id: m.sender_id,
            sender: m.sender.map(Into::into),
            content: m.content,
            sequence_number: m.sequence_number,
            is_screenshot: m.is_screenshot,
            screenshot_file_name: m.screenshot_file_name,
            is_read_by_current_user: m.is_read_by_current_user,
            created_at: m.created_at,
            updated_at: m.updated_at,
            status: m.status.into(),
            temp_id: m.temp_id,
            client_temp_id: m.client_temp_id,
            is_system_message: m.is_system_message,
            file_name: m.file_name,
            file_size: m.file_size,
            file_mime_type: m.file_mime_type,
            cached_at: m.cached_at,
        }
    }
}

impl From<ChatMessage> for chatsync::ChatMessage {
    fn from(m: ChatMessage) -> chatsync::ChatMessage {
        chatsync::ChatMessage {
            id: m.id,
            request_id: m.request_id,
            sender_id: m.sender_id,
            sender: m.sender.map(Into::into),
            content: m.content,
            sequence_number: m.sequence_number,
            is_screenshot: m.is_screenshot,
            screenshot_file_name: m.screenshot_file_name,
            is_read_by_current_user: m.is_read_by_current_user,
            created_at: m.created_at,
            updated_at: m.updated_at,
            status: m.status.into(),
            temp_id: m.temp_id,
            client_temp_id: m.client_temp_id,
            is_system_message: m.is_system_message,
            file_name: m.file_name,
            file_size: m.file_size,
            file_mime_type: m.file_mime_type,
            cached_at: m.cached_at,
        }
    }
}

/// Converts a list of core messages.
pub(crate) fn messages_out(messages: Vec<chatsync::ChatMessage>) -> Vec<ChatMessage> {
    messages.into_iter().map(Into::into).collect()
}

/// Converts a list of foreign messages.
pub(crate) fn messages_in(messages: Vec<ChatMessage>) -> Vec<chatsync::ChatMessage> {
    messages.into_iter().map(Into::into).collect()
}

/// The last message of a ticket as shown in the ticket list.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LastMessageInfo {
    /// Text content.
    pub content: String,
    /// Display name of the author, if known.
    pub sender_name: Option<String>,
    /// Creation time, RFC 3339 UTC.
    pub created_at: String,
    /// Its per-chat sequence number.
    pub sequence_number: i64,
}

/// One ticket of the ticket list (metadata only, no messages).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TicketSummary {
    /// Ticket id, which is also the chat's `request_id`.
    pub id: String,
    /// Ticket title.
    pub title: String,
    /// Ticket status as the backend spells it (`open`, `in_progress`, ...).
    pub status: String,
    /// Messages the signed-in user has not read.
    pub unread_count: i64,
    /// Last activity, RFC 3339 UTC.
    pub updated_at: String,
    /// The newest message, if any.
    pub last_message: Option<LastMessageInfo>,
    /// Highest sequence in the chat (0 when empty); absent when the backend cannot say.
    pub last_message_sequence: Option<i64>,
}

impl From<chatsync::TicketSummary> for TicketSummary {
    fn from(t: chatsync::TicketSummary) -> TicketSummary {
        TicketSummary {
            id: t.id,
            title: t.title,
            status: t.status,
            unread_count: t.unread_count,
            updated_at: t.updated_at,
            last_message: t.last_message.map(|l| LastMessageInfo {
                content: l.content,
                sender_name: l.sender_name,
                created_at: l.created_at,
                sequence_number: l.sequence_number,
            }),
            last_message_sequence: t.last_message_sequence,
        }
    }
}

/// Converts a ticket list.
pub(crate) fn tickets_out(tickets: Vec<chatsync::TicketSummary>) -> Vec<TicketSummary> {
    tickets.into_iter().map(Into::into).collect()
}

/// What the cache knows about one chat (the seed's `ChatSyncMeta`).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ChatSyncMeta {
    /// The chat (ticket) id.
    pub request_id: String,
    /// Lowest cached sequence number, if any.
    pub local_min_seq: Option<i64>,
    /// Highest cached sequence number, if any.
    pub local_max_seq: Option<i64>,
    /// The backend's highest sequence as last learned; absent = unknown.
    pub last_known_backend_seq: Option<i64>,
    /// Stored sync state.
    pub sync_state: SyncState,
    /// When validation last ran, ms since the Unix epoch (0 = never).
    pub last_validated_at: i64,
    /// Number of cached messages that have a sequence number.
    pub message_count: i64,
}

impl From<chatsync::ChatSyncMeta> for ChatSyncMeta {
    fn from(m: chatsync::ChatSyncMeta) -> ChatSyncMeta {
        ChatSyncMeta {
            request_id: m.request_id,
            local_min_seq: m.local_min_seq,
            local_max_seq: m.local_max_seq,
            last_known_backend_seq: m.last_known_backend_seq,
            sync_state: m.sync_state.into(),
            last_validated_at: m.last_validated_at,
            message_count: m.message_count,
        }
    }
}

/// An inclusive range of sequence numbers `start..=end` (a history gap).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct SeqRange {
    /// First sequence of the range.
    pub start: i64,
    /// Last sequence of the range (inclusive).
    pub end: i64,
}

impl From<chatsync::SeqRange> for SeqRange {
    fn from(r: chatsync::SeqRange) -> SeqRange {
        SeqRange {
            start: r.start,
            end: r.end,
        }
    }
}

/// Converts a list of ranges.
pub(crate) fn ranges_out(ranges: Vec<chatsync::SeqRange>) -> Vec<SeqRange> {
    ranges.into_iter().map(Into::into).collect()
}

/// What `open_chat` returns at once, from the cache.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct OpenedChat {
    /// The newest cached messages, ascending by sequence, then local outgoing ones.
    pub messages: Vec<ChatMessage>,
    /// The chat's sync meta after the open's validation.
    pub meta: ChatSyncMeta,
    /// Recorded history gaps ("load earlier"), ascending.
    pub history_gaps: Vec<SeqRange>,
    /// True when a resync's network work runs already.
    pub is_syncing: bool,
}

impl From<core_client::OpenedChat> for OpenedChat {
    fn from(o: core_client::OpenedChat) -> OpenedChat {
        OpenedChat {
            messages: messages_out(o.messages),
            meta: o.meta.into(),
            history_gaps: ranges_out(o.history_gaps),
            is_syncing: o.is_syncing,
        }
    }
}

/// What `load_earlier` did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LoadEarlierOutcome {
    /// The messages it stored, ascending (empty when there was no gap to fill).
    pub loaded: Vec<ChatMessage>,
    /// The history gaps that remain, ascending.
    pub remaining_gaps: Vec<SeqRange>,
}

impl From<core_client::LoadEarlierOutcome> for LoadEarlierOutcome {
    fn from(o: core_client::LoadEarlierOutcome) -> LoadEarlierOutcome {
        LoadEarlierOutcome {
            loaded: messages_out(o.loaded),
            remaining_gaps: ranges_out(o.remaining_gaps),
        }
    }
}

/// What `background_revalidate` found.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct BackgroundReport {
    /// Tickets in the stored list.
    pub tickets: u32,
    /// Cached chats the fresh metadata proves incomplete (they heal when opened).
    pub out_of_sync: Vec<String>,
    /// True when fresh metadata arrived within the budget.
    pub completed: bool,
}

impl From<core_client::BackgroundReport> for BackgroundReport {
    fn from(r: core_client::BackgroundReport) -> BackgroundReport {
        BackgroundReport {
            tickets: saturating_u32(r.tickets),
            out_of_sync: r.out_of_sync,
            completed: r.completed,
        }
    }
}

/// Client-side network counters (requests, messages fetched, bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct NetStats {
    /// HTTP requests sent (retries included).
    pub http_requests: u64,
    /// Ticket list requests.
    pub ticket_list_requests: u64,
    /// Message page requests.
    pub message_page_requests: u64,
    /// Messages received in pages.
    pub messages_fetched: u64,
    /// Send requests.
    pub send_requests: u64,
    /// Response body bytes received.
    pub bytes_received: u64,
}

impl From<CoreNetStats> for NetStats {
    fn from(s: CoreNetStats) -> NetStats {
        NetStats {
            http_requests: s.http_requests,
            ticket_list_requests: s.ticket_list_requests,
            message_page_requests: s.message_page_requests,
            messages_fetched: s.messages_fetched,
            send_requests: s.send_requests,
            bytes_received: s.bytes_received,
        }
    }
}

/// One observer event, delivered in order on the client's dispatch thread (a Rust
/// background thread), never while the client holds a lock.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum SyncEvent {
    /// A chat's sync state changed.
    SyncStateChanged {
        /// The chat.
        request_id: String,
        /// The new state.
        state: SyncState,
    },
    /// `is_chat_syncing` changed: true only while a resync's network work runs.
    SyncingChanged {
        /// The chat.
        request_id: String,
        /// The new value.
        syncing: bool,
    },
    /// Cached messages of a chat changed: exactly these rows.
    MessagesChanged {
        /// The chat.
        request_id: String,
        /// New rows (a page, a push, a queued outgoing message, a server copy).
        inserted: Vec<ChatMessage>,
        /// Rows whose fields changed (an edit, an outgoing message's status).
        updated: Vec<ChatMessage>,
        /// Ids of rows that are gone (e.g. a local outgoing row replaced by the server's copy).
        removed_ids: Vec<String>,
    },
    /// The ticket list was refreshed (metadata only).
    TicketsChanged {
        /// The stored list, most recent activity first.
        tickets: Vec<TicketSummary>,
    },
    /// A `load_earlier` finished.
    LoadEarlierFinished {
        /// The chat.
        request_id: String,
        /// False when it failed or could not run.
        ok: bool,
    },
    /// Connectivity or the realtime socket changed.
    ConnectionChanged {
        /// False after `on_connectivity_lost`, until connectivity is back.
        online: bool,
        /// True while the realtime WebSocket is up.
        realtime_connected: bool,
    },
    /// Something failed that the app or the user may want to know.
    Failure {
        /// The chat concerned, if any.
        request_id: Option<String>,
        /// What kind of failure.
        kind: ErrorKind,
        /// Human-readable details.
        details: String,
    },
}

impl From<chatsync::SyncEvent> for SyncEvent {
    fn from(event: chatsync::SyncEvent) -> SyncEvent {
        use chatsync::SyncEvent as E;
        match event {
            E::SyncStateChanged { request_id, state } => SyncEvent::SyncStateChanged {
                request_id,
                state: state.into(),
            },
            E::SyncingChanged {
                request_id,
                syncing,
            } => SyncEvent::SyncingChanged {
                request_id,
                syncing,
            },
            E::MessagesChanged {
                request_id,
                inserted,
                updated,
                removed_ids,
            } => SyncEvent::MessagesChanged {
                request_id,
                inserted: messages_out(inserted),
                updated: messages_out(updated),
                removed_ids,
            },
            E::TicketsChanged { tickets } => SyncEvent::TicketsChanged {
                tickets: tickets_out(tickets),
            },
            E::LoadEarlierFinished { request_id, ok } => {
                SyncEvent::LoadEarlierFinished { request_id, ok }
            }
            E::ConnectionChanged {
                online,
                realtime_connected,
            } => SyncEvent::ConnectionChanged {
                online,
                realtime_connected,
            },
            E::Error {
                request_id,
                kind,
                message,
            } => SyncEvent::Failure {
                request_id,
                kind: kind.into(),
                details: message,
            },
        }
    }
}

/// Which cache the migration bridge reads, and whether writes are mirrored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum BridgePhase {
    /// Phase 1: write both, read the legacy cache.
    WriteBothReadLegacy,
    /// Phase 2 (the default): write both, read SQLite.
    WriteBothReadSqlite,
    /// Phase 3: SQLite only.
    SqliteOnly,
}

impl From<BridgePhase> for core_client::BridgePhase {
    fn from(phase: BridgePhase) -> core_client::BridgePhase {
        match phase {
            BridgePhase::WriteBothReadLegacy => core_client::BridgePhase::WriteBothReadLegacy,
            BridgePhase::WriteBothReadSqlite => core_client::BridgePhase::WriteBothReadSqlite,
            BridgePhase::SqliteOnly => core_client::BridgePhase::SqliteOnly,
        }
    }
}

impl From<core_client::BridgePhase> for BridgePhase {
    fn from(phase: core_client::BridgePhase) -> BridgePhase {
        match phase {
            core_client::BridgePhase::WriteBothReadLegacy => BridgePhase::WriteBothReadLegacy,
            core_client::BridgePhase::WriteBothReadSqlite => BridgePhase::WriteBothReadSqlite,
            core_client::BridgePhase::SqliteOnly => BridgePhase::SqliteOnly,
        }
    }
}

/// A chat the legacy import could not read or store, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FailedChat {
    /// The chat (empty when the legacy cache could not even list its chats).
    pub request_id: String,
    /// Why.
    pub reason: String,
}

/// What `MessageCacheBridge::import_legacy` did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ImportReport {
    /// Chats read from the legacy cache.
    pub chats: u32,
    /// Messages stored in SQLite (new or updated rows).
    pub imported: u32,
    /// Messages skipped: no sequence number (never confirmed by the server) or invalid.
    pub skipped: u32,
    /// Chats whose legacy data could not be read or stored.
    pub failed_chats: Vec<FailedChat>,
}

impl From<core_client::ImportReport> for ImportReport {
    fn from(r: core_client::ImportReport) -> ImportReport {
        ImportReport {
            chats: saturating_u32(r.chats),
            imported: saturating_u32(r.imported),
            skipped: saturating_u32(r.skipped),
            failed_chats: r
                .failed_chats
                .into_iter()
                .map(|(request_id, reason)| FailedChat { request_id, reason })
                .collect(),
        }
    }
}

/// Settings of one client. Get the defaults from `default_client_config` and
/// change what you need; durations are milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ClientConfig {
    /// The backend's origin, e.g. `https://chat.example.com`; `/api/v1/...` is appended.
    pub base_url: String,
    /// The SQLite cache file; absent keeps the cache in memory (tests, scripts).
    pub cache_path: Option<String>,
    /// How many of the newest messages a resync downloads at most (rest = history gap).
    pub resync_window: i64,
    /// Largest page of one message request.
    pub page_size: i64,
    /// How many of the newest cached messages `open_chat` returns.
    pub open_message_limit: u32,
    /// Periodic revalidation of an open chat.
    pub revalidate_interval_ms: u64,
    /// How long a realtime gap waits for late frames before fetching.
    pub gap_grace_ms: u64,
    /// Whole-request limit of one HTTP request.
    pub request_timeout_ms: u64,
    /// TCP + TLS connect limit.
    pub connect_timeout_ms: u64,
    /// Largest HTTP response body accepted, in bytes.
    pub max_body_bytes: u64,
    /// First retry delay of a failed resync, ticket refresh or send.
    pub retry_base_ms: u64,
    /// Upper bound of every retry delay.
    pub retry_cap_ms: u64,
    /// First realtime reconnect delay (before jitter).
    pub reconnect_base_ms: u64,
    /// Upper bound of the reconnect delay (before jitter).
    pub reconnect_cap_ms: u64,
    /// WebSocket ping interval.
    pub ping_interval_ms: u64,
    /// Silence after which the WebSocket counts as dead.
    pub dead_after_ms: u64,
    /// Largest realtime frame accepted, in bytes.
    pub max_frame_bytes: u64,
    /// WebSocket handshake limit.
    pub realtime_connect_timeout_ms: u64,
    /// Cache cap per chat (sequenced messages); absent = no cap.
    pub max_messages_per_chat: Option<i64>,
    /// Cache cap over all chats; absent = no cap.
    pub max_messages_total: Option<i64>,
}

fn ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl From<chatsync::ClientConfig> for ClientConfig {
    fn from(c: chatsync::ClientConfig) -> ClientConfig {
        ClientConfig {
            base_url: c.base_url,
            cache_path: c.cache_path.map(|p| p.to_string_lossy().into_owned()),
            resync_window: c.resync_window,
            page_size: c.page_size,
            open_message_limit: c.open_message_limit,
            revalidate_interval_ms: ms(c.revalidate_interval),
            gap_grace_ms: ms(c.gap_grace),
            request_timeout_ms: ms(c.request_timeout),
            connect_timeout_ms: ms(c.connect_timeout),
            max_body_bytes: c.max_body_bytes as u64,
            retry_base_ms: ms(c.retry_base),
            retry_cap_ms: ms(c.retry_cap),
            reconnect_base_ms: ms(c.reconnect_base),
            reconnect_cap_ms: ms(c.reconnect_cap),
            ping_interval_ms: ms(c.realtime.ping_interval),
            dead_after_ms: ms(c.realtime.dead_after),
            max_frame_bytes: c.realtime.max_frame_bytes as u64,
            realtime_connect_timeout_ms: ms(c.realtime.connect_timeout),
            max_messages_per_chat: c.eviction.max_messages_per_chat,
            max_messages_total: c.eviction.max_messages_total,
        }
    }
}

impl ClientConfig {
    /// The core's configuration, or a readable error for an unusable value.
    pub(crate) fn to_core(&self) -> Result<chatsync::ClientConfig, crate::ChatSyncError> {
        let invalid =
            |what: &str| crate::ChatSyncError::InvalidArgument(format!("invalid argument: {what}"));
        if self.resync_window < 1 {
            return Err(invalid("resync_window must be at least 1"));
        }
        if self.page_size < 1 {
            return Err(invalid("page_size must be at least 1"));
        }
        if self.max_messages_per_chat.is_some_and(|n| n < 1)
            || self.max_messages_total.is_some_and(|n| n < 1)
        {
            return Err(invalid("a cache cap must be at least 1 (absent = no cap)"));
        }
        let bytes = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        let path = self
            .cache_path
            .as_ref()
            .filter(|p| !p.is_empty())
            .map(std::path::PathBuf::from);
        let mut c = chatsync::ClientConfig::new(self.base_url.clone(), path);
        c.resync_window = self.resync_window;
        c.page_size = self.page_size;
        c.open_message_limit = self.open_message_limit;
        c.revalidate_interval = Duration::from_millis(self.revalidate_interval_ms);
        c.gap_grace = Duration::from_millis(self.gap_grace_ms);
        c.request_timeout = Duration::from_millis(self.request_timeout_ms);
        c.connect_timeout = Duration::from_millis(self.connect_timeout_ms);
        c.max_body_bytes = bytes(self.max_body_bytes);
        c.retry_base = Duration::from_millis(self.retry_base_ms);
        c.retry_cap = Duration::from_millis(self.retry_cap_ms);
        c.reconnect_base = Duration::from_millis(self.reconnect_base_ms);
        c.reconnect_cap = Duration::from_millis(self.reconnect_cap_ms);
        c.realtime.ping_interval = Duration::from_millis(self.ping_interval_ms);
        c.realtime.dead_after = Duration::from_millis(self.dead_after_ms);
        c.realtime.max_frame_bytes = bytes(self.max_frame_bytes);
        c.realtime.connect_timeout = Duration::from_millis(self.realtime_connect_timeout_ms);
        c.eviction.max_messages_per_chat = self.max_messages_per_chat;
        c.eviction.max_messages_total = self.max_messages_total;
        Ok(c)
    }
}

/// `n` as `u32`, saturating at `u32::MAX`.
pub(crate) fn saturating_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_config_round_trips_to_the_core_defaults() {
        let core = chatsync::ClientConfig::new("http://127.0.0.1:1", Some("/tmp/c.sqlite".into()));
        let ffi = ClientConfig::from(core.clone());
        let back = ffi.to_core().expect("the defaults are valid");
        assert_eq!(format!("{back:?}"), format!("{core:?}"));
        assert_eq!(ffi.resync_window, 200);
        assert_eq!(ffi.revalidate_interval_ms, 300_000);
        assert_eq!(ffi.max_messages_per_chat, Some(10_000));
    }

    #[test]
    fn unusable_config_values_are_clear_errors() {
        let mut ffi = ClientConfig::from(chatsync::ClientConfig::new("http://x", None));
        ffi.page_size = 0;
        let error = ffi.to_core().unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid argument: page_size must be at least 1"
        );
        ffi.page_size = 50;
        ffi.max_messages_total = Some(0);
        assert!(ffi.to_core().unwrap_err().to_string().contains("cache cap"));
    }

    #[test]
    fn core_errors_keep_their_kind_and_text() {
        let error = crate::ChatSyncError::from(chatsync::ClientError::Network("refused".into()));
        assert_eq!(error.kind(), ErrorKind::Network);
        assert_eq!(error.to_string(), "network unavailable: refused");
        let error = crate::ChatSyncError::from(chatsync::ClientError::SignedOut);
        assert_eq!(error.kind(), ErrorKind::SignedOut);
        assert!(error.to_string().starts_with("signed out"));
    }

    #[test]
    fn messages_convert_both_ways_unchanged() {
        let message = chatsync::ChatMessage {
            id: "m1".into(),
            request_id: "t1".into(),
            sender_id: Some("u1".into()),
            sender: Some(chatsync::Sender {
                id: "u1".into(),
                full_name: "Dana".into(),
                is_technician: false,
            }),
            content: "hello".into(),
            sequence_number: Some(7),
            is_screenshot: false,
            screenshot_file_name: None,
            is_read_by_current_user: true,
            created_at: "2026-01-01T00:00:00Z".into(),
            updated_at: None,
            status: chatsync::MessageStatus::Sent,
            temp_id: None,
            client_temp_id: Some("c1".into()),
            is_system_message: false,
            file_name: Some("a.png".into()),
            file_size: Some(12),
            file_mime_type: Some("image/png".into()),
            cached_at: 99,
        };
        let back = chatsync::ChatMessage::from(ChatMessage::from(message.clone()));
        assert_eq!(back, message);
    }
}
