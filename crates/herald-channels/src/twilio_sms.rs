//! The Twilio SMS provider (`type = "twilio"` on the `sms` channel): Programmable Messaging's
//! `POST {base_url}/2010-04-01/Accounts/{account_sid}/Messages.json`, a form with `To`,
//! `From` (or `MessagingServiceSid`), `Body` and, when `public_base` is set, `StatusCallback` =
//! `{public_base}/webhooks/twilio/{tenant}/status`. Credentials, answers and webhooks are read
//! as [`crate::twilio`] describes; the health check reads the account
//! (`GET …/Accounts/{sid}.json`), which proves the credentials.
//!
//! Config keys (`channels.sms`, or a tenant's provider entry): `account_sid`, `auth_token`
//! (or `api_key_sid` + `api_key_secret`), `from` (an E.164 number or an alphanumeric sender
//! ID of up to 11 letters, digits and spaces with at least one letter) and/or
//! `messaging_service_sid` (`MG…`, which then picks the sender), `public_base` (Herald's public
//! base URL, for status callbacks and for checking webhook signatures behind a proxy),
//! `base_url` (default `https://api.twilio.com`) and `timeout_seconds` (default 10).

use crate::twilio::{self, Credentials};
use crate::whatsapp_cloud::default_timeout;
use crate::{Outgoing, Provider, Receipt, SendError};
use async_trait::async_trait;
use herald_core::render::Content;
use herald_core::secrets::Secret;
use herald_core::values::E164;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A Twilio account sending SMS.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwilioSmsConfig {
    /// Twilio's REST API (`https://api.twilio.com`).
    #[serde(default = "twilio::default_base_url")]
    pub base_url: String,
    /// The account SID (`AC…`).
    pub account_sid: String,
    /// The account's auth token: authenticates requests (without an API key) and checks
    /// webhook signatures.
    #[serde(default)]
    pub auth_token: Option<Secret>,
    /// An API key SID (`SK…`) to authenticate requests with instead of the auth token.
    #[serde(default)]
    pub api_key_sid: Option<String>,
    /// The API key's secret.
    #[serde(default)]
    pub api_key_secret: Option<Secret>,
    /// The sender: an E.164 number or an alphanumeric sender ID.
    #[serde(default, deserialize_with = "twilio::optional_sender")]
    pub from: Option<String>,
    /// A Messaging Service (`MG…`) that picks the sender.
    #[serde(default)]
    pub messaging_service_sid: Option<String>,
    /// Herald's public base URL (`https://herald.example.org`).
    #[serde(default)]
    pub public_base: Option<String>,
    /// Seconds to wait for an answer.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
}

/// Checks a sender: an E.164 number, or 1 to 11 ASCII letters, digits and spaces with at
/// least one letter.
pub(crate) fn check_sender(from: &str) -> Result<(), String> {
    if from.starts_with('+') {
        return E164::parse(from).map(|_| ()).map_err(|e| format!("from {e}"));
    }
    let fits = (1..=11).contains(&from.len())
        && from.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ')
        && from.chars().any(|c| c.is_ascii_alphabetic());
    if fits {
        Ok(())
    } else {
        Err("from must be an E.164 number or an alphanumeric sender ID (up to 11 letters, digits and spaces)".into())
    }
}

/// Sends SMS through Twilio.
#[derive(Clone, Debug)]
pub struct TwilioSmsProvider {
    client: reqwest::Client,
    credentials: Credentials,
    from: Option<String>,
    messaging_service_sid: Option<String>,
    public_base: Option<String>,
}

impl TwilioSmsProvider {
    /// A provider for `config`'s account; the error names the setting that is wrong.
    pub fn new(config: &TwilioSmsConfig) -> Result<Self, String> {
        let api_key = twilio::api_key(config.api_key_sid.as_deref(), config.api_key_secret.as_ref())?;
        let credentials = Credentials::new(&config.base_url, &config.account_sid, config.auth_token.as_ref(), api_key)?;
        match (&config.from, &config.messaging_service_sid) {
            (None, None) => return Err("from or messaging_service_sid is required".into()),
            (_, Some(sid)) if !sid.starts_with("MG") => return Err("messaging_service_sid must start with MG".into()),
            _ => {}
        }
        if let Some(from) = &config.from {
            check_sender(from)?;
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_seconds))
            .build()
            .map_err(|e| format!("Twilio client: {e}"))?;
        Ok(Self {
            client,
            credentials,
            from: config.from.clone(),
            messaging_service_sid: config.messaging_service_sid.clone(),
            public_base: config.public_base.clone(),
        })
    }
}

#[async_trait]
impl Provider for TwilioSmsProvider {
    fn name(&self) -> &'static str {
        twilio::SMS_SERVICE
    }

    async fn send(&self, outgoing: &Outgoing) -> Result<Receipt, SendError> {
        let Some(Content::Sms { body }) = &outgoing.content else {
            return Err(SendError::permanent("Twilio SMS sends SMS content only"));
        };
        let to = outgoing.recipient.phone_number.as_ref().ok_or_else(|| SendError::permanent("the recipient has no phone number"))?;
        let mut form: Vec<(&str, &str)> = vec![("To", to.as_str())];
        if let Some(sid) = &self.messaging_service_sid {
            form.push(("MessagingServiceSid", sid));
        }
        if let Some(from) = &self.from {
            form.push(("From", from));
        }
        form.push(("Body", body));
        let callback = twilio::status_callback(self.public_base.as_deref(), &outgoing.tenant);
        if let Some(callback) = &callback {
            form.push(("StatusCallback", callback));
        }
        self.credentials.create(&self.client, "Messages", &form).await
    }

    async fn healthcheck(&self) -> Result<(), SendError> {
        self.credentials.check(&self.client).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn senders_are_e164_numbers_or_alphanumeric_ids() {
        for good in ["+14155550123", "StClaire", "Clinic 24", "A1"] {
            assert!(check_sender(good).is_ok(), "{good}");
        }
        for bad in ["+0123", "12345", "", "Twelve Chars", "Clinic-24", "Cliníca"] {
            assert!(check_sender(bad).is_err(), "{bad}");
        }
    }
}
