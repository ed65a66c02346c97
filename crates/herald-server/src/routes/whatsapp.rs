//! WhatsApp webhooks, per tenant (the slug is in the path): message statuses move Herald's
//! messages on, and inbound messages open the sender's customer-service window
//! ([`herald_engine::delivery::whatsapp`]). Which routes work follows `channels.whatsapp`:
//!
//! - `whatsapp_cloud`: `GET /webhooks/whatsapp/{tenant}` answers Meta's subscription check
//!   (`hub.mode=subscribe`, `hub.verify_token` = the configured `verify_token`, the answer is
//!   `hub.challenge`; anything else is 403), and `POST /webhooks/whatsapp/{tenant}` takes
//!   callbacks signed `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body under the
//!   app secret>` — missing is 401, wrong is 403, and nothing is changed either way.
//! - `360dialog`: `POST /webhooks/360dialog/{tenant}/{token}`, where `token` is the tenant's
//!   token derived from `webhook_secret` ([`herald_channels::whatsapp::tenant_token`]), because
//!   360dialog does not sign the webhooks of a number; a wrong token is 403.
//!
//! A route whose provider is not configured (or has no webhook secret) answers 404. The body is
//! Meta's webhook payload in both cases; an unknown tenant is 404 once the caller is proven.

use crate::config::Config;
use crate::error::{ApiError, ErrorBody};
use crate::extract::QueryPairs;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use herald_channels::ProviderConfig;
use herald_channels::whatsapp::{self, CLOUD_SERVICE, DIALOG360_SERVICE};
use herald_core::resources::channel::Channel;
use herald_core::secrets::Secret;
use herald_engine::delivery::whatsapp::receive;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The webhook secrets of the configured WhatsApp provider.
#[derive(Clone, Debug, Default)]
pub(crate) struct WhatsappWebhooks {
    cloud_app_secret: Option<Secret>,
    cloud_verify_token: Option<Secret>,
    dialog360_secret: Option<Secret>,
}

impl WhatsappWebhooks {
    /// The secrets `channels.whatsapp` names.
    pub(crate) fn from_config(config: &Config) -> Self {
        match config.channels.get(&Channel::Whatsapp) {
            Some(ProviderConfig::WhatsappCloud(cloud)) => {
                Self { cloud_app_secret: cloud.app_secret.clone(), cloud_verify_token: cloud.verify_token.clone(), ..Self::default() }
            }
            Some(ProviderConfig::Dialog360(dialog)) => Self { dialog360_secret: dialog.webhook_secret.clone(), ..Self::default() },
            _ => Self::default(),
        }
    }
}

fn not_configured(which: &str) -> ApiError {
    ApiError::not_found(format!("{which} webhooks are not configured"))
}

