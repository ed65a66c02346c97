//! Twilio webhooks, per tenant (the slug is in the path):
//!
//! - `POST /webhooks/twilio/{tenant}/inbound` — an SMS to the tenant's number (set it as the
//!   number's or Messaging Service's "A message comes in" webhook): STOP, START and HELP
//!   replies ([`herald_engine::sms_consent`]), answered with TwiML (`<Response><Message>…`
//!   or an empty `<Response/>`).
//! - `POST /webhooks/twilio/{tenant}/status` — status callbacks of SMS and calls
//!   ([`herald_engine::twilio_webhooks::status`]); Herald's Twilio providers ask for them
//!   when their `public_base` is set.
//!
//! Both take Twilio's form body and must carry `X-Twilio-Signature`, checked against the
//! auth token of each Twilio account of the tenant ([`herald_engine::twilio_webhooks::signers`]);
//! a missing or wrong signature is 403 and changes nothing. The signed URL is the account's
//! `public_base` followed by the request's path and query, or — without `public_base` — the
//! URL as Herald received it (`X-Forwarded-Proto`, else `http`, and `Host`): set `public_base`
//! when a proxy in front of Herald changes the scheme, host or path. An unknown tenant is 404
//! once the caller is proven; a reply without a valid `From` number is 400.

use crate::config::Config;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use herald_channels::twilio::{messaging_response, signature_matches};
use herald_core::values::E164;
use herald_engine::twilio_webhooks::{self, TwilioSigner, signer_of};
use herald_engine::{EngineError, sms_consent};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The Twilio accounts of the global configuration (`channels.sms`, `channels.voice`).
#[derive(Clone, Debug, Default)]
pub(crate) struct TwilioWebhooks {
    global: Vec<TwilioSigner>,
}

impl TwilioWebhooks {
    /// The signers the configured channels name.
    pub(crate) fn from_config(config: &Config) -> Self {
        Self { global: config.channels.values().filter_map(signer_of).collect() }
    }
}

/// A proven webhook: its form parameters.
async fn proven(
    state: &AppState,
    tenant: &str,
    uri: &OriginalUri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Vec<(String, String)>, ApiError> {
    let given = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::forbidden("X-Twilio-Signature: the signature is missing"))?;
    let params: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|_| ApiError::bad_request("body: must be a form (application/x-www-form-urlencoded)"))?;
    let signers = twilio_webhooks::signers(state.tenant_providers(), tenant, &state.twilio().global).await?;
    let path = uri.0.path_and_query().map_or_else(|| uri.0.path().to_string(), ToString::to_string);
    let received = received_url(headers, &path);
    let matches = signers.iter().any(|signer| {
        let url = signer.public_base.as_ref().map_or_else(|| received.clone(), |base| format!("{}{path}", base.trim_end_matches('/')));
        signature_matches(&signer.auth_token, &url, &params, given)
    });
    if !matches {
        return Err(ApiError::forbidden("X-Twilio-Signature: the signature does not match"));
    }
    Ok(params)
}

/// The URL of the request as Herald received it.
fn received_url(headers: &HeaderMap, path: &str) -> String {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let scheme = header("x-forwarded-proto").and_then(|p| p.split(',').next()).map_or("http", str::trim);
    format!("{scheme}://{}{path}", header("host").unwrap_or_default())
}

