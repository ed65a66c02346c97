//! `AM/AppointmentCreated|Updated|Deleted|Reminder/v1`: appointments and their reminders.

use super::{date_at, object_at, push_unique, strings_at};
use crate::EngineError;
use crate::events::context::{EventView, HandlerContext, Recipient};
use herald_core::Invalid;
use herald_core::rules::recipients::RecipientQuery;
use serde_json::{Map, Value, json};

const CREATED: &str = "AM/AppointmentCreated/v1";
const UPDATED: &str = "AM/AppointmentUpdated/v1";
const DELETED: &str = "AM/AppointmentDeleted/v1";
const REMINDER: &str = "AM/AppointmentReminder/v1";

/// The appointment events.
pub(crate) const EVENTS: [&str; 4] = [CREATED, UPDATED, DELETED, REMINDER];

/// Which appointment event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    Created,
    Updated,
    Deleted,
    Reminder,
}

impl Step {
    pub(crate) fn of(name: &str) -> Option<Self> {
        Some(match name {
            CREATED => Step::Created,
            UPDATED => Step::Updated,
            DELETED => Step::Deleted,
            REMINDER => Step::Reminder,
            _ => return None,
        })
    }

    pub(crate) fn schema(self) -> Value {
        let appointment = json!({"type": "object", "required": ["startDate"], "properties": {"startDate": {"type": "string"}, "endDate": {"type": "string"}}});
        let metadata = json!({"type": "object", "properties": {"userFields": {"type": "array", "items": {"type": "string"}}}});
        match self {
            Step::Created | Step::Deleted => {
                json!({"type": "object", "required": ["payload"], "properties": {"metadata": metadata, "payload": appointment}})
            }
            Step::Updated => json!({
                "type": "object", "required": ["payload"],
                "properties": {"metadata": metadata, "payload": {"type": "object", "required": ["originalAppointment", "currentAppointment"],
                    "properties": {"originalAppointment": appointment, "currentAppointment": appointment}}}
            }),
            Step::Reminder => json!({
                "type": "object", "required": ["metadata"],
                "properties": {"metadata": {"type": "object", "required": ["reminder"], "properties": {"reminder": {"type": "object",
                    "properties": {"schedule": {"type": "string"}, "recipients": {"type": "array", "items": {"type": "string"}}}}}}}
            }),
        }
    }
}

pub(crate) async fn handle(step: Step, context: &mut HandlerContext) -> Result<(), EngineError> {
    match step {
        Step::Created => created(context).await,
        Step::Updated => updated(context).await,
        Step::Deleted => deleted(context).await,
        Step::Reminder => reminder(context).await,
    }
}

/// The payload fields holding participant ids: `metadata.userFields`, by default
/// `resourceId` and `participantIds`.
fn user_fields(metadata: &Map<String, Value>) -> Vec<String> {
    let fields = strings_at(metadata, "userFields");
    if fields.is_empty() { vec!["resourceId".into(), "participantIds".into()] } else { fields }
}

fn participants(appointment: &Map<String, Value>, fields: &[String]) -> Vec<String> {
    let mut ids = Vec::new();
    for field in fields {
        push_unique(&mut ids, strings_at(appointment, field));
    }
    ids
}

async fn recipients(context: &HandlerContext, ids: &[String]) -> Result<Vec<Recipient>, EngineError> {
    context.get_recipients(&RecipientQuery::ids(ids.iter().cloned())).await
}

fn find<'a>(users: &'a [Recipient], id: &str) -> Option<&'a Recipient> {
    users.iter().find(|r| r.user.id == id)
}

/// Messages of `view`'s event for `user`, and reminders before `date` from the created
/// event's settings when `date` is given.
async fn notify(
    context: &mut HandlerContext,
    view: &EventView,
    user: &Recipient,
    remind_before: Option<(jiff::Timestamp, &Map<String, Value>)>,
) -> Result<(), EngineError> {
    let settings = context.settings_for(&view.name, user).await?;
    let specs = context.build_messages(&settings);
    let index = context.send_messages(view, user, &specs);
    if let Some((date, appointment)) = remind_before {
        let reminder_settings = context.reminder_settings_for(CREATED, user).await?;
        let reminders = context.build_reminders(&reminder_settings, user, date);
        let reminder_view = context.event().derive(REMINDER, appointment.clone());
        context.set_reminders(index, &reminder_view, reminders);
    }
    Ok(())
}

