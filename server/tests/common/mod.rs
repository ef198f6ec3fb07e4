//! Test helpers: raw-JSON HTTP and WebSocket clients written from docs/protocol.md.
#![allow(dead_code)]

use std::time::Duration;

use chatsync_server::{Role, RunningServer, Server, ServerConfig, UserInfo};
use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Starts a server; panics on failure (tests only).
pub async fn start(config: ServerConfig) -> RunningServer {
    Server::start(config).await.expect("server starts")
}

pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("http client")
}

/// One user's view of the API.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub token: String,
    pub http: reqwest::Client,
}

/// A response: status, headers' content type, parsed body (`Null` when empty), raw text.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub content_type: Option<String>,
    pub json: Value,
    pub text: String,
}

impl Reply {
    /// Asserts the body is `{"detail": "<non-empty string>"}` and returns the detail.
    pub fn detail(&self) -> String {
        assert_eq!(
            self.content_type
                .as_deref()
                .map(|c| c.starts_with("application/json")),
            Some(true),
            "error body is JSON: {self:?}"
        );
        let detail = self.json.get("detail").and_then(Value::as_str);
        assert!(
            detail.is_some_and(|d| !d.is_empty()),
            "error body has a detail string: {self:?}"
        );
        detail.unwrap_or_default().to_string()
    }
}

pub async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let text = response.text().await.expect("body");
    let json = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(format!("<not json: {text}>")))
    };
    Reply {
        status,
        content_type,
        json,
        text,
    }
}

impl Api {
    pub fn new(server: &RunningServer, user: &UserInfo) -> Api {
        Api {
            base: server.base_url(),
            token: user.token.clone(),
            http: http_client(),
        }
    }

    pub fn of_role(server: &RunningServer, role: Role) -> Api {
        Api::new(server, &server.first_user(role).expect("user of role"))
    }

    pub async fn get(&self, path: &str) -> Reply {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("request");
        reply(r).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .expect("request");
        reply(r).await
    }

    pub async fn tickets(&self) -> Vec<Value> {
        let r = self.get("/api/v1/chat/requests").await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        r.json["chatMessages"]
            .as_array()
            .expect("chatMessages")
            .clone()
    }

    /// `GET .../messages?{query}`, expecting 200.
    pub async fn page(&self, ticket: &str, query: &str) -> Value {
        let r = self
            .get(&format!("/api/v1/chat/requests/{ticket}/messages?{query}"))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        r.json
    }

    pub async fn send(&self, ticket: &str, content: &str, temp: &str) -> Reply {
        self.post(
            &format!("/api/v1/chat/requests/{ticket}/messages"),
            serde_json::json!({"content": content, "clientTempId": temp}),
        )
        .await
    }

    pub async fn read(&self, ticket: &str, up_to: i64) -> Reply {
        self.post(
            &format!("/api/v1/chat/requests/{ticket}/read"),
            serde_json::json!({"upToSequence": up_to}),
        )
        .await
    }
}

/// Sequence numbers of a page body.
pub fn seqs(page: &Value) -> Vec<i64> {
    page["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["sequenceNumber"].as_i64().expect("sequenceNumber"))
        .collect()
}

pub async fn connect_ws(server: &RunningServer, token: &str) -> Ws {
    try_connect_ws(server, Some(token))
        .await
        .expect("ws connects")
}

pub async fn try_connect_ws(
    server: &RunningServer,
    token: Option<&str>,
) -> Result<Ws, tungstenite::Error> {
    let mut request = server.ws_url().into_client_request().expect("ws request");
    if let Some(token) = token {
        request.headers_mut().insert(
            "Authorization",
            format!("Bearer {token}").parse().expect("header"),
        );
    }
    tokio_tungstenite::connect_async(request)
        .await
        .map(|(ws, _)| ws)
}

/// The next text frame as JSON, skipping pings/pongs; `None` on timeout, close or error.
pub async fn next_frame(ws: &mut Ws, wait: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let message = tokio::time::timeout_at(deadline, ws.next()).await.ok()??;
        match message.ok()? {
            Message::Text(text) => {
                return Some(serde_json::from_str(text.as_str()).expect("frame is JSON"));
            }
            Message::Close(_) => return None,
            _ => continue,
        }
    }
}

/// Every text frame arriving within `wait`.
pub async fn frames_for(ws: &mut Ws, wait: Duration) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut out = Vec::new();
    while let Some(frame) = next_frame(
        ws,
        deadline.saturating_duration_since(tokio::time::Instant::now()),
    )
    .await
    {
        out.push(frame);
    }
    out
}

/// Reads frames until `count` frames arrived or `wait` passed.
pub async fn take_frames(ws: &mut Ws, count: usize, wait: Duration) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut out = Vec::new();
    while out.len() < count {
        match next_frame(
            ws,
            deadline.saturating_duration_since(tokio::time::Instant::now()),
        )
        .await
        {
            Some(frame) => out.push(frame),
            None => break,
        }
    }
    out
}

/// `(type, sequence)` of a frame: the message's sequence or the reported lastMessageSequence.
pub fn frame_key(frame: &Value) -> (String, Option<i64>) {
    let kind = frame["type"].as_str().unwrap_or("?").to_string();
    let seq = if kind == "message.new" {
        frame["message"]["sequenceNumber"].as_i64()
    } else {
        frame["lastMessageSequence"].as_i64()
    };
    (kind, seq)
}

pub async fn close_ws(mut ws: Ws) {
    let _ = ws.send(Message::Close(None)).await;
}
