//! `buildMessages`: at most one message per template and channel.

use super::settings::StoredSetting;
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
}

/// The messages `settings` ask for, each template × channel once, in the settings' order.
pub fn build(settings: &[StoredSetting]) -> Vec<MessageSpec> {
    let mut messages: Vec<MessageSpec> = Vec::new();
    for stored in settings {
        for channel in &stored.setting.channels {
            let spec = MessageSpec { channel: *channel, template_name: stored.setting.template_name.clone() };
            if !messages.contains(&spec) {
                messages.push(spec);
            }
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
}
