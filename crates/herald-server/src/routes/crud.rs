//! The CRUD service's endpoints for one collection, shared by every collection: list, count,
//! create, get, patch and delete, each checking the caller's permission first.

use crate::auth::require;
use crate::error::ApiError;
use crate::extract::QueryPairs;
use crate::state::AppState;
use axum::Json;
use axum::http::StatusCode;
use herald_core::access::Permission;
use herald_core::resources::Collection;
use herald_engine::access::ServiceCaller;
use herald_engine::audit::AuditEntry;
use serde::Serialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

/// The CRUD list parameters. Any other parameter is an equality filter on that field.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code, reason = "describes query parameters for the OpenAPI document only")]
pub(crate) struct ListParams {
    /// Most documents to return (capped by configuration, 200 by default).
    #[param(rename = "_l")]
    limit: Option<u32>,
    /// Documents to skip.
    #[param(rename = "_sk")]
    skip: Option<u64>,
    /// Sort keys, comma-separated; `-` for descending (`-createdAt,name`).
    #[param(rename = "_s")]
    sort: Option<String>,
    /// Fields to return, comma-separated.
    #[param(rename = "_p")]
    projection: Option<String>,
    /// A MongoDB-style filter as JSON (`$and`, `$or`, `$nor`, `$eq`, `$ne`, `$in`, `$nin`,
    /// `$gt`, `$gte`, `$lt`, `$lte`, `$exists`).
    #[param(rename = "_q")]
    query: Option<String>,
}

/// The answer to a create: the new document's `_id`.
#[derive(Serialize, ToSchema)]
pub(crate) struct Created {
    /// The new document's id.
    #[serde(rename = "_id")]
    pub(crate) id: String,
}

pub(crate) async fn list(
    state: &AppState,
    caller: &ServiceCaller,
    collection: Collection,
    permission: Permission,
    query: &QueryPairs,
) -> Result<Json<Vec<Value>>, ApiError> {
    require(caller, permission)?;
    Ok(Json(state.documents().list(collection, &caller.tenant, query.iter()).await?))
}

pub(crate) async fn count(
    state: &AppState,
    caller: &ServiceCaller,
    collection: Collection,
    permission: Permission,
    query: &QueryPairs,
) -> Result<Json<u64>, ApiError> {
    require(caller, permission)?;
    Ok(Json(state.documents().count(collection, &caller.tenant, query.iter()).await?))
}

/// Records a change to a configuration collection (templates, notification and event
/// settings) in the audit trail; the recipients directory is data, not configuration, and is
/// not recorded there.
async fn audit(
    state: &AppState,
    caller: &ServiceCaller,
    collection: Collection,
    verb: &str,
    id: &str,
    changes: Value,
    source: Option<String>,
) -> Result<(), ApiError> {
    if !matches!(collection, Collection::Templates | Collection::NotificationSettings | Collection::EventSettings) {
        return Ok(());
    }
    let entry = AuditEntry {
        tenant: caller.tenant.clone(),
        actor: caller.actor().id,
        action: format!("{}.{verb}", collection.name()),
        target: format!("{}/{id}", collection.name()),
        changes,
        source,
    };
    Ok(herald_engine::audit::record(state.store(), state.clock(), entry).await?)
}

pub(crate) async fn create(
    state: &AppState,
    caller: &ServiceCaller,
    collection: Collection,
    permission: Permission,
    body: Value,
    source: Option<String>,
) -> Result<Json<Created>, ApiError> {
    require(caller, permission)?;
    let document = state.documents().create(collection, &caller.actor(), body.clone()).await?;
    audit(state, caller, collection, "create", &document.id, body, source).await?;
    Ok(Json(Created { id: document.id }))
}

pub(crate) async fn get(
    state: &AppState,
    caller: &ServiceCaller,
    collection: Collection,
    permission: Permission,
    id: &str,
) -> Result<Json<Value>, ApiError> {
    require(caller, permission)?;
    Ok(Json(state.documents().get(collection, &caller.tenant, id).await?.to_json()))
}

pub(crate) async fn patch(
    state: &AppState,
    caller: &ServiceCaller,
    collection: Collection,
    permission: Permission,
    id: &str,
    body: &Value,
    source: Option<String>,
) -> Result<Json<Value>, ApiError> {
    require(caller, permission)?;
    let document = state.documents().patch(collection, &caller.actor(), id, body).await?;
    audit(state, caller, collection, "update", id, body.clone(), source).await?;
    Ok(Json(document.to_json()))
}

