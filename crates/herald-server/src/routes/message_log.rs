//! `GET /api/v1/notifications/logs`: the message log (seed 05's email log, for every
//! channel), newest first, paged with `page`/`page_size`, under `notifications.logs.read`.
//! Addresses are masked unless the key's role is `admin`.

use crate::auth::require;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use herald_core::access::Permission;
use herald_engine::EngineError;
use herald_engine::access::ServiceCaller;
use herald_engine::message_log::{MAX_PAGE_SIZE, entry_json, stored_statuses};
use herald_store::MessageLogQuery;
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Filters and paging of the log.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct LogParams {
    /// The page, from 1.
    page: Option<u64>,
    /// Entries per page (default 20, at most 100).
    page_size: Option<u32>,
    /// `pending`, `sent`, `failed`, `skipped`, `delivered`, `read`, `bounced` or `complained`.
    status: Option<String>,
    /// Only messages to this recipient (user id).
    patient_id: Option<String>,
    /// Only this channel.
    channel: Option<String>,
    /// Only this template (`template_key`).
    template_key: Option<String>,
    /// Only messages triggered by this event type.
    event: Option<String>,
    /// Only messages created at or after this instant (RFC 3339).
    from: Option<String>,
    /// Only messages created before this instant (RFC 3339).
    to: Option<String>,
}

/// A page of the log: `{"items": […], "total", "page", "page_size"}`.
#[utoipa::path(get, path = "/api/v1/notifications/logs", tag = "message log", params(LogParams), security(("apiKey" = [])), responses(
    (status = 200, description = "A page of the log", body = Object), (status = 400, body = ErrorBody),
    (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    caller: ServiceCaller,
    params: Result<Query<LogParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    require(&caller, Permission::LogsRead)?;
    let Query(params) = params.map_err(|e| ApiError::bad_request(format!("query: {}", e.body_text())))?;
    let instant = |name: &str, value: Option<String>| {
        value.map(|v| v.parse::<Timestamp>().map_err(|_| ApiError::bad_request(format!("{name}: must be an RFC 3339 instant")))).transpose()
    };
    if let Some(channel) = &params.channel {
        serde_json::from_value::<herald_core::resources::channel::Channel>(json!(channel))
            .map_err(|_| ApiError::bad_request("channel: must be one of email, sms, push, voice, whatsapp, in_app, webhook"))?;
    }
    let page = params.page.unwrap_or(1);
    if page == 0 {
        return Err(ApiError::bad_request("page: must be 1 or more"));
    }
    let page_size = params.page_size.unwrap_or(20).clamp(1, MAX_PAGE_SIZE);
    let query = MessageLogQuery {
        statuses: params.status.as_deref().map(stored_statuses).transpose().map_err(EngineError::from)?.unwrap_or_default(),
        recipient: params.patient_id,
        channel: params.channel,
        template_name: params.template_key,
        event_name: params.event,
        since: instant("from", params.from)?,
        until: instant("to", params.to)?,
        offset: (page - 1).saturating_mul(u64::from(page_size)),
        limit: page_size,
    };
    let (entries, total) = herald_engine::message_log::list(state.store(), &caller.tenant, query).await?;
    let reveal = caller.may(Permission::Admin);
    let items: Vec<Value> = entries.iter().map(|entry| entry_json(entry, reveal)).collect();
    Ok(Json(json!({"items": items, "total": total, "page": page, "page_size": page_size})))
}

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}
