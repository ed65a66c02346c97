//! What the two WhatsApp providers share — the Meta WhatsApp Cloud API ([`crate::WhatsappCloudProvider`])
//! and 360dialog ([`crate::Dialog360Provider`], which forwards the same API): the message body,
//! the language a template is sent in, how an answer is read, and how webhooks are verified and
//! read.
//!
//! **Messages.** A template message is `{messaging_product: "whatsapp", recipient_type:
//! "individual", to, type: "template", template: {name, language: {code}, components: [{type:
//! "body", parameters: [{type: "text", text}…]}]}}` (no `components` when the template has no
//! parameters); a free-form text is `type: "text", text: {preview_url: false, body}`, at most
//! 4096 characters. `to` is the recipient's E.164 number without the `+`, as WhatsApp ids are
//! written.
//!
//! **Language.** WhatsApp wants the code of an approved translation (`en_US`, `it`, `pt_BR`).
//! [`language_code`] maps a BCP 47 locale (`it`, `en-GB`, `pt_BR`) to the supported code that
//! fits it best: the exact `language_REGION` when WhatsApp has it, else the bare language, else
//! the language's one regional code (`pt` → `pt_BR`, `zh` → `zh_CN`), with the old aliases `no`
//! → `nb`, `tl` → `fil`, `iw` → `he`, `in` → `id` and Chinese scripts (`zh-Hant` → `zh_TW`).
//! Delivery picks the message's language with it from the recipient's locale, else the
//! tenant's default locale; a message with none gets the provider's `default_language`.
//!
//! **Answers.** 2xx: `messages[0].id` is the provider message id; the recorded answer keeps only
//! `messages` (the answer's `contacts` repeat the phone number). Errors are read from the Graph
//! API's `{error: {message, type, code, error_subcode, fbtrace_id}}` by `code`: throughput
//! limits (4, 80007, 130429, 131056) and Meta's temporary failures (1, 2, 131000, 131016,
//! 133004) are retried, with `Retry-After` when given; everything else fails for good with a
//! reason that names the cause (131047 outside the customer-service window, 132001 template
//! missing or not approved in that language, 132000 parameter count, 132015 template paused,
//! 190 invalid token, …). HTTP 429 is retried whatever the body says. 360dialog's own errors
//! (`{meta: {httpCode, developerMessage, success}}`) are read the same way: 401 is an invalid
//! API key, a 400 saying a limit was exceeded is retried. The recorded answer keeps the error's
//! code, type, title and trace id, never `error_data.details`, which can quote parameter values.

use crate::{Outgoing, Receipt, SendError, truncate};
use herald_core::notification::MessageStatus;
use herald_core::render::Content;
use herald_core::secrets::Secret;
use herald_core::values::E164;
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;
use std::time::Duration;

/// The Cloud API provider's name, recorded as its messages' `service`.
pub const CLOUD_SERVICE: &str = "whatsapp_cloud";

/// The 360dialog provider's name, recorded as its messages' `service`.
pub const DIALOG360_SERVICE: &str = "360dialog";

/// Longest free-form text WhatsApp accepts, in characters.
pub const MAX_TEXT: usize = 4096;

/// Template languages WhatsApp supports (Meta's list of supported languages).
const LANGUAGES: &[&str] = &[
    "af", "sq", "ar", "az", "bn", "bg", "ca", "zh_CN", "zh_HK", "zh_TW", "hr", "cs", "da", "nl", "en", "en_GB", "en_US", "et", "fil", "fi",
    "fr", "ka", "de", "el", "gu", "ha", "he", "hi", "hu", "id", "ga", "it", "ja", "kn", "kk", "rw_RW", "ko", "ky_KG", "lo", "lv", "lt",
    "mk", "ms", "ml", "mr", "nb", "fa", "pl", "pt_BR", "pt_PT", "pa", "ro", "ru", "sr", "sk", "sl", "es", "es_AR", "es_ES", "es_MX", "sw",
    "sv", "ta", "te", "th", "tr", "uk", "ur", "uz", "vi", "zu",
];

