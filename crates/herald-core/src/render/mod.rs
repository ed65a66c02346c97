//! Rendering templates into messages, in the template's syntax:
//!
//! - Handlebars (the default), as in the notification manager (`{{x}}` escapes HTML, `{{{x}}}`
//!   is raw), with the inputs `data` (the event payload or send body), `user` (the recipient)
//!   and `tenant` (the clinic's own variables), and the helpers `dateNow`, `dateFormat`
//!   (`format=`, `tz=`), `toLocale` (`locale=`) plus Handlebars' own `eq`, `ne`, `gt`, `gte`,
//!   `lt`, `lte`, `and`, `or`, `not`;
//! - Jinja2 (`"syntax": "jinja"`), as seed 05's clinic templates, with MiniJinja: the same
//!   inputs plus the keys of `data` at the top level (`{{ patient_name }}`), HTML escaping in
//!   `emailHtmlMessage` only, a fuel budget per render (see the private `jinja` module).
//!
//! Rendering is strict: a variable the template prints but the input lacks is an error for that
//! message, never an empty gap, and an error fails the whole message (no half-rendered
//! output). No partials or includes, no file or network access; output is capped.
//!
//! An HTML email body that starts with `<mjml` is MJML, compiled to responsive HTML by MRML
//! after the template is rendered (MRML without its include loaders: `mj-include` fails). An
//! HTML email without a text body gets one derived from the HTML, so every email has a
//! plain-text part.
//!
//! Locale variants are chosen before rendering, with
//! [`Template::localized`](crate::resources::template::Template::localized).

mod helpers;
mod jinja;
mod text;

use crate::Invalid;
use crate::resources::channel::Channel;
use crate::resources::template::{Syntax, Template};
use handlebars::Handlebars;
use jiff::Timestamp;
use mrml::prelude::parser::ParserOptions;
use mrml::prelude::render::RenderOptions;
use serde::Serialize;
use serde_json::{Value, json};
use std::sync::OnceLock;

/// Largest rendered text, in bytes.
pub const MAX_OUTPUT: usize = 512 * 1024;

/// What a template is rendered with.
#[derive(Clone, Debug)]
pub struct RenderInput {
    /// The event payload or the send body's `data`.
    pub data: Value,
    /// The recipient.
    pub user: Value,
    /// The tenant's own variables (clinic name, phone, …).
    pub tenant: Value,
    /// Now, for `dateNow`.
    pub now: Timestamp,
    /// The locale for `toLocale` when the template does not say.
    pub locale: String,
}

/// One channel's rendered content.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase", tag = "channel")]
pub enum Content {
    /// An email.
    #[serde(rename = "email")]
    Email {
        /// The subject.
        subject: String,
        /// The plain-text body.
        text: Option<String>,
        /// The HTML body.
        html: Option<String>,
    },
    /// A text message.
    #[serde(rename = "sms")]
    Sms {
        /// The body.
        body: String,
    },
    /// A call's spoken text.
    #[serde(rename = "voice")]
    Voice {
        /// What is read aloud.
        body: String,
    },
    /// A push notification.
    #[serde(rename = "push")]
    Push {
        /// Title.
        title: Option<String>,
        /// Subtitle.
        subtitle: Option<String>,
        /// Body.
        body: Option<String>,
        /// Platform payloads (`android`, `apns`), rendered.
        data: Option<Value>,
    },
    /// A WhatsApp template message.
    #[serde(rename = "whatsapp")]
    Whatsapp {
        /// The approved template's name.
        template_name: String,
        /// Its parameters, in order.
        parameters: Vec<String>,
        /// The WhatsApp language code of the translation to send (`it`, `en_GB`), chosen at
        /// delivery from the recipient's and the tenant's locale; `None` leaves it to the
        /// provider's configured default.
        language: Option<String>,
    },
    /// A free-form WhatsApp text, which WhatsApp accepts only inside the customer-service
    /// window (the recipient wrote within 24 hours).
    WhatsappText {
        /// The text.
        body: String,
    },
}

