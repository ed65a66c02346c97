//! Seed 05's per-tenant SMTP settings: `GET /api/v1/notifications/smtp-settings` (under
//! `notifications.settings.read`), `PUT` the same path and `POST …/test` (under
//! `notifications.settings.write`). Bodies use the seed's snake_case fields, unwrapped; the
//! password is write-only. See `herald_engine::smtp_settings` for the rules.

use crate::auth::require;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{JsonBody, RequestSource};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use herald_core::access::Permission;
use herald_engine::access::ServiceCaller;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The tenant's SMTP settings: `provider` (`smtp`|`console`|`disabled`), `host`, `port`,
/// `username`, `has_password`, `use_tls`, `use_ssl`, `from_email`, `from_name`, `is_active`
/// (false: the global settings apply), `is_verified`, `last_verified_at`. Never the password.
#[utoipa::path(get, path = "/api/v1/notifications/smtp-settings", tag = "smtp-settings", security(("apiKey" = [])), responses(
    (status = 200, description = "The settings", body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn get(State(state): State<AppState>, caller: ServiceCaller) -> Result<Json<Value>, ApiError> {
    require(&caller, Permission::SettingsRead)?;
    Ok(Json(state.smtp_settings().get(&caller.tenant).await?))
}

/// Replaces the tenant's SMTP settings (`password` left out: kept; `""`: cleared). The host
/// must resolve to public addresses.
#[utoipa::path(put, path = "/api/v1/notifications/smtp-settings", tag = "smtp-settings", request_body = Object, security(("apiKey" = [])), responses(
    (status = 200, description = "The settings", body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 409, description = "Changed concurrently; retry", body = ErrorBody)))]
async fn put(
    State(state): State<AppState>,
    caller: ServiceCaller,
    RequestSource(source): RequestSource,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    require(&caller, Permission::SettingsWrite)?;
    Ok(Json(state.smtp_settings().put(&caller.actor(), body, source).await?))
}

/// Connects with the given settings (the stored ones where left out) and sends a test
/// message to `to_email`; `{success, message, provider}`. A test of the stored settings
/// records `is_verified` and `last_verified_at`.
#[utoipa::path(post, path = "/api/v1/notifications/smtp-settings/test", tag = "smtp-settings", request_body = Object, security(("apiKey" = [])), responses(
    (status = 200, description = "What the test found", body = Object), (status = 400, description = "Bad input, or a host that resolves to an internal address", body = ErrorBody),
    (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn test(
    State(state): State<AppState>,
    caller: ServiceCaller,
    RequestSource(source): RequestSource,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    require(&caller, Permission::SettingsWrite)?;
    let outcome = state.smtp_settings().test(&caller.actor(), body, source).await?;
    Ok(Json(json!({"success": outcome.success, "message": outcome.message, "provider": "smtp"})))
}

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get, put)).routes(routes!(test))
}
