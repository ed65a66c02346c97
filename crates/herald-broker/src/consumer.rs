//! Consuming the notification queue: one session per connection, each delivery handed to the
//! sink in its own task, and a new session with backoff whenever the connection or channel drops.

use crate::amqp::{confirming_channel, connect, declare_topology, publish_confirmed, string_headers, timed};
use crate::{BrokerConfig, BrokerError, BrokerMessage, MessageSink, Outcome, REASON_HEADER, ROUTING_KEY_HEADER};
use futures_core::Stream;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::uri::AMQPUri;
use lapin::{Channel, Connection, Consumer, Event};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::{JoinError, JoinSet};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

/// How long a message whose processing asked for a retry waits before it is requeued.
const RETRY_DELAY: Duration = Duration::from_secs(1);

/// Declares the topology (idempotently) and consumes until `shutdown` is cancelled, handing
/// messages to `sink` with up to `prefetch` in flight concurrently; reconnects with exponential
/// backoff (with jitter) when the connection or channel drops, logging (never the message body)
/// each attempt. In-flight messages finish before returning on shutdown. Returns an error only
/// for a configuration no retry can fix.
pub async fn run_consumer(config: BrokerConfig, sink: Arc<dyn MessageSink>, shutdown: CancellationToken) -> Result<(), BrokerError> {
    let uri = config.validate()?;
    let mut attempt: u32 = 0;
    loop {
        let opened = tokio::select! {
            opened = Session::open(&uri, &config) => opened,
            () = shutdown.cancelled() => return Ok(()),
        };
        let error = match opened {
            Ok(session) => {
                info!(queue = %config.queue, prefetch = config.prefetch, "consuming from the broker");
                attempt = 0;
                match session.consume(&sink, &shutdown).await {
                    Ok(()) => return Ok(()),
                    Err(error) => error,
                }
            }
            Err(error) => error,
        };
        attempt = attempt.saturating_add(1);
        let delay = backoff(&config, attempt);
        warn!(%error, attempt, delay_ms = delay.as_millis(), "the broker is unavailable; reconnecting");
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = shutdown.cancelled() => return Ok(()),
        }
    }
}

/// The delay before reconnection `attempt` (from 1): doubling from the initial delay up to the
/// maximum, less a random part of up to half so that many consumers do not reconnect in step.
fn backoff(config: &BrokerConfig, attempt: u32) -> Duration {
    let doublings = attempt.saturating_sub(1).min(32);
    let ceiling = config.reconnect_initial_ms.saturating_mul(1 << doublings).min(config.reconnect_max_ms);
    Duration::from_millis(rand::random_range(ceiling / 2..=ceiling))
}

/// One connection's worth of consuming.
struct Session {
    connection: Connection,
    /// The connection's events: an error there ends the session even when the consumer's
    /// stream has not noticed the connection is gone.
    events: Pin<Box<dyn Stream<Item = Event> + Send>>,
    channel: Channel,
    consumer: Consumer,
    dead_letters: Arc<DeadLetters>,
}

impl Session {
    /// Connects, declares the topology, and starts consuming with the configured prefetch.
    async fn open(uri: &AMQPUri, config: &BrokerConfig) -> Result<Self, BrokerError> {
        let connection = connect(uri, format!("herald consumer of {}", config.queue)).await?;
        let events = Box::pin(connection.events_listener());
        let dead_letter_channel = confirming_channel(&connection).await?;
        declare_topology(&dead_letter_channel, config).await?;
        let channel = timed("opening a channel", connection.create_channel()).await?;
        timed("setting the prefetch", channel.basic_qos(config.prefetch, BasicQosOptions::default())).await?;
        let consuming =
            channel.basic_consume(config.queue.as_str().into(), "".into(), BasicConsumeOptions::default(), FieldTable::default());
        let consumer = timed("starting the consumer", consuming).await?;
        let dead_letters = Arc::new(DeadLetters { channel: dead_letter_channel, exchange: config.dead_letter_exchange.clone() });
        Ok(Self { connection, events, channel, consumer, dead_letters })
    }

