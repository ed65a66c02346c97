//! `TMM/Monitoring…/v1` and `TMM/Therapy…/v1` (created, updated, deleted, reminder) and
//! `TMM/ThresholdExceeded/v1`: care plans, their daily or weekly reminders, and alerts.

use super::{object_at, push_unique, strings_at};
use crate::EngineError;
use crate::events::context::{EventView, HandlerContext, Recipient};
use herald_core::Invalid;
use herald_core::rules::plan::PlanSchedule;
use herald_core::rules::recipients::RecipientQuery;
use herald_core::rules::reminders::ReminderSpec;
use herald_core::values::IsoDuration;
use jiff::Timestamp;
use serde_json::{Map, Value, json};

/// Which kind of plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Monitoring,
    Therapy,
}

/// Which plan event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    Created,
    Updated,
    Deleted,
    Reminder,
    ThresholdExceeded,
}

const THRESHOLD_EXCEEDED: &str = "TMM/ThresholdExceeded/v1";

impl Kind {
    fn word(self) -> &'static str {
        match self {
            Kind::Monitoring => "Monitoring",
            Kind::Therapy => "Therapy",
        }
    }

    fn event(self, step: Step) -> String {
        let what = match step {
            Step::Created => "Created",
            Step::Updated => "Updated",
            Step::Deleted => "Deleted",
            Step::Reminder => "Reminder",
            Step::ThresholdExceeded => return THRESHOLD_EXCEEDED.to_string(),
        };
        format!("TMM/{}{what}/v1", self.word())
    }
}

/// Every plan event name.
pub(crate) fn events() -> Vec<String> {
    let mut names: Vec<String> = [Kind::Monitoring, Kind::Therapy]
        .into_iter()
        .flat_map(|kind| [Step::Created, Step::Updated, Step::Deleted, Step::Reminder].map(|step| kind.event(step)))
        .collect();
    names.push(THRESHOLD_EXCEEDED.to_string());
    names
}

/// The plan handler of an event name.
pub(crate) fn of(name: &str) -> Option<(Kind, Step)> {
    if name == THRESHOLD_EXCEEDED {
        return Some((Kind::Monitoring, Step::ThresholdExceeded));
    }
    [Kind::Monitoring, Kind::Therapy]
        .into_iter()
        .flat_map(|kind| [Step::Created, Step::Updated, Step::Deleted, Step::Reminder].map(|step| (kind, step)))
        .find(|(kind, step)| kind.event(*step) == name)
}

pub(crate) fn schema(kind: Kind, step: Step) -> Value {
    let plan = json!({"type": "object", "required": ["startDate", "endDate", "each"], "properties": {
        "startDate": {"type": "string"}, "endDate": {"type": "string"}, "each": {"type": "array", "items": {"type": "string"}},
        "doctorId": {"type": "string"}, "patientId": {"type": "string"}}});
    let users = json!({"type": "array", "items": {"type": "string"}});
    let metadata = json!({"type": "object", "properties": {"includeUsers": users, "excludeUsers": users}});
    match step {
        Step::Created | Step::Deleted => {
            json!({"type": "object", "required": ["payload"], "properties": {"metadata": metadata, "payload": plan}})
        }
        Step::Updated => {
            let (original, current) = (format!("original{}", kind.word()), format!("current{}", kind.word()));
            json!({"type": "object", "required": ["payload"], "properties": {"metadata": metadata, "payload": {"type": "object",
                "required": [original, current], "properties": {original: {"type": "object"}, current: plan}}}})
        }
        Step::Reminder => {
            json!({"type": "object", "required": ["metadata", "payload"], "properties": {"payload": plan, "metadata": {"type": "object",
            "required": ["reminder"], "properties": {"reminder": {"type": "object", "required": ["schedule", "recipients"],
                "properties": {"schedule": {"type": "string"}, "recipients": users, "expirationDate": {"type": "string"}}}}}}})
        }
        Step::ThresholdExceeded => {
            json!({"type": "object", "required": ["payload"], "properties": {"metadata": metadata, "payload": {"type": "object"}}})
        }
    }
}

pub(crate) async fn handle(kind: Kind, step: Step, context: &mut HandlerContext) -> Result<(), EngineError> {
    match step {
        Step::Created => created(kind, context).await,
        Step::Updated => updated(kind, context).await,
        Step::Deleted => deleted(kind, context).await,
        Step::Reminder => reminder(kind, context).await,
        Step::ThresholdExceeded => threshold_exceeded(context).await,
    }
}

