//! Publishing one event, for tests, the CLI and benchmarks.

use crate::amqp::{confirming_channel, connect, declare_topology, header_table, publish_confirmed, timed};
use crate::{BrokerConfig, BrokerError};
use lapin::BasicProperties;
use lapin::types::ShortString;
use std::collections::BTreeMap;

/// Publishes one persistent message to the configured exchange, declaring the topology first so
/// it lands in the queue even before a consumer ever ran, and returns once the broker confirmed
/// it stored the message; a message no queue is bound to take is an error, not a silent drop.
pub async fn publish(config: &BrokerConfig, routing_key: &str, body: &[u8], headers: &BTreeMap<String, String>) -> Result<(), BrokerError> {
    let uri = config.validate()?;
    let routing_key = ShortString::try_new(routing_key).map_err(|error| BrokerError::Invalid(format!("routing key: {error}")))?;
    let properties = BasicProperties::default().with_headers(header_table(headers)?);
    let connection = connect(&uri, "herald publisher".into()).await?;
    let published = async {
        let channel = confirming_channel(&connection).await?;
        declare_topology(&channel, config).await?;
        publish_confirmed(&channel, &config.exchange, routing_key, body, properties).await
    }
    .await;
    if let Err(error) = timed("closing the connection", connection.close(200, "published".into())).await {
        tracing::debug!(%error, "closing the publishing connection failed");
    }
    published
}
