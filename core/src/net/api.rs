//! The REST client of `docs/protocol.md`: ticket list, message pages, send, read.
//!
//! Guarantees: every response is size-capped and time-limited, decoded and checked
//! through [`crate::wire`], and mapped to one [`ApiError`]. A 401 asks the
//! [`AuthTokenProvider`] once for a fresh token and retries once. Tokens are sent
//! as sensitive headers and never logged.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, ETAG, HeaderValue, IF_NONE_MATCH};
use reqwest::{Method, StatusCode, Url};
use serde::Serialize;

use crate::types::{ChatMessage, TicketSummary};
use crate::wire::{self, MessagePage, PageQuery, WireError, WireReadRequest, WireSendRequest};

/// Supplies bearer tokens; implemented by the app so it can refresh them.
pub trait AuthTokenProvider: Send + Sync {
    /// Returns the token to use. `rejected` is the token the server just refused
    /// with 401 (the provider should refresh it), `None` on a first request.
    fn token(&self, rejected: Option<String>) -> Result<String, String>;
}

/// A provider that always returns the same token (CLI, tests, scripts).
#[derive(Clone)]
pub struct StaticToken(pub String);

impl AuthTokenProvider for StaticToken {
    fn token(&self, _rejected: Option<String>) -> Result<String, String> {
        Ok(self.0.clone())
    }
}

impl std::fmt::Debug for StaticToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StaticToken(<redacted>)")
    }
}

/// Settings of the REST client.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// The backend's origin, e.g. `http://127.0.0.1:8787` (paths are appended).
    pub base_url: String,
    /// Whole-request limit, connect to last body byte.
    pub request_timeout: Duration,
    /// TCP + TLS connect limit.
    pub connect_timeout: Duration,
    /// Largest response body accepted.
    pub max_body_bytes: usize,
}

impl ApiConfig {
    /// Defaults: 15 s per request, 5 s to connect, 8 MiB per body.
    pub fn new(base_url: impl Into<String>) -> ApiConfig {
        ApiConfig {
            base_url: base_url.into(),
            request_timeout: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(5),
            max_body_bytes: 8 * 1024 * 1024,
        }
    }
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The server could not be reached or the connection broke.
    #[error("network error: {0}")]
    Network(String),
    /// No complete answer within the time limit.
    #[error("the server did not answer in time")]
    Timeout,
    /// 401 even after asking the token provider for a fresh token.
    #[error("not authorized: {0}")]
    Unauthorized(String),
    /// 404: unknown ticket, or one the user is not party to.
    #[error("not found: {0}")]
    NotFound(String),
    /// Another 4xx: the request was refused and retrying it unchanged will not help.
    #[error("rejected by the server ({status}): {detail}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// The server's `detail`.
        detail: String,
    },
    /// 5xx or another unexpected status: worth retrying later.
    #[error("server error ({status}): {detail}")]
    Server {
        /// HTTP status.
        status: u16,
        /// The server's `detail`, or the start of the body.
        detail: String,
    },
    /// The answer broke the contract.
    #[error(transparent)]
    BadData(#[from] WireError),
    /// The body exceeded [`ApiConfig::max_body_bytes`].
    #[error("response larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// The app's token provider failed.
    #[error("auth token provider failed: {0}")]
    TokenProvider(String),
    /// The base URL is not a usable http(s) URL.
    #[error("invalid server URL: {0}")]
    InvalidUrl(String),
}

impl ApiError {
    /// True for failures that may pass on a later try (network, timeout, 5xx).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ApiError::Network(_) | ApiError::Timeout | ApiError::Server { .. }
        )
    }
}

/// The answer of a conditional ticket-list request ([`ApiClient::fetch_ticket_list`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TicketListAnswer {
    /// `200`: the full, checked list, with the server's strong `ETag` when it sent a
    /// usable one (absent, weak or malformed tags are `None`: the list is not to be
    /// revalidated by tag).
    Full {
        /// The list, in server order.
        tickets: Vec<TicketSummary>,
        /// The list's strong entity tag, quotes included (e.g. `"3f2a..."`).
        etag: Option<String>,
    },
    /// `304 Not Modified` to the tag sent: the list stored with that tag is still the
    /// server's list. Only returned when a tag was sent and the server's `ETag` (if it
    /// repeated one) is that tag.
    NotModified,
}

