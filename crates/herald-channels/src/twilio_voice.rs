//! The Twilio voice provider (`type = "twilio_voice"` on the `voice` channel): Programmable
//! Voice's `POST {base_url}/2010-04-01/Accounts/{account_sid}/Calls.json`, a form with `To`,
//! `From`, `Twiml` and, when `public_base` is set, `StatusCallback` =
//! `{public_base}/webhooks/twilio/{tenant}/status` (Twilio reports the call's end there:
//! `completed` is delivered; `busy`, `no-answer`, `failed` and `canceled` fail the message).
//! The call's `sid` is the provider message id. Credentials and answers as [`crate::twilio`].
//!
//! The TwiML reads the message once, then again `repeat` more times (0–2), with the `<Say>`
//! verb's `loop` attribute = `repeat + 1` — Twilio's documented way to repeat a message, so a
//! patient who picked up late still hears it whole. (`loop="0"` would repeat until hang-up,
//! which Herald never asks for.) The text is XML-escaped:
//!
//! ```xml
//! <Response><Say language="it-IT" voice="Polly.Carla" loop="2"><prosody rate="90%">…</prosody></Say></Response>
//! ```
//!
//! Config keys: `account_sid`, `auth_token` (or `api_key_sid` + `api_key_secret`), `from`
//! (the calling E.164 number), `language` (default `en-US`), `voice` (optional, e.g.
//! `Polly.Joanna`), `rate` (optional speaking rate: `x-slow`, `slow`, `medium`, `fast`,
//! `x-fast` or a percentage `20%`–`200%`, sent as SSML `<prosody rate>`; Twilio honours SSML
//! with its Amazon Polly and Google voices only, so set `voice` to one of them with it),
//! `repeat` (0–2, default 1), `public_base`, `base_url` and `timeout_seconds` as for SMS.

use crate::twilio::{self, Credentials, xml_escape};
use crate::whatsapp_cloud::default_timeout;
use crate::{Outgoing, Provider, Receipt, SendError};
use async_trait::async_trait;
use herald_core::render::Content;
use herald_core::secrets::Secret;
use herald_core::values::E164;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A Twilio account placing voice calls that read a message.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwilioVoiceConfig {
    /// Twilio's REST API (`https://api.twilio.com`).
    #[serde(default = "twilio::default_base_url")]
    pub base_url: String,
    /// The account SID (`AC…`).
    pub account_sid: String,
    /// The account's auth token.
    #[serde(default)]
    pub auth_token: Option<Secret>,
    /// An API key SID (`SK…`) to authenticate requests with instead of the auth token.
    #[serde(default)]
    pub api_key_sid: Option<String>,
    /// The API key's secret.
    #[serde(default)]
    pub api_key_secret: Option<Secret>,
    /// The calling number (E.164).
    #[serde(deserialize_with = "twilio::sender")]
    pub from: String,
    /// The language the text is read in (`en-US`, `it-IT`).
    #[serde(default = "default_language")]
    pub language: String,
    /// The voice (`Polly.Joanna`); Twilio's default for the language when absent.
    #[serde(default)]
    pub voice: Option<String>,
    /// The speaking rate (`slow`, `90%`).
    #[serde(default)]
    pub rate: Option<String>,
    /// How many times the message is read again after the first (0–2).
    #[serde(default = "default_repeat")]
    pub repeat: u8,
    /// Herald's public base URL (`https://herald.example.org`).
    #[serde(default)]
    pub public_base: Option<String>,
    /// Seconds to wait for an answer.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
}

fn default_language() -> String {
    "en-US".into()
}

fn default_repeat() -> u8 {
    1
}

/// Checks a speaking rate: an SSML keyword or 20%–200%.
fn check_rate(rate: &str) -> Result<(), String> {
    if matches!(rate, "x-slow" | "slow" | "medium" | "fast" | "x-fast") {
        return Ok(());
    }
    match rate.strip_suffix('%').and_then(|n| n.parse::<u16>().ok()) {
        Some(percent) if (20..=200).contains(&percent) => Ok(()),
        _ => Err("rate must be x-slow, slow, medium, fast, x-fast or a percentage from 20% to 200%".into()),
    }
}

/// Places calls through Twilio.
#[derive(Clone, Debug)]
pub struct TwilioVoiceProvider {
    client: reqwest::Client,
    credentials: Credentials,
    config: TwilioVoiceConfig,
}

