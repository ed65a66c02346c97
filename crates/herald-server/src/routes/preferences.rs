//! Recipients' notification preferences. Seed 04's `GET /patient-notifications/preferences`
//! and `PUT /patient-notifications/preferences/{type}` for the patient themselves (user token),
//! plus `PUT /patient-notifications/preferences` for what is not per type (seed 05's master
//! toggle and preferred locale, a time zone, quiet hours). Clinic staff manage a patient's
//! preferences under `/api/v1/notifications/preferences/{patient_id}` with seed 05's
//! `notifications.preferences.read` and `.write`. Every change is audited.

use crate::auth::{EndUser, require};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{JsonBody, RequestSource};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use herald_core::access::Permission;
use herald_engine::access::ServiceCaller;
use herald_engine::documents::Actor;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The patient as the audit trail names them.
fn actor(user: &EndUser) -> Actor {
    Actor { tenant: user.tenant.clone(), id: format!("user:{}", user.id) }
}

/// Your preferences: `enabled` (the master toggle), `preferredLocale`, `timeZone`,
/// `quietHours`, and `preferences` with every notification type (`enabled`, `mandatory`,
/// `channels`).
#[utoipa::path(get, path = "/patient-notifications/preferences", tag = "preferences", security(("userToken" = [])), responses(
    (status = 200, description = "Your preferences", body = Object), (status = 401, body = ErrorBody)))]
async fn mine(State(state): State<AppState>, user: EndUser) -> Result<Json<Value>, ApiError> {
    Ok(Json(state.preferences().preferences(&user.tenant, &user.id).await?))
}

/// Changes your master toggle, locale, time zone or quiet hours
/// (`[{"start": "22:00", "end": "07:00", "days": ["mon", …]?}]`, in your local time).
#[utoipa::path(put, path = "/patient-notifications/preferences", tag = "preferences", request_body = Object, security(("userToken" = [])), responses(
    (status = 200, description = "Your preferences", body = Object),
    (status = 400, description = "Malformed or overlapping quiet hours, an unknown time zone or locale", body = ErrorBody),
    (status = 401, body = ErrorBody)))]
async fn update_mine(
    State(state): State<AppState>,
    user: EndUser,
    RequestSource(source): RequestSource,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(state.preferences().update_preferences(&actor(&user), source, &user.id, body).await?))
}

/// Changes your choices for one notification type: `{"enabled"?: bool, "channels"?: {"sms": false, …}}`.
#[utoipa::path(put, path = "/patient-notifications/preferences/{type}", tag = "preferences", params(("type" = String, Path)), request_body = Object,
    security(("userToken" = [])), responses(
    (status = 200, description = "Your preferences", body = Object),
    (status = 400, description = "An unknown type or channel", body = ErrorBody), (status = 401, body = ErrorBody),
    (status = 422, description = "The clinic made this type mandatory", body = ErrorBody)))]
async fn update_my_type(
    State(state): State<AppState>,
    user: EndUser,
    Path(notification_type): Path<String>,
    RequestSource(source): RequestSource,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(state.preferences().update_type(&actor(&user), source, &user.id, &notification_type, body).await?))
}

/// A patient's preferences, as `GET /patient-notifications/preferences` shows them.
#[utoipa::path(get, path = "/api/v1/notifications/preferences/{patient_id}", tag = "preferences", params(("patient_id" = String, Path)),
    security(("apiKey" = [])), responses(
    (status = 200, description = "The patient's preferences", body = Object), (status = 401, body = ErrorBody),
    (status = 403, body = ErrorBody), (status = 404, description = "No such user in the directory", body = ErrorBody)))]
async fn patient(State(state): State<AppState>, caller: ServiceCaller, Path(patient_id): Path<String>) -> Result<Json<Value>, ApiError> {
    require(&caller, Permission::PreferencesRead)?;
    state.preferences().require_user(&caller.tenant, &patient_id).await?;
    Ok(Json(state.preferences().preferences(&caller.tenant, &patient_id).await?))
}

/// Changes a patient's master toggle, locale, time zone or quiet hours.
#[utoipa::path(put, path = "/api/v1/notifications/preferences/{patient_id}", tag = "preferences", params(("patient_id" = String, Path)),
    request_body = Object, security(("apiKey" = [])), responses(
    (status = 200, description = "The patient's preferences", body = Object), (status = 400, body = ErrorBody),
    (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn update_patient(
    State(state): State<AppState>,
    caller: ServiceCaller,
    Path(patient_id): Path<String>,
    RequestSource(source): RequestSource,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    require(&caller, Permission::PreferencesWrite)?;
    state.preferences().require_user(&caller.tenant, &patient_id).await?;
    Ok(Json(state.preferences().update_preferences(&caller.actor(), source, &patient_id, body).await?))
}

/// Changes a patient's choices for one notification type.
#[utoipa::path(put, path = "/api/v1/notifications/preferences/{patient_id}/{type}", tag = "preferences",
    params(("patient_id" = String, Path), ("type" = String, Path)), request_body = Object, security(("apiKey" = [])), responses(
    (status = 200, description = "The patient's preferences", body = Object), (status = 400, body = ErrorBody),
    (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 422, description = "The clinic made this type mandatory", body = ErrorBody)))]
async fn update_patient_type(
    State(state): State<AppState>,
    caller: ServiceCaller,
    Path((patient_id, notification_type)): Path<(String, String)>,
    RequestSource(source): RequestSource,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    require(&caller, Permission::PreferencesWrite)?;
    state.preferences().require_user(&caller.tenant, &patient_id).await?;
    Ok(Json(state.preferences().update_type(&caller.actor(), source, &patient_id, &notification_type, body).await?))
}

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(mine, update_mine))
        .routes(routes!(update_my_type))
        .routes(routes!(patient, update_patient))
        .routes(routes!(update_patient_type))
}
