//! The realtime WebSocket: one connection per client, kept alive and reconnected.
//!
//! Guarantees: frames are decoded through [`crate::wire`] before they leave this
//! module; a frame over [`RealtimeConfig::max_frame_bytes`] closes the connection;
//! a connection silent for [`RealtimeConfig::dead_after`] (no frame, ping or pong)
//! is treated as dead; reconnects back off exponentially with jitter up to
//! [`RealtimeConfig::backoff_max`], skip the wait on [`RealtimeHandle::reconnect_now`],
//! and pause while [`RealtimeHandle::set_online`] says offline. Dropping the
//! handle closes the socket and ends the task.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rand::Rng;
use reqwest::Url;
use tokio::sync::{Notify, mpsc, watch};
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
    /// First reconnect delay.
    pub backoff_initial: Duration,
    /// Largest reconnect delay.
    pub backoff_max: Duration,
    /// Largest frame or message accepted.
    pub max_frame_bytes: usize,
    /// Handshake limit.
    pub connect_timeout: Duration,
}

impl Default for RealtimeConfig {
    /// Ping every 20 s, dead after 45 s of silence, back off 0.5 s .. 30 s, frames up to 1 MiB.
    fn default() -> RealtimeConfig {
        RealtimeConfig {
            ping_interval: Duration::from_secs(20),
            dead_after: Duration::from_secs(45),
            backoff_initial: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
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
    /// The connection is down; a reconnect is scheduled unless offline.
    Disconnected {
        /// Why, for logs and observers.
        reason: String,
    },
    /// The server refused the upgrade with 401 even after a fresh token.
    Unauthorized,
}

/// Controls a running realtime task; dropping it stops the task.
#[derive(Debug)]
pub struct RealtimeHandle {
    online: watch::Sender<bool>,
    reconnect: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl RealtimeHandle {
    /// Pauses (false) or resumes (true) connecting; going offline closes the socket.
    pub fn set_online(&self, online: bool) {
        self.online.send_replace(online);
    }

    /// Skips the current backoff wait and reconnects at once if disconnected.
    pub fn reconnect_now(&self) {
        self.reconnect.notify_one();
    }
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

/// Starts the realtime task on the current tokio runtime; events go to `events`.
pub fn spawn(
    api: ApiClient,
    config: RealtimeConfig,
    events: mpsc::Sender<RealtimeEvent>,
) -> RealtimeHandle {
    let (online, online_rx) = watch::channel(true);
    let reconnect = Arc::new(Notify::new());
    let task = tokio::spawn(run(api, config, events, online_rx, Arc::clone(&reconnect)));
    RealtimeHandle {
        online,
        reconnect,
        task,
    }
}

async fn run(
    api: ApiClient,
    config: RealtimeConfig,
    events: mpsc::Sender<RealtimeEvent>,
    mut online: watch::Receiver<bool>,
    reconnect: Arc<Notify>,
) {
    let mut backoff = config.backoff_initial;
    let mut rejected_token: Option<String> = None;
    loop {
        if !*online.borrow_and_update() {
            if online.changed().await.is_err() {
                return;
            }
            continue;
        }
        let outcome =
            connect_and_serve(&api, &config, &events, &mut online, rejected_token.take()).await;
        let reason = match outcome {
            Served::Closed {
                reason,
                was_connected,
            } => {
                if was_connected {
                    backoff = config.backoff_initial;
                }
                reason
            }
            Served::Unauthorized { token, retried } => {
                if retried {
                    if events.send(RealtimeEvent::Unauthorized).await.is_err() {
                        return;
                    }
                } else {
                    rejected_token = Some(token);
                    continue;
                }
                "unauthorized".to_string()
            }
            Served::ConsumerGone => return,
        };
        if events
            .send(RealtimeEvent::Disconnected { reason })
            .await
            .is_err()
        {
            return;
        }
        let jitter = rand::rng().random_range(0.5..1.0);
        let wait = backoff.mul_f64(jitter);
        backoff = (backoff * 2).min(config.backoff_max);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = reconnect.notified() => {}
            changed = online.changed() => if changed.is_err() { return },
        }
    }
}

enum Served {
    Closed { reason: String, was_connected: bool },
    Unauthorized { token: String, retried: bool },
    ConsumerGone,
}

async fn connect_and_serve(
    api: &ApiClient,
    config: &RealtimeConfig,
    events: &mpsc::Sender<RealtimeEvent>,
    online: &mut watch::Receiver<bool>,
    rejected: Option<String>,
) -> Served {
    let retried = rejected.is_some();
    let token = match api.token(rejected).await {
        Ok(token) => token,
        Err(e) => {
            return Served::Closed {
                reason: e.to_string(),
                was_connected: false,
            };
        }
    };
    let mut request = match websocket_url(api.base_url()).as_str().into_client_request() {
        Ok(request) => request,
        Err(e) => {
            return Served::Closed {
                reason: format!("bad WebSocket URL: {e}"),
                was_connected: false,
            };
        }
    };
    let Ok(mut auth) = HeaderValue::from_str(&format!("Bearer {token}")) else {
        return Served::Closed {
            reason: "the token is not a valid header value".into(),
            was_connected: false,
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
                was_connected: false,
            };
        }
        Ok(Err(WsError::Http(response))) if response.status() == StatusCode::UNAUTHORIZED => {
            return Served::Unauthorized { token, retried };
        }
        Ok(Err(e)) => {
            return Served::Closed {
                reason: format!("WebSocket connect failed: {e}"),
                was_connected: false,
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
            changed = online.changed() => {
                if changed.is_err() {
                    return Served::ConsumerGone;
                }
                if !*online.borrow() {
                    let _ = socket.close(None).await;
                    break "offline".to_string();
                }
            }
        }
    };
    Served::Closed {
        reason,
        was_connected: true,
    }
}
