//! Counters for tests and benchmarks: requests per endpoint kind, messages served,
//! bytes sent, pushes sent and dropped. Cheap (relaxed atomics) and resettable.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// The kinds of HTTP endpoint, for counters and for targeting HTTP faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EndpointKind {
    /// `GET /api/v1/chat/requests`.
    Tickets,
    /// `GET /api/v1/chat/requests/{id}/messages`.
    Messages,
    /// `POST /api/v1/chat/requests/{id}/messages`.
    Send,
    /// `POST /api/v1/chat/requests/{id}/read`.
    Read,
    /// `GET /api/v1/ws` (the upgrade request).
    #[serde(rename = "websocket")]
    WebSocket,
    /// `/admin/v1/...`.
    Admin,
    /// Anything else (unknown routes, wrong methods).
    Other,
}

impl EndpointKind {
    /// Classifies a request by method and path.
    pub fn classify(method: &axum::http::Method, path: &str) -> EndpointKind {
        use axum::http::Method;
        if path.starts_with("/admin/") {
            return EndpointKind::Admin;
        }
        if path == "/api/v1/ws" && method == Method::GET {
            return EndpointKind::WebSocket;
        }
        if path == "/api/v1/chat/requests" && method == Method::GET {
            return EndpointKind::Tickets;
        }
        if let Some(rest) = path.strip_prefix("/api/v1/chat/requests/") {
            let mut parts = rest.splitn(2, '/');
            let id = parts.next().unwrap_or("");
            let tail = parts.next().unwrap_or("");
            if !id.is_empty() {
                match (tail, method) {
                    ("messages", &Method::GET) => return EndpointKind::Messages,
                    ("messages", &Method::POST) => return EndpointKind::Send,
                    ("read", &Method::POST) => return EndpointKind::Read,
                    _ => {}
                }
            }
        }
        EndpointKind::Other
    }
}

/// A point-in-time copy of the counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatsSnapshot {
    /// `GET /api/v1/chat/requests` requests.
    pub ticket_list_requests: u64,
    /// Of which answered `304 Not Modified` (their `If-None-Match` matched the list's
    /// `ETag`; no body sent).
    #[serde(default)]
    pub ticket_lists_not_modified: u64,
    /// `GET .../messages` requests.
    pub page_requests: u64,
    /// `POST .../messages` requests.
    pub send_requests: u64,
    /// `POST .../read` requests.
    pub read_requests: u64,
    /// WebSocket upgrade requests.
    pub websocket_requests: u64,
    /// Admin requests.
    pub admin_requests: u64,
    /// Other requests (404s, 405s).
    pub other_requests: u64,
    /// Messages returned in successful pages.
    pub messages_returned: u64,
    /// Messages created by posts (HTTP or in-process; repeats of a `clientTempId` not counted).
    pub messages_created: u64,
    /// HTTP response body bytes sent (after truncation).
    pub http_bytes_sent: u64,
    /// WebSocket frames written to sockets (one per frame per connection).
    pub pushes_sent: u64,
    /// WebSocket text bytes written.
    pub push_bytes_sent: u64,
    /// Pushes dropped by faults (one per logical push, before fan-out).
    pub pushes_dropped: u64,
    /// Pushes sent twice by faults.
    pub pushes_duplicated: u64,
    /// Pushes held back and sent after a later one by faults.
    pub pushes_reordered: u64,
    /// HTTP requests answered 503 by faults.
    pub http_failures_injected: u64,
    /// HTTP bodies truncated by faults.
    pub http_bodies_truncated: u64,
    /// WebSocket connections accepted.
    pub websocket_connections: u64,
    /// Connections dropped because they fell behind their queue or stopped answering pings.
    pub websocket_connections_dropped: u64,
}

macro_rules! counters {
    ($($field:ident),* $(,)?) => {
        /// Live counters (relaxed atomics).
        #[derive(Debug, Default)]
        pub(crate) struct Stats { $(pub $field: AtomicU64,)* }

        impl Stats {
            pub fn snapshot(&self) -> StatsSnapshot {
                StatsSnapshot { $($field: self.$field.load(Ordering::Relaxed),)* }
            }

            pub fn reset(&self) {
                $(self.$field.store(0, Ordering::Relaxed);)*
            }
        }
    };
}

counters!(
    ticket_list_requests,
    ticket_lists_not_modified,
    page_requests,
    send_requests,
    read_requests,
    websocket_requests,
    admin_requests,
    other_requests,
    messages_returned,
    messages_created,
    http_bytes_sent,
    pushes_sent,
    push_bytes_sent,
    pushes_dropped,
    pushes_duplicated,
    pushes_reordered,
    http_failures_injected,
    http_bodies_truncated,
    websocket_connections,
    websocket_connections_dropped,
);

impl Stats {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn count_request(&self, kind: EndpointKind) {
        let counter = match kind {
            EndpointKind::Tickets => &self.ticket_list_requests,
            EndpointKind::Messages => &self.page_requests,
            EndpointKind::Send => &self.send_requests,
            EndpointKind::Read => &self.read_requests,
            EndpointKind::WebSocket => &self.websocket_requests,
            EndpointKind::Admin => &self.admin_requests,
            EndpointKind::Other => &self.other_requests,
        };
        Stats::add(counter, 1);
    }
}