fn engine() -> &'static Handlebars<'static> {
    static ENGINE: OnceLock<Handlebars<'static>> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut handlebars = Handlebars::new();
        handlebars.set_strict_mode(true);
        helpers::register(&mut handlebars);
        handlebars
    })
}

/// The text fields of a template, by name, in a fixed order.
fn fields(template: &Template) -> Vec<(&'static str, &str)> {
    let t = template;
    let all = [
        ("emailTitle", t.email_title.as_deref()),
        ("emailMessage", t.email_message.as_deref()),
        ("emailHtmlMessage", t.email_html_message.as_deref()),
        ("smsMessage", t.sms_message.as_deref()),
        ("voiceMessage", t.voice_message.as_deref()),
        ("pushTitle", t.push_title.as_deref()),
        ("pushSubtitle", t.push_subtitle.as_deref()),
        ("pushMessage", t.push_message.as_deref()),
        ("whatsappTemplateParameters", t.whatsapp_template_parameters.as_deref()),
    ];
    all.into_iter().filter_map(|(name, text)| text.map(|text| (name, text))).collect()
}

/// Checks that every text field of `template`, and of each of its locale variants, compiles in
/// the template's syntax; the error names the field (`locales.it.smsMessage` in a variant), the
/// line and the reason.
pub fn check(template: &Template) -> Result<(), Invalid> {
    check_fields(template)?;
    for key in template.locales.keys() {
        check_fields(&template.localized(&[key]).0).map_err(|e| e.within(&format!("locales.{key}")))?;
    }
    Ok(())
}

fn check_fields(template: &Template) -> Result<(), Invalid> {
    for (field, text) in fields(template) {
        match template.syntax {
            Syntax::Handlebars => {
                handlebars::Template::compile(text).map_err(|e| {
                    let place = e.pos().map(|(line, column)| format!("line {line}, column {column}: ")).unwrap_or_default();
                    Invalid::new(field, format!("does not compile: {place}{}", e.reason()))
                })?;
            }
            Syntax::Jinja => jinja::check(field, text)?,
        }
    }
    Ok(())
}

/// A template's syntax with the context its fields are rendered in.
enum Renderer {
    Handlebars(Value),
    Jinja(minijinja::Value),
}

impl Renderer {
    fn new(syntax: Syntax, input: &RenderInput) -> Self {
        match syntax {
            Syntax::Handlebars => Renderer::Handlebars(json!({"data": input.data, "user": input.user, "tenant": input.tenant,
                "_herald": {"now": crate::document::format_timestamp(input.now), "locale": input.locale}})),
            Syntax::Jinja => Renderer::Jinja(jinja::context(&input.data, &input.user, &input.tenant)),
        }
    }

    /// `text`, the value of `field`, rendered.
    fn text(&self, field: &str, text: &str) -> Result<String, Invalid> {
        let output = match self {
            Renderer::Handlebars(context) => {
                engine().render_template(text, context).map_err(|e| Invalid::new(field, format!("cannot be rendered: {}", e.reason())))?
            }
            Renderer::Jinja(context) => jinja::render(field, text, context)?,
        };
        capped(field, output)
    }

    /// Every string inside a JSON value rendered (push payloads).
    fn value(&self, field: &str, value: &Value) -> Result<Value, Invalid> {
        Ok(match value {
            Value::String(text) => Value::String(self.text(field, text)?),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.value(field, v)).collect::<Result<_, _>>()?),
            Value::Object(map) => {
                Value::Object(map.iter().map(|(k, v)| Ok((k.clone(), self.value(field, v)?))).collect::<Result<_, Invalid>>()?)
            }
            other => other.clone(),
        })
    }
}

/// `output` of `field`, unless it is larger than [`MAX_OUTPUT`].
fn capped(field: &str, output: String) -> Result<String, Invalid> {
    if output.len() > MAX_OUTPUT {
        return Err(Invalid::new(field, format!("renders to more than {MAX_OUTPUT} bytes")));
    }
    Ok(output)
}

