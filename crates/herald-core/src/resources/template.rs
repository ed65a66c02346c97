//! Message templates: the words of each channel's message. Rendering comes with delivery;
//! here the fields are checked for shape and consistency.

use super::require_non_blank;
use crate::Invalid;
use crate::document::to_body;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// A template, with the notification manager's fields. Text fields support interpolation.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Template {
    /// Unique name within the tenant; notification settings refer to it.
    pub name: String,
    /// Email subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_title: Option<String>,
    /// Plain-text email body (exclusive with `emailHtmlMessage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_message: Option<String>,
    /// HTML email body (exclusive with `emailMessage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_html_message: Option<String>,
    /// Files attached to every email sent with this template.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub email_attachments: Vec<Attachment>,
    /// SMS body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_message: Option<String>,
    /// Text read aloud on voice calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice_message: Option<String>,
    /// Push title (exclusive with `pushData`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_title: Option<String>,
    /// Push subtitle (exclusive with `pushData`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_subtitle: Option<String>,
    /// Push body (exclusive with `pushData`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_message: Option<String>,
    /// Platform-specific push payload with `android` and/or `apns` objects (exclusive with the
    /// other push fields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_data: Option<PushData>,
    /// Name of the approved WhatsApp template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whatsapp_template_name: Option<String>,
    /// Comma-separated WhatsApp template parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whatsapp_template_parameters: Option<String>,
}

/// A file attached to emails, as the files service names it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Attachment {
    /// The stored file's name in the files service.
    pub file: String,
    /// Other file-service properties (name, size, type, location), kept as given.
    #[serde(flatten)]
    #[schema(ignore)]
    pub extra: Map<String, Value>,
}

/// Platform-specific push payloads, in Firebase's shapes.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushData {
    /// Firebase `AndroidConfig`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub android: Option<Map<String, Value>>,
    /// Firebase `ApnsConfig`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apns: Option<Map<String, Value>>,
}

/// Validates and normalizes a template document.
pub fn validate(body: Value) -> Result<Map<String, Value>, Invalid> {
    let template: Template = Invalid::deserialize(body)?;
    require_non_blank("name", &template.name)?;
    if template.name.len() > 200 {
        return Err(Invalid::new("name", "must be at most 200 characters"));
    }
    if template.email_message.is_some() && template.email_html_message.is_some() {
        return Err(Invalid::new("emailHtmlMessage", "cannot be set together with emailMessage; use one of them"));
    }
    if template.push_data.is_some() {
        let others =
            [("pushTitle", &template.push_title), ("pushSubtitle", &template.push_subtitle), ("pushMessage", &template.push_message)];
        if let Some((field, _)) = others.iter().find(|(_, v)| v.is_some()) {
            return Err(Invalid::new("pushData", format!("cannot be set together with {field}")));
        }
    }
    if let Some(title) = &template.email_title
        && title.contains(['\r', '\n'])
    {
        return Err(Invalid::new("emailTitle", "must be a single line"));
    }
    for (i, attachment) in template.email_attachments.iter().enumerate() {
        require_non_blank(&format!("emailAttachments[{i}].file"), &attachment.file)?;
    }
    crate::render::check(&template)?;
    Ok(to_body(&template))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accepts_a_full_template() {
        let out = validate(json!({
            "name": "appointment-created",
            "emailTitle": "Appointment on {{data.date}}",
            "emailHtmlMessage": "<p>Hi {{user.name}}</p>",
            "emailAttachments": [{"file": "leaflet.pdf", "name": "Leaflet"}],
            "smsMessage": "See you",
            "pushData": {"android": {"priority": "high"}},
            "whatsappTemplateName": "appointment_created",
        }))
        .unwrap();
        assert_eq!(out["emailAttachments"][0]["name"], "Leaflet");
    }

    #[test]
    fn refuses_inconsistent_templates() {
        let cases = [
            (json!({"name": "t", "emailMessage": "a", "emailHtmlMessage": "b"}), "emailHtmlMessage"),
            (json!({"name": "t", "pushData": {}, "pushTitle": "x"}), "pushData"),
            (json!({"name": "t", "pushData": {"windows": {}}}), "pushData.windows"),
            (json!({"name": " "}), "name"),
            (json!({"emailTitle": "x"}), "name"),
            (json!({"name": "t", "smsMesage": "typo"}), "smsMesage"),
            (json!({"name": "t", "emailTitle": "a\r\nBcc: x"}), "emailTitle"),
            (json!({"name": "t", "emailAttachments": [{"name": "x"}]}), "emailAttachments[0].file"),
        ];
        for (body, field) in cases {
            assert_eq!(validate(body.clone()).unwrap_err().field, field, "{body}");
        }
    }
}
