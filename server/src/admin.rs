//! Admin endpoints (`/admin/v1/...`): the fault controls, restore, disconnect, stats and
//! in-process helpers over HTTP, for out-of-process tests. They exist only when faults are
//! allowed and require `Authorization: Bearer <adminToken>`; they are never subject to
//! HTTP faults.

use std::time::Duration;

use axum::extract::{FromRequestParts, State};
use axum::http::{StatusCode, request::Parts};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::faults::{PushKind, RandomPushFaults};
use crate::http::{JsonObject, Shared, bearer, check_client_temp_id, check_content};
use crate::stats::{EndpointKind, Stats};

/// Proof that the request carries the admin token of a server with faults allowed.
struct Admin;

impl FromRequestParts<Shared> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, ApiError> {
        let Some(admin_token) = &state.admin_token else {
            return Err(ApiError::not_found(
                "admin endpoints are disabled; start the server with --faults",
            ));
        };
        if bearer(parts)? != admin_token {
            return Err(ApiError::unauthorized("not the admin token"));
        }
        Ok(Admin)
    }
}

fn body<T: DeserializeOwned>(JsonObject(map): JsonObject) -> Result<T, ApiError> {
    serde_json::from_value(Value::Object(map))
        .map_err(|e| ApiError::bad_request(format!("bad admin request: {e}")))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CountBody {
    count: u32,
    #[serde(default)]
    kind: PushKind,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HttpCountBody {
    count: u32,
    #[serde(default)]
    target: Option<EndpointKind>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TargetBody {
    request_id: String,
    sequence: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DelayBody {
    ms: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EnabledBody {
    enabled: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RestoreBody {
    request_id: String,
    up_to_sequence: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TicketBody {
    #[serde(default)]
    id: Option<String>,
    title: String,
    requester_id: String,
    technician_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MessageBody {
    request_id: String,
    sender_id: String,
    content: String,
    #[serde(default)]
    client_temp_id: Option<String>,
}

fn done() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// Longest delay the admin endpoints accept (10 minutes).
const MAX_DELAY_MS: u64 = 600_000;

fn delay(body: DelayBody) -> Result<Duration, ApiError> {
    if body.ms > MAX_DELAY_MS {
        return Err(ApiError::bad_request(format!(
            "ms must be at most {MAX_DELAY_MS}"
        )));
    }
    Ok(Duration::from_millis(body.ms))
}

pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/admin/v1/faults", get(get_faults))
        .route("/admin/v1/faults/reset", post(reset))
        .route("/admin/v1/faults/drop-pushes", post(drop_pushes))
        .route("/admin/v1/faults/drop-push", post(drop_push))
        .route("/admin/v1/faults/duplicate-pushes", post(duplicate_pushes))
        .route("/admin/v1/faults/reorder-pushes", post(reorder_pushes))
        .route("/admin/v1/faults/push-delay", post(push_delay))
        .route("/admin/v1/faults/http-delay", post(http_delay))
        .route("/admin/v1/faults/fail-http", post(fail_http))
        .route("/admin/v1/faults/truncate", post(truncate))
        .route("/admin/v1/faults/null-sequence", post(null_sequence))
        .route("/admin/v1/faults/random", post(random))
        .route("/admin/v1/restore", post(restore))
        .route("/admin/v1/disconnect-websockets", post(disconnect))
        .route("/admin/v1/stats", get(get_stats))
        .route("/admin/v1/stats/reset", post(reset_stats))
        .route("/admin/v1/tickets", post(create_ticket))
        .route("/admin/v1/messages", post(post_message))
}

async fn get_faults(State(s): State<Shared>, _: Admin) -> Response {
    Json(s.faults.settings()).into_response()
}

async fn reset(State(s): State<Shared>, _: Admin) -> Response {
    s.faults.reset();
    done()
}

async fn drop_pushes(
    State(s): State<Shared>,
    _: Admin,
    b: JsonObject,
) -> Result<Response, ApiError> {
    let b: CountBody = body(b)?;
    s.faults.drop_next_pushes(b.count, b.kind);
    Ok(done())
}

async fn drop_push(State(s): State<Shared>, _: Admin, b: JsonObject) -> Result<Response, ApiError> {
    let b: TargetBody = body(b)?;
    s.faults.drop_push(&b.request_id, b.sequence);
    Ok(done())
}

async fn duplicate_pushes(
    State(s): State<Shared>,
    _: Admin,
    b: JsonObject,
) -> Result<Response, ApiError> {
    let b: CountBody = body(b)?;
    s.faults.duplicate_next_pushes(b.count, b.kind);
    Ok(done())
}

async fn reorder_pushes(
    State(s): State<Shared>,
    _: Admin,
    b: JsonObject,
) -> Result<Response, ApiError> {
    let b: CountBody = body(b)?;
    s.faults.reorder_next_pushes(b.count, b.kind);
    Ok(done())
}

async fn push_delay(
    State(s): State<Shared>,
    _: Admin,
    b: JsonObject,
) -> Result<Response, ApiError> {
    s.faults.set_push_delay(delay(body(b)?)?);
    Ok(done())
}

async fn http_delay(
    State(s): State<Shared>,
    _: Admin,
    b: JsonObject,
) -> Result<Response, ApiError> {
    s.faults.set_http_delay(delay(body(b)?)?);
    Ok(done())
}

async fn fail_http(State(s): State<Shared>, _: Admin, b: JsonObject) -> Result<Response, ApiError> {
    let b: HttpCountBody = body(b)?;
    s.faults.fail_next_http(b.count, b.target);
    Ok(done())
}

async fn truncate(State(s): State<Shared>, _: Admin, b: JsonObject) -> Result<Response, ApiError> {
    let b: HttpCountBody = body(b)?;
    s.faults.truncate_next_responses(b.count, b.target);
    Ok(done())
}

async fn null_sequence(
    State(s): State<Shared>,
    _: Admin,
    b: JsonObject,
) -> Result<Response, ApiError> {
    let b: EnabledBody = body(b)?;
    s.faults.set_null_last_sequence(b.enabled);
    Ok(done())
}

async fn random(State(s): State<Shared>, _: Admin, b: JsonObject) -> Result<Response, ApiError> {
    let r: RandomPushFaults = body(b)?;
    let off = r.drop_rate == 0.0 && r.duplicate_rate == 0.0 && r.reorder_rate == 0.0;
    s.faults
        .set_random_push_faults(if off { None } else { Some(r) });
    Ok(done())
}

async fn restore(State(s): State<Shared>, _: Admin, b: JsonObject) -> Result<Response, ApiError> {
    let b: RestoreBody = body(b)?;
    let outcome = s
        .blocking(move |st| st.restore(&b.request_id, b.up_to_sequence))
        .await?;
    Ok(Json(json!({
        "removed": outcome.removed,
        "lastMessageSequence": outcome.last_message_sequence,
        "history": outcome.history,
    }))
    .into_response())
}

async fn disconnect(State(s): State<Shared>, _: Admin) -> Response {
    let count = s.hub.connection_count();
    s.hub.disconnect_all();
    Json(json!({"disconnected": count})).into_response()
}

async fn get_stats(State(s): State<Shared>, _: Admin) -> Response {
    Json(s.stats.snapshot()).into_response()
}

async fn reset_stats(State(s): State<Shared>, _: Admin) -> Response {
    s.stats.reset();
    done()
}

async fn create_ticket(
    State(s): State<Shared>,
    _: Admin,
    b: JsonObject,
) -> Result<Response, ApiError> {
    let b: TicketBody = body(b)?;
    let id = s
        .blocking(move |st| {
            st.create_ticket(b.id.as_deref(), &b.title, &b.requester_id, &b.technician_id)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(json!({"id": id}))).into_response())
}

async fn post_message(
    State(s): State<Shared>,
    _: Admin,
    b: JsonObject,
) -> Result<Response, ApiError> {
    let b: MessageBody = body(b)?;
    check_content(&b.content)?;
    if let Some(id) = &b.client_temp_id {
        check_client_temp_id(id)?;
    }
    if s.users.get(&b.sender_id).is_none() {
        return Err(ApiError::not_found(format!(
            "user {:?} not found",
            b.sender_id
        )));
    }
    let outcome = s
        .blocking(move |st| {
            st.post(
                &b.sender_id,
                &b.request_id,
                &b.content,
                b.client_temp_id.as_deref(),
            )
        })
        .await?;
    let status = if outcome.created {
        Stats::add(&s.stats.messages_created, 1);
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(outcome.message)).into_response())
}
