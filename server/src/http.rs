//! The HTTP surface: routes, auth, input validation, the `{"detail"}` error shape,
//! HTTP fault injection and request counters.

use std::sync::Arc;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Map, Value};

use crate::config::{
    DEFAULT_PAGE_LIMIT, MAX_CLIENT_TEMP_ID_BYTES, MAX_CONTENT_CHARS, MAX_REQUEST_BODY_BYTES,
    PAGE_LIMIT_RANGE,
};
use crate::error::{ApiError, ServerError};
use crate::etag;
use crate::faults::FaultController;
use crate::hub::{self, Hub};
use crate::stats::{EndpointKind, Stats};
use crate::store::{PageQuery, Store, User, Users};
use crate::wire::{MessagePage, TicketList};

/// Shared state of one running server.
pub(crate) struct AppState {
    pub store: Arc<Store>,
    pub users: Arc<Users>,
    pub hub: Arc<Hub>,
    pub faults: FaultController,
    pub stats: Arc<Stats>,
    pub admin_token: Option<String>,
}

pub(crate) type Shared = Arc<AppState>;

impl AppState {
    /// Runs a store operation on the blocking pool.
    pub async fn blocking<T, F>(&self, f: F) -> Result<T, ServerError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, ServerError> + Send + 'static,
    {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| ServerError::Task(e.to_string()))?
    }
}

/// The full router of one server.
pub(crate) fn router(state: Shared) -> Router {
    Router::new()
        .route("/api/v1/chat/requests", get(list_tickets))
        .route(
            "/api/v1/chat/requests/{request_id}/messages",
            get(get_messages).post(post_message),
        )
        .route("/api/v1/chat/requests/{request_id}/read", post(mark_read))
        .route("/api/v1/ws", get(ws_upgrade))
        .merge(crate::admin::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BODY_BYTES))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            faults_and_stats,
        ))
        .layer(middleware::from_fn(error_shape))
        .with_state(state)
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("no such endpoint: {}", uri.path()))
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("method {method} is not allowed on {}", uri.path()),
    )
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| {
            let m = m.trim().to_ascii_lowercase();
            m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
        })
        .unwrap_or(false)
}

/// Turns any error response that is not already JSON (axum's rejections, 405s, ...)
/// into `{"detail": "..."}`, keeping status and other headers.
async fn error_shape(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(response.headers()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 16 * 1024)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_string();
    let detail = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_string()
    } else {
        text
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::CONTENT_TYPE);
    let mut fixed = ApiError::new(status, detail).into_response();
    for (name, value) in parts.headers.iter() {
        fixed.headers_mut().insert(name.clone(), value.clone());
    }
    fixed
}

/// Counts requests and bytes; applies the HTTP faults to `/api/` requests.
async fn faults_and_stats(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let kind = EndpointKind::classify(request.method(), request.uri().path());
    let api = request.uri().path().starts_with("/api/");
    state.stats.count_request(kind);
    if api {
        if state.faults.take_http_failure(kind) {
            Stats::add(&state.stats.http_failures_injected, 1);
            let response = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "injected fault: service unavailable",
            )
            .into_response();
            count_bytes(&state.stats, &response);
            return response;
        }
        let delay = state.faults.http_delay();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }
    let mut response = next.run(request).await;
    let empty = response.body().size_hint().exact() == Some(0);
    if api && !empty && kind != EndpointKind::WebSocket && state.faults.take_truncation(kind) {
        Stats::add(&state.stats.http_bodies_truncated, 1);
        let (mut parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX)
            .await
            .unwrap_or_default();
        let cut = bytes.slice(..bytes.len() / 2);
        parts.headers.remove(header::CONTENT_LENGTH);
        response = Response::from_parts(parts, Body::from(cut));
    }
    count_bytes(&state.stats, &response);
    response
}

fn count_bytes(stats: &Stats, response: &Response) {
    let hint = response.body().size_hint();
    Stats::add(&stats.http_bytes_sent, hint.exact().unwrap_or(hint.lower()));
}