/// The WhatsApp template language for a BCP 47 locale, when WhatsApp supports one that fits.
pub fn language_code(locale: &str) -> Option<&'static str> {
    let mut parts = locale.split(['-', '_']).filter(|p| !p.is_empty());
    let language = parts.next()?.to_ascii_lowercase();
    let language = match language.as_str() {
        "no" | "nn" => "nb".to_string(),
        "tl" => "fil".to_string(),
        "iw" => "he".to_string(),
        "in" => "id".to_string(),
        _ => language,
    };
    let (mut region, mut script_region) = (None, None);
    for part in parts {
        match part.len() {
            2 if region.is_none() => region = Some(part.to_ascii_uppercase()),
            4 if language == "zh" => script_region = Some(if part.eq_ignore_ascii_case("hant") { "TW" } else { "CN" }.to_string()),
            _ => {}
        }
    }
    let region = region.or(script_region);
    let find = |code: &str| LANGUAGES.iter().copied().find(|c| *c == code);
    if let Some(exact) = region.and_then(|region| find(&format!("{language}_{region}"))) {
        return Some(exact);
    }
    find(&language).or_else(|| match language.as_str() {
        "pt" => find("pt_BR"),
        "zh" => find("zh_CN"),
        "rw" => find("rw_RW"),
        "ky" => find("ky_KG"),
        _ => None,
    })
}

/// The `/messages` request body for `outgoing`: its template message, or its free-form text.
pub(crate) fn message_body(outgoing: &Outgoing, default_language: &str) -> Result<Value, SendError> {
    let phone = outgoing.recipient.phone_number.as_ref().ok_or_else(|| SendError::permanent("the recipient has no phone number"))?;
    let to = phone.as_str().trim_start_matches('+');
    let envelope = |kind: &str| json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": kind});
    match &outgoing.content {
        Some(Content::Whatsapp { template_name, parameters, language }) => {
            let language = language.as_deref().unwrap_or(default_language);
            let mut template = json!({"name": template_name, "language": {"code": language}});
            if !parameters.is_empty() {
                let parameters: Vec<Value> = parameters.iter().map(|text| json!({"type": "text", "text": text})).collect();
                template["components"] = json!([{"type": "body", "parameters": parameters}]);
            }
            let mut body = envelope("template");
            body["template"] = template;
            Ok(body)
        }
        Some(Content::WhatsappText { body: text }) => {
            if text.chars().count() > MAX_TEXT {
                return Err(SendError::permanent(format!("a WhatsApp text has at most {MAX_TEXT} characters")));
            }
            let mut body = envelope("text");
            body["text"] = json!({"preview_url": false, "body": text});
            Ok(body)
        }
        _ => Err(SendError::permanent("WhatsApp takes a template message or a free-form text")),
    }
}

/// Reads the answer to a `/messages` request (or a health check); `what` names the service
/// (`the WhatsApp Cloud API`).
pub(crate) async fn answer(response: reqwest::Response, what: &str) -> Result<Receipt, SendError> {
    let status = response.status().as_u16();
    let retry_after =
        response.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
    let text = response.text().await.unwrap_or_default();
    let parsed: Option<Value> = serde_json::from_str(&text).ok();
    if (200..300).contains(&status) {
        let messages = parsed.as_ref().and_then(|v| v.get("messages")).cloned();
        let id = messages.as_ref().and_then(|m| m.get(0)).and_then(|m| m.get("id")).and_then(Value::as_str).map(str::to_string);
        let response = messages.map(|m| truncate(&json!({"messages": m}).to_string()));
        return Ok(Receipt { provider_message_id: id, response_code: Some(status), response, ..Receipt::default() });
    }
    let (transient, reason, kept) = match parsed.as_ref().map(|v| (v.get("error"), v.get("meta"))) {
        Some((Some(error), _)) => graph_error(status, error, what),
        Some((None, Some(meta))) => dialog360_error(status, meta, what),
        _ => (http_transient(status), format!("{what} answered {status}"), (!text.is_empty()).then(|| truncate(&text))),
    };
    Err(SendError {
        transient: transient || status == 429,
        retry_after: retry_after.map(Duration::from_secs),
        response_code: Some(status),
        response: kept,
        reason,
        ..SendError::default()
    })
}

