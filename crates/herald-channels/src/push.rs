//! The push provider: one message goes to every device the recipient registered, each through
//! its platform's service — Firebase Cloud Messaging for `android` ([`crate::fcm`]), the Apple
//! Push Notification service for `ios` ([`crate::apns`]) and Web Push for `web`
//! ([`crate::web_push`]). Devices are the user's `deviceTokens` plus the legacy `deviceToken`,
//! which is a Firebase registration token as in the notification manager's users collection
//! (sent as an `android` device, once even when it is also listed in `deviceTokens`).
//!
//! Devices of a platform without a configured service are left out. The devices are sent to at
//! once; the message is sent when at least one of them accepted it (its provider id is the
//! first accepting device's, and a device that failed then is not tried again). When none
//! accepted, it is retried when any failure was worth retrying (after the longest
//! `Retry-After` given), else it fails for good. Either way the answer records each device's
//! outcome (`[{"device": 0, "platform": "android", "status": 200, "id": "…"}, …]`, never its
//! token), and the devices a service reported invalid or unregistered are handed back in
//! `gone_devices` for the dispatcher to remove from the user.

use crate::apns::{ApnsClient, ApnsConfig};
use crate::fcm::{FcmClient, FcmConfig};
use crate::web_push::{WebPushClient, WebPushConfig};
use crate::{GoneDevices, Outgoing, Provider, Receipt, SendError, truncate};
use async_trait::async_trait;
use herald_core::render::Content;
use herald_core::resources::user::{DeviceToken, Platform, User};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The push services to use, one per platform; at least one is needed.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushConfig {
    /// Firebase Cloud Messaging, for `android` devices (and the legacy `deviceToken`).
    #[serde(default)]
    pub fcm: Option<FcmConfig>,
    /// Apple Push Notification service, for `ios` devices.
    #[serde(default)]
    pub apns: Option<ApnsConfig>,
    /// Web Push, for `web` devices.
    #[serde(default)]
    pub web_push: Option<WebPushConfig>,
}

/// One push as every platform client gets it.
pub(crate) struct Push<'a> {
    /// The title.
    pub title: Option<&'a str>,
    /// The subtitle.
    pub subtitle: Option<&'a str>,
    /// The body.
    pub body: Option<&'a str>,
    /// The template's `pushData`: Firebase `android` and `apns` configurations.
    pub data: Option<&'a Value>,
    /// The message's idempotency key, given to the app as `heraldMessageId`.
    pub key: &'a str,
    /// Now, by the injected clock (tokens are signed and cached with it).
    pub at: Timestamp,
}

impl Push<'_> {
    /// One of the `pushData` platform configurations (`android`, `apns`).
    pub fn platform_data(&self, platform: &str) -> Option<&Value> {
        self.data.and_then(|data| data.get(platform)).filter(|value| value.is_object())
    }
}

/// The failure of a device whose token the service says will never work again.
pub(crate) fn gone(mut error: SendError, platform: Platform, token: &str) -> SendError {
    error.transient = false;
    error.retry_after = None;
    error.gone_devices = GoneDevices(vec![DeviceToken { platform, token: token.to_string() }]);
    error
}

/// Sends pushes to every device of the recipient.
pub struct PushProvider {
    name: &'static str,
    fcm: Option<FcmClient>,
    apns: Option<ApnsClient>,
    web_push: Option<WebPushClient>,
}

impl PushProvider {
    /// A provider with the configured platforms; its name is the one platform's (`fcm`,
    /// `apns`, `web_push`) or `push` when there are several.
    pub fn new(config: &PushConfig) -> Result<Self, String> {
        let fcm = config.fcm.as_ref().map(FcmClient::new).transpose()?;
        let apns = config.apns.as_ref().map(ApnsClient::new).transpose()?;
        let web_push = config.web_push.as_ref().map(WebPushClient::new).transpose()?;
        let name = match (fcm.is_some(), apns.is_some(), web_push.is_some()) {
            (false, false, false) => return Err("push: configure at least one of fcm, apns and web_push".into()),
            (true, false, false) => "fcm",
            (false, true, false) => "apns",
            (false, false, true) => "web_push",
            _ => "push",
        };
        Ok(Self { name, fcm, apns, web_push })
    }

