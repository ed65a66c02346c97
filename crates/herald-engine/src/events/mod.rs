//! Event ingest: an event arrives (HTTP, AMQP or a timer), Herald routes it to its handler,
//! validates it, decides who gets which messages and reminders, and commits the event, its
//! notifications and their timed jobs in one transaction. Delivery happens later, from the
//! committed jobs.
//!
//! Routing, in order: the event setting's `handlerName` (a custom script, see [`custom`]); a
//! default handler of seed 03 (`AM/…`, `IC/…`, `TMM/…`); otherwise the event is recorded with
//! status `ERROR` and refused with `400 Unknown event`. Event settings are read for every
//! event from the store's configuration cache, which every change drops at once: changes made
//! through `/event-settings` apply to the next event on the instance that made them, and on
//! the other PostgreSQL instances as soon as their `LISTEN` hears of the change (see
//! herald-store's cache). Seed 03's per-replica routing cache, which other replicas see only
//! when it expires, is not reproduced.
//!
//! Validation uses the event setting's `eventSchema` when it has one, else — when the default
//! handler runs — its built-in schema. A custom handler that throws, runs out of time or
//! memory leaves nothing behind: the event is recorded as `ERROR` with the reason.
//!
//! Deduplication: an event whose sender `id` was committed within the dedup window (5 minutes
//! by default) is not processed again; the first response is repeated.

mod arrival;
mod context;
pub mod custom;
mod handlers;
mod schemas;
mod send;
mod utilities;

pub use context::{HandlerContext, Recipient};

use crate::EngineError;
use crate::documents::Actor;
use crate::lookups;
use arrival::Arrival;
use custom::ScriptHost;
use herald_core::Invalid;
use herald_core::clock::Clock;
use herald_core::document::Document;
use herald_core::event::{EventSource, EventStatus, IncomingEvent};
use herald_core::resources::channel::Channel;
use herald_store::{Committed, Dedup, EventCommit, Store};
use jiff::SignedDuration;
use serde_json::{Value, json};
use std::sync::Arc;

/// Every event name a default handler processes, for listing events to users.
pub fn default_event_names() -> Vec<String> {
    handlers::default_events()
}

/// Processes events for every tenant.
#[derive(Clone)]
pub struct Events {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    dedup_window: SignedDuration,
    scripts: Option<Arc<ScriptHost>>,
    active_channels: Vec<Channel>,
    validators: Arc<schemas::Validators>,
}

/// The answer to an accepted event: seed 03's `{"_id", "notifications"}`, where `_id` is the
/// event's record in the events log (each notification carries it as `event._id`).
pub type IngestResponse = Value;

impl Events {
    /// An event processor deduplicating sender ids within `dedup_window`, with custom
    /// handlers from `scripts` when given, sending on the server's `active_channels`.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        dedup_window: SignedDuration,
        scripts: Option<Arc<ScriptHost>>,
        active_channels: Vec<Channel>,
    ) -> Self {
        Self { store, clock, dedup_window, scripts, active_channels, validators: Arc::default() }
    }

    /// Processes one event body from `source` for the caller's tenant. Returns once everything
    /// it produced is committed; bad or unknown events are recorded with status `ERROR` and
    /// refused.
    pub async fn ingest(&self, actor: &Actor, source: EventSource, body: Value) -> Result<IngestResponse, EngineError> {
        let event = IncomingEvent::parse(body)?;
        let now = self.clock.now();
        let window_start = now.checked_sub(self.dedup_window).unwrap_or(now);
        if let Some(id) = &event.id
            && let Some(first) = self.store.find_duplicate(&actor.tenant, id, window_start).await?
        {
            return Ok(first);
        }
        let arrival = Arrival::new(actor, &event, source, now);
        let setting = lookups::event_settings(&self.store, &actor.tenant, Some(event.name.as_str())).await?.into_iter().next();
        let custom = setting.as_ref().and_then(|s| s.handler_name.clone());
        let handler = if custom.is_some() { None } else { handlers::default_handler(event.name.as_str()) };
        if handler.is_none() && custom.is_none() {
            let error = Invalid::new("", "Unknown event");
            self.record_error(&arrival, &error.reason).await?;
            return Err(error.into());
        }
        let schema = setting.as_ref().and_then(|s| s.event_schema.clone()).or_else(|| handler.map(|h| h.schema()));
        if let Some(schema) = schema
            && let Err(reason) = self.validators.check(&schema, &event)
        {
            self.record_error(&arrival, &reason.to_string()).await?;
            return Err(reason.into());
        }
        let supported = setting.as_ref().and_then(|s| s.supported_channels.clone());
        let context = HandlerContext::new(self.store.clone(), actor.clone(), now, arrival.view(), supported);
        let outcome = match (custom, handler) {
            (Some(name), _) => match self.scripts.as_ref().filter(|host| host.contains(&name)) {
                Some(host) => {
                    let config = setting.and_then(|s| s.handler_config).map_or(Value::Null, Value::Object);
                    let script_event = json!({"id": arrival.sender_id, "key": event.key, "name": event.name, "metadata": event.metadata, "payload": event.payload});
                    custom::run(host.clone(), name, context, script_event, config).await
                }
                None => Err(Invalid::new("handlerName", format!("the custom handler {name} is not loaded on this server")).into()),
            },
            (None, Some(handler)) => {
                let mut context = context;
                handler.handle(&mut context).await.map(|()| context)
            }
            (None, None) => unreachable!("refused above as an unknown event"),
        };
        let outcome = crate::preferences::screen(&self.store, &actor.tenant, outcome, source == EventSource::Manual).await;
        let context = match outcome {
            Ok(context) => context,
            Err(error) => {
                if let EngineError::Invalid(invalid) = &error {
                    self.record_error(&arrival, &invalid.to_string()).await?;
                }
                return Err(error);
            }
        };
        let (notifications, mut commit) = context.finish();
        let response =
            json!({"_id": arrival.document_id, "notifications": notifications.iter().map(Document::to_json).collect::<Vec<_>>()});
        commit.event = Some(arrival.record(EventStatus::Processed, &[]));
        commit.notifications = notifications;
        commit.dedup =
            event.id.as_ref().map(|id| Dedup { event_id: id.clone(), response: response.clone(), received_at: now, window_start });
        match self.store.commit_event(&actor.tenant, commit).await? {
            Committed::Written => Ok(response),
            Committed::Duplicate(first) => Ok(first),
        }
    }

    /// Records a refused event in the events log with status `ERROR` and the reason.
    async fn record_error(&self, arrival: &Arrival<'_>, reason: &str) -> Result<(), EngineError> {
        let record = arrival.record(EventStatus::Error, &[reason]);
        self.store.commit_event(&arrival.actor.tenant, EventCommit { event: Some(record), ..EventCommit::default() }).await?;
        Ok(())
    }
}
