//! `/users`: the recipients directory (CRUD), under `users.*`, plus `POST /users/bulk` to sync
//! users from another system.

use axum::extract::DefaultBodyLimit;
use herald_core::access::Permission;
use herald_core::resources::Collection;
use herald_core::resources::user::User;
use serde::Serialize;
use utoipa::ToSchema;

crud_resource!(
    tag = "users",
    collection = Collection::Users,
    schema = User,
    read = Permission::UsersRead,
    write = Permission::UsersWrite,
    list = "/users",
    count = "/users/count",
    item = "/users/{id}"
);

/// One synced user.
#[derive(Serialize, ToSchema)]
struct Synced {
    /// The stored document's `_id` (the existing one for an update).
    #[serde(rename = "_id")]
    id: String,
    /// Whether the user was new.
    created: bool,
}

/// Inserts or updates many users by their `id`, all or none (each item is validated first; the
/// message names the first bad one by index). Answers with one entry per item, in order.
#[utoipa::path(post, path = "/users/bulk", tag = "users", request_body = Vec<User>, security(("apiKey" = [])), responses(
    (status = 200, description = "One entry per user, in order", body = Vec<Synced>),
    (status = 400, description = "An item is invalid; nothing was stored", body = ErrorBody),
    (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody)))]
async fn bulk(State(state): State<AppState>, caller: ServiceCaller, JsonBody(body): JsonBody) -> Result<Json<Vec<Synced>>, ApiError> {
    crate::auth::require(&caller, Permission::UsersWrite)?;
    let outcome = state.documents().upsert_many(Collection::Users, &caller.actor(), body).await?;
    Ok(Json(outcome.into_iter().map(|u| Synced { id: u.id, created: u.inserted }).collect()))
}

pub(crate) fn router(bulk_body_limit: usize) -> OpenApiRouter<AppState> {
    let bulk_routes = OpenApiRouter::new().routes(routes!(bulk)).layer(DefaultBodyLimit::max(bulk_body_limit));
    crud().merge(bulk_routes)
}