    /// Hands deliveries to the sink until shutdown (`Ok`) or until the connection, the channel or
    /// the consumer fails (`Err`); either way, waits for the messages in flight to be settled.
    async fn consume(mut self, sink: &Arc<dyn MessageSink>, shutdown: &CancellationToken) -> Result<(), BrokerError> {
        let mut in_flight = JoinSet::new();
        let lost = CancellationToken::new();
        let ended = loop {
            tokio::select! {
                () = shutdown.cancelled() => break Ok(()),
                Some(joined) = in_flight.join_next() => {
                    if let Err(error) = settled(joined) {
                        break Err(error);
                    }
                }
                Some(Event::Error(source)) = next_event(&mut self.events) => break Err(BrokerError::Amqp { context: "the connection", source }),
                delivery = next_delivery(&mut self.consumer) => match delivery {
                    Some(Ok(delivery)) => {
                        in_flight.spawn(process(delivery, sink.clone(), self.dead_letters.clone(), shutdown.clone(), lost.clone()));
                    }
                    Some(Err(source)) => break Err(BrokerError::Amqp { context: "consuming", source }),
                    None => break Err(BrokerError::ConsumerCancelled),
                },
            }
        };
        if ended.is_err() {
            lost.cancel();
        }
        if ended.is_ok() {
            let cancelled = self.channel.basic_cancel(self.consumer.tag(), BasicCancelOptions::default());
            if let Err(error) = timed("cancelling the consumer", cancelled).await {
                debug!(%error, "cancelling the consumer failed");
            }
        }
        while let Some(joined) = in_flight.join_next().await {
            if let Err(error) = settled(joined) {
                warn!(%error, "a message was left unsettled; the broker will deliver it again");
            }
        }
        if ended.is_ok()
            && let Err(error) = timed("closing the connection", self.connection.close(200, "shutting down".into())).await
        {
            debug!(%error, "closing the broker connection failed");
        }
        ended
    }
}

/// The next delivery of `consumer`; `None` once the broker cancelled it.
async fn next_delivery(consumer: &mut Consumer) -> Option<lapin::Result<Delivery>> {
    std::future::poll_fn(|context| Pin::new(&mut *consumer).poll_next(context)).await
}

/// The next connection event; pending forever once the connection is gone for good.
async fn next_event(events: &mut Pin<Box<dyn Stream<Item = Event> + Send>>) -> Option<Event> {
    std::future::poll_fn(|context| events.as_mut().poll_next(context)).await
}

/// The result of a finished message task; a panic in it is a bug here and goes on unwinding.
fn settled(joined: Result<Result<(), BrokerError>, JoinError>) -> Result<(), BrokerError> {
    match joined {
        Ok(result) => result,
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        Err(_) => Ok(()),
    }
}