/// Whether an HTTP status alone is worth retrying.
fn http_transient(status: u16) -> bool {
    matches!(status, 408 | 425 | 429) || status >= 500
}

/// A Graph API error: whether to retry, the reason and the answer as kept.
fn graph_error(status: u16, error: &Value, what: &str) -> (bool, String, Option<String>) {
    let code = error.get("code").and_then(Value::as_i64);
    let title = error.get("message").and_then(Value::as_str).unwrap_or_default();
    let kept = json!({"error": {"code": code, "type": error.get("type"), "message": title,
        "error_subcode": error.get("error_subcode"), "fbtrace_id": error.get("fbtrace_id")}});
    let (transient, cause) = match code {
        Some(4 | 80007 | 130429 | 131056) => (true, "a throughput limit was reached"),
        Some(1 | 2 | 131000 | 131016 | 133004) => (true, "the service is temporarily unavailable"),
        Some(131047) => {
            (false, "more than 24 hours have passed since the recipient last wrote (re-engagement): only an approved template can be sent")
        }
        Some(132001) => (false, "the template does not exist in this language or is not approved"),
        Some(132000) => (false, "the number of template parameters does not match the approved template"),
        Some(132012) => (false, "the template parameters do not match the approved template's format"),
        Some(132005) => (false, "the template's text is too long once filled in"),
        Some(132007) => (false, "the template's content breaks WhatsApp's policy"),
        Some(132015) => (false, "the template is paused for low quality"),
        Some(132016) => (false, "the template is disabled"),
        Some(190) => (false, "the access token is invalid or expired"),
        Some(0) => (false, "the access token was not accepted"),
        Some(10 | 200..=299) => (false, "the access token lacks the permission to send"),
        Some(131026) => (false, "the message is undeliverable to this recipient"),
        Some(131030) => (false, "the recipient is not on the test number's allowed list"),
        Some(131031) => (false, "the business account is locked"),
        Some(131042) => (false, "the business account has a payment problem"),
        Some(368) => (false, "the business account is blocked for policy violations"),
        Some(133010) => (false, "the business phone number is not registered"),
        Some(100 | 131008 | 131009) => (false, "the request has an invalid or missing parameter"),
        _ => (http_transient(status), "it refused the message"),
    };
    let code = code.map(|c| c.to_string()).unwrap_or_else(|| "without a code".into());
    (transient, format!("{what} answered {status} (error {code}): {cause}"), Some(truncate(&kept.to_string())))
}

/// A 360dialog error of its own (not one of Meta's it passes on).
fn dialog360_error(status: u16, meta: &Value, what: &str) -> (bool, String, Option<String>) {
    let message = meta.get("developerMessage").or_else(|| meta.get("developer_message")).and_then(Value::as_str).unwrap_or_default();
    let (transient, cause) = match status {
        401 => (false, "the API key is invalid"),
        400 if message.contains("exceeded") => (true, "a rate limit was exceeded"),
        _ => (http_transient(status), "it refused the message"),
    };
    (transient, format!("{what} answered {status}: {cause}"), Some(truncate(&json!({"meta": meta}).to_string())))
}

/// Whether `header` (`X-Hub-Signature-256: sha256=<hex>`) is the HMAC-SHA256 of `body` under
/// `secret`, compared in constant time.
pub fn signature_matches(secret: &[u8], body: &[u8], header: &str) -> bool {
    let Some(signature) = header.trim().strip_prefix("sha256=").and_then(|hex| hex::decode(hex).ok()) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    mac.verify_slice(&signature).is_ok()
}

/// The token in a tenant's 360dialog webhook URL: the hex HMAC-SHA256 of the slug under
/// `secret` (360dialog does not sign the webhooks it forwards, so the URL is the secret).
pub fn tenant_token(secret: &Secret, tenant: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()).expect("HMAC takes any key length");
    mac.update(tenant.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Whether `token` is the tenant's webhook token, compared in constant time.
pub fn tenant_token_matches(secret: &Secret, tenant: &str, token: &str) -> bool {
    let Ok(token) = hex::decode(token) else { return false };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()).expect("HMAC takes any key length");
    mac.update(tenant.as_bytes());
    mac.verify_slice(&token).is_ok()
}

