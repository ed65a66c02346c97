//! The AMQP operations the consumer and the publisher share: connecting, declaring the topology,
//! publishing with confirmation, and converting headers.

use crate::{BrokerConfig, BrokerError};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::uri::AMQPUri;
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, ExchangeKind};
use std::collections::BTreeMap;
use std::time::Duration;

/// Longest wait for the broker to accept a connection or answer one request.
const BROKER_TIMEOUT: Duration = Duration::from_secs(30);
/// AMQP delivery mode that makes a message survive a broker restart.
const PERSISTENT: u8 = 2;

/// Awaits one broker operation, giving up after [`BROKER_TIMEOUT`].
pub(crate) async fn timed<T>(context: &'static str, operation: impl Future<Output = lapin::Result<T>>) -> Result<T, BrokerError> {
    match tokio::time::timeout(BROKER_TIMEOUT, operation).await {
        Ok(result) => result.map_err(|source| BrokerError::Amqp { context, source }),
        Err(_) => Err(BrokerError::Timeout(context)),
    }
}

/// Opens a connection that the broker's management tools show as `name`.
pub(crate) async fn connect(uri: &AMQPUri, name: String) -> Result<Connection, BrokerError> {
    let properties = ConnectionProperties::default().with_connection_name(name.into());
    timed("connecting to the broker", Connection::connect_uri(uri.clone(), properties)).await
}

/// Declares the exchanges, queues and bindings; declaring what exists alike changes nothing.
pub(crate) async fn declare_topology(channel: &Channel, config: &BrokerConfig) -> Result<(), BrokerError> {
    let exchange_options = ExchangeDeclareOptions { durable: true, ..Default::default() };
    for exchange in [&config.exchange, &config.dead_letter_exchange] {
        let declared = channel.exchange_declare(name(exchange), ExchangeKind::Topic, exchange_options, FieldTable::default());
        timed("declaring an exchange", declared).await?;
    }
    let queue_options = QueueDeclareOptions { durable: true, ..Default::default() };
    for queue in [&config.queue, &config.dead_letter_queue] {
        timed("declaring a queue", channel.queue_declare(name(queue), queue_options, FieldTable::default())).await?;
    }
    let bindings = config.binding_keys.iter().map(|key| (&config.queue, &config.exchange, key.as_str()));
    for (queue, exchange, key) in bindings.chain([(&config.dead_letter_queue, &config.dead_letter_exchange, "#")]) {
        let bound = channel.queue_bind(name(queue), name(exchange), name(key), QueueBindOptions::default(), FieldTable::default());
        timed("binding a queue", bound).await?;
    }
    Ok(())
}

/// Opens a channel on which the broker confirms each publication.
pub(crate) async fn confirming_channel(connection: &Connection) -> Result<Channel, BrokerError> {
    let channel = timed("opening a channel", connection.create_channel()).await?;
    timed("enabling publisher confirms", channel.confirm_select(ConfirmSelectOptions::default())).await?;
    Ok(channel)
}

/// Publishes a persistent message on a confirming channel and waits until the broker has routed
/// it to at least one queue and taken responsibility for it.
pub(crate) async fn publish_confirmed(
    channel: &Channel,
    exchange: &str,
    routing_key: ShortString,
    body: &[u8],
    properties: BasicProperties,
) -> Result<(), BrokerError> {
    let options = BasicPublishOptions { mandatory: true, ..Default::default() };
    let published = channel.basic_publish(name(exchange), routing_key, options, body, properties.with_delivery_mode(PERSISTENT));
    let confirmation = timed("publishing", published).await?;
    match timed("waiting for the publish confirmation", confirmation).await? {
        Confirmation::Ack(None) => Ok(()),
        Confirmation::Ack(Some(_)) => Err(BrokerError::NotAccepted("no queue is bound to take it")),
        Confirmation::Nack(_) => Err(BrokerError::NotAccepted("the broker refused it")),
        Confirmation::NotRequested => Err(BrokerError::NotAccepted("the channel does not confirm publications")),
    }
}

/// The entries of an AMQP header table whose values are UTF-8 strings.
pub(crate) fn string_headers(table: Option<&FieldTable>) -> BTreeMap<String, String> {
    let entries = table.into_iter().flat_map(FieldTable::inner);
    entries
        .filter_map(|(key, value)| {
            let value = match value {
                AMQPValue::LongString(value) => std::str::from_utf8(value.as_bytes()).ok()?.to_owned(),
                AMQPValue::ShortString(value) => value.as_str().to_owned(),
                _ => return None,
            };
            Some((key.as_str().to_owned(), value))
        })
        .collect()
}

/// An AMQP header table of string values; keys longer than AMQP allows are refused.
pub(crate) fn header_table(headers: &BTreeMap<String, String>) -> Result<FieldTable, BrokerError> {
    let mut table = FieldTable::default();
    for (key, value) in headers {
        let key = ShortString::try_new(key.as_str()).map_err(|error| BrokerError::Invalid(format!("header name: {error}")))?;
        table.insert(key, AMQPValue::LongString(value.as_str().into()));
    }
    Ok(table)
}

/// An exchange, queue or routing key name; the configuration was validated to fit.
fn name(name: &str) -> ShortString {
    name.into()
}
