//! The clinic catalogue's events (seed 02 and seed 05): the patient the event carries — from
//! the directory by `patient_id`, or inline (`patient_email`, `patient_phone`,
//! `patient_name`) — or the staff group the catalogue names, on the tenant's settings for the
//! event or, when it has none, the catalogue's defaults. Appointment events schedule reminders
//! (24 h — or the clinic's `hours_before` — 2 h and 30 min before `start_time`, or
//! `slot_date` + `slot_time` in the tenant's time zone) emitting `appointment.reminder`;
//! cancellations and the like abort them. The
//! appointment is identified by the event's `key`, else `appointment_id` or
//! `booking_reference`.

use super::strings_at;
use crate::EngineError;
use crate::events::context::{HandlerContext, Recipient};
use herald_core::Invalid;
use herald_core::catalogue::{APPOINTMENT_REMINDER, Audience, CATALOGUE, Definition};
use herald_core::resources::user::User;
use herald_core::rules::recipients::RecipientQuery;
use herald_core::rules::settings::StoredSetting;
use jiff::Timestamp;
use jiff::civil::{Date, Time};
use serde_json::{Map, Value, json};

pub(crate) async fn handle(definition: &'static Definition, context: &mut HandlerContext) -> Result<(), EngineError> {
    let payload = context.event().payload.clone();
    let key = ["appointment_id", "booking_reference"].iter().flat_map(|f| strings_at(&payload, f)).next();
    context.key_event(key);
    let recipients = match definition.audience {
        Audience::Patient => vec![patient(context, &payload).await?],
        Audience::Staff(group) => {
            context.get_recipients(&RecipientQuery { groups: vec![group.to_string()], ..RecipientQuery::default() }).await?
        }
    };
    if definition.schedules_reminders {
        context.load_tenant_zone().await?;
    }
    let event = context.event().clone();
    let scheduling: Vec<&str> = CATALOGUE.iter().filter(|d| d.schedules_reminders).map(|d| d.name).collect();
    for user in &recipients {
        if definition.aborts_reminders {
            context.abort_reminders(&user.user.id, &scheduling).await?;
        }
        let settings = settings(context, definition, user).await?;
        let specs = context.build_messages(&settings);
        let index = context.send_messages(&event, user, &specs);
        if definition.schedules_reminders
            && let Some(date) = appointment_date(context, &payload, user)?
        {
            if date <= context.now() {
                return Err(Invalid::new("payload.start_time", "is in the past").into());
            }
            let reminder_settings = if context.get_notification_settings(definition.name, None).await?.is_empty() {
                settings.clone()
            } else {
                context.reminder_settings_for(definition.name, user).await?
            };
            let reminders = context.build_reminders(&reminder_settings, user, date);
            let view = event.derive(APPOINTMENT_REMINDER, payload.clone());
            context.set_reminders(index, &view, reminders);
        }
    }
    Ok(())
}

/// The tenant's settings for the event, or the catalogue's defaults when it has none.
async fn settings(context: &mut HandlerContext, definition: &Definition, user: &Recipient) -> Result<Vec<StoredSetting>, EngineError> {
    if !context.get_notification_settings(definition.name, None).await?.is_empty() {
        return context.settings_for(definition.name, user).await;
    }
    let reminders = if definition.schedules_reminders { crate::preferences::reminder_schedules(context).await? } else { Vec::new() };
    let setting = serde_json::from_value(
        json!({"eventName": definition.name, "channels": definition.channels, "templateName": definition.template, "reminders": reminders}),
    )
    .expect("catalogue defaults are valid settings");
    Ok(context.merge_notification_settings(&[StoredSetting { id: format!("catalogue:{}", definition.name), setting }], Some(user)))
}

/// The patient: the directory's user for `patient_id` (inline contacts fill what it lacks),
/// else a recipient made of the inline fields.
async fn patient(context: &HandlerContext, payload: &Map<String, Value>) -> Result<Recipient, EngineError> {
    let text = |field: &str| payload.get(field).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
    let (id, email, phone, name) = (text("patient_id"), text("patient_email"), text("patient_phone"), text("patient_name"));
    let known = match &id {
        Some(id) => context.get_recipients(&RecipientQuery::ids([id.clone()])).await?.into_iter().next(),
        None => None,
    };
    let mut body = match &known {
        Some(recipient) => serde_json::to_value(&recipient.user).expect("users serialize"),
        None => json!({"id": id.clone().or_else(|| email.clone()).or_else(|| phone.clone()).unwrap_or_default()}),
    };
    for (field, value) in [("emailAddress", email), ("phoneNumber", phone), ("name", name)] {
        if let Some(value) = value
            && body.get(field).is_none_or(Value::is_null)
        {
            body[field] = Value::String(value);
        }
    }
    let user: User = Invalid::deserialize(body).map_err(|e| {
        let field = match e.field.as_str() {
            "emailAddress" => "payload.patient_email",
            "phoneNumber" => "payload.patient_phone",
            _ => "payload.patient_id",
        };
        Invalid::new(field, e.reason)
    })?;
    Ok(Recipient { document_id: known.map(|k| k.document_id).unwrap_or_default(), user })
}

/// The appointment's date: `start_time` (RFC 3339), or `slot_date` and `slot_time` in the
/// recipient's (else the tenant's) time zone; `None` when the event carries neither.
fn appointment_date(context: &HandlerContext, payload: &Map<String, Value>, user: &Recipient) -> Result<Option<Timestamp>, EngineError> {
    if let Some(start) = payload.get("start_time").and_then(Value::as_str) {
        return start.parse().map(Some).map_err(|_| Invalid::new("payload.start_time", "must be an ISO 8601 date-time").into());
    }
    let (Some(date), Some(time)) = (payload.get("slot_date").and_then(Value::as_str), payload.get("slot_time").and_then(Value::as_str))
    else {
        return Ok(None);
    };
    let date: Date = date.parse().map_err(|_| Invalid::new("payload.slot_date", "must be a date such as 2024-05-01"))?;
    let time: Time = time.parse().map_err(|_| Invalid::new("payload.slot_time", "must be a time such as 09:30"))?;
    let zoned = date
        .to_datetime(time)
        .to_zoned(context.zone_of(Some(user)))
        .map_err(|_| Invalid::new("payload.slot_time", "does not exist in the time zone"))?;
    Ok(Some(zoned.timestamp()))
}