/// The authenticated user of a request.
pub(crate) struct Caller(pub User);

/// Extracts the token of `Authorization: Bearer <token>`.
pub(crate) fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer <token> header"))?;
    let value = value
        .to_str()
        .map_err(|_| ApiError::unauthorized("Authorization header is not valid text"))?;
    let (scheme, token) = value
        .trim()
        .split_once(' ')
        .ok_or_else(|| ApiError::unauthorized("Authorization must be 'Bearer <token>'"))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::unauthorized(
            "Authorization must be 'Bearer <token>'",
        ));
    }
    Ok(token.trim())
}

impl FromRequestParts<Shared> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, ApiError> {
        let token = bearer(parts)?;
        state
            .users
            .by_token(token)
            .cloned()
            .map(Caller)
            .ok_or_else(|| ApiError::unauthorized("invalid or unknown token"))
    }
}

/// A JSON object body, checked for content type, size and syntax.
pub(crate) struct JsonObject(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(request.headers()) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "expected Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(request, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("request body is larger than {MAX_REQUEST_BODY_BYTES} bytes"),
                )
            } else {
                ApiError::new(
                    e.status(),
                    format!("cannot read request body: {}", e.body_text()),
                )
            }
        })?;
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(JsonObject(map)),
            Ok(_) => Err(ApiError::bad_request("request body must be a JSON object")),
            Err(e) => Err(ApiError::bad_request(format!("malformed JSON: {e}"))),
        }
    }
}

fn path_id(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    path.map(|Path(id)| id)
        .map_err(|e| ApiError::bad_request(format!("bad path: {}", e.body_text())))
}

fn shorten(text: &str) -> String {
    let mut short: String = text.chars().take(40).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}

/// A non-negative integer query value: ASCII digits only, fitting in i64.
fn parse_sequence(name: &str, value: &str) -> Result<i64, ApiError> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::bad_request(format!(
            "{name} must be a non-negative integer, got {:?}",
            shorten(value)
        )));
    }
    value
        .parse::<i64>()
        .map_err(|_| ApiError::bad_request(format!("{name} is too large: {:?}", shorten(value))))
}

/// Parses the page query: at most one of `afterSequence` / `beforeSequence`, `limit` in range.
pub(crate) fn parse_page_query(pairs: &[(String, String)]) -> Result<(PageQuery, u32), ApiError> {
    let mut after = None;
    let mut before = None;
    let mut limit = None;
    for (key, value) in pairs {
        let slot = match key.as_str() {
            "afterSequence" => &mut after,
            "beforeSequence" => &mut before,
            "limit" => &mut limit,
            _ => continue,
        };
        if slot.is_some() {
            return Err(ApiError::bad_request(format!(
                "{key} is given more than once"
            )));
        }
        *slot = Some(parse_sequence(key, value)?);
    }
    let limit = match limit {
        None => DEFAULT_PAGE_LIMIT,
        Some(l)
            if (*PAGE_LIMIT_RANGE.start() as i64..=*PAGE_LIMIT_RANGE.end() as i64).contains(&l) =>
        {
            l as u32
        }
        Some(l) => {
            return Err(ApiError::bad_request(format!(
                "limit must be between {} and {}, got {l}",
                PAGE_LIMIT_RANGE.start(),
                PAGE_LIMIT_RANGE.end()
            )));
        }
    };
    let query = match (after, before) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "give at most one of afterSequence and beforeSequence",
            ));
        }
        (Some(n), None) => PageQuery::After(n),
        (None, Some(n)) => PageQuery::Before(n),
        (None, None) => PageQuery::Latest,
    };
    Ok((query, limit))
}

/// Checks message content: a non-blank string of at most [`MAX_CONTENT_CHARS`] characters.
pub(crate) fn check_content(content: &str) -> Result<(), ServerError> {
    if content.trim().is_empty() {
        return Err(ServerError::BadInput("content must not be empty".into()));
    }
    let chars = content.chars().count();
    if chars > MAX_CONTENT_CHARS {
        return Err(ServerError::BadInput(format!(
            "content is {chars} characters; the limit is {MAX_CONTENT_CHARS}"
        )));
    }
    Ok(())
}

