//! Herald's RabbitMQ ingest. Events are published to a durable topic exchange with the event
//! name as routing key; [`run_consumer`] declares the topology, consumes the durable
//! notification queue with a bounded number of messages in flight, and hands each message to
//! the engine's [`MessageSink`]. A message is acknowledged only once the sink says its
//! processing committed; what the sink rejects is republished to the dead-letter exchange with
//! the reason in its headers, never dropped; transient failures are requeued. Lost connections
//! are re-established with exponential backoff until shutdown.

mod amqp;
mod config;
mod consumer;
mod publish;

pub use config::BrokerConfig;
pub use consumer::run_consumer;
pub use publish::{publish, publish_to};

use std::collections::BTreeMap;
use std::fmt;

/// Header of a dead-lettered message that says why it was rejected.
pub const REASON_HEADER: &str = "x-herald-reason";
/// Header of a dead-lettered message that keeps the routing key it was published with.
pub const ROUTING_KEY_HEADER: &str = "x-herald-routing-key";

/// One message taken from the queue.
#[derive(Clone, PartialEq, Eq)]
pub struct BrokerMessage {
    /// The routing key it was published with: the event name.
    pub routing_key: String,
    /// The payload, as published.
    pub body: Vec<u8>,
    /// The AMQP headers whose values are strings (others are left out).
    pub headers: BTreeMap<String, String>,
    /// The publisher's message id, if it set one.
    pub message_id: Option<String>,
    /// Whether the broker delivered it before without an acknowledgement.
    pub redelivered: bool,
}

/// Leaves the body out: it may carry health data and must not reach the logs.
impl fmt::Debug for BrokerMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BrokerMessage")
            .field("routing_key", &self.routing_key)
            .field("body", &format_args!("<{} bytes>", self.body.len()))
            .field("headers", &self.headers)
            .field("message_id", &self.message_id)
            .field("redelivered", &self.redelivered)
            .finish()
    }
}

/// What the engine did with a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Processing committed: the message is acknowledged.
    Accepted,
    /// The message can never succeed (malformed, unknown event, schema violation): it goes to
    /// the dead-letter exchange with the reason in `x-herald-reason`, then is acknowledged.
    Rejected {
        /// Why, for whoever inspects the dead-letter queue.
        reason: String,
    },
    /// A transient failure (database down): the message is requeued after a short delay.
    Retry {
        /// Why, for the logs.
        reason: String,
    },
}

/// Processes consumed messages; implemented by the engine.
#[async_trait::async_trait]
pub trait MessageSink: Send + Sync + 'static {
    /// Processes one message and says whether it committed, must be dead-lettered or retried.
    async fn handle(&self, message: BrokerMessage) -> Outcome;
}

/// Why a broker operation failed.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// A setting or argument that no retry can fix.
    #[error("invalid broker configuration: {0}")]
    Invalid(String),
    /// The broker or the connection to it failed during an operation.
    #[error("{context}: {source}")]
    Amqp {
        /// The operation that failed.
        context: &'static str,
        /// The client library's error.
        #[source]
        source: lapin::Error,
    },
    /// The broker did not answer in time.
    #[error("{0} timed out")]
    Timeout(&'static str),
    /// The broker did not take responsibility for a published message.
    #[error("the broker did not accept the message: {0}")]
    NotAccepted(&'static str),
    /// The channel closed before a message was settled; the broker will deliver it again.
    #[error("the channel closed before the message was settled")]
    ChannelClosed,
    /// The broker cancelled the consumer (for instance, its queue was deleted).
    #[error("the broker cancelled the consumer")]
    ConsumerCancelled,
}
