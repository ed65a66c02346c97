//! Seed 05's manual sends: `POST /api/v1/notifications/send` sends one notification type by
//! hand — the type a clinic set to `auto_send: false` included — and `POST
//! /api/v1/notifications/test` sends a test email through the tenant's email provider.
//!
//! A manual send is the type's built-in event (seed 05's for its six types, seed 02's for the
//! others: `budget_sent` is `budget.sent`) with the request's other fields as its payload, so
//! it finds its patient, template and channels exactly as the event would, and it is recorded
//! in the events log with source `manual`. It still honours the clinic's `enabled` and the
//! patient's opt-outs (seed 05's `force_send=False`). A tenant's own types have no built-in
//! event, so they cannot be sent this way (422); their events can carry
//! `metadata.notificationType` instead.

use crate::EngineError;
use crate::documents::Actor;
use crate::events::Events;
use crate::preferences::NotificationPreferences;
use herald_channels::{Outgoing, Provider, Receipt};
use herald_core::Invalid;
use herald_core::event::EventSource;
use herald_core::notification::EmailOptions;
use herald_core::render::Content;
use herald_core::rules::preferences::{catalogue_event, is_type_name};
use herald_core::values::EmailAddress;
use jiff::Timestamp;
use serde_json::{Value, json};

/// `POST /api/v1/notifications/send`: `{"notification_type": "budget_sent", …the event's
/// fields (patient_id, budget_id, …)}`. Answers like an event: `{"_id", "notifications"}`.
pub async fn send(events: &Events, preferences: &NotificationPreferences, actor: &Actor, body: Value) -> Result<Value, EngineError> {
    const FIELD: &str = "notification_type";
    let Value::Object(mut payload) = body else { return Err(Invalid::new("", "the body must be a JSON object").into()) };
    let notification_type = match payload.remove(FIELD) {
        Some(Value::String(name)) if is_type_name(&name) => name,
        Some(_) => return Err(Invalid::new(FIELD, "must be a notification type name").into()),
        None => return Err(Invalid::new(FIELD, "is required").into()),
    };
    if !preferences.clinic(&actor.tenant).await?.knows(&notification_type) {
        return Err(Invalid::new(FIELD, "is not a known notification type").into());
    }
    let Some(event) = catalogue_event(&notification_type) else {
        return Err(EngineError::Unprocessable(format!("{FIELD}: {notification_type} has no built-in event to send it by hand")));
    };
    events.ingest(actor, EventSource::Manual, json!({"name": event, "payload": payload})).await
}

/// `POST /api/v1/notifications/test`: `{"to_email": "…"}`. Sends a short test email through
/// `provider` (the tenant's email provider) and answers `{"success": true, "provider",
/// "message_id"}`; a refusal is 422 with the provider's reason.
pub async fn test_email(provider: Option<&dyn Provider>, tenant: &str, body: Value, now: Timestamp) -> Result<Value, EngineError> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        to_email: EmailAddress,
    }
    let Body { to_email } = Invalid::deserialize(body)?;
    let provider = provider.ok_or_else(|| EngineError::Unprocessable("no email provider is configured".into()))?;
    let recipient = serde_json::from_value(json!({"id": "test-email", "emailAddress": to_email})).expect("a valid recipient");
    let outgoing = Outgoing {
        idempotency_key: format!("test-email-{}", now.as_millisecond()),
        tenant: tenant.to_string(),
        recipient,
        content: Some(Content::Email {
            subject: "Herald test email".into(),
            text: Some("This is a test email from Herald: your clinic's email settings work.".into()),
            html: None,
        }),
        email: EmailOptions::default(),
        attachments: Vec::new(),
        event: json!({"name": "Herald/TestEmail/v1"}),
        at: now,
    };
    match provider.send(&outgoing).await {
        Ok(Receipt { provider_message_id, .. }) => {
            Ok(json!({"success": true, "provider": provider.name(), "message_id": provider_message_id}))
        }
        Err(error) => Err(EngineError::Unprocessable(format!("the email provider refused the test email: {}", error.reason))),
    }
}