/// A response a caller wants: status, the `ETag` header (if any) and the capped body.
struct Answer {
    status: StatusCode,
    etag: Option<String>,
    body: Vec<u8>,
}

/// The `ETag` value if it is a strong entity tag (RFC 9110 8.8.3: `"` etagc* `"`, no
/// `W/`) of at most [`crate::cache::MAX_ETAG_BYTES`]; anything else is `None`.
pub fn strong_etag(value: &[u8]) -> Option<String> {
    let inner = value.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    if value.len() > crate::cache::MAX_ETAG_BYTES
        || inner
            .iter()
            .any(|&b| b <= b' ' || b == b'"' || b == 0x7f || b >= 0x80)
    {
        return None;
    }
    // ASCII only (obs-text is allowed by the RFC but not worth keeping as text).
    String::from_utf8(value.to_vec()).ok()
}

/// Client-side counters, for the demo, tests and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NetStats {
    /// HTTP requests sent (retries included).
    pub http_requests: u64,
    /// Ticket list requests.
    pub ticket_list_requests: u64,
    /// Of which answered `304 Not Modified` (the stored list was still current).
    pub ticket_lists_not_modified: u64,
    /// Message page requests.
    pub message_page_requests: u64,
    /// Messages received in pages.
    pub messages_fetched: u64,
    /// Send requests.
    pub send_requests: u64,
    /// Response body bytes received.
    pub bytes_received: u64,
}

#[derive(Default)]
struct Counters {
    http_requests: AtomicU64,
    ticket_list_requests: AtomicU64,
    ticket_lists_not_modified: AtomicU64,
    message_page_requests: AtomicU64,
    messages_fetched: AtomicU64,
    send_requests: AtomicU64,
    bytes_received: AtomicU64,
}

/// The REST client. Cheap to clone; clones share the connection pool, token and counters.
#[derive(Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: Url,
    config: ApiConfig,
    tokens: Arc<dyn AuthTokenProvider>,
    current_token: Arc<Mutex<Option<String>>>,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

/// Parses an http(s) origin.
pub fn parse_base_url(base_url: &str) -> Result<Url, ApiError> {
    let url = Url::parse(base_url).map_err(|e| ApiError::InvalidUrl(format!("{base_url}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ApiError::InvalidUrl(format!(
            "{base_url}: expected http:// or https://"
        )));
    }
    Ok(url)
}

impl ApiClient {
    /// Builds a client; fails only on an unusable base URL.
    pub fn new(
        config: ApiConfig,
        tokens: Arc<dyn AuthTokenProvider>,
    ) -> Result<ApiClient, ApiError> {
        let base = parse_base_url(&config.base_url)?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls((*super::tls::client_config()).clone())
            .timeout(config.request_timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("chatsync/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ApiError::Network(e.to_string()))?;
        Ok(ApiClient {
            http,
            base,
            config,
            tokens,
            current_token: Arc::new(Mutex::new(None)),
            counters: Arc::new(Counters::default()),
        })
    }

    /// The backend origin this client talks to.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> NetStats {
        let c = &self.counters;
        NetStats {
            http_requests: c.http_requests.load(Ordering::Relaxed),
            ticket_list_requests: c.ticket_list_requests.load(Ordering::Relaxed),
            ticket_lists_not_modified: c.ticket_lists_not_modified.load(Ordering::Relaxed),
            message_page_requests: c.message_page_requests.load(Ordering::Relaxed),
            messages_fetched: c.messages_fetched.load(Ordering::Relaxed),
            send_requests: c.send_requests.load(Ordering::Relaxed),
            bytes_received: c.bytes_received.load(Ordering::Relaxed),
        }
    }

    /// The token to use now, asking the provider when none is cached or `rejected` is set.
    pub async fn token(&self, rejected: Option<String>) -> Result<String, ApiError> {
        if rejected.is_none()
            && let Some(token) = self.current_token.lock().expect("token lock").clone()
        {
            return Ok(token);
        }
        let provider = Arc::clone(&self.tokens);
        let token = tokio::task::spawn_blocking(move || provider.token(rejected))
            .await
            .map_err(|e| ApiError::TokenProvider(format!("token provider panicked: {e}")))?
            .map_err(ApiError::TokenProvider)?;
        *self.current_token.lock().expect("token lock") = Some(token.clone());
        Ok(token)
    }

    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        {
            let mut path = url.path_segments_mut().expect("http(s) URLs have paths");
            path.pop_if_empty();
            path.extend(["api", "v1"]);
            path.extend(segments);
        }
        url
    }