/// Whether `given` is the secret `expected` (a webhook verify token), compared in constant time
/// for a given length.
pub fn same_secret(expected: &Secret, given: &str) -> bool {
    let (expected, given) = (expected.expose().as_bytes(), given.as_bytes());
    expected.len() == given.len() && expected.iter().zip(given).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// What one webhook call reports.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WebhookReport {
    /// Status changes of messages Herald sent.
    pub statuses: Vec<StatusReport>,
    /// Messages recipients wrote to the business.
    pub inbound: Vec<InboundReport>,
}

/// A sent message's new status.
#[derive(Clone, Debug, PartialEq)]
pub struct StatusReport {
    /// The id the provider gave the message when it was sent (`wamid.…`).
    pub provider_message_id: String,
    /// `sent`, `delivered`, `read` or `failed`, as Herald's status.
    pub status: MessageStatus,
    /// When it happened, by the provider.
    pub at: Option<Timestamp>,
    /// For a failure, the error's code and title (never its details).
    pub detail: Option<String>,
}

/// A message a recipient wrote: it opens the customer-service window.
#[derive(Clone, Debug, PartialEq)]
pub struct InboundReport {
    /// The sender's number.
    pub from: E164,
    /// When they wrote, by the provider.
    pub at: Option<Timestamp>,
}

#[derive(Deserialize)]
struct Payload {
    #[serde(default)]
    entry: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    changes: Vec<Change>,
}

#[derive(Deserialize)]
struct Change {
    #[serde(default)]
    value: ChangeValue,
}

#[derive(Default, Deserialize)]
struct ChangeValue {
    #[serde(default)]
    messages: Vec<Inbound>,
    #[serde(default)]
    statuses: Vec<Status>,
}

#[derive(Deserialize)]
struct Inbound {
    from: String,
    #[serde(default)]
    timestamp: Option<String>,
}

#[derive(Deserialize)]
struct Status {
    id: String,
    status: String,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    errors: Vec<StatusError>,
}

#[derive(Deserialize)]
struct StatusError {
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    title: Option<String>,
}

/// A webhook's Unix-seconds timestamp.
fn unix_seconds(text: Option<&str>) -> Option<Timestamp> {
    text.and_then(|t| t.parse::<i64>().ok()).and_then(|s| Timestamp::from_second(s).ok())
}

