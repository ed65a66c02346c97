//! Publishing one message: to the configured topology (tests, the CLI, benchmarks), or to any
//! existing exchange (expired timers).

use crate::amqp::{confirming_channel, connect, declare_topology, header_table, publish_confirmed, timed};
use crate::{BrokerConfig, BrokerError};
use lapin::BasicProperties;
use lapin::types::ShortString;
use std::collections::BTreeMap;

/// Publishes one persistent message to the configured exchange, declaring the topology first so
/// it lands in the queue even before a consumer ever ran, and returns once the broker confirmed
/// it stored the message; a message no queue is bound to take is an error, not a silent drop.
pub async fn publish(config: &BrokerConfig, routing_key: &str, body: &[u8], headers: &BTreeMap<String, String>) -> Result<(), BrokerError> {
    send(config, &config.exchange, routing_key, body, headers, true).await
}

/// Publishes one persistent message to `exchange`, which must exist, on the broker `config`
/// names (nothing is declared); confirmed like [`publish`].
pub async fn publish_to(
    config: &BrokerConfig,
    exchange: &str,
    routing_key: &str,
    body: &[u8],
    headers: &BTreeMap<String, String>,
) -> Result<(), BrokerError> {
    send(config, exchange, routing_key, body, headers, false).await
}

async fn send(
    config: &BrokerConfig,
    exchange: &str,
    routing_key: &str,
    body: &[u8],
    headers: &BTreeMap<String, String>,
    declare: bool,
) -> Result<(), BrokerError> {
    let uri = config.validate()?;
    let routing_key = ShortString::try_new(routing_key).map_err(|error| BrokerError::Invalid(format!("routing key: {error}")))?;
    let properties = BasicProperties::default().with_headers(header_table(headers)?);
    let connection = connect(&uri, "herald publisher".into()).await?;
    let published = async {
        let channel = confirming_channel(&connection).await?;
        if declare {
            declare_topology(&channel, config).await?;
        }
        publish_confirmed(&channel, exchange, routing_key, body, properties).await
    }
    .await;
    if let Err(error) = timed("closing the connection", connection.close(200, "published".into())).await {
        tracing::debug!(%error, "closing the publishing connection failed");
    }
    published
}
