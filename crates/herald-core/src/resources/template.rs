//! Message templates: the words of each channel's message, checked here for shape and
//! consistency (rendering is in [`crate::render`]).
//!
//! A template may carry `locales`: per-locale variants of its text fields (`{"it": {"smsMessage":
//! "…"}, "de-CH": {…}}`). [`Template::localized`] picks the variant for a recipient: the first of
//! the preferred locales (recipient, tenant default, configured default) that has one, matched
//! exactly and then by language (`it-IT` finds `it`); without one, the base fields are used.
//! A variant that sets either email body replaces both base bodies, so a variant may switch
//! between plain text and HTML.

use super::{is_language_tag, require_non_blank};
use crate::Invalid;
use crate::document::to_body;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// Most locale variants one template may carry.
pub const MAX_LOCALES: usize = 64;

/// A template, with the notification manager's fields. Text fields support interpolation.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Template {
    /// Unique name within the tenant; notification settings refer to it.
    pub name: String,
    /// The template language of the text fields: `handlebars` (the default) or `jinja`.
    #[serde(default, skip_serializing_if = "Syntax::is_default")]
    pub syntax: Syntax,
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
    /// Variants of the text fields by locale tag (`it`, `de-CH`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub locales: BTreeMap<String, LocaleVariant>,
}

/// The template language of a template's text fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Syntax {
    /// Handlebars, as the notification manager's templates (`{{data.name}}`, `{{#if}}`).
    #[default]
    Handlebars,
    /// Jinja2, as seed 05's clinic templates (`{{ patient_name }}`, `{% if %}`, filters).
    Jinja,
}

impl Syntax {
    fn is_default(&self) -> bool {
        *self == Syntax::default()
    }
}

/// One locale's text fields; each one set replaces the template's own.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocaleVariant {
    /// Email subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_title: Option<String>,
    /// Plain-text email body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_message: Option<String>,
    /// HTML email body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_html_message: Option<String>,
    /// SMS body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_message: Option<String>,
    /// Text read aloud on voice calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice_message: Option<String>,
    /// Push title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_title: Option<String>,
    /// Push subtitle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_subtitle: Option<String>,
    /// Push body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_message: Option<String>,
    /// Comma-separated WhatsApp template parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whatsapp_template_parameters: Option<String>,
}

impl Template {
    /// This template as the first of the `preferred` locales with a variant sees it (each
    /// tried exactly, then by its language: `it-IT` finds `it`), with that variant's key; the
    /// base fields and `None` when no preferred locale has a variant. The result carries no
    /// `locales` of its own. Callers pass the recipient's locale, the tenant's default and the
    /// configured default, in that order.
    pub fn localized(&self, preferred: &[&str]) -> (Template, Option<&str>) {
        let mut template = self.clone();
        template.locales.clear();
        let Some((key, variant)) = self.variant_for(preferred) else { return (template, None) };
        if variant.email_message.is_some() || variant.email_html_message.is_some() {
            template.email_message.clone_from(&variant.email_message);
            template.email_html_message.clone_from(&variant.email_html_message);
        }
        let overrides = [
            (&mut template.email_title, &variant.email_title),
            (&mut template.sms_message, &variant.sms_message),
            (&mut template.voice_message, &variant.voice_message),
            (&mut template.push_title, &variant.push_title),
            (&mut template.push_subtitle, &variant.push_subtitle),
            (&mut template.push_message, &variant.push_message),
            (&mut template.whatsapp_template_parameters, &variant.whatsapp_template_parameters),
        ];
        for (base, replacement) in overrides {
            if replacement.is_some() {
                base.clone_from(replacement);
            }
        }
        (template, Some(key))
    }

    fn variant_for(&self, preferred: &[&str]) -> Option<(&str, &LocaleVariant)> {
        let find = |tag: &str| self.locales.iter().find(|(key, _)| normalized(key) == tag).map(|(key, v)| (key.as_str(), v));
        preferred.iter().map(|tag| normalized(tag)).find_map(|tag| {
            let language = tag.split('-').next().unwrap_or_default();
            find(&tag).or_else(|| if language == tag { None } else { find(language) })
        })
    }
}

/// A locale tag compared case-insensitively, `_` as `-`.
fn normalized(tag: &str) -> String {
    tag.replace('_', "-").to_ascii_lowercase()
}

/// A file attached to emails, as the files service names it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Attachment {
    /// The stored file: its id (the files service's `file`) or its name.
    pub file: String,
    /// Other file-service properties (name, size, type, location), kept as given.
    #[serde(flatten)]
    #[schema(ignore)]
    pub extra: Map<String, Value>,
}

/// Platform-specific push payloads, in Firebase's shapes.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
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
    for (i, attachment) in template.email_attachments.iter().enumerate() {
        require_non_blank(&format!("emailAttachments[{i}].file"), &attachment.file)?;
    }
    consistent(&template)?;
    if template.locales.len() > MAX_LOCALES {
        return Err(Invalid::new("locales", format!("must have at most {MAX_LOCALES} entries")));
    }
    for (i, key) in template.locales.keys().enumerate() {
        let field = format!("locales.{key}");
        if !is_language_tag(key) {
            return Err(Invalid::new(field, "must be named by a language tag such as it or de-CH"));
        }
        if template.locales.keys().take(i).any(|other| normalized(other) == normalized(key)) {
            return Err(Invalid::new(field, "names the same locale as another entry"));
        }
        consistent(&template.localized(&[key]).0).map_err(|e| e.within(&field))?;
    }
    crate::render::check(&template)?;
    Ok(to_body(&template))
}

/// The rules between fields, which every locale's view of a template must keep too.
fn consistent(template: &Template) -> Result<(), Invalid> {
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
    Ok(())
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
        assert!(out.get("syntax").is_none() && out.get("locales").is_none(), "defaults are not stored");
    }

    #[test]
    fn accepts_jinja_templates_with_locale_variants() {
        let out = validate(json!({
            "name": "appointment_confirmation",
            "syntax": "jinja",
            "emailTitle": "Appointment confirmed",
            "emailHtmlMessage": "<p>Hello {{ patient_name }}</p>",
            "locales": {"es": {"emailTitle": "Cita confirmada", "emailHtmlMessage": "<p>Hola {{ patient_name }}</p>"}, "de-CH": {"smsMessage": "Grüezi"}},
        }))
        .unwrap();
        assert_eq!(out["syntax"], "jinja");
        assert_eq!(out["locales"]["es"]["emailTitle"], "Cita confirmada");
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
            (json!({"name": "t", "syntax": "liquid"}), "syntax"),
            (json!({"name": "t", "locales": {"it IT": {"smsMessage": "x"}}}), "locales.it IT"),
            (json!({"name": "t", "locales": {"it": {}, "IT": {}}}), "locales.it"),
            (json!({"name": "t", "locales": {"it": {"pushData": {}}}}), "locales.it.pushData"),
            (json!({"name": "t", "locales": {"it": {"emailTitle": "a\nb"}}}), "locales.it.emailTitle"),
            (json!({"name": "t", "locales": {"it": {"emailMessage": "a", "emailHtmlMessage": "b"}}}), "locales.it.emailHtmlMessage"),
            (json!({"name": "t", "pushData": {}, "locales": {"it": {"pushTitle": "x"}}}), "locales.it.pushData"),
            (json!({"name": "t", "syntax": "jinja", "smsMessage": "{% if x %}"}), "smsMessage"),
        ];
        for (body, field) in cases {
            assert_eq!(validate(body.clone()).unwrap_err().field, field, "{body}");
        }
    }
}
