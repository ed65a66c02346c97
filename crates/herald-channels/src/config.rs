//! Provider configuration: one entry per channel, tagged by `type`.

use crate::{ApnsConfig, FcmConfig, PushConfig, PushProvider, WebPushConfig};
use crate::{ConsoleConfig, ConsoleProvider, InAppProvider, Provider, SmtpConfig, SmtpProvider, WebhookConfig, WebhookProvider};
use crate::{Dialog360Config, Dialog360Provider, WhatsappCloudConfig, WhatsappCloudProvider};
use crate::{KaleyraConfig, KaleyraProvider, TwilioSmsConfig, TwilioSmsProvider, TwilioVoiceConfig, TwilioVoiceProvider};
use crate::{SesConfig, SesProvider};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A channel's provider and its settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ProviderConfig {
    /// Logs and accepts (development); `print = true` also writes each message to standard output.
    Console(ConsoleConfig),
    /// The in-app notification center.
    InApp,
    /// A signed HTTP POST per message.
    Webhook(WebhookConfig),
    /// An SMTP server.
    Smtp(SmtpConfig),
    /// Push to every device of the recipient, through the services configured per platform.
    Push(PushConfig),
    /// Push through Firebase Cloud Messaging only.
    Fcm(FcmConfig),
    /// Push through the Apple Push Notification service only.
    Apns(ApnsConfig),
    /// Web Push only.
    WebPush(WebPushConfig),
    /// The Meta WhatsApp Cloud API.
    WhatsappCloud(WhatsappCloudConfig),
    /// 360dialog's WhatsApp API.
    #[serde(rename = "360dialog")]
    Dialog360(Dialog360Config),
    /// Amazon SES v2.
    Ses(SesConfig),
    /// The channel is switched off (seed 05's `disabled`): it has no provider, and its messages
    /// fail with that reason, as a tenant's `disabled` entry makes them.
    Disabled,
    /// Twilio Programmable Messaging (SMS).
    Twilio(TwilioSmsConfig),
    /// A Twilio voice call reading the message.
    TwilioVoice(TwilioVoiceConfig),
    /// Kaleyra.io SMS.
    Kaleyra(KaleyraConfig),
}

impl ProviderConfig {
    /// Builds the provider; the error says which setting is wrong (or that the channel is
    /// disabled).
    pub fn build(&self) -> Result<Arc<dyn Provider>, String> {
        Ok(match self {
            ProviderConfig::Console(config) => Arc::new(ConsoleProvider::new(config)),
            ProviderConfig::InApp => Arc::new(InAppProvider),
            ProviderConfig::Webhook(config) => Arc::new(WebhookProvider::new(config)?),
            ProviderConfig::Smtp(config) => Arc::new(SmtpProvider::new(config)?),
            ProviderConfig::Push(config) => Arc::new(PushProvider::new(config)?),
            ProviderConfig::Fcm(fcm) => Arc::new(PushProvider::new(&PushConfig { fcm: Some(fcm.clone()), ..PushConfig::default() })?),
            ProviderConfig::Apns(apns) => Arc::new(PushProvider::new(&PushConfig { apns: Some(apns.clone()), ..PushConfig::default() })?),
            ProviderConfig::WebPush(web) => {
                Arc::new(PushProvider::new(&PushConfig { web_push: Some(web.clone()), ..PushConfig::default() })?)
            }
            ProviderConfig::WhatsappCloud(config) => Arc::new(WhatsappCloudProvider::new(config)?),
            ProviderConfig::Dialog360(config) => Arc::new(Dialog360Provider::new(config)?),
            ProviderConfig::Ses(config) => Arc::new(SesProvider::new(config)?),
            ProviderConfig::Disabled => return Err("a disabled channel has no provider".into()),
            ProviderConfig::Twilio(config) => Arc::new(TwilioSmsProvider::new(config)?),
            ProviderConfig::TwilioVoice(config) => Arc::new(TwilioVoiceProvider::new(config)?),
            ProviderConfig::Kaleyra(config) => Arc::new(KaleyraProvider::new(config)?),
        })
    }
}
