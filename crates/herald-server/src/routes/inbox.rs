//! Seed 04's notification center for the patient (or staff member) of the user token:
//! `GET /patient-notifications` (newest first; cursor or page paging; filters `unread`,
//! `type`, `priority`, `archived` — see `herald_engine::inbox`), `GET …/unread-count`,
//! `POST …/{id}/read`, `…/{id}/dismiss`, `…/{id}/archive`, `…/{id}/unarchive` and
//! `POST …/read-all`. Another user's id is 404 and changes nothing. Every change reaches the
//! user's open WebSocket and SSE connections (see `realtime`).

use crate::auth::EndUser;
use crate::error::{ApiError, ErrorBody};
use crate::extract::QueryPairs;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use herald_store::InboxAction;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Your notifications, newest first: `{"notifications": [{"id", "type", "priority", "title",
/// "message", "data", "read", "archived", "createdAt", "readAt", …}], "total", "unreadCount",
/// "limit", "page"?, "nextCursor"}`.
#[utoipa::path(get, path = "/patient-notifications", tag = "notification center", security(("userToken" = [])),
    params(("unread" = Option<bool>, Query), ("archived" = Option<bool>, Query, description = "The archived list instead of the main one"),
        ("type" = Option<String>, Query, description = "Comma-separated notification types"),
        ("priority" = Option<String>, Query, description = "Comma-separated: low, medium, high, urgent"),
        ("cursor" = Option<String>, Query, description = "The previous answer's nextCursor"),
        ("page" = Option<u64>, Query, description = "From 1; not with cursor"), ("limit" = Option<u32>, Query, description = "1 to 100, default 20")),
    responses((status = 200, description = "A page of your notifications", body = Object),
        (status = 400, description = "An unknown filter or value", body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn list(State(state): State<AppState>, user: EndUser, QueryPairs(pairs): QueryPairs) -> Result<Json<Value>, ApiError> {
    Ok(Json(state.inbox().list(&user.tenant, &user.id, &pairs.into_iter().collect()).await?))
}

/// How many of your notifications are unread (not dismissed, not archived): `{"unreadCount": n}`.
#[utoipa::path(get, path = "/patient-notifications/unread-count", tag = "notification center", security(("userToken" = [])),
    responses((status = 200, description = "The unread count", body = Object), (status = 401, body = ErrorBody)))]
async fn unread_count(State(state): State<AppState>, user: EndUser) -> Result<Json<Value>, ApiError> {
    Ok(Json(state.inbox().unread_count(&user.tenant, &user.id).await?))
}

/// Marks every unread notification of yours read: `{"updated": n}`.
#[utoipa::path(post, path = "/patient-notifications/read-all", tag = "notification center", security(("userToken" = [])),
    responses((status = 200, description = "How many changed", body = Object), (status = 401, body = ErrorBody)))]
async fn read_all(State(state): State<AppState>, user: EndUser) -> Result<Json<Value>, ApiError> {
    Ok(Json(state.inbox().read_all(&user.tenant, &user.id).await?))
}

async fn act(state: &AppState, user: &EndUser, id: &str, action: InboxAction) -> Result<Json<Value>, ApiError> {
    Ok(Json(state.inbox().act(&user.tenant, &user.id, id, action).await?))
}

/// Marks one of your notifications read; the notification.
#[utoipa::path(post, path = "/patient-notifications/{id}/read", tag = "notification center", params(("id" = String, Path)),
    security(("userToken" = [])), responses((status = 200, description = "The notification", body = Object),
        (status = 401, body = ErrorBody), (status = 404, description = "You have no such notification", body = ErrorBody)))]
async fn read(State(state): State<AppState>, user: EndUser, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    act(&state, &user, &id, InboxAction::Read).await
}

/// Dismisses one of your notifications (it leaves the lists, and counts as read).
#[utoipa::path(post, path = "/patient-notifications/{id}/dismiss", tag = "notification center", params(("id" = String, Path)),
    security(("userToken" = [])), responses((status = 200, description = "The notification", body = Object),
        (status = 401, body = ErrorBody), (status = 404, description = "You have no such notification", body = ErrorBody)))]
async fn dismiss(State(state): State<AppState>, user: EndUser, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    act(&state, &user, &id, InboxAction::Dismiss).await
}

/// Moves one of your notifications to the archived list.
#[utoipa::path(post, path = "/patient-notifications/{id}/archive", tag = "notification center", params(("id" = String, Path)),
    security(("userToken" = [])), responses((status = 200, description = "The notification", body = Object),
        (status = 401, body = ErrorBody), (status = 404, description = "You have no such notification", body = ErrorBody)))]
async fn archive(State(state): State<AppState>, user: EndUser, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    act(&state, &user, &id, InboxAction::Archive).await
}

/// Moves one of your notifications back from the archived list.
#[utoipa::path(post, path = "/patient-notifications/{id}/unarchive", tag = "notification center", params(("id" = String, Path)),
    security(("userToken" = [])), responses((status = 200, description = "The notification", body = Object),
        (status = 401, body = ErrorBody), (status = 404, description = "You have no such notification", body = ErrorBody)))]
async fn unarchive(State(state): State<AppState>, user: EndUser, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    act(&state, &user, &id, InboxAction::Unarchive).await
}

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(unread_count))
        .routes(routes!(read_all))
        .routes(routes!(read))
        .routes(routes!(dismiss))
        .routes(routes!(archive))
        .routes(routes!(unarchive))
}
