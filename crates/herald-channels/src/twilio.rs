//! What Twilio's SMS ([`crate::TwilioSmsProvider`]) and voice ([`crate::TwilioVoiceProvider`])
//! providers share: credentials, how an answer is read, the status callback URL, and how
//! Twilio's webhooks are verified and read.
//!
//! **Credentials.** Requests use HTTP basic auth with the account SID and its auth token, or
//! with an API key SID (`SK…`) and its secret (`api_key_sid` + `api_key_secret`, which then
//! win). Webhooks are signed with the account's auth token only, so `auth_token` is needed for
//! the webhook routes even when requests use an API key.
//!
//! **Answers.** 2xx: `sid` is the provider message id. The recorded answer keeps only `sid`,
//! `status` and `num_segments` (Twilio's answer repeats the number and the body). 429 and 5xx
//! (and timeouts) are retried, honouring `Retry-After`; any other status fails for good with
//! Twilio's error `code` and `message` (`{code, message, more_info, status}`), phone numbers
//! in the message masked.
//!
//! **Webhooks.** `X-Twilio-Signature` is the base64 HMAC-SHA1, under the auth token, of the
//! full URL Twilio called followed by every POST parameter's name and value, sorted by name
//! ([`signature`]).

use crate::{Receipt, SendError, http, truncate};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use herald_core::notification::MessageStatus;
use herald_core::secrets::Secret;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha1::Sha1;

/// The SMS provider's name, recorded as its messages' `service`.
pub const SMS_SERVICE: &str = "twilio";

/// The voice provider's name, recorded as its messages' `service`.
pub const VOICE_SERVICE: &str = "twilio_voice";

/// A sender: text, or an E.164 number the configuration's environment variables turned into a
/// whole number (`HERALD_CHANNELS__SMS__FROM=+14155550100` reads as 14155550100), given its
/// `+` back.
pub(crate) fn sender<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Sender {
        Text(String),
        Number(u64),
    }
    Ok(match <Sender as serde::Deserialize>::deserialize(deserializer)? {
        Sender::Text(text) => text,
        Sender::Number(number) => format!("+{number}"),
    })
}

/// [`sender`], for an optional one.
pub(crate) fn optional_sender<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    sender(deserializer).map(Some)
}

/// Twilio's REST API.
pub(crate) fn default_base_url() -> String {
    "https://api.twilio.com".into()
}

/// The service, as reasons name it.
pub(crate) const WHAT: &str = "Twilio";

/// Who requests are made as.
#[derive(Clone, Debug)]
pub(crate) struct Credentials {
    /// The account's REST resources: `{base_url}/2010-04-01/Accounts/{sid}`.
    pub(crate) account_url: String,
    user: String,
    password: Secret,
}

impl Credentials {
    /// The credentials of an account: an API key when both its SID and secret are given, else
    /// the auth token.
    pub(crate) fn new(
        base_url: &str,
        account_sid: &str,
        auth_token: Option<&Secret>,
        api_key: Option<(&str, &Secret)>,
    ) -> Result<Self, String> {
        if !account_sid.starts_with("AC") || account_sid.len() != 34 {
            return Err("account_sid must be a Twilio account SID (AC and 32 hex digits)".into());
        }
        let (user, password) = match (api_key, auth_token) {
            (Some((sid, secret)), _) => (sid.to_string(), secret.clone()),
            (None, Some(token)) => (account_sid.to_string(), token.clone()),
            (None, None) => return Err("auth_token (or api_key_sid with api_key_secret) is required".into()),
        };
        let account_url = format!("{}/2010-04-01/Accounts/{account_sid}", base_url.trim_end_matches('/'));
        Ok(Self { account_url, user, password })
    }

    /// `request` with basic auth.
    pub(crate) fn authorize(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        request.basic_auth(&self.user, Some(self.password.expose()))
    }

    /// Creates one of the account's resources (`Messages`, `Calls`) from `form`.
    pub(crate) async fn create(&self, client: &reqwest::Client, resource: &str, form: &[(&str, &str)]) -> Result<Receipt, SendError> {
        let request = client.post(format!("{}/{resource}.json", self.account_url)).form(form);
        let response = self.authorize(request).send().await.map_err(|e| crate::http::unanswered(&e, WHAT))?;
        answer(response).await
    }

