//! `buildMessages`: at most one message per template and channel.

use super::settings::StoredSetting;
use crate::notification::{Message, MessageStatus};
use crate::resources::channel::Channel;
use serde::{Deserialize, Serialize};

/// What to send: a template on a channel.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageSpec {
    /// The channel.
    pub channel: Channel,
    /// The template's name.
    pub template_name: String,
    /// Channels to try, in order, if this one fails for good or the recipient has no address
    /// for it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fallbacks: Vec<Channel>,
}

/// The messages `settings` ask for, each template × channel once, in the settings' order; a
/// message takes the fallbacks of the first setting that asked for it.
pub fn build(settings: &[StoredSetting]) -> Vec<MessageSpec> {
    let mut messages: Vec<MessageSpec> = Vec::new();
    for stored in settings {
        let setting = &stored.setting;
        for channel in &setting.channels {
            if !messages.iter().any(|m| m.channel == *channel && m.template_name == setting.template_name) {
                let fallbacks = setting.fallback_channels.iter().copied().filter(|c| c != channel).collect();
                messages.push(MessageSpec { channel: *channel, template_name: setting.template_name.clone(), fallbacks });
            }
        }
    }
    messages
}

/// The messages for `user`: one per spec, `queued` or `skipped` (no address), and for each
/// skipped one with fallbacks, its stand-in on the first fallback channel the user can be
/// reached on.
pub fn plan(user: &crate::resources::user::User, specs: &[MessageSpec]) -> Vec<Message> {
    let mut messages: Vec<Message> = specs
        .iter()
        .map(|spec| {
            let mut message = Message::for_recipient(user, spec.channel, &spec.template_name);
            message.fallbacks = spec.fallbacks.clone();
            message
        })
        .collect();
    for index in 0..messages.len() {
        if messages[index].status == MessageStatus::Skipped
            && let Some(stand_in) = messages[index].fallback(index, user, &messages)
        {
            messages.push(stand_in);
        }
    }
    messages
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn one_message_per_template_and_channel() {
        let setting = |id: &str, channels: serde_json::Value, template: &str| StoredSetting {
            id: id.into(),
            setting: serde_json::from_value(json!({"eventName": "E", "channels": channels, "templateName": template})).unwrap(),
        };
        let built = build(&[
            setting("a", json!(["email", "sms"]), "t1"),
            setting("b", json!(["email"]), "t1"),
            setting("c", json!(["email"]), "t2"),
        ]);
        let pairs: Vec<(Channel, &str)> = built.iter().map(|m| (m.channel, m.template_name.as_str())).collect();
        assert_eq!(pairs, [(Channel::Email, "t1"), (Channel::Sms, "t1"), (Channel::Email, "t2")]);
    }

    #[test]
    fn a_channel_without_address_falls_back_to_the_next_reachable_one() {
        let user: crate::resources::user::User = serde_json::from_value(json!({"id": "p-1", "phoneNumber": "+393331234567"})).unwrap();
        let spec = |channel, fallbacks: Vec<Channel>| MessageSpec { channel, template_name: "t".into(), fallbacks };
        let planned = plan(&user, &[spec(Channel::Email, vec![Channel::Push, Channel::Sms]), spec(Channel::Voice, vec![])]);
        let summary: Vec<_> = planned.iter().map(|m| (m.channel, m.status, m.fallback_for)).collect();
        assert_eq!(
            summary,
            [
                (Channel::Email, MessageStatus::Skipped, None),
                (Channel::Voice, MessageStatus::Queued, None),
                (Channel::Sms, MessageStatus::Queued, Some(0)),
            ],
            "push is skipped (no device token), sms stands in for email"
        );
        let taken = plan(&user, &[spec(Channel::Email, vec![Channel::Sms]), spec(Channel::Sms, vec![])]);
        assert_eq!(taken.len(), 2, "a fallback already used by the same template is not sent twice");
    }
}
