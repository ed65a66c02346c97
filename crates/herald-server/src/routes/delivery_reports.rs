//! `POST /api/v1/delivery-reports`: delivery reports from a tenant's own systems, for the
//! channels whose service has no webhook of its own — an SMTP relay that learns a mail was
//! delivered or bounced, a mobile app that acknowledges a push it received, a clinic app that
//! shows an in-app message. Providers with their own signed webhooks (Twilio, WhatsApp, SES
//! through SNS) report through those instead.
//!
//! The body is one report or a list of at most [`MAX_REPORTS`]:
//! `{"service": "smtp", "providerMessageId": "…", "status": "delivered", "detail": "…"}`, where
//! `service` and `providerMessageId` are the message's `service` and `providerMessageId` as
//! `GET /notifications/:id` shows them, and `status` is `delivered`, `read`, `failed`,
//! `bounced` or `complained`. A report finds only the caller's tenant's messages and moves a
//! message forward only (a late or repeated report changes nothing). The answer lists, per
//! report, `applied`, `unchanged` or `unknown`. Needs `notifications.reports.write` (roles
//! `integration` and `admin`). A malformed list is refused whole, with nothing applied.

use crate::auth::require;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use herald_core::access::Permission;
use herald_core::notification::MessageStatus;
use herald_engine::access::ServiceCaller;
use herald_engine::callbacks;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Most reports one request carries.
pub const MAX_REPORTS: usize = 500;

/// Longest `detail` kept, in characters.
const MAX_DETAIL: usize = 500;

/// One report as posted.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Report {
    service: String,
    provider_message_id: String,
    status: String,
    #[serde(default)]
    detail: Option<String>,
}

/// One report, or a list of them.
#[derive(Deserialize)]
#[serde(untagged)]
enum Reports {
    One(Report),
    Many(Vec<Report>),
}

/// Applies delivery reports about the tenant's messages.
#[utoipa::path(post, path = "/api/v1/delivery-reports", tag = "callbacks", request_body = Object, security(("apiKey" = [])),
    responses(
    (status = 200, description = "What each report did: `{\"results\": [{\"providerMessageId\", \"outcome\"}]}`", body = Object),
    (status = 400, description = "A malformed report; nothing applied", body = ErrorBody),
    (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn post_reports(
    State(state): State<AppState>,
    caller: ServiceCaller,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    require(&caller, Permission::ReportsWrite)?;
    let Json(body) = body.map_err(|e| ApiError::bad_request(format!("body: {}", e.body_text())))?;
    let reports = match serde_json::from_value::<Reports>(body) {
        Ok(Reports::One(report)) => vec![report],
        Ok(Reports::Many(reports)) => reports,
        Err(_) => {
            return Err(ApiError::bad_request(
                "body: a report {service, providerMessageId, status, detail?} or a list of them, with no other fields",
            ));
        }
    };
    if reports.is_empty() || reports.len() > MAX_REPORTS {
        return Err(ApiError::bad_request(format!("body: from 1 to {MAX_REPORTS} reports")));
    }
    let checked = reports.into_iter().enumerate().map(|(i, report)| checked(i, report)).collect::<Result<Vec<_>, _>>()?;
    let mut results = Vec::with_capacity(checked.len());
    for (report, status) in checked {
        let detail = report.detail.map(|d| d.chars().take(MAX_DETAIL).collect());
        let at = state.clock().now();
        let outcome =
            callbacks::apply_in_tenant(state.store(), &caller.tenant, &report.service, &report.provider_message_id, status, detail, at)
                .await?;
        let outcome = match outcome {
            Some(applied) if applied.applied => "applied",
            Some(_) => "unchanged",
            None => "unknown",
        };
        results.push(json!({"providerMessageId": report.provider_message_id, "outcome": outcome}));
    }
    Ok(Json(json!({"results": results})))
}

/// The report with its status read, or the 400 naming what is wrong with report `index`.
fn checked(index: usize, report: Report) -> Result<(Report, MessageStatus), ApiError> {
    let status = match report.status.as_str() {
        "delivered" => MessageStatus::Delivered,
        "read" => MessageStatus::Read,
        "failed" => MessageStatus::Failed,
        "bounced" => MessageStatus::Bounced,
        "complained" => MessageStatus::Complained,
        _ => {
            return Err(ApiError::bad_request(format!("[{index}].status: must be one of delivered, read, failed, bounced, complained")));
        }
    };
    if report.service.trim().is_empty() || report.provider_message_id.trim().is_empty() {
        return Err(ApiError::bad_request(format!("[{index}].providerMessageId: service and providerMessageId must not be empty")));
    }
    Ok((report, status))
}

/// The route.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(post_reports))
}