async fn created(context: &mut HandlerContext) -> Result<(), EngineError> {
    let event = context.event().clone();
    let date = date_at(&event.payload, "startDate", "payload.startDate")?;
    if date <= context.now() {
        return Err(Invalid::new("payload.startDate", "is in the past").into());
    }
    let ids = participants(&event.payload, &user_fields(&event.metadata));
    if ids.is_empty() {
        return Err(Invalid::new("metadata.userFields", "name no participant in the payload").into());
    }
    let users = recipients(context, &ids).await?;
    for id in &ids {
        match find(&users, id) {
            Some(user) => notify(context, &event, user, Some((date, &event.payload))).await?,
            None => context.record_unknown_recipient(&event, id),
        }
    }
    Ok(())
}

async fn deleted(context: &mut HandlerContext) -> Result<(), EngineError> {
    let event = context.event().clone();
    let ids = participants(&event.payload, &user_fields(&event.metadata));
    if ids.is_empty() {
        return Err(Invalid::new("metadata.userFields", "name no participant in the payload").into());
    }
    let users = recipients(context, &ids).await?;
    for id in &ids {
        match find(&users, id) {
            Some(user) => {
                notify(context, &event, user, None).await?;
                context.abort_reminders(id, &[CREATED, UPDATED]).await?;
            }
            None => context.record_unknown_recipient(&event, id),
        }
    }
    Ok(())
}

async fn updated(context: &mut HandlerContext) -> Result<(), EngineError> {
    let event = context.event().clone();
    let original = object_at(&event.payload, "originalAppointment", "payload.originalAppointment")?.clone();
    let current = object_at(&event.payload, "currentAppointment", "payload.currentAppointment")?.clone();
    let date = date_at(&current, "startDate", "payload.currentAppointment.startDate")?;
    let rescheduled = original.get("startDate") != current.get("startDate") || original.get("endDate") != current.get("endDate");
    let fields = user_fields(&event.metadata);
    let (before, after) = (participants(&original, &fields), participants(&current, &fields));
    if before.is_empty() && after.is_empty() {
        return Err(Invalid::new("metadata.userFields", "name no participant in the appointments").into());
    }
    let mut everyone = before.clone();
    push_unique(&mut everyone, after.clone());
    let users = recipients(context, &everyone).await?;
    for id in &everyone {
        let Some(user) = find(&users, id) else {
            context.record_unknown_recipient(&event, id);
            continue;
        };
        match (before.contains(id), after.contains(id)) {
            (false, true) => notify(context, &event.derive(CREATED, current.clone()), user, Some((date, &current))).await?,
            (true, false) => {
                notify(context, &event.derive(DELETED, original.clone()), user, None).await?;
                context.abort_reminders(id, &[CREATED, UPDATED]).await?;
            }
            _ if rescheduled => {
                context.abort_reminders(id, &[CREATED, UPDATED]).await?;
                notify(context, &event, user, Some((date, &current))).await?;
            }
            _ => notify(context, &event, user, None).await?,
        }
    }
    Ok(())
}

async fn reminder(context: &mut HandlerContext) -> Result<(), EngineError> {
    let event = context.event().clone();
    let reminder = object_at(&event.metadata, "reminder", "metadata.reminder")?;
    let schedule = reminder.get("schedule").and_then(Value::as_str).map(str::to_string);
    let mut ids = strings_at(reminder, "recipients");
    push_unique(&mut ids, strings_at(reminder, "participants"));
    if ids.is_empty() {
        return Err(Invalid::new("metadata.reminder.recipients", "must name at least one recipient").into());
    }
    let users = recipients(context, &ids).await?;
    for id in &ids {
        let Some(user) = find(&users, id) else {
            context.record_unknown_recipient(&event, id);
            continue;
        };
        let mut sorted = context.get_notification_settings(REMINDER, Some(user)).await?;
        if let Some(schedule) = &schedule {
            sorted.retain(|s| s.setting.reminders.iter().any(|r| r.as_str() == schedule));
        }
        let settings = context.merge_notification_settings(&sorted, Some(user));
        let specs = context.build_messages(&settings);
        context.send_messages(&event, user, &specs);
    }
    Ok(())
}
