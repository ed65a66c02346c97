//! Push devices a service said will never accept a message again (an unregistered or invalid
//! token, a web subscription that expired) are removed from the recipient's user document —
//! from `deviceTokens` and, for an Android token, the legacy `deviceToken` — so later pushes
//! do not try them. The change is a compare-and-swap on the document's revision (retried when
//! someone else changed the user meanwhile) made as `herald`, the updater of changes Herald
//! makes by itself. Failing to remove them never holds the delivery back: it is logged, and
//! the next push to the user reports the devices again.

use super::Inner;
use herald_channels::{GoneDevices, Receipt, SendError};
use herald_core::query::{Filter, ListQuery};
use herald_core::resources::Collection;
use herald_core::resources::user::{DeviceToken, Platform};
use herald_store::StoreError;
use serde_json::{Map, Value};

/// How many times a removal is tried against concurrent changes of the user.
const ATTEMPTS: usize = 3;
/// The updater id of the change.
const UPDATER: &str = "herald";

impl Inner {
    /// Removes the devices a provider's `answer` reports gone from the user `recipient`.
    pub(super) async fn forget_gone_devices(&self, tenant: &str, recipient: &str, answer: &Result<Receipt, SendError>) {
        let gone = match answer {
            Ok(receipt) => &receipt.gone_devices,
            Err(error) => &error.gone_devices,
        };
        if gone.is_empty() {
            return;
        }
        match self.forget(tenant, recipient, gone).await {
            Ok(true) => tracing::info!(tenant, devices = gone.0.len(), "removed push devices their service reported gone"),
            Ok(false) => tracing::warn!(tenant, "the recipient kept changing; gone push devices were left for the next push to report"),
            Err(error) => tracing::warn!(%error, tenant, "gone push devices could not be removed from the recipient"),
        }
    }

    /// Removes `gone` from the user; false when the user kept changing meanwhile.
    async fn forget(&self, tenant: &str, recipient: &str, gone: &GoneDevices) -> Result<bool, StoreError> {
        for _ in 0..ATTEMPTS {
            let query = ListQuery::matching(Filter::equals("id", recipient), 1);
            let Some(mut document) = self.store.find_documents(Collection::Users, tenant, &query).await?.into_iter().next() else {
                return Ok(true);
            };
            if !remove(&mut document.body, &gone.0) {
                return Ok(true);
            }
            let expected = document.revision;
            document.revision += 1;
            document.updated_at = self.clock.now();
            document.updater_id = UPDATER.to_string();
            if self.store.replace_document(Collection::Users, tenant, &document, expected).await? {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// Removes the `gone` devices from a user's body; whether it changed.
fn remove(body: &mut Map<String, Value>, gone: &[DeviceToken]) -> bool {
    let is_gone = |device: &Value| serde_json::from_value::<DeviceToken>(device.clone()).is_ok_and(|device| gone.contains(&device));
    let mut changed = false;
    if let Some(Value::Array(devices)) = body.get_mut("deviceTokens") {
        let before = devices.len();
        devices.retain(|device| !is_gone(device));
        changed = devices.len() != before;
    }
    if body.get("deviceTokens").and_then(Value::as_array).is_some_and(Vec::is_empty) {
        body.remove("deviceTokens");
    }
    let legacy = body.get("deviceToken").and_then(Value::as_str);
    if legacy.is_some_and(|token| gone.iter().any(|g| g.platform == Platform::Android && g.token == token)) {
        body.remove("deviceToken");
        changed = true;
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn removes_listed_and_legacy_devices_and_nothing_else() {
        let mut body = json!({"id": "u", "deviceToken": "fcm-gone", "name": "Ada",
            "deviceTokens": [{"platform": "android", "token": "fcm-gone"}, {"platform": "web", "token": "{}"}, {"platform": "ios", "token": "fcm-gone"}]})
        .as_object()
        .cloned()
        .unwrap();
        let gone = [DeviceToken { platform: Platform::Android, token: "fcm-gone".into() }];
        assert!(remove(&mut body, &gone));
        assert_eq!(
            Value::Object(body.clone()),
            json!({"id": "u", "name": "Ada", "deviceTokens": [{"platform": "web", "token": "{}"}, {"platform": "ios", "token": "fcm-gone"}]})
        );
        assert!(!remove(&mut body, &gone), "nothing left to remove");
        let web = [
            DeviceToken { platform: Platform::Web, token: "{}".into() },
            DeviceToken { platform: Platform::Ios, token: "fcm-gone".into() },
        ];
        assert!(remove(&mut body, &web));
        assert_eq!(Value::Object(body), json!({"id": "u", "name": "Ada"}), "an emptied list goes away, as users are stored");
    }
}
