//! Realtime delivery: the push dispatcher (commit order, faults, fan-out) and the
//! WebSocket connection task (pings, bounded queue, slow-client drop).
//!
//! Each user has one broadcast channel; each of the user's connections subscribes to it
//! with a bounded queue of [`WsConfig::queue_capacity`] frames. Posting never waits for
//! a socket: a connection that falls behind by more than its queue is closed (code 1013)
//! and its client recovers through sequence validation, like after any lost push.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use tokio::sync::{broadcast, mpsc, watch};
use tokio::time::{Instant, sleep_until};

use crate::config::WsConfig;
use crate::faults::{FaultController, PushAction, PushKind};
use crate::stats::Stats;
use crate::store::{Change, ChangeKind};
use crate::wire::Frame;

/// Per-user channels and the disconnect signal.
pub(crate) struct Hub {
    channels: Mutex<HashMap<String, broadcast::Sender<Utf8Bytes>>>,
    kill: watch::Sender<u64>,
    stats: Arc<Stats>,
    config: WsConfig,
}

impl Hub {
    pub fn new(config: WsConfig, stats: Arc<Stats>) -> Hub {
        Hub {
            channels: Mutex::new(HashMap::new()),
            kill: watch::Sender::new(0),
            stats,
            config,
        }
    }

    fn subscribe(&self, user_id: &str) -> broadcast::Receiver<Utf8Bytes> {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        channels
            .entry(user_id.to_string())
            .or_insert_with(|| broadcast::channel(self.config.queue_capacity.max(1)).0)
            .subscribe()
    }

    fn send_to(&self, user_id: &str, text: Utf8Bytes) {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(sender) = channels.get(user_id)
            && sender.send(text).is_err()
        {
            // No connection left for this user.
            channels.remove(user_id);
        }
    }

    /// Closes every WebSocket connection (code 1012, "service restart").
    pub fn disconnect_all(&self) {
        self.kill.send_modify(|generation| *generation += 1);
    }

    /// Open connections right now.
    pub fn connection_count(&self) -> usize {
        let channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        channels.values().map(|s| s.receiver_count()).sum()
    }
}

/// One logical push, serialized per recipient.
struct Prepared {
    frames: Vec<(String, Utf8Bytes)>,
}

fn prepare(kind: ChangeKind, faults: &FaultController) -> (PushKind, String, i64, Prepared) {
    let to_text = |frame: &Frame| -> Utf8Bytes {
        serde_json::to_string(frame)
            .unwrap_or_else(|_| "{}".to_string())
            .into()
    };
    match kind {
        ChangeKind::MessageNew {
            ticket_id,
            message,
            recipients,
        } => {
            let seq = message.sequence_number;
            let frames = recipients
                .into_iter()
                .map(|(user, is_read)| {
                    let mut message = message.clone();
                    message.is_read_by_current_user = is_read;
                    let frame = Frame::MessageNew {
                        request_id: ticket_id.clone(),
                        message,
                    };
                    (user, to_text(&frame))
                })
                .collect();
            (PushKind::MessageNew, ticket_id, seq, Prepared { frames })
        }
        ChangeKind::TicketUpdated {
            ticket_id,
            last_seq,
            history,
            recipients,
        } => {
            // The null-sequence fault hides the sequence only; the history stays.
            let frame = Frame::TicketUpdated {
                request_id: ticket_id.clone(),
                last_message_sequence: (!faults.null_last_sequence()).then_some(last_seq),
                history,
            };
            let text = to_text(&frame);
            let frames = recipients.into_iter().map(|u| (u, text.clone())).collect();
            (
                PushKind::TicketUpdated,
                ticket_id,
                last_seq,
                Prepared { frames },
            )
        }
    }
}

fn deliver(hub: &Hub, prepared: &Prepared) {
    for (user, text) in &prepared.frames {
        hub.send_to(user, text.clone());
    }
}

