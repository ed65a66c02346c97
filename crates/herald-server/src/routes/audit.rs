//! `GET /api/v1/audit`: the tenant's audit trail, newest first, for its admins only. There is
//! no route that changes or deletes an entry.

use crate::auth::require;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Query, State};
use herald_core::access::Permission;
use herald_core::document::format_timestamp;
use herald_engine::access::ServiceCaller;
use herald_store::AuditQuery;
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Filters and paging of the trail.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct AuditParams {
    /// Only this action (`templates.update`, `quiet_hours.bypass`, …).
    action: Option<String>,
    /// Only this actor (`apikey:<id>`, `user:<id>`, `cli`).
    actor: Option<String>,
    /// Only this target (`templates/<id>`, `tenant`, …).
    target: Option<String>,
    /// Only entries at or after this instant (RFC 3339).
    since: Option<String>,
    /// Only entries before this instant (RFC 3339).
    until: Option<String>,
    /// The previous page's `next` cursor.
    before: Option<i64>,
    /// Most entries (default 100, at most 500).
    limit: Option<u32>,
}

/// The tenant's audit entries, newest first: `{"entries": [{id, at, actor, action, target,
/// changes, source}], "next": <cursor or null>}`.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditParams), security(("apiKey" = [])), responses(
    (status = 200, description = "A page of the trail", body = Object), (status = 400, body = ErrorBody),
    (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    caller: ServiceCaller,
    params: Result<Query<AuditParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    require(&caller, Permission::Admin)?;
    let Query(params) = params.map_err(|e| ApiError::bad_request(format!("query: {}", e.body_text())))?;
    let instant = |name: &str, value: Option<String>| {
        value.map(|v| v.parse::<Timestamp>().map_err(|_| ApiError::bad_request(format!("{name}: must be an RFC 3339 instant")))).transpose()
    };
    let limit = params.limit.unwrap_or(100);
    let query = AuditQuery {
        action: params.action,
        actor: params.actor,
        target: params.target,
        since: instant("since", params.since)?,
        until: instant("until", params.until)?,
        before_seq: params.before,
        limit,
    };
    let entries = herald_engine::audit::list(state.store(), &caller.tenant, query).await?;
    let next = (entries.len() as u32 >= limit.clamp(1, herald_engine::audit::MAX_PAGE)).then(|| entries.last().map(|e| e.seq)).flatten();
    let entries: Vec<Value> = entries
        .into_iter()
        .map(|e| json!({"id": e.id, "at": format_timestamp(e.at), "actor": e.actor, "action": e.action, "target": e.target, "changes": e.changes, "source": e.source}))
        .collect();
    Ok(Json(json!({"entries": entries, "next": next})))
}

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}
