//! Liveness, readiness and metrics, open to every caller (they reveal no tenant data).

use crate::error::ErrorBody;
use crate::observability::prometheus;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use herald_engine::provider_health::Health;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "Alive", body = Object)))]
async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// The process can serve: its database answers. `providers` lists every configured provider
/// (global, and each tenant's by tenant, id and type) with its last background health check;
/// a failing provider leaves Herald ready (messages queue and retry) and shows as
/// `checks.providers: "degraded"` (`"unchecked"` before the first check).
#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, description = "Ready", body = Object),
    (status = 503, description = "The database does not answer", body = ErrorBody)))]
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let report = state.provider_health().report();
    let providers = match &report {
        None => "unchecked",
        Some(statuses) if statuses.iter().any(|s| s.status == Health::Failing) => "degraded",
        Some(_) => "ok",
    };
    let details = report.unwrap_or_default();
    match state.store().ping().await {
        Ok(()) => {
            (StatusCode::OK, Json(json!({"status": "ready", "checks": {"database": "ok", "providers": providers}, "providers": details})))
        }
        Err(error) => {
            tracing::warn!(%error, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"statusCode": "503", "error": "Service Unavailable", "message": "the database does not answer",
                    "checks": {"database": "failing", "providers": providers}, "providers": details})),
            )
        }
    }
}

/// Prometheus metrics: request counts and latencies by method, route template and status.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")))]
async fn metrics() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], prometheus().render())
}

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
        .routes(routes!(crate::routes::openapi::openapi_json))
}