    fn serves(&self, platform: Platform) -> bool {
        match platform {
            Platform::Android => self.fcm.is_some(),
            Platform::Ios => self.apns.is_some(),
            Platform::Web => self.web_push.is_some(),
        }
    }

    async fn send_to(&self, device: &DeviceToken, push: &Push<'_>) -> Result<Receipt, SendError> {
        let missing = || SendError::permanent("no service is configured for this platform");
        match device.platform {
            Platform::Android => self.fcm.as_ref().ok_or_else(missing)?.send(&device.token, push).await,
            Platform::Ios => self.apns.as_ref().ok_or_else(missing)?.send(&device.token, push).await,
            Platform::Web => self.web_push.as_ref().ok_or_else(missing)?.send(&device.token, push).await,
        }
    }
}

/// The user's devices: `deviceTokens`, then the legacy `deviceToken` as an `android` device
/// unless it is already listed.
fn devices(user: &User) -> Vec<DeviceToken> {
    let mut devices = user.device_tokens.clone();
    if let Some(token) = user.device_token.as_deref().filter(|t| !t.is_empty())
        && !devices.iter().any(|d| d.platform == Platform::Android && d.token == token)
    {
        devices.push(DeviceToken { platform: Platform::Android, token: token.to_string() });
    }
    devices
}

#[async_trait]
impl Provider for PushProvider {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn send(&self, outgoing: &Outgoing) -> Result<Receipt, SendError> {
        let Some(Content::Push { title, subtitle, body, data }) = &outgoing.content else {
            return Err(SendError::permanent("a push provider sends push content only"));
        };
        let push = Push {
            title: title.as_deref(),
            subtitle: subtitle.as_deref(),
            body: body.as_deref(),
            data: data.as_ref(),
            key: &outgoing.idempotency_key,
            at: outgoing.at,
        };
        let devices: Vec<DeviceToken> = devices(&outgoing.recipient).into_iter().filter(|d| self.serves(d.platform)).collect();
        if devices.is_empty() {
            return Err(SendError::permanent("the recipient has no device on a configured push platform"));
        }
        let answers = futures_util::future::join_all(devices.iter().map(|device| self.send_to(device, &push))).await;
        combine(&devices, answers)
    }

    async fn healthcheck(&self) -> Result<(), SendError> {
        match &self.fcm {
            Some(fcm) => fcm.healthcheck().await,
            None => Ok(()),
        }
    }
}

