//! `POST /send` (seed 03): a message sent by hand to users or clusters, with a template or with
//! inline content.

use crate::Invalid;
use crate::inbox::Priority;
use crate::resources::channel::Channel;
use crate::values::EmailAddress;
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Map, Value};

/// The channels `POST /send` takes: seed 03's, plus `in_app` (Herald's extension: a message by
/// hand to the patients' notification center).
pub const SEND_CHANNELS: [Channel; 6] = [Channel::Email, Channel::Sms, Channel::Push, Channel::Voice, Channel::Whatsapp, Channel::InApp];

/// A `POST /send` body, checked.
#[derive(Clone, Debug, PartialEq)]
pub struct SendRequest {
    /// Channels to send on.
    pub channels: Vec<Channel>,
    /// User ids.
    pub recipients: Vec<String>,
    /// Clusters whose users receive it.
    pub clusters: Vec<String>,
    /// Inline title and content, when there is no template.
    pub inline: Option<(String, String)>,
    /// The template's `_id`.
    pub template_id: Option<String>,
    /// Interpolation data.
    pub data: Map<String, Value>,
    /// Files to attach (by their files-service name).
    pub email_attachments: Vec<String>,
    /// Valid CC addresses (invalid ones are dropped, as the seed says).
    pub email_carbon_copies: Vec<EmailAddress>,
    /// Valid BCC addresses.
    pub email_blind_carbon_copies: Vec<EmailAddress>,
    /// The sender, overriding configuration.
    pub email_sender: Option<EmailAddress>,
    /// Where replies go, overriding configuration (Herald's extension: `emailReplyTo`).
    pub email_reply_to: Option<EmailAddress>,
    /// When to send; now when absent.
    pub scheduled_at: Option<Timestamp>,
    /// Channels to try, in order, for a message that fails for good or cannot reach its
    /// recipient (Herald's extension to seed 03's body).
    pub fallback_channels: Vec<Channel>,
    /// The in-app entries' priority (`low`, `medium`, `high`, `urgent`; Herald's extension),
    /// `medium` when absent.
    pub priority: Option<Priority>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Body {
    channels: Vec<Channel>,
    #[serde(default)]
    recipients: Option<Vec<String>>,
    #[serde(default)]
    clusters: Option<Vec<String>>,
    #[serde(default)]
    message_title: Option<String>,
    #[serde(default)]
    message_content: Option<String>,
    #[serde(default)]
    template_id: Option<String>,
    #[serde(default)]
    data: Map<String, Value>,
    #[serde(default)]
    email_attachments: Vec<String>,
    #[serde(default)]
    email_carbon_copies: Vec<String>,
    #[serde(default)]
    email_blind_carbon_copies: Vec<String>,
    #[serde(default)]
    email_sender: Option<String>,
    #[serde(default)]
    email_reply_to: Option<String>,
    #[serde(default)]
    scheduled_at: Option<String>,
    #[serde(default)]
    fallback_channels: Vec<Channel>,
    #[serde(default)]
    priority: Option<String>,
}

impl SendRequest {
    /// Reads a body; `active` are the channels this server sends on.
    pub fn parse(body: Value, active: &[Channel]) -> Result<Self, Invalid> {
        let body: Body = Invalid::deserialize(body)?;
        if body.channels.is_empty() {
            return Err(Invalid::new("channels", "must name at least one channel"));
        }
        if let Some(i) = body.channels.iter().position(|c| !SEND_CHANNELS.contains(c) || !active.contains(c)) {
            return Err(Invalid::new(format!("channels[{i}]"), "is not an active channel"));
        }
        let recipients = body.recipients.unwrap_or_default();
        let clusters = body.clusters.unwrap_or_default();
        if let Some(i) = body.fallback_channels.iter().position(|c| !SEND_CHANNELS.contains(c) || !active.contains(c)) {
            return Err(Invalid::new(format!("fallbackChannels[{i}]"), "is not an active channel"));
        }
        if recipients.is_empty() && clusters.is_empty() {
            return Err(Invalid::new("recipients", "recipients or clusters are required"));
        }
        let inline = match (body.template_id.is_some(), body.message_title, body.message_content) {
            (true, None, None) => None,
            (false, Some(title), Some(content)) => {
                if title.contains(['\r', '\n']) {
                    return Err(Invalid::new("messageTitle", "must be a single line"));
                }
                Some((title, content))
            }
            (true, _, _) => return Err(Invalid::new("templateId", "cannot be given with messageTitle or messageContent")),
            (false, _, _) => return Err(Invalid::new("templateId", "templateId, or messageTitle and messageContent, are required")),
        };
        if inline.is_some() && body.channels.contains(&Channel::Whatsapp) {
            return Err(Invalid::new("templateId", "is required to send WhatsApp messages"));
        }
        let addresses = |field: &str, list: Vec<String>| -> Result<Vec<EmailAddress>, Invalid> {
            if let Some(i) = list.iter().position(|a| a.contains(['\r', '\n'])) {
                return Err(Invalid::new(format!("{field}[{i}]"), "must be a single line"));
            }
            Ok(list.iter().filter_map(|a| EmailAddress::parse(a).ok()).collect())
        };
        let email_sender =
            body.email_sender.map(|s| EmailAddress::parse(&s).map_err(|reason| Invalid::new("emailSender", reason))).transpose()?;
        let email_reply_to =
            body.email_reply_to.map(|s| EmailAddress::parse(&s).map_err(|reason| Invalid::new("emailReplyTo", reason))).transpose()?;
        let scheduled_at =
            body.scheduled_at.map(|s| s.parse().map_err(|_| Invalid::new("scheduledAt", "must be an ISO 8601 date-time"))).transpose()?;
        let priority = body
            .priority
            .map(|p| Priority::parse(&p).ok_or_else(|| Invalid::new("priority", "must be low, medium, high or urgent")))
            .transpose()?;
        Ok(Self {
            channels: body.channels,
            recipients,
            clusters,
            inline,
            template_id: body.template_id,
            data: body.data,
            email_attachments: body.email_attachments,
            email_carbon_copies: addresses("emailCarbonCopies", body.email_carbon_copies)?,
            email_blind_carbon_copies: addresses("emailBlindCarbonCopies", body.email_blind_carbon_copies)?,
            email_sender,
            email_reply_to,
            scheduled_at,
            fallback_channels: body.fallback_channels,
            priority,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn active() -> Vec<Channel> {
        SEND_CHANNELS.to_vec()
    }

    #[test]
    fn reads_a_send_and_drops_invalid_copies() {
        let request = SendRequest::parse(
            json!({"channels": ["email", "sms"], "recipients": ["u1"], "messageTitle": "Hi", "messageContent": "Body {{data.x}}",
                "emailCarbonCopies": ["ok@example.org", "not-an-address"], "scheduledAt": "2030-01-01T09:00:00Z"}),
            &active(),
        )
        .unwrap();
        assert_eq!(request.email_carbon_copies.len(), 1);
        assert_eq!(request.email_reply_to, None);
        assert_eq!(request.inline, Some(("Hi".into(), "Body {{data.x}}".into())));
    }

    #[test]
    fn names_what_is_wrong() {
        let cases = [
            (json!({"channels": [], "recipients": ["u"], "templateId": "t"}), "channels"),
            (json!({"channels": ["webhook"], "recipients": ["u"], "templateId": "t"}), "channels[0]"),
            (json!({"channels": ["in_app"], "recipients": ["u"], "templateId": "t", "priority": "critical"}), "priority"),
            (json!({"channels": ["email"], "templateId": "t"}), "recipients"),
            (json!({"channels": ["email"], "recipients": ["u"]}), "templateId"),
            (json!({"channels": ["email"], "recipients": ["u"], "templateId": "t", "messageTitle": "x"}), "templateId"),
            (json!({"channels": ["email"], "recipients": ["u"], "messageTitle": "a\\r\\nBcc: x", "messageContent": "b"}), "messageTitle"),
            (json!({"channels": ["whatsapp"], "recipients": ["u"], "messageTitle": "a", "messageContent": "b"}), "templateId"),
            (
                json!({"channels": ["email"], "recipients": ["u"], "templateId": "t", "emailCarbonCopies": ["a@b.c\\nBcc: x@y.z"]}),
                "emailCarbonCopies[0]",
            ),
            (json!({"channels": ["email"], "recipients": ["u"], "templateId": "t", "emailSender": "nope"}), "emailSender"),
            (
                json!({"channels": ["email"], "recipients": ["u"], "templateId": "t", "emailReplyTo": "a@b.example\\r\\nBcc: x@y.z"}),
                "emailReplyTo",
            ),
            (json!({"channels": ["email"], "recipients": ["u"], "templateId": "t", "scheduledAt": "later"}), "scheduledAt"),
        ];
        for (body, field) in cases {
            let parsed: Value = serde_json::from_str(&body.to_string().replace("\\\\r", "\\r").replace("\\\\n", "\\n")).unwrap();
            assert_eq!(SendRequest::parse(parsed.clone(), &active()).unwrap_err().field, field, "{parsed}");
        }
    }
}
