//! The default handlers of seed 03, one file per family. Each follows the seed's steps through
//! the handler utility API in [`HandlerContext`].
//!
//! Where the seed is silent, Herald chooses:
//! - participants named in the event but missing from the users directory get a notification
//!   with a `failures` entry instead of silently nothing;
//! - reminder durations always come from the settings of the *created* event (the plan or
//!   appointment's reminder configuration), also when an update reschedules, so an update
//!   re-creates exactly the reminders the creation set up;
//! - reminders whose time has passed are not scheduled;
//! - a setting's `hours` limit when its messages go out, not whether its reminders exist: a
//!   booking made at night still schedules its reminders (each reminder's messages meet the
//!   reminder event's `hours` when it fires).

mod appointment;
mod catalogue;
mod integrity;
mod plan;

use super::context::HandlerContext;
use crate::EngineError;
use herald_core::Invalid;
use jiff::Timestamp;
use serde_json::{Map, Value};

/// A built-in handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DefaultHandler {
    Appointment(appointment::Step),
    Catalogue(&'static herald_core::catalogue::Definition),
    Integrity,
    Plan(plan::Kind, plan::Step),
}

/// Every event name a default handler processes.
pub(crate) fn default_events() -> Vec<String> {
    let mut names: Vec<String> = appointment::EVENTS.iter().map(|n| n.to_string()).collect();
    names.push(integrity::EVENT.to_string());
    names.extend(plan::events());
    names.extend(herald_core::catalogue::CATALOGUE.iter().map(|d| d.name.to_string()));
    names
}

/// The built-in handler of an event name, if there is one.
pub(crate) fn default_handler(name: &str) -> Option<DefaultHandler> {
    appointment::Step::of(name)
        .map(DefaultHandler::Appointment)
        .or_else(|| (name == integrity::EVENT).then_some(DefaultHandler::Integrity))
        .or_else(|| plan::of(name).map(|(kind, step)| DefaultHandler::Plan(kind, step)))
        .or_else(|| herald_core::catalogue::definition(name).map(DefaultHandler::Catalogue))
}

impl DefaultHandler {
    /// The JSON Schema events of this handler must satisfy.
    pub(crate) fn schema(self) -> Value {
        match self {
            DefaultHandler::Appointment(step) => step.schema(),
            DefaultHandler::Catalogue(definition) => definition.schema(),
            DefaultHandler::Integrity => integrity::schema(),
            DefaultHandler::Plan(kind, step) => plan::schema(kind, step),
        }
    }

    /// Processes the context's event.
    pub(crate) async fn handle(self, context: &mut HandlerContext) -> Result<(), EngineError> {
        match self {
            DefaultHandler::Appointment(step) => appointment::handle(step, context).await,
            DefaultHandler::Catalogue(definition) => catalogue::handle(definition, context).await,
            DefaultHandler::Integrity => integrity::handle(context).await,
            DefaultHandler::Plan(kind, step) => plan::handle(kind, step, context).await,
        }
    }
}

/// The strings at `field` of `object`: one string or a list of strings.
fn strings_at(object: &Map<String, Value>, field: &str) -> Vec<String> {
    herald_core::json::one_or_many(object.get(field))
}

/// The object at `field` of `object`, or an error naming `label`.
fn object_at<'a>(object: &'a Map<String, Value>, field: &str, label: &str) -> Result<&'a Map<String, Value>, EngineError> {
    object.get(field).and_then(Value::as_object).ok_or_else(|| Invalid::new(label, "must be an object").into())
}

/// The RFC 3339 date-time at `field`, or an error naming `label`.
fn date_at(object: &Map<String, Value>, field: &str, label: &str) -> Result<Timestamp, EngineError> {
    object
        .get(field)
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<Timestamp>().ok())
        .ok_or_else(|| Invalid::new(label, "must be an ISO 8601 date-time such as 2024-05-01T09:30:00Z").into())
}

/// Adds `more` to `ids`, keeping the first occurrence of each.
fn push_unique(ids: &mut Vec<String>, more: impl IntoIterator<Item = String>) {
    for id in more {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
}