/// Hands one delivery to the sink and settles it as the outcome says. A sink that panics
/// rejects the message: it is dead-lettered rather than redelivered forever.
async fn process(
    delivery: Delivery,
    sink: Arc<dyn MessageSink>,
    dead_letters: Arc<DeadLetters>,
    shutdown: CancellationToken,
    lost: CancellationToken,
) -> Result<(), BrokerError> {
    let routing_key = delivery.routing_key.as_str();
    let message_id = delivery.properties.message_id().as_ref().map(|id| id.as_str().to_owned());
    let message = BrokerMessage {
        routing_key: routing_key.to_owned(),
        body: delivery.data.clone(),
        headers: string_headers(delivery.properties.headers().as_ref()),
        message_id: message_id.clone(),
        redelivered: delivery.redelivered,
    };
    let handled = tokio::spawn(async move { sink.handle(message).await }).await;
    let outcome = handled.unwrap_or_else(|error| Outcome::Rejected { reason: format!("processing failed: {error}") });
    let message_id = message_id.as_deref().unwrap_or_default();
    let settling = async {
        match outcome {
            Outcome::Accepted => timed("acknowledging", delivery.acker.ack(BasicAckOptions::default())).await,
            Outcome::Rejected { reason } => {
                warn!(routing_key, message_id, %reason, "message rejected; moving it to the dead-letter exchange");
                dead_letters.publish(&delivery, &reason).await?;
                timed("acknowledging", delivery.acker.ack(BasicAckOptions::default())).await
            }
            Outcome::Retry { reason } => {
                warn!(routing_key, message_id, %reason, "message processing failed for now; requeueing it");
                tokio::select! {
                    () = tokio::time::sleep(RETRY_DELAY) => {}
                    () = shutdown.cancelled() => {}
                }
                let requeue = BasicNackOptions { requeue: true, ..Default::default() };
                timed("requeueing", delivery.acker.nack(requeue)).await
            }
        }
    };
    // Once the connection is lost, an acknowledgement cannot arrive: the broker requeues the
    // message itself, so do not wait for the acknowledgement to time out.
    let settled = tokio::select! {
        settled = settling => settled?,
        () = lost.cancelled() => false,
    };
    if settled { Ok(()) } else { Err(BrokerError::ChannelClosed) }
}

/// Where rejected messages go: a confirming channel to the dead-letter exchange.
struct DeadLetters {
    channel: Channel,
    exchange: String,
}

impl DeadLetters {
    /// Republishes a rejected delivery with its routing key, body, properties and headers, plus
    /// the reason and the routing key as headers, and waits for the broker to store it.
    async fn publish(&self, delivery: &Delivery, reason: &str) -> Result<(), BrokerError> {
        let mut headers = delivery.properties.headers().clone().unwrap_or_default();
        headers.insert(REASON_HEADER.into(), AMQPValue::LongString(reason.into()));
        headers.insert(ROUTING_KEY_HEADER.into(), AMQPValue::LongString(delivery.routing_key.as_str().into()));
        let properties = delivery.properties.clone().with_headers(headers);
        publish_confirmed(&self.channel, &self.exchange, delivery.routing_key.clone(), &delivery.data, properties).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_maximum_with_jitter() {
        let config = BrokerConfig::new("amqp://localhost");
        for (attempt, ceiling) in [(1, 500), (2, 1_000), (3, 2_000), (7, 30_000), (40, 30_000), (u32::MAX, 30_000)] {
            let delay = backoff(&config, attempt).as_millis();
            assert!((ceiling / 2..=ceiling).contains(&delay), "attempt {attempt}: {delay} ms");
        }
    }

    struct Refusing;

    #[async_trait::async_trait]
    impl MessageSink for Refusing {
        async fn handle(&self, _: BrokerMessage) -> Outcome {
            unreachable!("no broker, no message")
        }
    }

    #[tokio::test]
    async fn an_invalid_url_is_an_error_not_a_retry() {
        let returned = run_consumer(BrokerConfig::new("http://localhost"), Arc::new(Refusing), CancellationToken::new()).await;
        assert!(matches!(returned, Err(BrokerError::Invalid(_))), "{returned:?}");
    }

    #[tokio::test]
    async fn an_unreachable_broker_is_retried_until_shutdown() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut config = BrokerConfig::new(format!("amqp://127.0.0.1:{}/%2f", listener.local_addr().unwrap().port()));
        (config.reconnect_initial_ms, config.reconnect_max_ms) = (10, 20);
        let shutdown = CancellationToken::new();
        let consumer = tokio::spawn(run_consumer(config, Arc::new(Refusing), shutdown.clone()));
        for _ in 0..3 {
            let accepted = tokio::time::timeout(Duration::from_secs(10), listener.accept()).await;
            drop(accepted.expect("the consumer tries again").unwrap());
        }
        shutdown.cancel();
        let returned = tokio::time::timeout(Duration::from_secs(10), consumer).await.expect("it stops in time").unwrap();
        assert!(returned.is_ok(), "{returned:?}");
    }
}