    /// Reads the account itself, which proves the credentials.
    pub(crate) async fn check(&self, client: &reqwest::Client) -> Result<(), SendError> {
        let request = client.get(format!("{}.json", self.account_url));
        let response = self.authorize(request).send().await.map_err(|e| crate::http::unanswered(&e, WHAT))?;
        crate::http::answer(response, WHAT).await.map(|_| ())
    }
}

/// The API key pair, when both halves are given; one alone is a mistake named in the error.
pub(crate) fn api_key<'a>(sid: Option<&'a str>, secret: Option<&'a Secret>) -> Result<Option<(&'a str, &'a Secret)>, String> {
    match (sid, secret) {
        (Some(sid), Some(secret)) => Ok(Some((sid, secret))),
        (None, None) => Ok(None),
        _ => Err("api_key_sid and api_key_secret go together".into()),
    }
}

/// Herald's status callback URL for `tenant`, under its public base URL.
pub(crate) fn status_callback(public_base: Option<&str>, tenant: &str) -> Option<String> {
    public_base.map(|base| format!("{}/webhooks/twilio/{tenant}/status", base.trim_end_matches('/')))
}

/// Reads Twilio's answer to a create request.
pub(crate) async fn answer(response: reqwest::Response) -> Result<Receipt, SendError> {
    let status = response.status().as_u16();
    let retry_after = http::retry_after(response.headers());
    let text = response.text().await.unwrap_or_default();
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if (200..300).contains(&status) {
        let sid = body.get("sid").and_then(Value::as_str).map(str::to_string);
        let Some(sid) = sid else {
            return Err(SendError {
                response_code: Some(status),
                ..SendError::permanent(format!("{WHAT} answered {status} without a sid"))
            });
        };
        let kept = json!({"sid": sid, "status": body.get("status"), "num_segments": body.get("num_segments")});
        return Ok(Receipt {
            provider_message_id: Some(sid),
            response_code: Some(status),
            response: Some(truncate(&kept.to_string())),
            ..Receipt::default()
        });
    }
    let code = body.get("code").and_then(Value::as_i64);
    let message = body.get("message").and_then(Value::as_str).map(mask_numbers);
    let cause = match (code, &message) {
        (Some(code), Some(message)) => format!(": error {code}: {message}"),
        (Some(code), None) => format!(": error {code}"),
        (None, Some(message)) => format!(": {message}"),
        (None, None) => String::new(),
    };
    Err(SendError {
        transient: status == 429 || status >= 500,
        retry_after,
        response_code: Some(status),
        response: Some(truncate(&json!({"code": code, "message": message, "status": status}).to_string())),
        reason: format!("{WHAT} answered {status}{cause}"),
        ..SendError::default()
    })
}

/// `text` with every run of six or more digits (phone numbers, with or without `+`) masked
/// but its last two digits.
pub fn mask_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        if digits.len() >= 6 {
            let keep = digits.len() - 2;
            out.extend(std::iter::repeat_n('*', keep));
            out.push_str(&digits[keep..]);
        } else {
            out.push_str(digits);
        }
        digits.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            flush(&mut digits, &mut out);
            out.push(c);
        }
    }
    flush(&mut digits, &mut out);
    out
}

/// `text` with XML's special characters escaped, for TwiML.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The TwiML answer to an inbound SMS: one `<Message>` with `reply`, or none.
pub fn messaging_response(reply: Option<&str>) -> String {
    match reply {
        Some(text) => format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Message>{}</Message></Response>", xml_escape(text)),
        None => "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>".into(),
    }
}

/// The `X-Twilio-Signature` of a POST to `url` with form `params`, under `auth_token`.
pub fn signature(auth_token: &Secret, url: &str, params: &[(String, String)]) -> String {
    STANDARD.encode(mac(auth_token, url, params).finalize().into_bytes())
}

