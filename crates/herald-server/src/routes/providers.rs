//! A tenant's own providers per channel, under `admin`: `GET /api/v1/providers` (every
//! channel) and, per channel, `GET`/`POST /api/v1/providers/{channel}` and
//! `GET`/`PUT`/`DELETE /api/v1/providers/{channel}/{id}`. Bodies are `{name, priority,
//! enabled, config: {type, …}}`; secrets are write-only (shown as `"set"`). See
//! `herald_engine::tenant_providers` for the rules.

use crate::auth::require;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{JsonBody, RequestSource};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use herald_core::access::Permission;
use herald_core::resources::channel::Channel;
use herald_engine::access::ServiceCaller;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// A channel named in a path.
fn channel(name: &str) -> Result<Channel, ApiError> {
    serde_json::from_value(Value::String(name.to_string()))
        .map_err(|_| ApiError::bad_request("channel: must be one of email, sms, push, voice, whatsapp, in_app, webhook"))
}

/// Every provider entry of the tenant, by channel and priority.
#[utoipa::path(get, path = "/api/v1/providers", tag = "providers", security(("apiKey" = [])), responses(
    (status = 200, description = "The entries, secrets shown as \"set\"", body = Vec<Object>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_all(State(state): State<AppState>, caller: ServiceCaller) -> Result<Json<Vec<Value>>, ApiError> {
    require(&caller, Permission::Admin)?;
    let entries = state.tenant_providers().list(&caller.tenant, None).await?;
    Ok(Json(entries.iter().map(|e| e.to_json()).collect()))
}

/// The tenant's providers of one channel, in the order they are tried.
#[utoipa::path(get, path = "/api/v1/providers/{channel}", tag = "providers", params(("channel" = String, Path)), security(("apiKey" = [])), responses(
    (status = 200, description = "The entries, secrets shown as \"set\"", body = Vec<Object>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list(State(state): State<AppState>, caller: ServiceCaller, Path(name): Path<String>) -> Result<Json<Vec<Value>>, ApiError> {
    require(&caller, Permission::Admin)?;
    let entries = state.tenant_providers().list(&caller.tenant, Some(channel(&name)?)).await?;
    Ok(Json(entries.iter().map(|e| e.to_json()).collect()))
}

/// Adds a provider to a channel: `{name, priority (0: first), enabled (true), config}`.
#[utoipa::path(post, path = "/api/v1/providers/{channel}", tag = "providers", params(("channel" = String, Path)), request_body = Object, security(("apiKey" = [])), responses(
    (status = 201, description = "The entry, secrets shown as \"set\"", body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
    (status = 403, body = ErrorBody), (status = 409, description = "The name is taken", body = ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    caller: ServiceCaller,
    Path(name): Path<String>,
    RequestSource(source): RequestSource,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    require(&caller, Permission::Admin)?;
    let created = state.tenant_providers().create(&caller.actor(), channel(&name)?, body, source).await?;
    Ok((StatusCode::CREATED, Json(created.to_json())))
}

/// One provider entry.
#[utoipa::path(get, path = "/api/v1/providers/{channel}/{id}", tag = "providers", params(("channel" = String, Path), ("id" = String, Path)), security(("apiKey" = [])), responses(
    (status = 200, description = "The entry, secrets shown as \"set\"", body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
    (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get(
    State(state): State<AppState>,
    caller: ServiceCaller,
    Path((name, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    require(&caller, Permission::Admin)?;
    Ok(Json(state.tenant_providers().get(&caller.tenant, channel(&name)?, &id).await?.to_json()))
}

/// Replaces a provider entry; secrets left out (or sent as `"set"`) are kept while the type
/// stays the same.
#[utoipa::path(put, path = "/api/v1/providers/{channel}/{id}", tag = "providers", params(("channel" = String, Path), ("id" = String, Path)), request_body = Object, security(("apiKey" = [])), responses(
    (status = 200, description = "The entry, secrets shown as \"set\"", body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
    (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
    (status = 422, description = "The entry is managed by the SMTP settings API", body = ErrorBody)))]
async fn replace(
    State(state): State<AppState>,
    caller: ServiceCaller,
    Path((name, id)): Path<(String, String)>,
    RequestSource(source): RequestSource,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    require(&caller, Permission::Admin)?;
    let replaced = state.tenant_providers().replace(&caller.actor(), channel(&name)?, &id, body, source).await?;
    Ok(Json(replaced.to_json()))
}

/// Removes a provider entry (removing them all returns the channel to the global provider).
#[utoipa::path(delete, path = "/api/v1/providers/{channel}/{id}", tag = "providers", params(("channel" = String, Path), ("id" = String, Path)), security(("apiKey" = [])), responses(
    (status = 204, description = "Removed"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete(
    State(state): State<AppState>,
    caller: ServiceCaller,
    Path((name, id)): Path<(String, String)>,
    RequestSource(source): RequestSource,
) -> Result<StatusCode, ApiError> {
    require(&caller, Permission::Admin)?;
    state.tenant_providers().delete(&caller.actor(), channel(&name)?, &id, source).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_all)).routes(routes!(list, create)).routes(routes!(get, replace, delete))
}
