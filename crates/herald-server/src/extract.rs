//! Request extractors whose rejections use the seeds' error shape.

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde_json::Value;
use std::net::SocketAddr;

/// A JSON request body, whatever its content type says (curl's default form type included).
/// Malformed JSON is a 400 that says where; a body over the limit is a 413.
pub struct JsonBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "body: the request body is larger than the configured limit")
            } else {
                ApiError::bad_request("body: the request body could not be read")
            }
        })?;
        if bytes.is_empty() {
            return Err(ApiError::bad_request("body: a JSON body is required"));
        }
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::bad_request(format!("body: malformed JSON ({})", json_error_position(&e))))
    }
}

fn json_error_position(error: &serde_json::Error) -> String {
    let what = match error.classify() {
        serde_json::error::Category::Eof => "unexpected end",
        serde_json::error::Category::Syntax => "syntax error",
        _ => "invalid data",
    };
    format!("{what} at line {} column {}", error.line(), error.column())
}

/// The query string as ordered name/value pairs, repeats kept (`_s=a&_s=b`).
pub struct QueryPairs(pub Vec<(String, String)>);

impl QueryPairs {
    /// The pairs as borrowed strings.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        serde_urlencoded::from_str(query).map(QueryPairs).map_err(|_| ApiError::bad_request("query: the query string is malformed"))
    }
}

/// Where a request came from, as the audit trail records it: the peer address, the first
/// `X-Forwarded-For` hop when a proxy set one (recorded, not trusted), and the user agent.
pub struct RequestSource(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for RequestSource {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty());
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| format!("peer={}", addr.ip()));
        let forwarded = header("x-forwarded-for").and_then(|v| v.split(',').next()).map(|hop| format!("forwarded-for={}", hop.trim()));
        let agent = header("user-agent").map(|agent| format!("user-agent={agent}"));
        let parts: Vec<String> = [peer, forwarded, agent].into_iter().flatten().collect();
        let mut source = parts.join("; ");
        source.truncate(source.char_indices().nth(300).map_or(source.len(), |(i, _)| i));
        Ok(RequestSource((!source.is_empty()).then_some(source)))
    }
}
