//! The end user's own settings (seed 03): `/user-notification-settings/`, `/user/events/` and
//! `/user/notification-settings/`, for the user identified by their token. Only settings
//! whose `user` is the caller can be changed or deleted. Every change is recorded in the
//! audit trail as done by `user:<id>`.

use crate::auth::EndUser;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{JsonBody, QueryPairs, RequestSource};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use herald_core::Invalid;
use herald_core::resources::channel::Channel;
use herald_core::rules::settings::Audience;
use herald_engine::audit::AuditEntry;
use herald_engine::user_settings::VisibleEvent;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

fn audience(user: &EndUser) -> Audience {
    Audience { id: user.id.clone(), groups: user.groups.clone(), roles: user.roles.clone(), clusters: user.clusters.clone() }
}

/// Records a change the user made to their own settings.
async fn audit(
    state: &AppState,
    user: &EndUser,
    action: &str,
    target: String,
    changes: Value,
    source: Option<String>,
) -> Result<(), ApiError> {
    let entry =
        AuditEntry { tenant: user.tenant.clone(), actor: format!("user:{}", user.id), action: action.to_string(), target, changes, source };
    Ok(herald_engine::audit::record(state.store(), state.clock(), entry).await?)
}

/// The settings that target you (your id, groups, roles or clusters); at most 200.
#[utoipa::path(get, path = "/user-notification-settings", tag = "user", security(("userToken" = [])), responses(
    (status = 200, description = "Your settings", body = Vec<Object>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn list(State(state): State<AppState>, user: EndUser, query: QueryPairs) -> Result<Json<Vec<Value>>, ApiError> {
    Ok(Json(state.user_settings().list(&user.tenant, &audience(&user), query.iter()).await?))
}

/// Changes one of your own settings; `user` cannot change.
#[utoipa::path(patch, path = "/user-notification-settings/{id}", tag = "user", params(("id" = String, Path)), request_body = Object, security(("userToken" = [])), responses(
    (status = 200, description = "The updated setting", body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn patch(
    State(state): State<AppState>,
    user: EndUser,
    RequestSource(source): RequestSource,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    let updated = state.user_settings().patch(&user.tenant, &audience(&user), &id, &body).await?;
    audit(&state, &user, "notification_settings.update", format!("notification_settings/{id}"), body, source).await?;
    Ok(Json(updated))
}

/// Deletes one of your own settings.
#[utoipa::path(delete, path = "/user-notification-settings/{id}", tag = "user", params(("id" = String, Path)), security(("userToken" = [])), responses(
    (status = 204, description = "Deleted"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete(
    State(state): State<AppState>,
    user: EndUser,
    RequestSource(source): RequestSource,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.user_settings().delete(&user.tenant, &audience(&user), &id).await?;
    audit(&state, &user, "notification_settings.delete", format!("notification_settings/{id}"), Value::Object(Default::default()), source)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The events visible to you, with their supported and your enabled channels.
#[utoipa::path(get, path = "/user/events", tag = "user", security(("userToken" = [])), responses(
    (status = 200, description = "Visible events", body = Vec<Object>), (status = 401, body = ErrorBody)))]
async fn events(State(state): State<AppState>, user: EndUser) -> Result<Json<Vec<VisibleEvent>>, ApiError> {
    Ok(Json(state.user_settings().events(&user.tenant, &audience(&user)).await?))
}

/// The channels to receive an event on.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct EnabledChannels {
    /// The event.
    event_name: String,
    /// The channels to enable (all others are disabled).
    enabled_channels: Vec<Channel>,
}

/// Sets the channels you receive an event on: overwrites the channels of your settings for it,
/// or creates one inheriting the template of the settings that target your groups.
#[utoipa::path(patch, path = "/user/notification-settings", tag = "user", request_body = EnabledChannels, security(("userToken" = [])), responses(
    (status = 200, description = "How many settings were updated, and whether one was created", body = Object),
    (status = 400, description = "An unsupported channel, or no setting to inherit the template from", body = ErrorBody),
    (status = 401, body = ErrorBody), (status = 403, description = "The event is not visible to you", body = ErrorBody)))]
async fn set_channels(
    State(state): State<AppState>,
    user: EndUser,
    RequestSource(source): RequestSource,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    let request: EnabledChannels = Invalid::deserialize(body.clone()).map_err(herald_engine::EngineError::from)?;
    let outcome =
        state.user_settings().set_enabled_channels(&user.tenant, &audience(&user), &request.event_name, &request.enabled_channels).await?;
    audit(&state, &user, "notification_settings.channels", format!("users/{}", user.id), body, source).await?;
    Ok(Json(outcome))
}

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(patch, delete)).routes(routes!(events)).routes(routes!(set_channels))
}