/// A rendered HTML body as sent: MJML (it starts with `<mjml`) compiled to HTML, other HTML
/// as it is.
fn email_html(rendered: String) -> Result<String, Invalid> {
    const FIELD: &str = "emailHtmlMessage";
    if !rendered.trim_start().starts_with("<mjml") {
        return Ok(rendered);
    }
    let invalid = |e: &dyn std::fmt::Display| Invalid::new(FIELD, format!("is not valid MJML: {e}"));
    let parsed = mrml::parse_with_options(&rendered, &ParserOptions::default()).map_err(|e| invalid(&e))?;
    let html = parsed.element.render(&RenderOptions::default()).map_err(|e| invalid(&e))?;
    capped(FIELD, html)
}

/// Renders `template` for `channel`. The error names the field that failed; a channel the
/// template has no content for is an error too.
pub fn render(template: &Template, channel: Channel, input: &RenderInput) -> Result<Content, Invalid> {
    let renderer = Renderer::new(template.syntax, input);
    let text = |field: &str, value: &Option<String>| value.as_deref().map(|t| renderer.text(field, t)).transpose();
    let missing = |what: &str| Invalid::new("template", format!("has no {what} content"));
    match channel {
        Channel::Email => {
            let subject = text("emailTitle", &template.email_title)?.ok_or_else(|| missing("email"))?;
            let html = text("emailHtmlMessage", &template.email_html_message)?.map(email_html).transpose()?;
            let text_body = match text("emailMessage", &template.email_message)? {
                Some(body) => body,
                None => text::html_to_text(html.as_deref().ok_or_else(|| missing("email body"))?),
            };
            Ok(Content::Email { subject, text: Some(text_body), html })
        }
        Channel::Sms | Channel::InApp => {
            Ok(Content::Sms { body: text("smsMessage", &template.sms_message)?.ok_or_else(|| missing("SMS"))? })
        }
        Channel::Voice => Ok(Content::Voice { body: text("voiceMessage", &template.voice_message)?.ok_or_else(|| missing("voice"))? }),
        Channel::Push => {
            let data = match &template.push_data {
                Some(payload) => Some(renderer.value("pushData", &serde_json::to_value(payload).expect("push data serializes"))?),
                None => None,
            };
            let (title, subtitle, body) = (
                text("pushTitle", &template.push_title)?,
                text("pushSubtitle", &template.push_subtitle)?,
                text("pushMessage", &template.push_message)?,
            );
            if data.is_none() && title.is_none() && body.is_none() {
                return Err(missing("push"));
            }
            Ok(Content::Push { title, subtitle, body, data })
        }
        Channel::Whatsapp => {
            let template_name = template
                .whatsapp_template_name
                .clone()
                .ok_or_else(|| Invalid::new("whatsappTemplateName", "Missing required template name for WhatsApp message"))?;
            let parameters = text("whatsappTemplateParameters", &template.whatsapp_template_parameters)?
                .map(|p| p.split(',').map(|s| s.trim().to_string()).collect())
                .unwrap_or_default();
            Ok(Content::Whatsapp { template_name, parameters, language: None })
        }
        Channel::Webhook => Err(Invalid::new("channel", "webhooks carry the event, not a template")),
    }
}

/// Every channel the template has content for, rendered (the preview).
pub fn preview(template: &Template, input: &RenderInput) -> Vec<Result<Content, Invalid>> {
    let t = template;
    let mut channels = Vec::new();
    if t.email_title.is_some() {
        channels.push(Channel::Email);
    }
    if t.sms_message.is_some() {
        channels.push(Channel::Sms);
    }
    if t.voice_message.is_some() {
        channels.push(Channel::Voice);
    }
    if t.push_data.is_some() || t.push_title.is_some() || t.push_message.is_some() {
        channels.push(Channel::Push);
    }
    if t.whatsapp_template_name.is_some() {
        channels.push(Channel::Whatsapp);
    }
    channels.into_iter().map(|channel| render(template, channel, input)).collect()
}

#[cfg(test)]
mod tests;