    /// Sends one request (with the 401 refresh-and-retry) and returns the capped body of a 2xx.
    async fn call(
        &self,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
    ) -> Result<(StatusCode, Vec<u8>), ApiError> {
        self.call_conditional(method, url, body, None)
            .await
            .map(|answer| (answer.status, answer.body))
    }

    /// [`ApiClient::call`] with an optional `If-None-Match` value; a `304` is an answer
    /// (empty body) exactly when one was sent. Returns the `ETag` header too.
    async fn call_conditional(
        &self,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
        if_none_match: Option<&str>,
    ) -> Result<Answer, ApiError> {
        // A tag that is no header value is not sent (the request is then unconditional).
        let condition = if_none_match.and_then(|tag| HeaderValue::from_str(tag).ok());
        let mut rejected = None;
        for attempt in 0..2 {
            let token = self.token(rejected.take()).await?;
            let mut auth = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                ApiError::TokenProvider("the token is not a valid header value".into())
            })?;
            auth.set_sensitive(true);
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .header(AUTHORIZATION, auth);
            if let Some(body) = &body {
                request = request
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            if let Some(condition) = &condition {
                request = request.header(IF_NONE_MATCH, condition.clone());
            }
            self.counters.http_requests.fetch_add(1, Ordering::Relaxed);
            let response = request.send().await.map_err(map_reqwest)?;
            let status = response.status();
            let etag = response
                .headers()
                .get(ETAG)
                .and_then(|v| strong_etag(v.as_bytes()));
            let bytes = self.read_capped(response).await?;
            if status == StatusCode::UNAUTHORIZED {
                if attempt == 0 {
                    tracing::info!(
                        "401 from the server; asking the token provider for a fresh token"
                    );
                    rejected = Some(token);
                    continue;
                }
                return Err(ApiError::Unauthorized(detail_of(&bytes)));
            }
            if status.is_success() || (status == StatusCode::NOT_MODIFIED && condition.is_some()) {
                return Ok(Answer {
                    status,
                    etag,
                    body: bytes,
                });
            }
            return Err(match status.as_u16() {
                404 => ApiError::NotFound(detail_of(&bytes)),
                code @ 400..=499 => ApiError::Rejected {
                    status: code,
                    detail: detail_of(&bytes),
                },
                code => ApiError::Server {
                    status: code,
                    detail: detail_of(&bytes),
                },
            });
        }
        unreachable!("the loop returns on its second attempt")
    }

    async fn read_capped(&self, mut response: reqwest::Response) -> Result<Vec<u8>, ApiError> {
        let limit = self.config.max_body_bytes;
        if response
            .content_length()
            .is_some_and(|len| len as usize > limit)
        {
            return Err(ApiError::TooLarge { limit });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(map_reqwest)? {
            self.counters
                .bytes_received
                .fetch_add(chunk.len() as u64, Ordering::Relaxed);
            if body.len() + chunk.len() > limit {
                return Err(ApiError::TooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// `GET /api/v1/chat/requests`: the ticket list (metadata only), unconditionally.
    pub async fn fetch_tickets(&self) -> Result<Vec<TicketSummary>, ApiError> {
        match self.fetch_ticket_list(None).await? {
            TicketListAnswer::Full { tickets, .. } => Ok(tickets),
            // Never returned without a tag sent.
            TicketListAnswer::NotModified => Err(ApiError::Server {
                status: 304,
                detail: "304 Not Modified to an unconditional request".into(),
            }),
        }
    }

    /// `GET /api/v1/chat/requests` with `If-None-Match: <stored_etag>` when a tag is
    /// given (protocol 6.1): the full list with its strong `ETag` (if the server sent
    /// one), or [`TicketListAnswer::NotModified`]. A `304` whose `ETag` is not the tag
    /// sent proves nothing about the stored list: the list is then requested once more
    /// without a condition. Servers without tags answer `200` as always.
    pub async fn fetch_ticket_list(
        &self,
        stored_etag: Option<&str>,
    ) -> Result<TicketListAnswer, ApiError> {
        let mut condition = stored_etag;
        loop {
            self.counters
                .ticket_list_requests
                .fetch_add(1, Ordering::Relaxed);
            let answer = self
                .call_conditional(
                    Method::GET,
                    self.url(&["chat", "requests"]),
                    None,
                    condition,
                )
                .await?;
            if answer.status != StatusCode::NOT_MODIFIED {
                return Ok(TicketListAnswer::Full {
                    tickets: wire::decode_ticket_list(&answer.body)?,
                    etag: answer.etag,
                });
            }
            if answer.etag.is_none() || answer.etag.as_deref() == condition {
                self.counters
                    .ticket_lists_not_modified
                    .fetch_add(1, Ordering::Relaxed);
                return Ok(TicketListAnswer::NotModified);
            }
            tracing::warn!("304 to the ticket list carries another ETag; asking again in full");
            condition = None;
        }
    }

    /// `GET .../messages`: one checked page of `request_id`.
    pub async fn fetch_messages(
        &self,
        request_id: &str,
        query: PageQuery,
        limit: u32,
        now_ms: i64,
    ) -> Result<MessagePage, ApiError> {
        self.counters
            .message_page_requests
            .fetch_add(1, Ordering::Relaxed);
        let mut url = self.url(&["chat", "requests", request_id, "messages"]);
        {
            let mut pairs = url.query_pairs_mut();
            match query {
                PageQuery::After(n) => {
                    pairs.append_pair("afterSequence", &n.to_string());
                }
                PageQuery::Before(n) => {
                    pairs.append_pair("beforeSequence", &n.to_string());
                }
                PageQuery::Latest => {}
            }
            pairs.append_pair("limit", &limit.to_string());
        }
        let (_, body) = self.call(Method::GET, url, None).await?;
        let page = wire::decode_message_page(&body, request_id, query, limit, now_ms)?;
        self.counters
            .messages_fetched
            .fetch_add(page.messages.len() as u64, Ordering::Relaxed);
        Ok(page)
    }

    /// `POST .../messages`: sends (idempotently, by `client_temp_id`) and returns the server's copy.
    pub async fn send_message(
        &self,
        request_id: &str,
        content: &str,
        client_temp_id: &str,
        now_ms: i64,
    ) -> Result<ChatMessage, ApiError> {
        self.counters.send_requests.fetch_add(1, Ordering::Relaxed);
        let body = serde_json::to_vec(&WireSendRequest {
            content: content.to_string(),
            client_temp_id: client_temp_id.to_string(),
        })
        .expect("a send request serialises");
        let url = self.url(&["chat", "requests", request_id, "messages"]);
        let (_, body) = self.call(Method::POST, url, Some(body)).await?;
        Ok(wire::decode_sent_message(
            &body,
            request_id,
            client_temp_id,
            now_ms,
        )?)
    }

    /// `POST .../read`: marks everything up to `up_to_sequence` as read.
    pub async fn mark_read(&self, request_id: &str, up_to_sequence: i64) -> Result<(), ApiError> {
        let body = serde_json::to_vec(&WireReadRequest { up_to_sequence })
            .expect("a read request serialises");
        let url = self.url(&["chat", "requests", request_id, "read"]);
        self.call(Method::POST, url, Some(body)).await.map(|_| ())
    }
}

fn map_reqwest(error: reqwest::Error) -> ApiError {
    if error.is_timeout() {
        ApiError::Timeout
    } else {
        // Without the URL (it carries no secret, but keeps messages short and
        // stable), with the causes: "error sending request" alone says nothing.
        let error = error.without_url();
        let mut text = error.to_string();
        let mut cause = std::error::Error::source(&error);
        while let Some(inner) = cause {
            let more = inner.to_string();
            if !text.contains(&more) {
                text.push_str(": ");
                text.push_str(&more);
            }
            cause = inner.source();
        }
        ApiError::Network(text)
    }
}

/// The `detail` of an error body, or the start of the body when it is not the contract's JSON.
fn detail_of(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Detail {
        detail: serde_json::Value,
    }
    match serde_json::from_slice::<Detail>(body) {
        Ok(Detail {
            detail: serde_json::Value::String(text),
        }) => text,
        Ok(Detail { detail }) => detail.to_string(),
        Err(_) => String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
    }
}