/// The plan's doctor and patient.
fn members(plan: &Map<String, Value>) -> Vec<String> {
    let mut ids = strings_at(plan, "doctorId");
    push_unique(&mut ids, strings_at(plan, "patientId"));
    ids
}

/// `ids` with `metadata.includeUsers` added and `metadata.excludeUsers` removed.
fn adjust(mut ids: Vec<String>, metadata: &Map<String, Value>) -> Vec<String> {
    push_unique(&mut ids, strings_at(metadata, "includeUsers"));
    let excluded = strings_at(metadata, "excludeUsers");
    ids.retain(|id| !excluded.contains(id));
    ids
}

fn schedule_of(plan: &Map<String, Value>, label: &str) -> Result<PlanSchedule, EngineError> {
    serde_json::from_value(Value::Object(plan.clone()))
        .map_err(|_| Invalid::new(label, "must be a plan with startDate, endDate (date-times) and each").into())
}

/// Sends `view`'s messages to each of `ids` (recording unknown ones); returns each known
/// recipient with the index of its notification, for reminders and aborts to follow.
async fn notify_each(context: &mut HandlerContext, view: &EventView, ids: &[String]) -> Result<Vec<(Recipient, usize)>, EngineError> {
    let users = context.get_recipients(&RecipientQuery::ids(ids.iter().cloned())).await?;
    let mut notified = Vec::new();
    for id in ids {
        let Some(user) = users.iter().find(|u| &u.user.id == id) else {
            context.record_unknown_recipient(view, id);
            continue;
        };
        let settings = context.settings_for(&view.name, user).await?;
        let specs = context.build_messages(&settings);
        let index = context.send_messages(view, user, &specs);
        notified.push((user.clone(), index));
    }
    Ok(notified)
}

/// Schedules, for each reminder duration of the created event's settings, the first plan day
/// whose reminder falls after `after`.
async fn schedule_plan_reminders(
    kind: Kind,
    context: &mut HandlerContext,
    user: &Recipient,
    index: usize,
    plan: &Map<String, Value>,
    after: Timestamp,
) -> Result<(), EngineError> {
    let schedule = schedule_of(plan, "payload")?;
    let settings = context.reminder_settings_for(&kind.event(Step::Created), user).await?;
    let mut specs: Vec<ReminderSpec> = Vec::new();
    for stored in &settings {
        for duration in &stored.setting.reminders {
            if let Some(spec) = specs.iter_mut().find(|s| &s.schedule == duration) {
                spec.triggers.push(stored.id.clone());
                continue;
            }
            if let Some((_, fires)) = schedule.next_reminder(duration, after) {
                specs.push(ReminderSpec {
                    schedule: duration.clone(),
                    expiration_date: fires,
                    recipients: vec![user.user.id.clone()],
                    triggers: vec![stored.id.clone()],
                });
            }
        }
    }
    let view = context.event().derive(&kind.event(Step::Reminder), plan.clone());
    context.set_reminders(index, &view, specs);
    Ok(())
}

fn aborted_events(kind: Kind) -> [String; 3] {
    [kind.event(Step::Created), kind.event(Step::Updated), kind.event(Step::Reminder)]
}

async fn abort(kind: Kind, context: &mut HandlerContext, user_id: &str) -> Result<(), EngineError> {
    let names = aborted_events(kind);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    context.abort_reminders(user_id, &names).await
}

async fn created(kind: Kind, context: &mut HandlerContext) -> Result<(), EngineError> {
    let event = context.event().clone();
    schedule_of(&event.payload, "payload")?;
    let ids = adjust(members(&event.payload), &event.metadata);
    if ids.is_empty() {
        return Err(Invalid::new("payload.patientId", "the plan names no doctor or patient").into());
    }
    let now = context.now();
    for (user, index) in notify_each(context, &event, &ids).await? {
        schedule_plan_reminders(kind, context, &user, index, &event.payload, now).await?;
    }
    Ok(())
}

async fn deleted(kind: Kind, context: &mut HandlerContext) -> Result<(), EngineError> {
    let event = context.event().clone();
    let ids = adjust(members(&event.payload), &event.metadata);
    for (user, _) in notify_each(context, &event, &ids).await? {
        abort(kind, context, &user.user.id).await?;
    }
    Ok(())
}