/// Whether `given` is the signature of that request, compared in constant time.
pub fn signature_matches(auth_token: &Secret, url: &str, params: &[(String, String)], given: &str) -> bool {
    let Ok(given) = STANDARD.decode(given.trim()) else { return false };
    mac(auth_token, url, params).verify_slice(&given).is_ok()
}

/// The HMAC-SHA1 of `url` and the sorted `params` under `auth_token`.
fn mac(auth_token: &Secret, url: &str, params: &[(String, String)]) -> Hmac<Sha1> {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut mac = Hmac::<Sha1>::new_from_slice(auth_token.expose().as_bytes()).expect("HMAC takes any key length");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    mac
}

/// What a status callback reports: the provider's name, its message (or call) SID and
/// Herald's status; `None` when it is not a report Herald records (`queued`, `sending`,
/// `ringing`, `in-progress`, or no SID).
pub fn status_report(params: &[(String, String)]) -> Option<(&'static str, String, MessageStatus, Option<String>)> {
    let param = |name: &str| params.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
    let detail = param("ErrorCode").map(|code| format!("Twilio error {code}"));
    if let (Some(sid), Some(status)) = (param("MessageSid").or(param("SmsSid")), param("MessageStatus").or(param("SmsStatus"))) {
        let status = match status {
            "sent" => MessageStatus::Sent,
            "delivered" => MessageStatus::Delivered,
            "read" => MessageStatus::Read,
            "undelivered" | "failed" => MessageStatus::Failed,
            _ => return None,
        };
        return Some((SMS_SERVICE, sid.to_string(), status, detail));
    }
    let (sid, status) = (param("CallSid")?, param("CallStatus")?);
    let (status, detail) = match status {
        "completed" => (MessageStatus::Delivered, detail),
        "busy" | "no-answer" | "failed" | "canceled" => (MessageStatus::Failed, Some(format!("the call ended {status}"))),
        _ => return None,
    };
    Some((VOICE_SERVICE, sid.to_string(), status, detail))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn signatures_follow_twilios_documented_example() {
        // The example of Twilio's "Webhooks security" page.
        let token = Secret::new("12345");
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let params = pairs(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]);
        assert_eq!(signature(&token, url, &params), "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
        assert!(signature_matches(&token, url, &params, "0/KCTR6DLpKmkAf8muzZqo1nDgQ="));
        assert!(!signature_matches(&token, url, &params, "1/KCTR6DLpKmkAf8muzZqo1nDgQ="));
        assert!(!signature_matches(&Secret::new("other"), url, &params, "0/KCTR6DLpKmkAf8muzZqo1nDgQ="));
        assert!(!signature_matches(&token, url, &params, "not base64!"));
    }

    #[test]
    fn numbers_are_masked_in_error_messages() {
        assert_eq!(mask_numbers("The 'To' number +15005550001 is not valid."), "The 'To' number +*********01 is not valid.");
        assert_eq!(mask_numbers("error 21211 at 10:30"), "error 21211 at 10:30");
    }

    #[test]
    fn status_callbacks_map_onto_herald_statuses() {
        let report = status_report(&pairs(&[("MessageSid", "SM1"), ("MessageStatus", "delivered")])).unwrap();
        assert_eq!(report, (SMS_SERVICE, "SM1".to_string(), MessageStatus::Delivered, None));
        let failed = status_report(&pairs(&[("MessageSid", "SM1"), ("MessageStatus", "undelivered"), ("ErrorCode", "30003")])).unwrap();
        assert_eq!((failed.2, failed.3.as_deref()), (MessageStatus::Failed, Some("Twilio error 30003")));
        assert_eq!(status_report(&pairs(&[("MessageSid", "SM1"), ("MessageStatus", "queued")])), None);
        let call = status_report(&pairs(&[("CallSid", "CA1"), ("CallStatus", "no-answer")])).unwrap();
        assert_eq!((call.0, call.2), (VOICE_SERVICE, MessageStatus::Failed));
        assert_eq!(status_report(&pairs(&[("CallSid", "CA1"), ("CallStatus", "completed")])).unwrap().2, MessageStatus::Delivered);
        assert_eq!(status_report(&pairs(&[("CallSid", "CA1"), ("CallStatus", "ringing")])), None);
    }
}
