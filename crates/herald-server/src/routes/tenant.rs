//! `/api/v1/tenant`: the calling key's tenant profile — name, time zone, contact phone and
//! email, default locale — as templates see it under `tenant`. Reading needs
//! `notifications.settings.read`; changing it needs `admin` and is recorded in the audit trail.

use crate::auth::require;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{JsonBody, RequestSource};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use herald_core::Invalid;
use herald_core::access::Permission;
use herald_engine::access::ServiceCaller;
use herald_engine::tenants::{ProfileChange, Tenants, profile_json};
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The tenant's profile.
#[utoipa::path(get, path = "/api/v1/tenant", tag = "tenant", security(("apiKey" = [])), responses(
    (status = 200, description = "The profile", body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn show(State(state): State<AppState>, caller: ServiceCaller) -> Result<Json<Value>, ApiError> {
    require(&caller, Permission::SettingsRead)?;
    let tenant = Tenants::new(state.store().clone(), state.clock().clone()).find(&caller.tenant).await?;
    Ok(Json(profile_json(&tenant)))
}

/// Changes the profile: any of `name`, `timeZone`, `phone` (E.164), `email`, `defaultLocale`
/// (`null` clears an optional one). Answers the new profile.
#[utoipa::path(patch, path = "/api/v1/tenant", tag = "tenant", request_body = Object, security(("apiKey" = [])), responses(
    (status = 200, description = "The new profile", body = Object), (status = 400, body = ErrorBody),
    (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn update(
    State(state): State<AppState>,
    caller: ServiceCaller,
    RequestSource(source): RequestSource,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    require(&caller, Permission::Admin)?;
    let change: ProfileChange = Invalid::deserialize(body).map_err(herald_engine::EngineError::from)?;
    let tenants = Tenants::new(state.store().clone(), state.clock().clone());
    let tenant = tenants.update_profile(&caller.tenant, change, &caller.actor().id, source).await?;
    Ok(Json(profile_json(&tenant)))
}

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(show, update))
}