impl TwilioVoiceProvider {
    /// A provider for `config`'s account; the error names the setting that is wrong.
    pub fn new(config: &TwilioVoiceConfig) -> Result<Self, String> {
        let api_key = twilio::api_key(config.api_key_sid.as_deref(), config.api_key_secret.as_ref())?;
        let credentials = Credentials::new(&config.base_url, &config.account_sid, config.auth_token.as_ref(), api_key)?;
        E164::parse(&config.from).map_err(|e| format!("from {e}"))?;
        if config.repeat > 2 {
            return Err("repeat must be 0, 1 or 2".into());
        }
        let attribute_safe =
            |value: &str| !value.is_empty() && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
        if !attribute_safe(&config.language) {
            return Err("language must be a language tag such as en-US".into());
        }
        if config.voice.as_deref().is_some_and(|voice| !attribute_safe(voice)) {
            return Err("voice must be a Twilio voice name such as Polly.Joanna".into());
        }
        if let Some(rate) = &config.rate {
            check_rate(rate)?;
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_seconds))
            .build()
            .map_err(|e| format!("Twilio client: {e}"))?;
        Ok(Self { client, credentials, config: config.clone() })
    }

    /// The TwiML that reads `text`.
    fn twiml(&self, text: &str) -> String {
        let voice = self.config.voice.as_ref().map(|voice| format!(" voice=\"{voice}\"")).unwrap_or_default();
        let spoken = match &self.config.rate {
            Some(rate) => format!("<prosody rate=\"{rate}\">{}</prosody>", xml_escape(text)),
            None => xml_escape(text),
        };
        format!(
            "<Response><Say language=\"{}\"{voice} loop=\"{}\">{spoken}</Say></Response>",
            self.config.language,
            u16::from(self.config.repeat) + 1
        )
    }
}

#[async_trait]
impl Provider for TwilioVoiceProvider {
    fn name(&self) -> &'static str {
        twilio::VOICE_SERVICE
    }

    async fn send(&self, outgoing: &Outgoing) -> Result<Receipt, SendError> {
        let Some(Content::Voice { body }) = &outgoing.content else {
            return Err(SendError::permanent("Twilio voice reads voice content only"));
        };
        let to = outgoing.recipient.phone_number.as_ref().ok_or_else(|| SendError::permanent("the recipient has no phone number"))?;
        let twiml = self.twiml(body);
        let mut form: Vec<(&str, &str)> = vec![("To", to.as_str()), ("From", &self.config.from), ("Twiml", &twiml)];
        let callback = twilio::status_callback(self.config.public_base.as_deref(), &outgoing.tenant);
        if let Some(callback) = &callback {
            form.push(("StatusCallback", callback));
        }
        self.credentials.create(&self.client, "Calls", &form).await
    }

    async fn healthcheck(&self) -> Result<(), SendError> {
        self.credentials.check(&self.client).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> TwilioVoiceConfig {
        serde_json::from_value(serde_json::json!({
            "account_sid": "AC0123456789abcdef0123456789abcdef", "auth_token": "t", "from": "+14155550100"
        }))
        .unwrap()
    }

    #[test]
    fn the_twiml_reads_the_escaped_text_with_the_configured_voice_rate_and_repeats() {
        let plain = TwilioVoiceProvider::new(&config()).unwrap();
        assert_eq!(plain.twiml("Tom & Jerry <3"), "<Response><Say language=\"en-US\" loop=\"2\">Tom &amp; Jerry &lt;3</Say></Response>");
        let tuned = TwilioVoiceConfig {
            language: "it-IT".into(),
            voice: Some("Polly.Carla".into()),
            rate: Some("90%".into()),
            repeat: 0,
            ..config()
        };
        assert_eq!(
            TwilioVoiceProvider::new(&tuned).unwrap().twiml("Ciao"),
            "<Response><Say language=\"it-IT\" voice=\"Polly.Carla\" loop=\"1\"><prosody rate=\"90%\">Ciao</prosody></Say></Response>"
        );
    }

    #[test]
    fn wrong_settings_are_named() {
        let error = |config: TwilioVoiceConfig| TwilioVoiceProvider::new(&config).unwrap_err();
        assert!(error(TwilioVoiceConfig { repeat: 3, ..config() }).contains("repeat"));
        assert!(error(TwilioVoiceConfig { rate: Some("250%".into()), ..config() }).contains("rate"));
        assert!(error(TwilioVoiceConfig { language: "en\" x=\"".into(), ..config() }).contains("language"));
        assert!(error(TwilioVoiceConfig { from: "Clinic".into(), ..config() }).contains("from"));
        assert!(error(TwilioVoiceConfig { account_sid: "nope".into(), ..config() }).contains("account_sid"));
        assert!(error(TwilioVoiceConfig { auth_token: None, ..config() }).contains("auth_token"));
    }
}
