//! [`ClientConfig`]: how a [`crate::client::ChatSyncClient`] is set up.

use std::path::PathBuf;
use std::time::Duration;

use crate::cache::EvictionLimits;
use crate::engine::EngineConfig;
use crate::net::{ApiConfig, RealtimeConfig};

/// Settings of one client (one signed-in account). [`ClientConfig::new`] gives the
/// issue's defaults; every field may be changed before the client is built.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The backend's origin, e.g. `http://127.0.0.1:8787`; `/api/v1/...` is appended.
    pub base_url: String,
    /// The SQLite cache file; `None` keeps the cache in memory (tests, scripts).
    pub cache_path: Option<PathBuf>,
    /// How many of the newest messages a resync downloads when the distance to the
    /// backend is larger (the rest is recorded as a history gap). Default 200.
    pub resync_window: i64,
    /// Largest page of one message request. Default 50.
    pub page_size: i64,
    /// How many of the newest cached messages `open_chat` returns. Default 100.
    pub open_message_limit: u32,
    /// Periodic revalidation of an open chat. Default 5 minutes.
    pub revalidate_interval: Duration,
    /// How long a realtime gap waits for late frames before fetching. Default 500 ms.
    pub gap_grace: Duration,
    /// Whole-request limit of one HTTP request. Default 15 s.
    pub request_timeout: Duration,
    /// TCP + TLS connect limit. Default 5 s.
    pub connect_timeout: Duration,
    /// Largest HTTP response body accepted. Default 8 MiB.
    pub max_body_bytes: usize,
    /// First retry delay of a failed resync, ticket refresh or send. Default 1 s.
    pub retry_base: Duration,
    /// Upper bound of every retry delay. Default 60 s.
    pub retry_cap: Duration,
    /// First realtime reconnect delay (before jitter). Default 1 s.
    pub reconnect_base: Duration,
    /// Upper bound of the reconnect delay (before jitter). Default 30 s.
    pub reconnect_cap: Duration,
    /// WebSocket keep-alive: ping interval, dead-connection limit, frame cap.
    pub realtime: RealtimeConfig,
    /// Cache caps; enforced when a chat is closed and when the client starts.
    pub eviction: EvictionLimits,
}

impl ClientConfig {
    /// The defaults of the issue, for `base_url` and `cache_path`.
    pub fn new(base_url: impl Into<String>, cache_path: Option<PathBuf>) -> ClientConfig {
        ClientConfig {
            base_url: base_url.into(),
            cache_path,
            resync_window: 200,
            page_size: 50,
            open_message_limit: 100,
            revalidate_interval: Duration::from_secs(300),
            gap_grace: Duration::from_millis(500),
            request_timeout: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(5),
            max_body_bytes: 8 * 1024 * 1024,
            retry_base: Duration::from_secs(1),
            retry_cap: Duration::from_secs(60),
            reconnect_base: Duration::from_secs(1),
            reconnect_cap: Duration::from_secs(30),
            realtime: RealtimeConfig::default(),
            eviction: EvictionLimits::default(),
        }
    }

    /// The engine's view of these settings; `jitter_seed` spreads reconnects of many clients.
    pub(crate) fn engine_config(&self, jitter_seed: u64) -> EngineConfig {
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        EngineConfig {
            resync_window: self.resync_window,
            page_size: self.page_size,
            revalidate_interval_ms: ms(self.revalidate_interval),
            gap_grace_ms: ms(self.gap_grace),
            retry_base_ms: ms(self.retry_base),
            retry_cap_ms: ms(self.retry_cap),
            reconnect_base_ms: ms(self.reconnect_base),
            reconnect_cap_ms: ms(self.reconnect_cap),
            jitter_seed,
        }
    }

    /// The REST client's view of these settings.
    pub(crate) fn api_config(&self) -> ApiConfig {
        ApiConfig {
            base_url: self.base_url.clone(),
            request_timeout: self.request_timeout,
            connect_timeout: self.connect_timeout,
            max_body_bytes: self.max_body_bytes,
        }
    }
}