async fn updated(kind: Kind, context: &mut HandlerContext) -> Result<(), EngineError> {
    let event = context.event().clone();
    let original = object_at(&event.payload, &format!("original{}", kind.word()), &format!("payload.original{}", kind.word()))?.clone();
    let current = object_at(&event.payload, &format!("current{}", kind.word()), &format!("payload.current{}", kind.word()))?.clone();
    schedule_of(&current, &format!("payload.current{}", kind.word()))?;
    let (before, after) = (members(&original), members(&current));
    let excluded = strings_at(&event.metadata, "excludeUsers");
    let keep = |ids: Vec<String>| ids.into_iter().filter(|id| !excluded.contains(id)).collect::<Vec<_>>();
    let new: Vec<String> = keep(after.iter().filter(|id| !before.contains(id)).cloned().collect());
    let old: Vec<String> = keep(before.iter().filter(|id| !after.contains(id)).cloned().collect());
    let mut existing: Vec<String> = after.iter().filter(|id| before.contains(id)).cloned().collect();
    push_unique(&mut existing, strings_at(&event.metadata, "includeUsers"));
    let existing = keep(existing);
    let now = context.now();
    let created_view = event.derive(&kind.event(Step::Created), current.clone());
    for (user, index) in notify_each(context, &created_view, &new).await? {
        schedule_plan_reminders(kind, context, &user, index, &current, now).await?;
    }
    let deleted_view = event.derive(&kind.event(Step::Deleted), original.clone());
    for (user, _) in notify_each(context, &deleted_view, &old).await? {
        abort(kind, context, &user.user.id).await?;
    }
    for (user, index) in notify_each(context, &event, &existing).await? {
        abort(kind, context, &user.user.id).await?;
        schedule_plan_reminders(kind, context, &user, index, &current, now).await?;
    }
    Ok(())
}

async fn reminder(kind: Kind, context: &mut HandlerContext) -> Result<(), EngineError> {
    let event = context.event().clone();
    let reminder = object_at(&event.metadata, "reminder", "metadata.reminder")?.clone();
    let schedule = reminder
        .get("schedule")
        .and_then(Value::as_str)
        .and_then(|s| IsoDuration::parse(s).ok())
        .ok_or_else(|| Invalid::new("metadata.reminder.schedule", "must be an ISO 8601 duration"))?;
    let fired: Timestamp = reminder.get("expirationDate").and_then(Value::as_str).and_then(|s| s.parse().ok()).unwrap_or(context.now());
    let plan = schedule_of(&event.payload, "payload")?;
    let ids = strings_at(&reminder, "recipients");
    let users = context.get_recipients(&RecipientQuery::ids(ids.iter().cloned())).await?;
    for id in &ids {
        let Some(user) = users.iter().find(|u| &u.user.id == id) else {
            context.record_unknown_recipient(&event, id);
            continue;
        };
        let mut sorted = context.get_notification_settings(&event.name, Some(user)).await?;
        sorted.retain(|s| s.setting.reminders.contains(&schedule));
        let settings = context.merge_notification_settings(&sorted, Some(user));
        let specs = context.build_messages(&settings);
        let index = context.send_messages(&event, user, &specs);
        if let Some((_, next)) = plan.next_reminder(&schedule, fired) {
            let triggers = strings_at(&reminder, "triggers");
            let spec = ReminderSpec { schedule: schedule.clone(), expiration_date: next, recipients: vec![id.clone()], triggers };
            let view = event.derive(&kind.event(Step::Reminder), event.payload.clone());
            context.set_reminders(index, &view, vec![spec]);
        }
    }
    Ok(())
}

async fn threshold_exceeded(context: &mut HandlerContext) -> Result<(), EngineError> {
    let event = context.event().clone();
    let mut ids = strings_at(&event.payload, "doctorId");
    for part in ["plan", "detection"] {
        if let Some(inner) = event.payload.get(part).and_then(Value::as_object) {
            push_unique(&mut ids, strings_at(inner, "doctorId"));
        }
    }
    let ids = adjust(ids, &event.metadata);
    if ids.is_empty() {
        return Err(Invalid::new("payload.plan.doctorId", "the event names no doctor to alert").into());
    }
    notify_each(context, &event, &ids).await?;
    Ok(())
}
