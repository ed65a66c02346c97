//! The handler utility API in JSON, for custom scripts: each `utils.<function>(…)` call is
//! decoded, answered through [`HandlerContext`], and encoded back. Argument order follows
//! seed 03 (`getNotificationSettings(event, user, emitters)`, `sendMessages(event, user,
//! messages)`, `buildReminders(user, settings, eventDateTime)`, …); a leading extra argument
//! (the notification manager's `service`) is accepted and ignored, so its scripts run as
//! written.

use super::context::{EventView, HandlerContext, Recipient};
use crate::EngineError;
use herald_core::Invalid;
use herald_core::document::strip_system_fields;
use herald_core::resources::user::User;
use herald_core::rules::messages::MessageSpec;
use herald_core::rules::recipients::RecipientQuery;
use herald_core::rules::reminders::ReminderSpec;
use herald_core::rules::settings::StoredSetting;
use jiff::Timestamp;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

/// Answers one utility call.
pub(super) async fn call(context: &mut HandlerContext, function: &str, mut args: Vec<Value>) -> Result<Value, EngineError> {
    let arity = match function {
        "getRecipients" | "buildMessages" => 1,
        "mergeNotificationSettings" => 2,
        _ => 3,
    };
    if args.len() > arity {
        args.remove(0);
    }
    args.resize(arity, Value::Null);
    match function {
        "getRecipients" => {
            let query: RecipientQuery = decode(&args[0], "query")?;
            Ok(Value::Array(context.get_recipients(&query).await?.iter().map(recipient_json).collect()))
        }
        "getNotificationSettings" => {
            let name = event_name(context, &args[0]);
            let user = optional_recipient(&args[1])?;
            Ok(settings_json(&context.get_notification_settings(&name, user.as_ref()).await?))
        }
        "mergeNotificationSettings" => {
            let settings = stored_settings(&args[0])?;
            let user = optional_recipient(&args[1])?;
            Ok(settings_json(&context.merge_notification_settings(&settings, user.as_ref())))
        }
        "buildMessages" => Ok(json!(context.build_messages(&stored_settings(&args[0])?))),
        "sendMessages" | "sendNotification" => {
            let view = event_view(context, &args[0]);
            let user = recipient(&args[1])?;
            let specs: Vec<MessageSpec> = if function == "sendMessages" {
                decode(&args[2], "messages")?
            } else {
                context.build_messages(&stored_settings(&Value::Array(vec![args[2].clone()]))?)
            };
            let index = context.send_messages(&view, &user, &specs);
            Ok(context.notification_json(index))
        }
        "buildReminders" => {
            let user = recipient(&args[0])?;
            let settings = stored_settings(&args[1])?;
            let date: Timestamp = args[2]
                .as_str()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| Invalid::new("eventDateTime", "must be an ISO 8601 date-time"))?;
            Ok(json!(context.build_reminders(&settings, &user, date)))
        }
        "setReminders" => {
            let view = event_view(context, &args[0]);
            let user = recipient(&args[1])?;
            let reminders: Vec<ReminderSpec> = decode(&args[2], "reminders")?;
            let index = context.notification_for(&view, &user);
            context.set_reminders(index, &view, reminders);
            Ok(context.notification_json(index))
        }
        "abortReminders" => {
            let user = recipient(&args[1])?;
            let names: Vec<String> = match args[2].get("eventName") {
                Some(Value::String(one)) => vec![one.clone()],
                Some(many) => decode(many, "query.eventName")?,
                None => vec![event_name(context, &args[0])],
            };
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            context.abort_reminders(&user.user.id, &names).await?;
            Ok(Value::Null)
        }
        "mergeNotifications" => Ok(args[2].as_array().and_then(|n| n.first()).cloned().unwrap_or(Value::Null)),
        other => Err(Invalid::new(other, "is not a utility function").into()),
    }
}

fn decode<T: DeserializeOwned>(value: &Value, what: &str) -> Result<T, EngineError> {
    Ok(Invalid::deserialize(value.clone()).map_err(|e| e.within(what))?)
}

fn recipient_json(recipient: &Recipient) -> Value {
    let mut user = serde_json::to_value(&recipient.user).expect("users serialize");
    user["_id"] = Value::String(recipient.document_id.clone());
    user
}

fn recipient(value: &Value) -> Result<Recipient, EngineError> {
    let mut body: Map<String, Value> = decode(value, "user")?;
    let document_id = body.get("_id").and_then(Value::as_str).unwrap_or_default().to_string();
    strip_system_fields(&mut body);
    let user: User = decode(&Value::Object(body), "user")?;
    Ok(Recipient { document_id, user })
}

fn optional_recipient(value: &Value) -> Result<Option<Recipient>, EngineError> {
    if value.is_null() { Ok(None) } else { recipient(value).map(Some) }
}

fn settings_json(settings: &[StoredSetting]) -> Value {
    Value::Array(
        settings
            .iter()
            .map(|stored| {
                let mut setting = serde_json::to_value(&stored.setting).expect("settings serialize");
                setting["_id"] = Value::String(stored.id.clone());
                setting
            })
            .collect(),
    )
}

fn stored_settings(value: &Value) -> Result<Vec<StoredSetting>, EngineError> {
    let items: Vec<Map<String, Value>> = decode(value, "notificationSettings")?;
    items
        .into_iter()
        .enumerate()
        .map(|(i, mut body)| {
            let id = body.get("_id").and_then(Value::as_str).unwrap_or_default().to_string();
            strip_system_fields(&mut body);
            let setting = decode(&Value::Object(body), &format!("notificationSettings[{i}]"))?;
            Ok(StoredSetting { id, setting })
        })
        .collect()
}

fn event_name(context: &HandlerContext, value: &Value) -> String {
    match value {
        Value::String(name) => name.clone(),
        _ => value.get("name").and_then(Value::as_str).map_or_else(|| context.event().name.clone(), str::to_string),
    }
}

/// The script's event: its `name` and `payload` over the arrived event's identity.
fn event_view(context: &HandlerContext, value: &Value) -> EventView {
    let name = event_name(context, value);
    let payload = value.get("payload").and_then(Value::as_object).cloned().unwrap_or_else(|| context.event().payload.clone());
    let mut view = context.event().derive(&name, payload);
    if let Some(metadata) = value.get("metadata").and_then(Value::as_object) {
        view.metadata = metadata.clone();
    }
    view
}
