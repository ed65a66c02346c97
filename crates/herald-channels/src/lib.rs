//! Delivery providers. Each channel is served by one provider, chosen in configuration by
//! `type`; every provider has one job — hand one rendered message to its service — and says
//! whether a failure is worth retrying. Retry schedules, rate limits and fallbacks are the
//! dispatcher's (herald-engine), so each provider stays small.
//!
//! Providers here: `console` (development: logs that a message went out, never its content or
//! address), `in_app` (the notification record itself is the inbox entry), `webhook` (a signed
//! HTTP POST, Standard Webhooks style), `smtp` (pooled, STARTTLS or TLS via rustls) and `push`
//! (every device of the recipient through FCM, APNs or Web Push; `fcm`, `apns` and `web_push`
//! are one platform alone), `ses` (Amazon SES v2, signed by the small SigV4 signer in `sigv4`;
//! its delivery reports arrive through SNS, whose signatures `SnsVerifier` checks). Both email
//! providers build the same MIME email (`mail`).
//! are one platform alone).
//!
//! SMS and voice: `twilio_sms` (Twilio Programmable Messaging), `kaleyra` (Kaleyra.io) and
//! `twilio_voice` (a Twilio call that reads the message); [`twilio`] holds what the Twilio
//! providers share, among it the webhook signature check.

mod apns;
mod config;
mod console;
mod dialog360;
mod fcm;
pub mod http;
mod in_app;
mod kaleyra;
mod mail;
mod outgoing;
mod push;
mod ses;
mod ses_events;
pub mod sigv4;
mod smtp;
mod sns;
pub mod twilio;
mod twilio_sms;
mod twilio_voice;
mod web_push;
mod webhook;
pub mod whatsapp;
mod whatsapp_cloud;

pub use apns::ApnsConfig;
pub use config::ProviderConfig;
pub use console::{ConsoleConfig, ConsoleProvider};
pub use dialog360::{Dialog360Config, Dialog360Provider};
pub use fcm::FcmConfig;
pub use in_app::InAppProvider;
pub use kaleyra::{KALEYRA_SERVICE, KaleyraConfig, KaleyraProvider};
pub use outgoing::{Attachment, GoneDevices, Outgoing, Receipt, SendError};
pub use push::{PushConfig, PushProvider};
pub use ses::{SesConfig, SesProvider};
pub use ses_events::{SesReport, read_event as read_ses_event};
pub use smtp::{SmtpConfig, SmtpProvider, SmtpSecurity};
pub use sns::{SnsError, SnsMessage, SnsVerifier};
pub use twilio_sms::{TwilioSmsConfig, TwilioSmsProvider};
pub use twilio_voice::{TwilioVoiceConfig, TwilioVoiceProvider};
pub use web_push::WebPushConfig;
pub use webhook::{WebhookConfig, WebhookProvider};
pub use whatsapp_cloud::{WhatsappCloudConfig, WhatsappCloudProvider};

use async_trait::async_trait;

/// Longest provider answer kept in an attempt's record.
pub const MAX_RESPONSE: usize = 512;

/// A service that delivers messages of one channel.
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// The provider's name, recorded as the message's `service`.
    fn name(&self) -> &'static str;
    /// Hands one message to the service.
    async fn send(&self, outgoing: &Outgoing) -> Result<Receipt, SendError>;
    /// Checks that the service can be reached (and that credentials are accepted).
    async fn healthcheck(&self) -> Result<(), SendError>;
}

/// `text` cut to [`MAX_RESPONSE`] bytes on a character boundary.
pub fn truncate(text: &str) -> String {
    if text.len() <= MAX_RESPONSE {
        return text.to_string();
    }
    let mut end = MAX_RESPONSE;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}