/// Takes an SMS sent to the tenant's Twilio number: STOP, START and HELP are applied and
/// answered with TwiML.
#[utoipa::path(post, path = "/webhooks/twilio/{tenant}/inbound", tag = "callbacks",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "Twilio's inbound message parameters (`From`, `Body`, …)"),
    params(("tenant" = String, Path, description = "The tenant's slug"),
        ("X-Twilio-Signature" = String, Header, description = "Base64 HMAC-SHA1 of the URL and sorted parameters under the auth token")),
    responses((status = 200, description = "TwiML", body = String, content_type = "application/xml"),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn inbound(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = proven(&state, &tenant, &uri, &headers, &body).await?;
    let param = |name: &str| params.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
    let from =
        param("From").and_then(|from| E164::parse(from).ok()).ok_or_else(|| ApiError::bad_request("From: must be an E.164 number"))?;
    let source = Some("twilio".to_string());
    let reply = sms_consent::receive(state.store(), state.clock(), &tenant, &from, param("Body").unwrap_or_default(), source).await?;
    Ok(([(header::CONTENT_TYPE, "application/xml")], messaging_response(reply.as_deref())).into_response())
}

/// Takes a status callback of an SMS or a call.
#[utoipa::path(post, path = "/webhooks/twilio/{tenant}/status", tag = "callbacks",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`MessageSid` + `MessageStatus`, or `CallSid` + `CallStatus`"),
    params(("tenant" = String, Path, description = "The tenant's slug"),
        ("X-Twilio-Signature" = String, Header, description = "Base64 HMAC-SHA1 of the URL and sorted parameters under the auth token")),
    responses((status = 200, description = "Received"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn status(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let params = proven(&state, &tenant, &uri, &headers, &body).await?;
    twilio_webhooks::status(state.store(), &tenant, &params, state.clock().now()).await.map_err(|error| match error {
        EngineError::NotFound(_) => ApiError::not_found("tenant not found"),
        other => other.into(),
    })?;
    Ok(StatusCode::OK)
}

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(inbound)).routes(routes!(status))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(pairs: &[(&str, &str)]) -> Config {
        Config::load(None, pairs.iter().map(|(k, v)| (k.to_string(), v.to_string()))).unwrap()
    }

    #[test]
    fn twilio_settings_and_safeguards_are_read_from_the_environment() {
        let config = load(&[
            ("HERALD_CHANNELS__SMS__TYPE", "twilio"),
            ("HERALD_CHANNELS__SMS__ACCOUNT_SID", "AC0123456789abcdef0123456789abcdef"),
            ("HERALD_CHANNELS__SMS__AUTH_TOKEN", "sms-token"),
            ("HERALD_CHANNELS__SMS__MESSAGING_SERVICE_SID", "MG9752274e9e519418a7406176694466fa"),
            ("HERALD_CHANNELS__SMS__PUBLIC_BASE", "https://herald.example.org"),
            ("HERALD_CHANNELS__VOICE__TYPE", "twilio_voice"),
            ("HERALD_CHANNELS__VOICE__ACCOUNT_SID", "AC0123456789abcdef0123456789abcdef"),
            ("HERALD_CHANNELS__VOICE__AUTH_TOKEN", "voice-token"),
            ("HERALD_CHANNELS__VOICE__FROM", "+14155550100"),
            ("HERALD_CHANNELS__VOICE__REPEAT", "2"),
            ("HERALD_DELIVERY__SMS_SAFEGUARDS__MAX_PER_WINDOW", "4"),
            ("HERALD_DELIVERY__SMS_SAFEGUARDS__ENABLED", "false"),
        ]);
        let webhooks = TwilioWebhooks::from_config(&config);
        let tokens: Vec<(&str, Option<&str>)> = webhooks.global.iter().map(|s| (s.auth_token.expose(), s.public_base.as_deref())).collect();
        assert_eq!(tokens, [("sms-token", Some("https://herald.example.org")), ("voice-token", None)]);
        assert_eq!((config.delivery.sms_safeguards.max_per_window, config.delivery.sms_safeguards.enabled), (4, false));
        assert_eq!(config.delivery.sms_safeguards.window_seconds, 3600, "unset keys keep their defaults");
        assert!(TwilioWebhooks::from_config(&load(&[])).global.is_empty());
        let Some(herald_channels::ProviderConfig::TwilioVoice(voice)) =
            config.channels.get(&herald_core::resources::channel::Channel::Voice)
        else {
            panic!("a Twilio voice provider")
        };
        assert_eq!((voice.from.as_str(), voice.repeat), ("+14155550100", 2), "an E.164 number keeps its + from the environment");
    }
}