pub(crate) async fn delete(
    state: &AppState,
    caller: &ServiceCaller,
    collection: Collection,
    permission: Permission,
    id: &str,
    source: Option<String>,
) -> Result<StatusCode, ApiError> {
    require(caller, permission)?;
    state.documents().delete(collection, &caller.tenant, id).await?;
    audit(state, caller, collection, "delete", id, Value::Object(Default::default()), source).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Defines the read handlers of one collection (list, count, get), documented for OpenAPI,
/// and a `reads()` router with them.
macro_rules! crud_reads {
    (tag = $tag:tt, collection = $collection:expr, read = $read:expr, list = $list:tt, count = $count:tt, item = $item:tt) => {
        use crate::error::{ApiError, ErrorBody};
        use crate::extract::QueryPairs;
        use crate::routes::crud::{self, ListParams};
        use crate::state::AppState;
        use axum::Json;
        use axum::extract::{Path, State};
        use herald_engine::access::ServiceCaller;
        use serde_json::Value;
        use utoipa_axum::router::OpenApiRouter;
        use utoipa_axum::routes;

        /// Lists documents (CRUD `GET /`).
        #[utoipa::path(get, path = $list, tag = $tag, params(ListParams), security(("apiKey" = [])), responses(
            (status = 200, description = "The matching documents", body = Vec<Object>),
            (status = 400, description = "Bad query", body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
        async fn list(State(state): State<AppState>, caller: ServiceCaller, query: QueryPairs) -> Result<Json<Vec<Value>>, ApiError> {
            crud::list(&state, &caller, $collection, $read, &query).await
        }

        /// Counts documents (CRUD `GET /count`); takes the same filters as the list.
        #[utoipa::path(get, path = $count, tag = $tag, params(("_q" = Option<String>, Query, description = "MongoDB-style filter")), security(("apiKey" = [])), responses(
            (status = 200, description = "How many documents match", body = u64),
            (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
        async fn count(State(state): State<AppState>, caller: ServiceCaller, query: QueryPairs) -> Result<Json<u64>, ApiError> {
            crud::count(&state, &caller, $collection, $read, &query).await
        }

        /// Reads one document (CRUD `GET /:id`).
        #[utoipa::path(get, path = $item, tag = $tag, params(("id" = String, Path, description = "The document's _id")), security(("apiKey" = [])), responses(
            (status = 200, description = "The document", body = Object),
            (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
        async fn get_one(State(state): State<AppState>, caller: ServiceCaller, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
            crud::get(&state, &caller, $collection, $read, &id).await
        }

        /// The collection's read routes.
        fn reads() -> OpenApiRouter<AppState> {
            OpenApiRouter::new().routes(routes!(list)).routes(routes!(count)).routes(routes!(get_one))
        }
    };
}

/// Defines the six CRUD handlers of one collection, documented for OpenAPI, and a `crud()`
/// router with them.
macro_rules! crud_resource {
    (tag = $tag:tt, collection = $collection:expr, schema = $schema:ty, read = $read:expr, write = $write:expr,
     list = $list:tt, count = $count:tt, item = $item:tt) => {
        crud_reads!(tag = $tag, collection = $collection, read = $read, list = $list, count = $count, item = $item);
        use crate::extract::{JsonBody, RequestSource};
        use crate::routes::crud::Created;
        use axum::http::StatusCode;

        /// Creates a document (CRUD `POST /`).
        #[utoipa::path(post, path = $list, tag = $tag, request_body = $schema, security(("apiKey" = [])), responses(
            (status = 200, description = "Created", body = Created),
            (status = 400, description = "Invalid document; the message names the field", body = ErrorBody),
            (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
            (status = 409, description = "A unique field is taken", body = ErrorBody), (status = 413, body = ErrorBody)))]
        async fn create(State(state): State<AppState>, caller: ServiceCaller, RequestSource(source): RequestSource, JsonBody(body): JsonBody) -> Result<Json<Created>, ApiError> {
            crud::create(&state, &caller, $collection, $write, body, source).await
        }

        /// Updates a document with `$set`, `$unset`, `$push`, `$pull`, `$addToSet` (a plain
        /// object is a `$set`); the result is validated whole (CRUD `PATCH /:id`).
        #[utoipa::path(patch, path = $item, tag = $tag, params(("id" = String, Path, description = "The document's _id")), request_body = Object, security(("apiKey" = [])), responses(
            (status = 200, description = "The updated document", body = Object),
            (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
            (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
        async fn patch(State(state): State<AppState>, caller: ServiceCaller, RequestSource(source): RequestSource, Path(id): Path<String>, JsonBody(body): JsonBody) -> Result<Json<Value>, ApiError> {
            crud::patch(&state, &caller, $collection, $write, &id, &body, source).await
        }

        /// Deletes a document (CRUD `DELETE /:id`).
        #[utoipa::path(delete, path = $item, tag = $tag, params(("id" = String, Path, description = "The document's _id")), security(("apiKey" = [])), responses(
            (status = 204, description = "Deleted"),
            (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
        async fn delete(State(state): State<AppState>, caller: ServiceCaller, RequestSource(source): RequestSource, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
            crud::delete(&state, &caller, $collection, $write, &id, source).await
        }

        /// The collection's CRUD routes.
        fn crud() -> OpenApiRouter<AppState> {
            reads().routes(routes!(create)).routes(routes!(patch, delete))
        }
    };
}
