//! Recipients: the patients and staff Herald notifies.

use super::{require_distinct, require_non_blank};
use crate::Invalid;
use crate::document::to_body;
use crate::values::{E164, EmailAddress, TimeZoneName};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// A recipient. `id` is the identifier other systems use for this person (for example the
/// identity provider's subject) and is unique within a tenant; a channel is skipped for a user
/// without the matching address. Additional properties are kept as they are, as in the
/// notification manager's users collection.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// The user's identifier in the calling system (required, unique per tenant).
    pub id: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Address for email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_address: Option<EmailAddress>,
    /// Number for SMS, voice and WhatsApp, in E.164 format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<E164>,
    /// A single push token, as the notification manager's users collection has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_token: Option<String>,
    /// Every device the user receives push on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub device_tokens: Vec<DeviceToken>,
    /// Groups the user belongs to.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Roles the user has.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Clusters the user belongs to.
    #[serde(default)]
    pub clusters: Vec<String>,
    /// Preferred language, a BCP 47 tag such as `it` or `en-GB`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// The user's IANA time zone, for quiet hours and time slots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<TimeZoneName>,
    /// Any other properties, kept untouched.
    #[serde(flatten)]
    #[schema(ignore)]
    pub extra: Map<String, Value>,
}

/// One device registered for push.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceToken {
    /// Which push service the token belongs to.
    pub platform: Platform,
    /// The provider's token for the device.
    pub token: String,
}

/// A push platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// Firebase Cloud Messaging.
    Android,
    /// Apple Push Notification service.
    Ios,
    /// Web Push (VAPID).
    Web,
}

impl User {
    /// Whether the user can be reached on `channel`: an email address for email; a phone
    /// number for SMS, voice and WhatsApp; a device token for push. The in-app center and
    /// webhooks need no address.
    pub fn address_for(&self, channel: super::channel::Channel) -> Result<(), &'static str> {
        use super::channel::Channel::*;
        let present = match channel {
            Email => self.email_address.is_some(),
            Sms | Voice | Whatsapp => self.phone_number.is_some(),
            Push => self.device_token.as_deref().is_some_and(|t| !t.is_empty()) || !self.device_tokens.is_empty(),
            InApp | Webhook => true,
        };
        if present {
            return Ok(());
        }
        Err(match channel {
            Email => "the recipient has no email address",
            Push => "the recipient has no device token",
            _ => "the recipient has no phone number",
        })
    }

    /// The user's memberships, as notification settings match them.
    pub fn audience(&self) -> crate::rules::settings::Audience {
        crate::rules::settings::Audience {
            id: self.id.clone(),
            groups: self.groups.clone(),
            roles: self.roles.clone(),
            clusters: self.clusters.clone(),
        }
    }
}

/// Validates and normalizes a user document.
pub fn validate(body: Value) -> Result<Map<String, Value>, Invalid> {
    let user: User = Invalid::deserialize(body)?;
    require_non_blank("id", &user.id)?;
    if user.id.len() > 256 {
        return Err(Invalid::new("id", "must be at most 256 characters"));
    }
    for (i, device) in user.device_tokens.iter().enumerate() {
        require_non_blank(&format!("deviceTokens[{i}].token"), &device.token)?;
    }
    require_distinct("deviceTokens", &user.device_tokens)?;
    if let Some(locale) = &user.locale
        && !super::is_language_tag(locale)
    {
        return Err(Invalid::new("locale", "must be a language tag such as en or it-IT"));
    }
    Ok(to_body(&user))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_extra_properties_and_fills_defaults() {
        let out = validate(json!({"id": "auth0|1", "emailAddress": "a@example.org", "fiscalCode": "XYZ"})).unwrap();
        assert_eq!(out["fiscalCode"], "XYZ");
        assert_eq!(out["groups"], json!([]));
    }

    #[test]
    fn names_the_bad_field() {
        let cases = [
            (json!({"id": "u", "phoneNumber": "0612345678"}), "phoneNumber"),
            (json!({"id": "u", "emailAddress": "nope"}), "emailAddress"),
            (json!({"id": "u", "timeZone": "Nowhere/City"}), "timeZone"),
            (json!({"id": "u", "groups": "doctors"}), "groups"),
            (json!({"id": "u", "deviceTokens": [{"platform": "blackberry", "token": "t"}]}), "deviceTokens[0].platform"),
            (json!({"id": "u", "locale": "not a locale"}), "locale"),
            (json!({"id": ""}), "id"),
        ];
        for (body, field) in cases {
            assert_eq!(validate(body.clone()).unwrap_err().field, field, "{body}");
        }
        assert_eq!(validate(json!({"name": "no id"})).unwrap_err().field, "id");
    }
}
