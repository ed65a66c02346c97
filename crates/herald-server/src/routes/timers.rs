//! The timer service (the seeds' timer-service API): `POST /schedule`, `POST /abort` and
//! `GET /expirations/{id}`, under `events.emit`.

use crate::auth::require;
use crate::error::{ApiError, ErrorBody};
use crate::extract::JsonBody;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use herald_core::access::Permission;
use herald_engine::access::ServiceCaller;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Schedules a timer: `{payload, startDate, expirationIntervalMs, applicantService,
/// outputMode}` where `outputMode` is `{"type": "rest", method, protocol, hostname, port?,
/// path, headers?}` (hosts from `timer_allowed_hosts` only) or `{"type": "amqp", exchange,
/// routingKey, headers?}`. Answers `{expirationId}`.
#[utoipa::path(post, path = "/schedule", tag = "timers", request_body = Object, security(("apiKey" = [])), responses(
    (status = 200, description = "Scheduled", body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn schedule(State(state): State<AppState>, caller: ServiceCaller, JsonBody(body): JsonBody) -> Result<Json<Value>, ApiError> {
    require(&caller, Permission::EventsEmit)?;
    let id = state.timers().schedule(&caller.tenant, body).await?;
    Ok(Json(json!({"expirationId": id})))
}

/// Aborts a pending timer: `{expirationId}`.
#[utoipa::path(post, path = "/abort", tag = "timers", request_body = Object, security(("apiKey" = [])), responses(
    (status = 204, description = "Aborted"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody), (status = 409, description = "It already expired or was aborted", body = ErrorBody)))]
async fn abort(State(state): State<AppState>, caller: ServiceCaller, JsonBody(body): JsonBody) -> Result<StatusCode, ApiError> {
    require(&caller, Permission::EventsEmit)?;
    let id = body.get("expirationId").and_then(Value::as_str).ok_or_else(|| ApiError::bad_request("expirationId: is required"))?;
    state.timers().abort(&caller.tenant, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A timer with its `expirationDate` and `expirationStatus` (`0` pending, `1` expired, `2`
/// aborted, `3` error).
#[utoipa::path(get, path = "/expirations/{id}", tag = "timers", params(("id" = String, Path)), security(("apiKey" = [])), responses(
    (status = 200, description = "The timer", body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn status(State(state): State<AppState>, caller: ServiceCaller, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    require(&caller, Permission::EventsEmit)?;
    Ok(Json(state.timers().status(&caller.tenant, &id).await?))
}

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(schedule)).routes(routes!(abort)).routes(routes!(status))
}
