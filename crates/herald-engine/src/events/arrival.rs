//! An event as it arrived: who sent it, from where, and the ids it is known by — its record in
//! the events log and its sender id — so the record, the handler's view and the notifications
//! all name it the same way.

use super::context::EventView;
use crate::documents::Actor;
use herald_core::document::Document;
use herald_core::event::{EventSource, EventStatus, IncomingEvent};
use herald_core::id::new_document_id;
use jiff::Timestamp;
use serde_json::{Map, Value, json};

/// One arrived event.
pub(super) struct Arrival<'a> {
    /// Who sent it.
    pub(super) actor: &'a Actor,
    /// The event.
    pub(super) event: &'a IncomingEvent,
    /// Where it came from.
    pub(super) source: EventSource,
    /// When it arrived.
    pub(super) at: Timestamp,
    /// Its record's `_id` in the events log.
    pub(super) document_id: String,
    /// The sender's event id, or a new one when it gave none.
    pub(super) sender_id: String,
}

impl<'a> Arrival<'a> {
    /// `event` arriving from `source` at `at`.
    pub(super) fn new(actor: &'a Actor, event: &'a IncomingEvent, source: EventSource, at: Timestamp) -> Self {
        Self { actor, event, source, at, document_id: new_document_id(at), sender_id: event.id_or_new() }
    }

    /// The event as handlers see it.
    pub(super) fn view(&self) -> EventView {
        EventView::new(self.document_id.clone(), self.sender_id.clone(), self.event)
    }

    /// Its record in the events log, with its outcome.
    pub(super) fn record(&self, status: EventStatus, errors: &[&str]) -> Document {
        let mut body = Map::new();
        body.insert("id".into(), Value::String(self.sender_id.clone()));
        if let Some(key) = &self.event.key {
            body.insert("key".into(), Value::String(key.clone()));
        }
        body.insert("name".into(), Value::String(self.event.name.to_string()));
        body.insert("metadata".into(), Value::Object(self.event.metadata.clone()));
        body.insert("payload".into(), Value::Object(self.event.payload.clone()));
        body.insert("source".into(), serde_json::to_value(self.source).expect("sources serialize"));
        body.insert("status".into(), serde_json::to_value(status).expect("statuses serialize"));
        body.insert("errors".into(), Value::Array(errors.iter().map(|e| json!({"message": e})).collect()));
        Document::new(self.document_id.clone(), body, self.at, &self.actor.id)
    }
}
