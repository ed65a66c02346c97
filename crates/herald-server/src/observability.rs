//! Logs, request ids and metrics. Log lines carry the method, the route template (never the
//! raw path or query, which may hold identifiers or contact details), the status, the latency
//! and the request id.

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use rand::RngCore;
use std::sync::OnceLock;
use std::time::Instant;
use tower_http::request_id::{MakeRequestId, RequestId};

/// The header carrying the request id, taken from the client or generated.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Generates random request ids.
#[derive(Clone, Copy, Default)]
pub struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let mut bytes = [0u8; 8];
        rand::rng().fill_bytes(&mut bytes);
        let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        HeaderValue::from_str(&id).ok().map(RequestId::new)
    }
}

/// The process-wide Prometheus recorder (metrics are global in the `metrics` crate, so every
/// app in a process shares one).
pub fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| PrometheusBuilder::new().install_recorder().expect("the metrics recorder is installed once"))
}

/// The route template of a request, or `unmatched`.
pub fn route_of<B>(request: &axum::http::Request<B>) -> String {
    request.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string())
}

/// Counts requests and times them, labelled by method, route template and status.
pub async fn record_metrics(request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let route = route_of(&request);
    let started = Instant::now();
    let response = next.run(request).await;
    let labels = [("method", method), ("route", route), ("status", response.status().as_u16().to_string())];
    metrics::counter!("herald_http_requests_total", &labels).increment(1);
    metrics::histogram!("herald_http_request_duration_seconds", &labels).record(started.elapsed().as_secs_f64());
    response
}
