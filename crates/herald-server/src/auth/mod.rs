//! Authentication. Services present an API key (`Authorization: Bearer hk_…`) and act with
//! its role's permissions; end users present a JWT (or arrive through a trusted gateway) and
//! act as themselves. Either way the tenant comes from the credential, never from the request.

mod end_user;
mod service;

pub use end_user::{EndUser, EndUserAuth};
pub use service::require;

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;

/// The token of an `Authorization: Bearer …` header, if there is one.
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}
