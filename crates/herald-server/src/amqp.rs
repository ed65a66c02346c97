//! The RabbitMQ face: each message from the queue is an event for the engine, exactly as if it
//! had been posted to `/notification-events/`. The routing key is the event name (used when the
//! body has none; a body naming another event is refused); the tenant comes from a header
//! (`x-herald-tenant` by default) or the configured default. A message is acknowledged only
//! after its event committed; malformed, unknown or invalid ones are dead-lettered with the
//! reason; a storage failure requeues it.

use herald_broker::{BrokerMessage, MessageSink, Outcome};
use herald_core::event::EventSource;
use herald_engine::EngineError;
use herald_engine::documents::Actor;
use herald_engine::events::Events;
use herald_store::Store;
use serde_json::Value;
use std::sync::Arc;

/// Hands broker messages to the engine.
pub(crate) struct EventSink {
    pub(crate) events: Events,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) tenant_header: String,
    pub(crate) default_tenant: String,
}

#[async_trait::async_trait]
impl MessageSink for EventSink {
    async fn handle(&self, message: BrokerMessage) -> Outcome {
        let tenant = message.headers.get(&self.tenant_header).cloned().unwrap_or_else(|| self.default_tenant.clone());
        match self.store.find_tenant(&tenant).await {
            Ok(Some(_)) => {}
            Ok(None) => return Outcome::Rejected { reason: format!("{}: no such tenant", self.tenant_header) },
            Err(_) => return Outcome::Retry { reason: "storage unavailable".into() },
        }
        let mut body: Value = match serde_json::from_slice(&message.body) {
            Ok(body) => body,
            Err(e) => return Outcome::Rejected { reason: format!("body: malformed JSON at line {} column {}", e.line(), e.column()) },
        };
        if let Value::Object(event) = &mut body {
            match event.get("name").and_then(Value::as_str) {
                None => {
                    event.insert("name".into(), Value::String(message.routing_key.clone()));
                }
                Some(name) if name != message.routing_key => {
                    return Outcome::Rejected { reason: "name: differs from the routing key".into() };
                }
                Some(_) => {}
            }
        }
        let actor = Actor { tenant, id: "amqp".into() };
        match self.events.ingest(&actor, EventSource::Amqp, body).await {
            Ok(_) => Outcome::Accepted,
            Err(EngineError::Store(error)) => {
                tracing::warn!(%error, "event from RabbitMQ requeued: storage failed");
                Outcome::Retry { reason: "storage unavailable".into() }
            }
            Err(refused) => Outcome::Rejected { reason: refused.to_string() },
        }
    }
}
