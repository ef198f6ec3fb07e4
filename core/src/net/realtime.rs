//! The realtime WebSocket: one connection per client, kept alive and reconnected.
//!
//! Guarantees: frames are decoded through [`crate::wire`] before they leave this
//! module; a frame over [`RealtimeConfig::max_frame_bytes`] closes the connection;
//! a connection silent for [`RealtimeConfig::dead_after`] (no frame, ping or pong)
//! is treated as dead. One [`connect`] call is one connection: when it ends, the
//! sync engine decides when to reconnect (capped exponential backoff with jitter).
//! Dropping the handle closes the socket and ends the task.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::Url;
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode, header::AUTHORIZATION};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::api::ApiClient;
use crate::wire::{self, RealtimeFrame, WireError};

/// Settings of the realtime connection.
#[derive(Debug, Clone)]
pub struct RealtimeConfig {
    /// How often the client pings.
    pub ping_interval: Duration,
    /// Silence after which the connection counts as dead.
    pub dead_after: Duration,
    /// Largest frame or message accepted.
    pub max_frame_bytes: usize,
    /// Handshake limit.
    pub connect_timeout: Duration,
}

impl Default for RealtimeConfig {
    /// Ping every 20 s, dead after 45 s of silence, frames up to 1 MiB, 10 s handshake.
    fn default() -> RealtimeConfig {
        RealtimeConfig {
            ping_interval: Duration::from_secs(20),
            dead_after: Duration::from_secs(45),
            max_frame_bytes: 1024 * 1024,
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// What the realtime task reports, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum RealtimeEvent {
    /// A connection is up (first connect or a reconnect).
    Connected,
    /// A checked frame.
    Frame(RealtimeFrame),
    /// A frame that broke the contract (dropped; the connection stays up).
    BadFrame(WireError),
    /// The connection is down (or never came up).
    Disconnected {
        /// Why, for logs and observers.
        reason: String,
    },
    /// The server refused the upgrade with 401 even after a fresh token.
    Unauthorized,
}

/// One live connection attempt; dropping it closes the socket and ends its task.
#[derive(Debug)]
pub struct RealtimeHandle {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RealtimeHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The WebSocket URL of a backend origin: `ws(s)://host/api/v1/ws`.
pub fn websocket_url(base: &Url) -> Url {
    let mut url = base.clone();
    let scheme = if base.scheme() == "https" {
        "wss"
    } else {
        "ws"
    };
    url.set_scheme(scheme)
        .expect("ws and wss are valid for http(s) URLs");
    url.set_query(None);
    {
        let mut path = url.path_segments_mut().expect("http(s) URLs have paths");
        path.pop_if_empty();
        path.extend(["api", "v1", "ws"]);
    }
    url
}

/// Starts one connection on the current tokio runtime. It reports `Connected`,
/// then frames, and always ends with exactly one `Disconnected` or `Unauthorized`
/// (unless the handle is dropped first or `events` is closed). Reconnecting is the
/// engine's decision, not this task's.
pub fn connect(
    api: ApiClient,
    config: RealtimeConfig,
    events: mpsc::Sender<RealtimeEvent>,
) -> RealtimeHandle {
    let task = tokio::spawn(async move {
        let mut outcome = connect_and_serve(&api, &config, &events, None).await;
        if let Served::Unauthorized { token } = outcome {
            tracing::info!(
                "WebSocket upgrade refused with 401; asking the token provider for a fresh token"
            );
            outcome = connect_and_serve(&api, &config, &events, Some(token)).await;
        }
        let last = match outcome {
            Served::Closed { reason } => RealtimeEvent::Disconnected { reason },
            Served::Unauthorized { .. } => RealtimeEvent::Unauthorized,
            Served::ConsumerGone => return,
        };
        let _ = events.send(last).await;
    });
    RealtimeHandle { task }
}

enum Served {
    Closed { reason: String },
    Unauthorized { token: String },
    ConsumerGone,
}

async fn connect_and_serve(
    api: &ApiClient,
    config: &RealtimeConfig,
    events: &mpsc::Sender<RealtimeEvent>,
    rejected: Option<String>,
) -> Served {
    let token = match api.token(rejected).await {
        Ok(token) => token,
        Err(e) => {
            return Served::Closed {
                reason: e.to_string(),
            };
        }
    };
    let mut request = match websocket_url(api.base_url()).as_str().into_client_request() {
        Ok(request) => request,
        Err(e) => {
            return Served::Closed {
                reason: format!("bad WebSocket URL: {e}"),
            };
        }
    };
    let Ok(mut auth) = HeaderValue::from_str(&format!("Bearer {token}")) else {
        return Served::Closed {
            reason: "the token is not a valid header value".into(),
        };
    };
    auth.set_sensitive(true);
    request.headers_mut().insert(AUTHORIZATION, auth);
    let ws_config = WebSocketConfig::default()
        .max_frame_size(Some(config.max_frame_bytes))
        .max_message_size(Some(config.max_frame_bytes));
    let connector = tokio_tungstenite::Connector::Rustls(super::tls::client_config());
    let connecting = tokio_tungstenite::connect_async_tls_with_config(
        request,
        Some(ws_config),
        false,
        Some(connector),
    );
    let mut socket = match tokio::time::timeout(config.connect_timeout, connecting).await {
        Err(_) => {
            return Served::Closed {
                reason: "WebSocket handshake timed out".into(),
            };
        }
        Ok(Err(WsError::Http(response))) if response.status() == StatusCode::UNAUTHORIZED => {
            return Served::Unauthorized { token };
        }
        Ok(Err(e)) => {
            return Served::Closed {
                reason: format!("WebSocket connect failed: {e}"),
            };
        }
        Ok(Ok((socket, _))) => socket,
    };
    if events.send(RealtimeEvent::Connected).await.is_err() {
        return Served::ConsumerGone;
    }
    let mut ping = tokio::time::interval(config.ping_interval);
    ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ping.tick().await;
    let mut last_heard = Instant::now();
    let reason = loop {
        tokio::select! {
            incoming = socket.next() => {
                last_heard = Instant::now();
                let event = match incoming {
                    None => break "the server closed the connection".to_string(),
                    Some(Err(e)) => break format!("WebSocket error: {e}"),
                    Some(Ok(Message::Text(text))) => {
                        let now_ms = crate::clock::now_ms();
                        match wire::decode_realtime_frame(text.as_str(), now_ms) {
                            Ok(RealtimeFrame::Ignored) => continue,
                            Ok(frame) => RealtimeEvent::Frame(frame),
                            Err(e) => RealtimeEvent::BadFrame(e),
                        }
                    }
                    Some(Ok(Message::Binary(_))) => RealtimeEvent::BadFrame(WireError::Malformed(
                        "binary WebSocket frame; the protocol sends text frames".into(),
                    )),
                    Some(Ok(Message::Close(frame))) => {
                        break format!("the server closed the connection: {frame:?}");
                    }
                    Some(Ok(_)) => continue,
                };
                if events.send(event).await.is_err() {
                    return Served::ConsumerGone;
                }
            }
            _ = ping.tick() => {
                if last_heard.elapsed() >= config.dead_after {
                    break format!("no sign of life for {:?}; connection presumed dead", config.dead_after);
                }
                if let Err(e) = socket.send(Message::Ping(Vec::new().into())).await {
                    break format!("ping failed: {e}");
                }
            }
        }
    };
    Served::Closed { reason }
}