/// Runs until every change sender is gone: applies push faults and fans frames out,
/// in the order the store committed them.
pub(crate) async fn dispatch(
    mut changes: mpsc::UnboundedReceiver<Change>,
    hub: Arc<Hub>,
    faults: FaultController,
) {
    let stats = hub.stats.clone();
    let hold_max = hub.config.reorder_hold_max;
    let far = || Instant::now() + Duration::from_secs(86_400);
    let mut held: Option<(Instant, PushKind, Prepared)> = None;
    loop {
        let deadline = held.as_ref().map_or_else(far, |(at, ..)| *at);
        let change = tokio::select! {
            change = changes.recv() => match change {
                Some(change) => change,
                None => break,
            },
            _ = sleep_until(deadline), if held.is_some() => {
                if let Some((.., prepared)) = held.take() {
                    deliver(&hub, &prepared);
                }
                continue;
            }
        };
        let delay = faults.push_delay();
        if !delay.is_zero() {
            sleep_until(Instant::from_std(change.committed_at) + delay).await;
        }
        let (kind, ticket_id, seq, prepared) = prepare(change.kind, &faults);
        match faults.decide_push(kind, &ticket_id, seq) {
            PushAction::Drop => {
                Stats::add(&stats.pushes_dropped, 1);
                tracing::debug!(%ticket_id, seq, ?kind, "fault: push dropped");
            }
            action @ (PushAction::Deliver | PushAction::Duplicate) => {
                deliver(&hub, &prepared);
                if action == PushAction::Duplicate {
                    Stats::add(&stats.pushes_duplicated, 1);
                    deliver(&hub, &prepared);
                }
                if held
                    .as_ref()
                    .is_some_and(|(_, filter, _)| *filter == PushKind::Any || *filter == kind)
                    && let Some((.., earlier)) = held.take()
                {
                    deliver(&hub, &earlier);
                }
            }
            PushAction::Hold(filter) => {
                Stats::add(&stats.pushes_reordered, 1);
                if let Some((.., earlier)) = held.take() {
                    deliver(&hub, &earlier);
                }
                held = Some((Instant::now() + hold_max, filter, prepared));
            }
        }
    }
}

async fn send_with_timeout(socket: &mut WebSocket, message: Message, limit: Duration) -> bool {
    matches!(
        tokio::time::timeout(limit, socket.send(message)).await,
        Ok(Ok(()))
    )
}

async fn close(socket: &mut WebSocket, code: u16, reason: &'static str, limit: Duration) {
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    };
    let _ = send_with_timeout(socket, Message::Close(Some(frame)), limit).await;
}

/// A connection's subscriptions, taken before the upgrade response is sent, so every
/// frame committed after the client sees `101 Switching Protocols` reaches it.
pub(crate) struct Subscription {
    user_id: String,
    frames: broadcast::Receiver<Utf8Bytes>,
    kill: watch::Receiver<u64>,
}

impl Hub {
    /// Subscribes a connection of `user_id` to its frames and to the disconnect signal.
    pub fn subscription(&self, user_id: &str) -> Subscription {
        let mut kill = self.kill.subscribe();
        kill.mark_unchanged();
        Subscription {
            user_id: user_id.to_string(),
            frames: self.subscribe(user_id),
            kill,
        }
    }
}

/// Serves one authenticated WebSocket connection until it closes, stops answering
/// pings, falls behind its queue, or the server disconnects everyone.
pub(crate) async fn serve_socket(mut socket: WebSocket, subscription: Subscription, hub: Arc<Hub>) {
    let stats = hub.stats.clone();
    Stats::add(&stats.websocket_connections, 1);
    let Subscription {
        user_id,
        mut frames,
        mut kill,
    } = subscription;
    let WsConfig {
        ping_interval,
        pong_timeout,
        ..
    } = hub.config.clone();
    let mut ping = tokio::time::interval_at(Instant::now() + ping_interval, ping_interval);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut awaiting_pong: Option<Instant> = None;
    let far = || Instant::now() + Duration::from_secs(86_400);
    let reason = loop {
        let pong_deadline = awaiting_pong.unwrap_or_else(far);
        tokio::select! {
            _ = ping.tick() => {
                if awaiting_pong.is_none() {
                    if !send_with_timeout(&mut socket, Message::Ping("chatsync".into()), pong_timeout).await {
                        break "ping write failed";
                    }
                    awaiting_pong = Some(Instant::now() + pong_timeout);
                }
            }
            _ = sleep_until(pong_deadline), if awaiting_pong.is_some() => {
                Stats::add(&stats.websocket_connections_dropped, 1);
                close(&mut socket, 1001, "no pong", pong_timeout).await;
                break "no pong within the timeout";
            }
            incoming = socket.recv() => match incoming {
                None | Some(Err(_)) => break "connection lost",
                Some(Ok(Message::Close(_))) => break "closed by client",
                // Any frame proves the client is alive; text and binary frames are ignored.
                Some(Ok(_)) => awaiting_pong = None,
            },
            frame = frames.recv() => match frame {
                Ok(text) => {
                    let len = text.len() as u64;
                    if !send_with_timeout(&mut socket, Message::Text(text), pong_timeout).await {
                        Stats::add(&stats.websocket_connections_dropped, 1);
                        break "frame write failed or timed out";
                    }
                    Stats::add(&stats.pushes_sent, 1);
                    Stats::add(&stats.push_bytes_sent, len);
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    Stats::add(&stats.websocket_connections_dropped, 1);
                    tracing::warn!(%user_id, missed, "websocket client too slow; dropping it");
                    close(&mut socket, 1013, "too slow: queue overflow", pong_timeout).await;
                    break "queue overflow";
                }
                Err(broadcast::error::RecvError::Closed) => break "server stopped",
            },
            _ = kill.changed() => {
                close(&mut socket, 1012, "server disconnect", pong_timeout).await;
                break "disconnected by the server";
            }
        }
    };
    tracing::debug!(%user_id, reason, "websocket closed");
}