/// Reads a webhook body (`{object: "whatsapp_business_account", entry: [{changes: [{value:
/// {messages, statuses}}]}]}`, the same from Meta and 360dialog). Statuses other than `sent`,
/// `delivered`, `read` and `failed`, and senders whose number is not E.164, are left out.
pub fn read_webhook(body: &[u8]) -> Result<WebhookReport, String> {
    let payload: Payload = serde_json::from_slice(body).map_err(|e| format!("not a WhatsApp webhook body: {e}"))?;
    let mut report = WebhookReport::default();
    for value in payload.entry.into_iter().flat_map(|e| e.changes).map(|c| c.value) {
        for inbound in value.messages {
            if let Ok(from) = E164::parse(&format!("+{}", inbound.from.trim_start_matches('+'))) {
                report.inbound.push(InboundReport { from, at: unix_seconds(inbound.timestamp.as_deref()) });
            }
        }
        for status in value.statuses {
            let mapped = match status.status.as_str() {
                "sent" => MessageStatus::Sent,
                "delivered" => MessageStatus::Delivered,
                "read" => MessageStatus::Read,
                "failed" => MessageStatus::Failed,
                _ => continue,
            };
            let detail = status.errors.first().map(|e| {
                let code = e.code.map(|c| c.to_string()).unwrap_or_default();
                format!("WhatsApp error {code}: {}", e.title.as_deref().unwrap_or("failed"))
            });
            report.statuses.push(StatusReport {
                provider_message_id: status.id,
                status: mapped,
                at: unix_seconds(status.timestamp.as_deref()),
                detail,
            });
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locales_map_to_whatsapp_languages() {
        for (locale, code) in [
            ("it", Some("it")),
            ("it-IT", Some("it")),
            ("en", Some("en")),
            ("en-GB", Some("en_GB")),
            ("en_us", Some("en_US")),
            ("en-AU", Some("en")),
            ("pt", Some("pt_BR")),
            ("pt-PT", Some("pt_PT")),
            ("es-MX", Some("es_MX")),
            ("es-CO", Some("es")),
            ("zh-Hant-HK", Some("zh_HK")),
            ("zh-Hant", Some("zh_TW")),
            ("zh", Some("zh_CN")),
            ("no", Some("nb")),
            ("tl", Some("fil")),
            ("rw", Some("rw_RW")),
            ("xx", None),
            ("", None),
        ] {
            assert_eq!(language_code(locale), code, "{locale}");
        }
    }

    #[test]
    fn signatures_are_checked_over_the_raw_body() {
        let body = br#"{"object":"whatsapp_business_account"}"#;
        let mut mac = Hmac::<Sha256>::new_from_slice(b"app-secret").unwrap();
        mac.update(body);
        let header = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert!(signature_matches(b"app-secret", body, &header));
        assert!(!signature_matches(b"other-secret", body, &header));
        assert!(!signature_matches(b"app-secret", br#"{"object":"whatsapp_business_account" }"#, &header));
        assert!(!signature_matches(b"app-secret", body, header.trim_start_matches("sha256=")));
        assert!(!signature_matches(b"app-secret", body, "sha256=zz"));
    }

    #[test]
    fn tenant_tokens_are_per_tenant() {
        let secret = Secret::new("webhook-secret");
        let token = tenant_token(&secret, "clinic-a");
        assert_eq!(token, "10c439e6b2e8b7c7a1785b1b0a419d2b235517ea8641a9369f158c1c4b74b81e", "as openssl dgst -sha256 -hmac computes it");
        assert!(tenant_token_matches(&secret, "clinic-a", &token));
        assert!(!tenant_token_matches(&secret, "clinic-b", &token));
        assert!(!tenant_token_matches(&Secret::new("other"), "clinic-a", &token));
        assert!(!tenant_token_matches(&secret, "clinic-a", "not-hex"));
        assert!(same_secret(&secret, "webhook-secret"));
        assert!(!same_secret(&secret, "webhook-secreT") && !same_secret(&secret, "webhook") && !same_secret(&secret, ""));
    }

    #[test]
    fn webhooks_report_statuses_and_inbound_messages() {
        let body = json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
        "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"}],
        "messages": [{"from": "16505551234", "id": "wamid.in", "timestamp": "1749416383", "type": "text", "text": {"body": "Hi"}}],
        "statuses": [
            {"id": "wamid.a", "status": "delivered", "timestamp": "1750263773", "recipient_id": "16505551234"},
            {"id": "wamid.b", "status": "failed", "timestamp": "1750263774", "recipient_id": "16505551234",
             "errors": [{"code": 131026, "title": "Message undeliverable", "error_data": {"details": "private"}}]},
            {"id": "wamid.c", "status": "deleted", "timestamp": "1750263775", "recipient_id": "16505551234"}
        ]}}]}]});
        let report = read_webhook(body.to_string().as_bytes()).unwrap();
        assert_eq!(
            report.inbound,
            [InboundReport { from: E164::parse("+16505551234").unwrap(), at: Some(Timestamp::from_second(1749416383).unwrap()) }]
        );
        assert_eq!(
            report.statuses,
            [
                StatusReport {
                    provider_message_id: "wamid.a".into(),
                    status: MessageStatus::Delivered,
                    at: Some(Timestamp::from_second(1750263773).unwrap()),
                    detail: None
                },
                StatusReport {
                    provider_message_id: "wamid.b".into(),
                    status: MessageStatus::Failed,
                    at: Some(Timestamp::from_second(1750263774).unwrap()),
                    detail: Some("WhatsApp error 131026: Message undeliverable".into())
                },
            ]
        );
        assert!(read_webhook(b"not json").is_err());
    }
}
