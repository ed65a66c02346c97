//! Seed 05's clinic settings and manual sends: `GET`/`PUT /api/v1/notifications/settings`
//! (per notification type `enabled`, `auto_send`, `hours_before`, and Herald's `mandatory`;
//! `custom: true` adds a type of the tenant's own), `POST /api/v1/notifications/send` (a type
//! by hand) and `POST /api/v1/notifications/test` (a test email). Seed 05's permissions:
//! `notifications.settings.read` to read, `notifications.settings.write` to change settings and
//! send the test email, `notifications.send` to send by hand. Every change is audited.

use crate::auth::require;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{JsonBody, RequestSource};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use herald_core::access::Permission;
use herald_engine::access::ServiceCaller;
use herald_engine::manual_send;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The clinic's settings for every notification type it knows: `{"settings": {type: {enabled,
/// auto_send, hours_before?, mandatory, custom?}}}`.
#[utoipa::path(get, path = "/api/v1/notifications/settings", tag = "clinic-settings", security(("apiKey" = [])), responses(
    (status = 200, description = "The clinic's settings", body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn get_settings(State(state): State<AppState>, caller: ServiceCaller) -> Result<Json<Value>, ApiError> {
    require(&caller, Permission::SettingsRead)?;
    Ok(Json(state.preferences().clinic_settings(&caller.tenant).await?))
}

/// Changes the fields given for the types named: `{"settings": {"budget_sent": {"auto_send":
/// false}}}`. A type the clinic does not know yet is added with `custom: true`.
#[utoipa::path(put, path = "/api/v1/notifications/settings", tag = "clinic-settings", request_body = Object, security(("apiKey" = [])), responses(
    (status = 200, description = "The clinic's settings", body = Object),
    (status = 400, description = "An unknown type, field or value", body = ErrorBody),
    (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn put_settings(
    State(state): State<AppState>,
    caller: ServiceCaller,
    RequestSource(source): RequestSource,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    require(&caller, Permission::SettingsWrite)?;
    Ok(Json(state.preferences().update_clinic_settings(&caller.actor(), source, body).await?))
}

/// Sends a notification type by hand (also one set to `auto_send: false`):
/// `{"notification_type": "budget_sent", "patient_id": "…", …the event's other fields}`.
/// Answers like an event, `{"_id", "notifications"}`, once the messages are queued.
#[utoipa::path(post, path = "/api/v1/notifications/send", tag = "clinic-settings", request_body = Object, security(("apiKey" = [])), responses(
    (status = 200, description = "Queued", body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
    (status = 403, body = ErrorBody), (status = 422, description = "A type of the tenant's own, with no built-in event", body = ErrorBody)))]
async fn send(State(state): State<AppState>, caller: ServiceCaller, JsonBody(body): JsonBody) -> Result<Json<Value>, ApiError> {
    require(&caller, Permission::Send)?;
    Ok(Json(manual_send::send(state.events(), state.preferences(), &caller.actor(), body).await?))
}

/// Sends a test email, `{"to_email": "…"}`, through the email provider; answers
/// `{"success": true, "provider", "message_id"}`.
#[utoipa::path(post, path = "/api/v1/notifications/test", tag = "clinic-settings", request_body = Object, security(("apiKey" = [])), responses(
    (status = 200, description = "Sent", body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
    (status = 403, body = ErrorBody), (status = 422, description = "No email provider, or it refused the email", body = ErrorBody)))]
async fn test_email(State(state): State<AppState>, caller: ServiceCaller, JsonBody(body): JsonBody) -> Result<Json<Value>, ApiError> {
    require(&caller, Permission::SettingsWrite)?;
    let now = state.clock().now();
    Ok(Json(manual_send::test_email(state.email_provider().map(|p| p.as_ref()), &caller.tenant, body, now).await?))
}

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_settings, put_settings)).routes(routes!(send)).routes(routes!(test_email))
}
