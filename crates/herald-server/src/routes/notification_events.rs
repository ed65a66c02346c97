//! `POST /notification-events/` (seed 03): report that something happened; Herald routes it
//! to its handler and answers once the notifications it produced are committed.

use crate::auth::require;
use crate::error::{ApiError, ErrorBody};
use crate::extract::JsonBody;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use herald_core::access::Permission;
use herald_core::event::EventSource;
use herald_engine::access::ServiceCaller;
use herald_engine::idempotency::Begun;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Processes an event: `{"name", "id"?, "key"?, "metadata"?, "payload"?}`. Answers
/// `{"_id": <the event's record>, "notifications": [...]}` once the event, its notifications
/// (messages `queued`) and reminders are committed; delivery follows asynchronously. An event
/// id seen within the dedup window gets the first answer again.
#[utoipa::path(post, path = "/notification-events", tag = "events", request_body = Object, security(("apiKey" = [])), responses(
    (status = 200, description = "Committed", body = Object),
    (status = 400, description = "Unknown event, schema violation or invalid body (recorded in the events log)", body = ErrorBody),
    (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody)))]
async fn emit(State(state): State<AppState>, caller: ServiceCaller, headers: HeaderMap, JsonBody(body): JsonBody) -> Response {
    if let Err(error) = require(&caller, Permission::EventsEmit) {
        return error.into_response();
    }
    idempotent(&state, &caller, "notification-events", &headers, body, async |state, body| {
        Ok(state.events().ingest(&caller.actor(), EventSource::Http, body).await?)
    })
    .await
}

/// Sends a message by hand (seed 03): `channels`, `recipients` and/or `clusters`, `templateId`
/// or `messageTitle` + `messageContent`, `data`, `emailCarbonCopies`, `emailBlindCarbonCopies`
/// (invalid addresses are ignored), `emailSender`, `emailReplyTo` (Herald's extension),
/// `scheduledAt`. Answers once the messages are queued, with the failures known at acceptance;
/// a line break or other control character in any value bound for an email header is 400.
#[utoipa::path(post, path = "/send", tag = "events", request_body = Object, security(("apiKey" = [])), responses(
    (status = 200, description = "Queued; failures known at acceptance", body = Object),
    (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn send(State(state): State<AppState>, caller: ServiceCaller, headers: HeaderMap, JsonBody(body): JsonBody) -> Response {
    if let Err(error) = require(&caller, Permission::Send) {
        return error.into_response();
    }
    idempotent(&state, &caller, "send", &headers, body, async |state, body| Ok(state.events().send(&caller.actor(), body).await?)).await
}

/// Runs `handle` under the request's `Idempotency-Key`, if it has one: the first answer to a
/// key is stored and repeated (with `Idempotent-Replayed: true`) for the same body within 24
/// hours; a different body is refused with 422.
async fn idempotent(
    state: &AppState,
    caller: &ServiceCaller,
    route: &str,
    headers: &HeaderMap,
    body: Value,
    handle: impl AsyncFnOnce(&AppState, Value) -> Result<Value, ApiError>,
) -> Response {
    let Some(key) = headers.get("idempotency-key") else {
        return handle(state, body).await.map(Json).into_response();
    };
    let Ok(key) = key.to_str() else {
        return ApiError::bad_request("Idempotency-Key: must be visible ASCII characters").into_response();
    };
    match state.idempotency().begin(&caller.tenant, route, key, &body).await {
        Err(error) => ApiError::from(error).into_response(),
        Ok(Begun::Replay(status, answer)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            (status, [("idempotent-replayed", "true")], Json(answer)).into_response()
        }
        Ok(Begun::Proceed) => {
            let result = handle(state, body).await;
            let (status, answer) = match &result {
                Ok(answer) => (200, answer.clone()),
                Err(error) => (error.status().as_u16(), serde_json::to_value(error.body()).expect("error bodies serialize")),
            };
            if let Err(error) = state.idempotency().finish(&caller.tenant, route, key, status, &answer).await {
                tracing::warn!(%error, "the answer to an Idempotency-Key could not be stored");
            }
            result.map(Json).into_response()
        }
    }
}

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(emit)).routes(routes!(send))
}
