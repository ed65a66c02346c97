//! SES events through SNS: `POST /webhooks/ses/{tenant}` is the HTTPS endpoint of an SNS
//! subscription to the topic an SES configuration set publishes its events to (delivery,
//! bounce, complaint, reject, rendering failure, open).
//!
//! - The route answers only for the topics listed in `email.sns_topic_arns`; with none listed
//!   it is 404 (not configured). A valid SNS signature proves only that SNS sent the message,
//!   and anyone with an AWS account can make SNS sign deliveries from a topic of their own, so
//!   the topic is what ties a delivery to this Herald's SES.
//! - Every delivery's SNS signature is verified before anything else is read
//!   ([`herald_channels::SnsVerifier`]: SignatureVersion 1 or 2, the certificate fetched from
//!   `SigningCertURL` on an allowed origin and cached): a body that is not an SNS message is
//!   400, a bad or untrusted signature or a topic not listed 403, a certificate that cannot be
//!   fetched 503 (SNS retries); nothing changes in any of these cases. Replaying a genuine
//!   delivery changes nothing either: statuses only move forward.
//! - `SubscriptionConfirmation`: Herald GETs `SubscribeURL` (only on an allowed origin), so the
//!   subscription needs no manual step; `UnsubscribeConfirmation` is acknowledged and ignored.
//! - `Notification`: its `Message` is an SES event, applied by [`herald_engine::callbacks`] to
//!   the message SES knows by `mail.messageId` (service `ses`); see
//!   [`herald_channels::SesReport`] for the mapping. An event about no known message, or one
//!   that changes no status, is acknowledged (200) so SNS does not retry it.
//!
//! Settings (`[email]`): `sns_certificate_origins` — origins trusted for `SigningCertURL` and
//! `SubscribeURL` (`https://host[:port]`), by default any `https://sns.<region>.amazonaws.com`;
//! `sns_topic_arns` — the topics accepted (required).

use crate::config::Config;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use herald_channels::{SnsError, SnsMessage, SnsVerifier, read_ses_event};
use herald_engine::callbacks;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The service name SES's messages are recorded with.
const SERVICE: &str = "ses";

/// What SES webhooks are checked with.
#[derive(Clone, Debug)]
pub(crate) struct SesWebhooks {
    verifier: SnsVerifier,
    topic_arns: Vec<String>,
}

impl SesWebhooks {
    /// The verifier and topics `[email]` names.
    pub(crate) fn from_config(config: &Config) -> anyhow::Result<Self> {
        let verifier = SnsVerifier::new(config.email.sns_certificate_origins.clone())
            .map_err(|e| anyhow::anyhow!("email.sns_certificate_origins: {e}"))?;
        Ok(Self { verifier, topic_arns: config.email.sns_topic_arns.clone() })
    }
}

/// Takes an SNS delivery carrying SES events, or confirming the subscription.
#[utoipa::path(post, path = "/webhooks/ses/{tenant}", tag = "callbacks", request_body(content = String, content_type = "text/plain",
        description = "The SNS message (JSON sent as text/plain)"),
    params(("tenant" = String, Path, description = "The tenant's slug")),
    responses((status = 200, description = "Received"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn sns_callback(State(state): State<AppState>, Path(tenant): Path<String>, body: Bytes) -> Result<StatusCode, ApiError> {
    let webhooks = state.ses();
    if webhooks.topic_arns.is_empty() {
        return Err(ApiError::not_found("SES webhooks are not configured (email.sns_topic_arns)"));
    }
    let message: SnsMessage = serde_json::from_slice(&body).map_err(|_| ApiError::bad_request("body: is not an SNS message"))?;
    webhooks.verifier.verify(&message).await.map_err(refused)?;
    if !webhooks.topic_arns.contains(&message.topic_arn) {
        return Err(ApiError::forbidden("TopicArn: is not an accepted topic"));
    }
    if state.store().find_tenant(&tenant).await.map_err(herald_engine::EngineError::from)?.is_none() {
        return Err(ApiError::not_found("tenant not found"));
    }
    match message.kind.as_str() {
        "SubscriptionConfirmation" => {
            webhooks.verifier.confirm(&message).await.map_err(refused)?;
            tracing::info!(tenant, topic = %message.topic_arn, "SNS subscription confirmed");
        }
        "Notification" => {
            let report = read_ses_event(&message.message).map_err(|e| ApiError::bad_request(format!("Message: {e}")))?;
            if let Some(report) = report {
                let at = state.clock().now();
                let applied = callbacks::apply(state.store(), SERVICE, &report.message_id, report.status, report.detail, at).await?;
                if applied.is_none() {
                    tracing::info!(tenant, "an SES event about an unknown message was ignored");
                }
            }
        }
        _ => {}
    }
    Ok(StatusCode::OK)
}

fn refused(error: SnsError) -> ApiError {
    match error {
        SnsError::Forged(reason) => ApiError::forbidden(format!("Signature: {reason}")),
        SnsError::Unavailable(reason) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, reason),
    }
}

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(sns_callback))
}
