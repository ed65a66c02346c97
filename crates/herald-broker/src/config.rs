//! Where and how to consume, with defaults so a larger configuration can embed it.

use crate::BrokerError;
use lapin::uri::AMQPUri;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest name AMQP accepts for an exchange, a queue or a routing key, in bytes.
const MAX_NAME_BYTES: usize = 255;

/// Where and how to consume.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerConfig {
    /// `amqp://user:password@host:port/vhost` or `amqps://…`.
    pub url: String,
    /// Durable topic exchange events are published to.
    #[serde(default = "defaults::exchange")]
    pub exchange: String,
    /// Durable queue the notifications are consumed from.
    #[serde(default = "defaults::queue")]
    pub queue: String,
    /// Routing key patterns binding the queue to the exchange.
    #[serde(default = "defaults::binding_keys")]
    pub binding_keys: Vec<String>,
    /// Durable topic exchange rejected messages are republished to, with their routing key.
    #[serde(default = "defaults::dead_letter_exchange")]
    pub dead_letter_exchange: String,
    /// Durable queue bound to the dead-letter exchange with `#`, where rejected messages wait.
    #[serde(default = "defaults::dead_letter_queue")]
    pub dead_letter_queue: String,
    /// Most unacknowledged messages in flight at once.
    #[serde(default = "defaults::prefetch")]
    pub prefetch: u16,
    /// First delay before reconnecting, in milliseconds; it doubles after each failure.
    #[serde(default = "defaults::reconnect_initial_ms")]
    pub reconnect_initial_ms: u64,
    /// Longest delay between reconnection attempts, in milliseconds.
    #[serde(default = "defaults::reconnect_max_ms")]
    pub reconnect_max_ms: u64,
}

impl BrokerConfig {
    /// The defaults, consuming from the broker at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            exchange: defaults::exchange(),
            queue: defaults::queue(),
            binding_keys: defaults::binding_keys(),
            dead_letter_exchange: defaults::dead_letter_exchange(),
            dead_letter_queue: defaults::dead_letter_queue(),
            prefetch: defaults::prefetch(),
            reconnect_initial_ms: defaults::reconnect_initial_ms(),
            reconnect_max_ms: defaults::reconnect_max_ms(),
        }
    }

    /// Checks everything a retry cannot fix and returns the parsed URL.
    pub(crate) fn validate(&self) -> Result<AMQPUri, BrokerError> {
        let invalid = |message: String| Err(BrokerError::Invalid(message));
        let uri = match self.url.parse::<AMQPUri>() {
            Ok(uri) => uri,
            Err(error) => return invalid(format!("url: {}", error.replace(&self.url, &redacted(&self.url)))),
        };
        for (key, name) in [
            ("exchange", &self.exchange),
            ("queue", &self.queue),
            ("dead_letter_exchange", &self.dead_letter_exchange),
            ("dead_letter_queue", &self.dead_letter_queue),
        ] {
            if name.is_empty() || name.len() > MAX_NAME_BYTES || name.starts_with("amq.") {
                return invalid(format!("{key}: must be 1 to {MAX_NAME_BYTES} bytes and not start with `amq.`"));
            }
        }
        if self.exchange == self.dead_letter_exchange || self.queue == self.dead_letter_queue {
            return invalid("the dead-letter exchange and queue must differ from the main ones".into());
        }
        if self.binding_keys.is_empty() || self.binding_keys.iter().any(|key| key.len() > MAX_NAME_BYTES) {
            return invalid(format!("binding_keys: at least one, each at most {MAX_NAME_BYTES} bytes"));
        }
        if self.prefetch == 0 {
            return invalid("prefetch: must be at least 1".into());
        }
        if self.reconnect_initial_ms == 0 || self.reconnect_initial_ms > self.reconnect_max_ms {
            return invalid("reconnect_initial_ms: must be at least 1 and at most reconnect_max_ms".into());
        }
        Ok(uri)
    }
}

/// Shows the URL without its password.
impl fmt::Debug for BrokerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BrokerConfig")
            .field("url", &redacted(&self.url))
            .field("exchange", &self.exchange)
            .field("queue", &self.queue)
            .field("binding_keys", &self.binding_keys)
            .field("dead_letter_exchange", &self.dead_letter_exchange)
            .field("dead_letter_queue", &self.dead_letter_queue)
            .field("prefetch", &self.prefetch)
            .field("reconnect_initial_ms", &self.reconnect_initial_ms)
            .field("reconnect_max_ms", &self.reconnect_max_ms)
            .finish()
    }
}

/// `url` with the password of its user info, if any, replaced by `***`. Everything between the
/// scheme and the last `@` counts as user info, so an unescaped `/` or `@` in the password
/// cannot make it show.
fn redacted(url: &str) -> String {
    let start = url.find("://").map_or(0, |at| at + 3);
    let Some(at) = url.rfind('@').filter(|&at| at >= start) else { return url.to_owned() };
    match url[start..at].find(':') {
        Some(colon) => format!("{}:***{}", &url[..start + colon], &url[at..]),
        None => url.to_owned(),
    }
}

mod defaults {
    pub fn exchange() -> String {
        "herald.events".into()
    }
    pub fn queue() -> String {
        "herald.notifications".into()
    }
    pub fn binding_keys() -> Vec<String> {
        vec!["#".into()]
    }
    pub fn dead_letter_exchange() -> String {
        "herald.events.dead-letter".into()
    }
    pub fn dead_letter_queue() -> String {
        "herald.notifications.dead-letter".into()
    }
    pub fn prefetch() -> u16 {
        10
    }
    pub fn reconnect_initial_ms() -> u64 {
        500
    }
    pub fn reconnect_max_ms() -> u64 {
        30_000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_password() {
        let config = BrokerConfig::new("amqp://herald:s3cret@broker:5672/%2f");
        let shown = format!("{config:?}");
        assert!(shown.contains("amqp://herald:***@broker:5672/%2f"), "{shown}");
        assert!(!shown.contains("s3cret"));
        assert_eq!(redacted("amqp://broker/%2f"), "amqp://broker/%2f");
        assert_eq!(redacted("amqp://user@broker"), "amqp://user@broker");
        assert_eq!(redacted("amqps://u:p/a@ss@broker/vhost"), "amqps://u:***@broker/vhost");
    }

    #[test]
    fn defaults_fill_what_is_left_out() {
        let config: BrokerConfig = serde_json::from_str(r#"{"url": "amqp://broker", "prefetch": 4}"#).unwrap();
        assert_eq!((config.exchange.as_str(), config.queue.as_str(), config.prefetch), ("herald.events", "herald.notifications", 4));
        assert_eq!(config.binding_keys, ["#"]);
        assert!(config.validate().is_ok());
    }

    #[test]
    fn settings_no_retry_can_fix_are_refused() {
        let refused = |change: fn(&mut BrokerConfig)| {
            let mut config = BrokerConfig::new("amqp://guest:guest@localhost:5672/%2f");
            change(&mut config);
            matches!(config.validate(), Err(BrokerError::Invalid(_)))
        };
        assert!(!refused(|_| {}));
        assert!(refused(|c| c.url = "http://guest:pw@localhost".into()));
        assert!(refused(|c| c.url = "not a url".into()));
        assert!(refused(|c| c.queue = String::new()));
        assert!(refused(|c| c.exchange = "amq.topic".into()));
        assert!(refused(|c| c.dead_letter_queue = c.queue.clone()));
        assert!(refused(|c| c.binding_keys.clear()));
        assert!(refused(|c| c.prefetch = 0));
        assert!(refused(|c| c.reconnect_initial_ms = c.reconnect_max_ms + 1));
    }
}