/// Checks a `clientTempId`: 1..=[`MAX_CLIENT_TEMP_ID_BYTES`] bytes.
pub(crate) fn check_client_temp_id(id: &str) -> Result<(), ServerError> {
    if id.is_empty() || id.len() > MAX_CLIENT_TEMP_ID_BYTES {
        return Err(ServerError::BadInput(format!(
            "clientTempId must be 1..={MAX_CLIENT_TEMP_ID_BYTES} bytes, got {}",
            id.len()
        )));
    }
    Ok(())
}

/// The ticket list with its `ETag` (a hash of exactly these body bytes, faults
/// applied), or `304 Not Modified` with the `ETag` and no body when `If-None-Match`
/// matches it (`docs/protocol.md` 6.1).
async fn list_tickets(
    State(state): State<Shared>,
    Caller(user): Caller,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let mut tickets = state.blocking(move |s| s.list_tickets(&user.id)).await?;
    if state.faults.null_last_sequence() {
        for t in &mut tickets {
            t.last_message_sequence = None;
        }
    }
    let body = serde_json::to_vec(&TicketList {
        chat_messages: tickets,
    })
    .map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot encode the ticket list: {e}"),
        )
    })?;
    let tag = etag::of(&body);
    let tag_header = HeaderValue::from_str(&tag)
        .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "unusable entity tag"))?;
    if etag::if_none_match(&headers, &tag) {
        Stats::add(&state.stats.ticket_lists_not_modified, 1);
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, tag_header)]).into_response());
    }
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::ETAG, tag_header),
        ],
        body,
    )
        .into_response())
}

async fn get_messages(
    State(state): State<Shared>,
    Caller(user): Caller,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let ticket_id = path_id(path)?;
    let Query(pairs) =
        query.map_err(|e| ApiError::bad_request(format!("bad query string: {}", e.body_text())))?;
    let (page_query, limit) = parse_page_query(&pairs)?;
    let page = state
        .blocking(move |s| s.page(&user.id, &ticket_id, page_query, limit))
        .await?;
    Stats::add(&state.stats.messages_returned, page.messages.len() as u64);
    let null = state.faults.null_last_sequence();
    Ok(Json(MessagePage {
        messages: page.messages,
        last_message_sequence: (!null).then_some(page.last_seq),
        history: page.history,
        has_more: page.has_more,
    })
    .into_response())
}

fn optional_string(body: &Map<String, Value>, key: &str) -> Result<Option<String>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(ApiError::bad_request(format!(
            "{key} must be a string, got {}",
            type_name(other)
        ))),
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

async fn post_message(
    State(state): State<Shared>,
    Caller(user): Caller,
    path: Result<Path<String>, PathRejection>,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let ticket_id = path_id(path)?;
    let content = optional_string(&body, "content")?
        .ok_or_else(|| ApiError::bad_request("content is required"))?;
    check_content(&content)?;
    let client_temp_id = optional_string(&body, "clientTempId")?;
    if let Some(id) = &client_temp_id {
        check_client_temp_id(id)?;
    }
    let outcome = state
        .blocking(move |s| s.post(&user.id, &ticket_id, &content, client_temp_id.as_deref()))
        .await?;
    let status = if outcome.created {
        Stats::add(&state.stats.messages_created, 1);
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(outcome.message)).into_response())
}