/// Answers the WhatsApp Cloud API's webhook verification with `hub.challenge` when
/// `hub.mode` is `subscribe` and `hub.verify_token` matches the configured token.
#[utoipa::path(get, path = "/webhooks/whatsapp/{tenant}", tag = "callbacks",
    params(("tenant" = String, Path, description = "The tenant's slug"),
        ("hub.mode" = String, Query, description = "`subscribe`"),
        ("hub.verify_token" = String, Query, description = "The verify token set in the Meta app"),
        ("hub.challenge" = String, Query, description = "What to answer")),
    responses((status = 200, description = "The challenge", body = String, content_type = "text/plain"),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn cloud_verification(State(state): State<AppState>, Path(tenant): Path<String>, query: QueryPairs) -> Result<String, ApiError> {
    let expected = state.whatsapp().cloud_verify_token.as_ref().ok_or_else(|| not_configured("WhatsApp Cloud API"))?;
    let param = |name: &str| query.iter().find(|(key, _)| *key == name).map(|(_, value)| value);
    let matches = param("hub.verify_token").is_some_and(|given| whatsapp::same_secret(expected, given));
    if param("hub.mode") != Some("subscribe") || !matches {
        return Err(ApiError::forbidden("hub.verify_token: does not match"));
    }
    if state.store().find_tenant(&tenant).await.map_err(herald_engine::EngineError::from)?.is_none() {
        return Err(ApiError::not_found("tenant not found"));
    }
    Ok(param("hub.challenge").unwrap_or_default().to_string())
}

/// Takes a WhatsApp Cloud API webhook: statuses of sent messages and inbound messages,
/// signed with the app secret.
#[utoipa::path(post, path = "/webhooks/whatsapp/{tenant}", tag = "callbacks", request_body = Object,
    params(("tenant" = String, Path, description = "The tenant's slug"),
        ("X-Hub-Signature-256" = String, Header, description = "`sha256=` and the hex HMAC-SHA256 of the body under the app secret")),
    responses((status = 200, description = "Received"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn cloud_callback(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let secret = state.whatsapp().cloud_app_secret.as_ref().ok_or_else(|| not_configured("WhatsApp Cloud API"))?;
    let signature = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::unauthorized("X-Hub-Signature-256: the signature is missing"))?;
    if !whatsapp::signature_matches(secret.expose().as_bytes(), &body, signature) {
        return Err(ApiError::forbidden("X-Hub-Signature-256: the signature does not match"));
    }
    take(&state, &tenant, CLOUD_SERVICE, &body).await
}

/// Takes a 360dialog webhook (Meta's payload) at the tenant's secret URL.
#[utoipa::path(post, path = "/webhooks/360dialog/{tenant}/{token}", tag = "callbacks", request_body = Object,
    params(("tenant" = String, Path, description = "The tenant's slug"),
        ("token" = String, Path, description = "The tenant's webhook token, derived from `webhook_secret`")),
    responses((status = 200, description = "Received"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn dialog360_callback(
    State(state): State<AppState>,
    Path((tenant, token)): Path<(String, String)>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let secret = state.whatsapp().dialog360_secret.as_ref().ok_or_else(|| not_configured("360dialog"))?;
    if !whatsapp::tenant_token_matches(secret, &tenant, &token) {
        return Err(ApiError::forbidden("token: does not match"));
    }
    take(&state, &tenant, DIALOG360_SERVICE, &body).await
}

/// Applies a proven webhook body.
async fn take(state: &AppState, tenant: &str, service: &str, body: &[u8]) -> Result<StatusCode, ApiError> {
    let report = whatsapp::read_webhook(body).map_err(|e| ApiError::bad_request(format!("body: {e}")))?;
    receive(state.store(), tenant, service, &report, state.clock().now()).await?;
    Ok(StatusCode::OK)
}

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(cloud_verification, cloud_callback)).routes(routes!(dialog360_callback))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(pairs: &[(&str, &str)]) -> WhatsappWebhooks {
        let config = Config::load(None, pairs.iter().map(|(k, v)| (k.to_string(), v.to_string()))).unwrap();
        WhatsappWebhooks::from_config(&config)
    }

    #[test]
    fn the_webhook_secrets_come_from_the_whatsapp_provider_configuration() {
        let cloud = load(&[
            ("HERALD_CHANNELS__WHATSAPP__TYPE", "whatsapp_cloud"),
            ("HERALD_CHANNELS__WHATSAPP__PHONE_NUMBER_ID", "106540352242922"),
            ("HERALD_CHANNELS__WHATSAPP__ACCESS_TOKEN", "EAAG"),
            ("HERALD_CHANNELS__WHATSAPP__APP_SECRET", "app-secret"),
            ("HERALD_CHANNELS__WHATSAPP__VERIFY_TOKEN", "verify-me"),
        ]);
        assert_eq!(cloud.cloud_app_secret, Some(Secret::new("app-secret")));
        assert_eq!(cloud.cloud_verify_token, Some(Secret::new("verify-me")));
        assert_eq!(cloud.dialog360_secret, None);
        let dialog = load(&[
            ("HERALD_CHANNELS__WHATSAPP__TYPE", "360dialog"),
            ("HERALD_CHANNELS__WHATSAPP__API_KEY", "d360"),
            ("HERALD_CHANNELS__WHATSAPP__WEBHOOK_SECRET", "hook-secret"),
        ]);
        assert_eq!((dialog.cloud_app_secret, dialog.dialog360_secret), (None, Some(Secret::new("hook-secret"))));
        assert!(load(&[]).cloud_app_secret.is_none());
        let missing = Config::load(None, vec![("HERALD_CHANNELS__WHATSAPP__TYPE".to_string(), "whatsapp_cloud".to_string())]);
        assert!(missing.unwrap_err().to_string().contains("phone_number_id"), "a missing setting is named");
    }
}
