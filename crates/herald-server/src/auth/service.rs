use super::bearer_token;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use herald_core::access::Permission;
use herald_engine::access::{ServiceCaller, authenticate_key};

impl FromRequestParts<AppState> for ServiceCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let secret =
            bearer_token(&parts.headers).ok_or_else(|| ApiError::unauthorized("an API key is required: Authorization: Bearer <key>"))?;
        Ok(authenticate_key(state.store(), secret).await?)
    }
}

/// Refuses with 403 unless the caller's role grants `permission`.
pub fn require(caller: &ServiceCaller, permission: Permission) -> Result<(), ApiError> {
    if caller.may(permission) {
        return Ok(());
    }
    let name = serde_json::to_value(permission).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    Err(ApiError::forbidden(format!("the API key's role ({}) does not grant {name}", caller.role.as_str())))
}
