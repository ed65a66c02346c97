//! What a provider is given and what it answers.

use herald_core::notification::EmailOptions;
use herald_core::render::Content;
use herald_core::resources::user::{DeviceToken, User};
use jiff::Timestamp;
use serde_json::Value;
use std::fmt;
use std::time::Duration;

/// One message to deliver.
#[derive(Clone, Debug)]
pub struct Outgoing {
    /// Stable across every attempt of this message: providers that take an idempotency key get
    /// it, so a retry after a lost answer is not delivered twice.
    pub idempotency_key: String,
    /// The tenant it is sent for.
    pub tenant: String,
    /// The recipient, with their addresses.
    pub recipient: User,
    /// The rendered content (`None` for webhooks, which carry the event).
    pub content: Option<Content>,
    /// `POST /send`'s email options.
    pub email: EmailOptions,
    /// Files to attach (email only), already read from the files service.
    pub attachments: Vec<Attachment>,
    /// The event it is about: `{name, id, key, payload}` and the notification's ids.
    pub event: Value,
    /// Now, by the injected clock (webhook signatures are timestamped with it).
    pub at: Timestamp,
}

/// A file attached to an email.
#[derive(Clone, Debug, PartialEq)]
pub struct Attachment {
    /// The file name the recipient sees.
    pub filename: String,
    /// Its MIME type (`application/pdf`).
    pub content_type: String,
    /// Its bytes.
    pub content: Vec<u8>,
}

/// What the provider answered when it accepted a message.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Receipt {
    /// The provider's id for the message.
    pub provider_message_id: Option<String>,
    /// The status code (HTTP status, SMTP reply code).
    pub response_code: Option<u16>,
    /// The answer, truncated.
    pub response: Option<String>,
    /// Devices the push service reported invalid or unregistered while the message still
    /// reached others; the dispatcher removes them from the recipient.
    pub gone_devices: GoneDevices,
}

/// Why a provider did not accept a message.
#[derive(Clone, Debug, Default, PartialEq, thiserror::Error)]
#[error("{reason}")]
pub struct SendError {
    /// Whether trying again later may succeed (timeouts, connection errors, 429, 5xx, SMTP 4xx).
    pub transient: bool,
    /// How long the provider asked to wait (`Retry-After`).
    pub retry_after: Option<Duration>,
    /// The status code, when the provider answered.
    pub response_code: Option<u16>,
    /// The answer, truncated.
    pub response: Option<String>,
    /// What went wrong, without the message's content or address.
    pub reason: String,
    /// Devices the push service reported invalid or unregistered; the dispatcher removes them
    /// from the recipient.
    pub gone_devices: GoneDevices,
}

/// Push devices a service said will never accept a message again (an invalid or unregistered
/// token, a web subscription that is gone). `Debug` shows only how many: a token addresses a
/// person's device.
#[derive(Clone, Default, PartialEq)]
pub struct GoneDevices(pub Vec<DeviceToken>);

impl GoneDevices {
    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for GoneDevices {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GoneDevices({})", self.0.len())
    }
}

impl SendError {
    /// A failure that will not go away by trying again.
    pub fn permanent(reason: impl Into<String>) -> Self {
        Self { reason: reason.into(), ..Self::default() }
    }

    /// A failure worth trying again.
    pub fn transient(reason: impl Into<String>) -> Self {
        Self { transient: true, ..Self::permanent(reason) }
    }
}