async fn mark_read(
    State(state): State<Shared>,
    Caller(user): Caller,
    path: Result<Path<String>, PathRejection>,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let ticket_id = path_id(path)?;
    let up_to = match body.get("upToSequence") {
        None | Some(Value::Null) => return Err(ApiError::bad_request("upToSequence is required")),
        Some(Value::Number(n)) => n.as_i64().filter(|n| *n >= 0).ok_or_else(|| {
            ApiError::bad_request(format!(
                "upToSequence must be a non-negative integer, got {n}"
            ))
        })?,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "upToSequence must be an integer, got {}",
                type_name(other)
            )));
        }
    };
    state
        .blocking(move |s| s.mark_read(&user.id, &ticket_id, up_to))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn ws_upgrade(
    State(state): State<Shared>,
    Caller(user): Caller,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let upgrade = upgrade.map_err(|e| {
        ApiError::new(
            e.status(),
            format!("expected a WebSocket upgrade: {}", e.body_text()),
        )
    })?;
    let hub = state.hub.clone();
    let subscription = hub.subscription(&user.id);
    Ok(upgrade
        .max_message_size(64 * 1024)
        .on_upgrade(move |socket| hub::serve_socket(socket, subscription, hub)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(query: &str) -> Vec<(String, String)> {
        query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_string(), v.to_string())
            })
            .collect()
    }

    #[test]
    fn page_queries_parse_strictly() {
        let ok = |q: &str| parse_page_query(&pairs(q)).unwrap();
        assert_eq!(ok(""), (PageQuery::Latest, DEFAULT_PAGE_LIMIT));
        assert_eq!(ok("afterSequence=0&limit=1"), (PageQuery::After(0), 1));
        assert_eq!(
            ok("beforeSequence=7&limit=500"),
            (PageQuery::Before(7), 500)
        );
        assert_eq!(ok("other=x&limit=3"), (PageQuery::Latest, 3));
        assert_eq!(
            ok("afterSequence=007"),
            (PageQuery::After(7), DEFAULT_PAGE_LIMIT)
        );
        for bad in [
            "limit=0",
            "limit=501",
            "limit=99999999999999999999",
            "afterSequence=-1",
            "afterSequence=+1",
            "afterSequence= 1",
            "afterSequence=1e3",
            "afterSequence=",
            "beforeSequence=0x10",
            "afterSequence=1&beforeSequence=2",
            "limit=1&limit=2",
        ] {
            let error = parse_page_query(&pairs(bad)).unwrap_err();
            assert_eq!(error.status, StatusCode::BAD_REQUEST, "{bad}");
            assert!(!error.detail.is_empty());
        }
    }

    #[test]
    fn content_and_keys_are_checked() {
        assert!(check_content("hi").is_ok());
        assert!(check_content(" padded ").is_ok());
        assert!(check_content(&"é".repeat(MAX_CONTENT_CHARS)).is_ok());
        assert!(check_content(&"a".repeat(MAX_CONTENT_CHARS + 1)).is_err());
        assert!(check_content("").is_err());
        assert!(check_content(" \n\t").is_err());
        assert!(check_client_temp_id("k").is_ok());
        assert!(check_client_temp_id(&"k".repeat(MAX_CLIENT_TEMP_ID_BYTES)).is_ok());
        assert!(check_client_temp_id("").is_err());
        assert!(check_client_temp_id(&"k".repeat(MAX_CLIENT_TEMP_ID_BYTES + 1)).is_err());
    }

    #[test]
    fn endpoints_are_classified() {
        use axum::http::Method;
        let cases = [
            (Method::GET, "/api/v1/chat/requests", EndpointKind::Tickets),
            (
                Method::GET,
                "/api/v1/chat/requests/t1/messages",
                EndpointKind::Messages,
            ),
            (
                Method::POST,
                "/api/v1/chat/requests/t1/messages",
                EndpointKind::Send,
            ),
            (
                Method::POST,
                "/api/v1/chat/requests/t1/read",
                EndpointKind::Read,
            ),
            (Method::GET, "/api/v1/ws", EndpointKind::WebSocket),
            (Method::POST, "/admin/v1/restore", EndpointKind::Admin),
            (
                Method::GET,
                "/api/v1/chat/requests/t1/read",
                EndpointKind::Other,
            ),
            (
                Method::GET,
                "/api/v1/chat/requests//messages",
                EndpointKind::Other,
            ),
            (Method::GET, "/", EndpointKind::Other),
        ];
        for (method, path, kind) in cases {
            assert_eq!(
                EndpointKind::classify(&method, path),
                kind,
                "{method} {path}"
            );
        }
    }
}
