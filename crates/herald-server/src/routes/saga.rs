//! `POST /saga/send` (seed 03): `POST /send` driven by a Flow Manager command. The caller
//! needs the same permission as `/send` (`notifications.send`); the engine's [`Saga`] runs the
//! send and tells the saga the outcome when configured (`saga.*`).
//!
//! [`Saga`]: herald_engine::saga::Saga

use crate::auth::require;
use crate::error::{ApiError, ErrorBody};
use crate::extract::JsonBody;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use herald_core::access::Permission;
use herald_engine::access::ServiceCaller;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Runs a Flow Manager command `{"key": <saga id>, "value": {"messageLabel", "messagePayload":
/// <a POST /send body>}}`. Answers 200 with an empty body once the messages are queued; errors
/// in the send body name their field under `value.messagePayload`. When configured, a
/// `saga.success_event_label` or `saga.fail_event_label` event goes back to the saga.
#[utoipa::path(post, path = "/saga/send", tag = "events", request_body = Object, security(("apiKey" = [])), responses(
    (status = 200, description = "Queued; the body is empty"),
    (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn saga_send(State(state): State<AppState>, caller: ServiceCaller, JsonBody(body): JsonBody) -> Result<StatusCode, ApiError> {
    require(&caller, Permission::Send)?;
    state.saga().send(&caller.actor(), body).await?;
    Ok(StatusCode::OK)
}

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(saga_send))
}