/// One answer for the message from every device's answer.
fn combine(devices: &[DeviceToken], answers: Vec<Result<Receipt, SendError>>) -> Result<Receipt, SendError> {
    let mut outcomes = Vec::with_capacity(answers.len());
    let mut gone = Vec::new();
    let mut accepted: Option<Receipt> = None;
    let mut failures: Vec<SendError> = Vec::new();
    for (index, (device, answer)) in devices.iter().zip(answers).enumerate() {
        let platform = serde_json::to_value(device.platform).expect("platforms serialize");
        match answer {
            Ok(receipt) => {
                outcomes.push(
                    json!({"device": index, "platform": platform, "status": receipt.response_code, "id": receipt.provider_message_id}),
                );
                accepted.get_or_insert(receipt);
            }
            Err(mut error) => {
                outcomes.push(json!({"device": index, "platform": platform, "status": error.response_code, "error": error.reason}));
                gone.append(&mut error.gone_devices.0);
                failures.push(error);
            }
        }
    }
    let response = Some(truncate(&Value::Array(outcomes).to_string()));
    if let Some(receipt) = accepted {
        return Ok(Receipt { response, gone_devices: GoneDevices(gone), ..receipt });
    }
    let transient = failures.iter().any(|e| e.transient);
    let reason = match failures.as_slice() {
        [only] => only.reason.clone(),
        all => format!("no device accepted the message: {}", all.iter().map(|e| e.reason.as_str()).collect::<Vec<_>>().join("; ")),
    };
    Err(SendError {
        transient,
        retry_after: failures.iter().filter(|e| e.transient).filter_map(|e| e.retry_after).max(),
        response_code: failures.first().and_then(|e| e.response_code),
        response,
        reason,
        gone_devices: GoneDevices(gone),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn device(platform: Platform, token: &str) -> DeviceToken {
        DeviceToken { platform, token: token.into() }
    }

    #[test]
    fn configuration_is_tagged_by_type_with_a_section_per_platform() {
        use crate::ProviderConfig;
        let config = json!({"type": "push", "fcm": {"service_account_file": "/etc/herald/fcm.json"},
            "web_push": {"vapid_private_key": "very-secret", "subject": "mailto:ops@sanluca.example"}});
        let Ok(ProviderConfig::Push(push)) = serde_json::from_value(config) else { panic!("a push configuration") };
        assert_eq!(push.fcm.as_ref().unwrap().send_url, "https://fcm.googleapis.com");
        assert_eq!(push.web_push.as_ref().unwrap().ttl_seconds, 86_400);
        assert!(push.apns.is_none());
        assert!(!format!("{push:?}").contains("very-secret"), "secrets never print");
        let apns = json!({"type": "apns", "key_file": "/etc/herald/AuthKey.p8", "key_id": "ABC123DEFG", "team_id": "DEF123GHIJ", "topic": "org.example.clinic"});
        let Ok(ProviderConfig::Apns(apns)) = serde_json::from_value(apns) else { panic!("an APNs configuration") };
        assert_eq!(apns.url, "https://api.push.apple.com");
        let typo = json!({"type": "fcm", "service_account_file": "/etc/herald/fcm.json", "sendurl": "x"});
        assert!(serde_json::from_value::<ProviderConfig>(typo).is_err());
        assert!(PushProvider::new(&PushConfig::default()).err().unwrap().contains("at least one"));
    }

    #[test]
    fn the_legacy_token_is_an_android_device_listed_once() {
        let user: User = serde_json::from_value(json!({"id": "u", "deviceToken": "fcm-1",
            "deviceTokens": [{"platform": "ios", "token": "ab12"}, {"platform": "android", "token": "fcm-2"}]}))
        .unwrap();
        assert_eq!(devices(&user), [device(Platform::Ios, "ab12"), device(Platform::Android, "fcm-2"), device(Platform::Android, "fcm-1")]);
        let listed: User =
            serde_json::from_value(json!({"id": "u", "deviceToken": "fcm-1", "deviceTokens": [{"platform": "android", "token": "fcm-1"}]}))
                .unwrap();
        assert_eq!(devices(&listed), [device(Platform::Android, "fcm-1")]);
    }

    #[test]
    fn one_accepting_device_makes_the_message_sent_and_gone_ones_are_reported() {
        let devices = [device(Platform::Android, "gone"), device(Platform::Web, "sub")];
        let unregistered = gone(
            SendError { response_code: Some(404), ..SendError::permanent("FCM answered 404 UNREGISTERED") },
            Platform::Android,
            "gone",
        );
        let accepted = Receipt { provider_message_id: Some("loc-1".into()), response_code: Some(201), ..Receipt::default() };
        let receipt = combine(&devices, vec![Err(unregistered), Ok(accepted)]).unwrap();
        assert_eq!(receipt.provider_message_id.as_deref(), Some("loc-1"));
        assert_eq!(receipt.response_code, Some(201));
        assert_eq!(receipt.gone_devices, GoneDevices(vec![device(Platform::Android, "gone")]));
        let outcomes: Value = serde_json::from_str(receipt.response.as_deref().unwrap()).unwrap();
        assert_eq!(
            outcomes,
            json!([{"device": 0, "platform": "android", "status": 404, "error": "FCM answered 404 UNREGISTERED"},
                   {"device": 1, "platform": "web", "status": 201, "id": "loc-1"}])
        );
        assert!(!receipt.response.unwrap().contains("sub"), "tokens never reach the record");
    }

    #[test]
    fn without_an_accepting_device_a_transient_failure_retries_after_the_longest_wait() {
        let devices = [device(Platform::Android, "a"), device(Platform::Ios, "b"), device(Platform::Web, "c")];
        let busy = |seconds| SendError { retry_after: Some(Duration::from_secs(seconds)), ..SendError::transient("busy") };
        let error = combine(&devices, vec![Err(busy(30)), Err(SendError::permanent("bad")), Err(busy(120))]).unwrap_err();
        assert!(error.transient);
        assert_eq!(error.retry_after, Some(Duration::from_secs(120)));
        assert_eq!(error.reason, "no device accepted the message: busy; bad; busy");
        let error = combine(&devices[..1], vec![Err(SendError::permanent("bad"))]).unwrap_err();
        assert!(!error.transient);
        assert_eq!(error.reason, "bad");
    }
}
