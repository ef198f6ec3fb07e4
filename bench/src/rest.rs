//! The comparison clients, written directly against the REST API of the wire contract
//! (`GET /api/v1/chat/requests`, `GET .../messages?afterSequence=&limit=`):
//! - [`BlindPoller`]: the alternative chatsync replaces: it refetches the latest window
//!   of a chat on every open and on every periodic tick, with no cache validation;
//! - [`RestClient::after`] is also what the *minimum* issues: exactly the missing
//!   messages, one request per missing range.
//!
//! Neither uses any part of the chatsync client, so their requests and bytes are what
//! such a client would cost; the server's counters measure all three alike.

use chatsync_server::wire::{MessagePage, TicketList};

use crate::BenchError;

/// A plain HTTP client of the reference server, authenticated as one user.
#[derive(Debug, Clone)]
pub struct RestClient {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl RestClient {
    /// A client of `base_url` (e.g. `http://127.0.0.1:PORT`) using bearer `token`.
    pub fn new(base_url: &str, token: &str) -> Result<RestClient, BenchError> {
        let http = reqwest::Client::builder()
            .use_preconfigured_tls((*chatsync::net::tls::client_config()).clone())
            .build()
            .map_err(|e| BenchError::Http(e.to_string()))?;
        Ok(RestClient {
            http,
            base: base_url.trim_end_matches('/').to_string(),
            token: token.to_string(),
        })
    }

    /// GET `path?query` (values are numbers: no escaping needed) and the body of a 2xx.
    async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Vec<u8>, BenchError> {
        let query: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let url = if query.is_empty() {
            format!("{}{path}", self.base)
        } else {
            format!("{}{path}?{}", self.base, query.join("&"))
        };
        let response = self
            .http
            .get(url)
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| BenchError::Http(e.to_string()))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| BenchError::Http(e.to_string()))?;
        if !status.is_success() {
            return Err(BenchError::Http(format!(
                "GET {path}: {status}: {}",
                String::from_utf8_lossy(&body)
            )));
        }
        Ok(body.to_vec())
    }

    /// `GET /api/v1/chat/requests`: the ticket list.
    pub async fn tickets(&self) -> Result<TicketList, BenchError> {
        let body = self.get("/api/v1/chat/requests", &[]).await?;
        serde_json::from_slice(&body).map_err(|e| BenchError::Http(format!("ticket list: {e}")))
    }

    async fn page(&self, chat: &str, query: &[(&str, String)]) -> Result<MessagePage, BenchError> {
        let path = format!("/api/v1/chat/requests/{chat}/messages");
        let body = self.get(&path, query).await?;
        serde_json::from_slice(&body).map_err(|e| BenchError::Http(format!("message page: {e}")))
    }

    /// The latest `limit` messages of `chat`, ascending.
    pub async fn latest(&self, chat: &str, limit: i64) -> Result<MessagePage, BenchError> {
        self.page(chat, &[("limit", limit.to_string())]).await
    }

    /// The `limit` messages after sequence `after`, ascending.
    pub async fn after(
        &self,
        chat: &str,
        after: i64,
        limit: i64,
    ) -> Result<MessagePage, BenchError> {
        self.page(
            chat,
            &[
                ("afterSequence", after.to_string()),
                ("limit", limit.to_string()),
            ],
        )
        .await
    }
}

/// Blind polling: shows the latest `window` messages of the open chat and refetches
/// them, whole, on every open and on every periodic tick (no validation, no cache
/// trust). The app also loads the ticket list once at start, as any client does.
#[derive(Debug)]
pub struct BlindPoller {
    rest: RestClient,
    chat: String,
    window: i64,
    /// What the poller shows: the last fetched window.
    pub view: Vec<chatsync_server::wire::ChatMessage>,
}

impl BlindPoller {
    /// A poller of `chat` showing `window` messages.
    pub fn new(rest: RestClient, chat: &str, window: i64) -> BlindPoller {
        BlindPoller {
            rest,
            chat: chat.to_string(),
            window,
            view: Vec::new(),
        }
    }

    /// App start: the ticket list.
    pub async fn start(&self) -> Result<(), BenchError> {
        self.rest.tickets().await.map(|_| ())
    }

    /// The user opens the chat: refetch the window.
    pub async fn open(&mut self) -> Result<(), BenchError> {
        self.refetch().await
    }

    /// The periodic tick while the chat is open: refetch the window.
    pub async fn tick(&mut self) -> Result<(), BenchError> {
        self.refetch().await
    }

    async fn refetch(&mut self) -> Result<(), BenchError> {
        self.view = self.rest.latest(&self.chat, self.window).await?.messages;
        Ok(())
    }
}
