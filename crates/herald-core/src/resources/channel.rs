//! Delivery channels.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A way of reaching a recipient. Seed 03's five plus `in_app` (the notification center) and
/// `webhook` (for systems that want events rather than messages).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Email over SMTP or SES.
    Email,
    /// Text message.
    Sms,
    /// Mobile or web push.
    Push,
    /// Phone call reading the message aloud.
    Voice,
    /// WhatsApp template or session message.
    Whatsapp,
    /// The in-app notification center.
    InApp,
    /// A signed HTTP callback.
    Webhook,
}

impl Channel {
    /// The channel's name, as requests and configuration spell it (`in_app`).
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Push => "push",
            Channel::Voice => "voice",
            Channel::Whatsapp => "whatsapp",
            Channel::InApp => "in_app",
            Channel::Webhook => "webhook",
        }
    }
}
