//! Who may sign a tenant's Twilio webhooks, and what a status callback changes.
//!
//! Twilio signs a webhook with the auth token of the account that sent the message, so the
//! accounts of a tenant are its own enabled `twilio` / `twilio_voice` provider entries
//! ([`crate::tenant_providers`]) when it has any, else the global `channels.sms` /
//! `channels.voice` Twilio providers. A webhook is proven when its signature matches one of
//! them (the route checks it, with the account's `public_base` to rebuild the URL Twilio
//! called).
//!
//! A status callback (`MessageStatus` of an SMS, `CallStatus` of a call) moves its message
//! forward through [`crate::callbacks::apply_in_tenant`] — only a message of the tenant in the
//! URL, which is the tenant Herald named in the message's `StatusCallback`, so a tenant's own
//! Twilio account cannot report on another tenant's messages: `delivered`/`read`, `undelivered`/`failed`;
//! a call that `completed` is delivered, one ended `busy`, `no-answer`, `failed` or `canceled`
//! failed. Intermediate statuses (`queued`, `sending`, `ringing`, …) and reports about
//! messages Herald did not send change nothing.

use crate::tenant_providers::TenantProviders;
use crate::{EngineError, callbacks};
use herald_channels::ProviderConfig;
use herald_channels::twilio::status_report;
use herald_core::secrets::Secret;
use herald_store::Store;
use jiff::Timestamp;
use std::sync::Arc;

/// A Twilio account whose webhooks Herald accepts.
#[derive(Clone, Debug)]
pub struct TwilioSigner {
    /// The account's auth token, which signs its webhooks.
    pub auth_token: Secret,
    /// Herald's public base URL as that account's settings give it.
    pub public_base: Option<String>,
}

/// The signer of a Twilio provider's settings; `None` for other providers or without an
/// auth token.
pub fn signer_of(config: &ProviderConfig) -> Option<TwilioSigner> {
    let (auth_token, public_base) = match config {
        ProviderConfig::Twilio(sms) => (sms.auth_token.clone(), sms.public_base.clone()),
        ProviderConfig::TwilioVoice(voice) => (voice.auth_token.clone(), voice.public_base.clone()),
        _ => return None,
    };
    auth_token.map(|auth_token| TwilioSigner { auth_token, public_base })
}

/// The accounts whose webhooks `tenant` accepts: its own, else `global`.
pub async fn signers(providers: &TenantProviders, tenant: &str, global: &[TwilioSigner]) -> Result<Vec<TwilioSigner>, EngineError> {
    let own: Vec<TwilioSigner> = providers
        .list(tenant, None)
        .await?
        .iter()
        .filter(|stored| stored.entry.enabled)
        .filter_map(|stored| providers.open(&stored.entry).ok().flatten())
        .filter_map(|config| signer_of(&config))
        .collect();
    Ok(if own.is_empty() { global.to_vec() } else { own })
}

/// Applies a proven status callback's form `params` of `tenant` at `now`.
pub async fn status(store: &Arc<dyn Store>, tenant: &str, params: &[(String, String)], now: Timestamp) -> Result<(), EngineError> {
    if store.find_tenant(tenant).await?.is_none() {
        return Err(EngineError::NotFound("tenant"));
    }
    if let Some((service, sid, status, detail)) = status_report(params) {
        let applied = callbacks::apply_in_tenant(store, tenant, service, &sid, status, detail, now).await?;
        tracing::debug!(service, known = applied.is_some(), "Twilio status callback received");
    }
    Ok(())
}
