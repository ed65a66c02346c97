//! `POST /saga/send` (seed 03): a send driven by the Flow Manager. The command's
//! `messagePayload` is a `POST /send` body and runs exactly as [`Events::send`] does; the
//! command's `messageLabel` is required but does not change the send.
//!
//! When configured, the outcome goes back to the saga as a Flow Manager event on RabbitMQ: the
//! success label once the send is committed (per-recipient failures known at acceptance, such
//! as a missing phone number, do not make it a failure: the send started), the failure label
//! when the command or its send body is refused or storage fails. The event is the Flow
//! Manager's envelope `{"key": <saga id>, "value": {"messageLabel", "messagePayload": {}}}`,
//! published to a configured exchange with the label as routing key and the tenant in the
//! ingest's tenant header, so a bridge can route it to the Flow Manager's own channel (REST
//! `POST /event` or Kafka keyed by saga id take this very envelope). A command without a saga
//! id gets no event: there is no saga to tell.
//!
//! The event is published after the send's outcome is decided and before the HTTP answer. It
//! is not part of the send's transaction: if the broker refuses it or is unreachable, the
//! failure is logged and the answer stays what the send decided — answering an error for a
//! committed send would make the saga retry it and message patients twice.

use crate::EngineError;
use crate::documents::Actor;
use crate::events::Events;
use herald_broker::BrokerConfig;
use herald_core::saga::{FlowManagerCommand, flow_manager_event};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Where the outcome events of saga sends go, and with which labels.
#[derive(Clone, Debug)]
pub struct SagaEvents {
    /// The broker to publish on.
    pub broker: BrokerConfig,
    /// The exchange the events are published to; it must exist and have a queue bound.
    pub exchange: String,
    /// `messageLabel` of the event sent when a send starts; none sends no event.
    pub success_label: Option<String>,
    /// `messageLabel` of the event sent when a send is refused; none sends no event.
    pub fail_label: Option<String>,
    /// The message header naming the tenant the saga belongs to.
    pub tenant_header: String,
}

/// Runs the Flow Manager's send commands.
#[derive(Clone)]
pub struct Saga {
    events: Events,
    replies: Option<Arc<SagaEvents>>,
}

impl Saga {
    /// Saga sends through `events`, telling the saga the outcome through `replies` when given.
    pub fn new(events: Events, replies: Option<SagaEvents>) -> Self {
        Self { events, replies: replies.map(Arc::new) }
    }

    /// Runs one command: the send is committed (or refused) like `POST /send`, then the
    /// configured outcome event is published. Errors in the send body name their field under
    /// `value.messagePayload`.
    pub async fn send(&self, actor: &Actor, body: Value) -> Result<(), EngineError> {
        let saga_id = FlowManagerCommand::saga_id_of(&body);
        let outcome = self.run(actor, body).await;
        if let (Some(saga_id), Some(replies)) = (saga_id, &self.replies) {
            let label = if outcome.is_ok() { &replies.success_label } else { &replies.fail_label };
            if let Some(label) = label {
                replies.publish(&actor.tenant, &saga_id, label).await;
            }
        }
        outcome
    }

    async fn run(&self, actor: &Actor, body: Value) -> Result<(), EngineError> {
        let command = FlowManagerCommand::parse(body)?;
        match self.events.send(actor, command.payload).await {
            Ok(_) => Ok(()),
            Err(EngineError::Invalid(invalid)) => Err(invalid.within("value.messagePayload").into()),
            Err(other) => Err(other),
        }
    }
}

impl SagaEvents {
    /// Publishes the event `label` for `saga_id`; a failure is logged, never returned.
    async fn publish(&self, tenant: &str, saga_id: &str, label: &str) {
        let body = flow_manager_event(saga_id, label).to_string();
        let headers = BTreeMap::from([(self.tenant_header.clone(), tenant.to_owned())]);
        if let Err(error) = herald_broker::publish_to(&self.broker, &self.exchange, label, body.as_bytes(), &headers).await {
            tracing::warn!(%error, tenant, label, exchange = %self.exchange, "the saga's outcome event could not be published");
        }
    }
}
