//! `POST /notification-events/` (seed 03): report that something happened; Herald routes it
//! to its handler and answers once the notifications it produced are committed.

use crate::auth::require;
use crate::error::{ApiError, ErrorBody};
use crate::extract::JsonBody;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use herald_core::access::Permission;
use herald_core::event::EventSource;
use herald_engine::access::ServiceCaller;
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
async fn emit(State(state): State<AppState>, caller: ServiceCaller, JsonBody(body): JsonBody) -> Result<Json<Value>, ApiError> {
    require(&caller, Permission::EventsEmit)?;
    Ok(Json(state.events().ingest(&caller.actor(), EventSource::Http, body).await?))
}

/// Sends a message by hand (seed 03): `channels`, `recipients` and/or `clusters`, `templateId`
/// or `messageTitle` + `messageContent`, `data`, `emailCarbonCopies`, `emailBlindCarbonCopies`
/// (invalid addresses are ignored), `emailSender`, `scheduledAt`. Answers once the messages are
/// queued, with the failures known at acceptance.
#[utoipa::path(post, path = "/send", tag = "events", request_body = Object, security(("apiKey" = [])), responses(
    (status = 200, description = "Queued; failures known at acceptance", body = Object),
    (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn send(State(state): State<AppState>, caller: ServiceCaller, JsonBody(body): JsonBody) -> Result<Json<Value>, ApiError> {
    require(&caller, Permission::Send)?;
    Ok(Json(state.events().send(&caller.actor(), body, state.active_channels()).await?))
}

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(emit)).routes(routes!(send))
}
