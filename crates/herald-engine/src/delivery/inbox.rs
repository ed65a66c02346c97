//! In-app messages for the notification center (seed 04). Their content has a push's shape:
//! the body is the template's `smsMessage` (else `pushMessage`, else the email's text), the
//! title its `pushTitle` (else `emailTitle`), the data its rendered `pushData`; a send's
//! inline content gives title and body. When the in-app provider accepts a message, its
//! [`InboxEntry`] is written in the same transaction as the delivery step (accepted means
//! durable), with the type and priority of `herald_core::inbox`, and `data` holding the
//! event's name and key (for the app's deep links) and the template's push data.

use super::Inner;
use crate::EngineError;
use herald_core::document::Document;
use herald_core::id::new_document_id;
use herald_core::inbox::Priority;
use herald_core::notification::{Message, Notification};
use herald_core::render::{self, Content, RenderInput};
use herald_core::resources::channel::Channel;
use herald_core::resources::template::Template;
use herald_core::rules::preferences::type_of_event;
use herald_store::InboxEntry;
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// An in-app message's content, or why the template cannot make one.
pub(super) fn in_app_content(template: &Template, input: &RenderInput) -> Result<Content, String> {
    let push = render::render(template, Channel::Push, input).ok();
    let (push_title, push_body, data) = match push {
        Some(Content::Push { title, body, data, .. }) => (title, body, data),
        _ => (None, None, None),
    };
    let email = || match render::render(template, Channel::Email, input) {
        Ok(Content::Email { subject, text, .. }) => (Some(subject), text),
        _ => (None, None),
    };
    let body = match render::render(template, Channel::InApp, input) {
        Ok(Content::Sms { body }) => Some(body),
        Ok(_) => None,
        Err(invalid) if template.sms_message.is_some() => return Err(invalid.to_string()),
        Err(_) => None,
    };
    let (title, body) = match (push_title, body.or(push_body)) {
        (title @ Some(_), Some(body)) => (title, body),
        (title, body) => {
            let (subject, text) = email();
            match body.or(text) {
                Some(body) => (title.or(subject), body),
                None => return Err("template: has no in-app content (smsMessage, pushMessage or an email body)".into()),
            }
        }
    };
    Ok(Content::Push { title, subtitle: None, body: Some(body), data })
}

impl Inner {
    /// The notification-center entry of `message` (message `index` of `notification_id`),
    /// delivered with `content`; `event` is the event's record when the delivery has it.
    pub(super) async fn inbox_entry(
        &self,
        tenant: &str,
        (notification_id, notification): (&str, &Notification),
        (index, message): (usize, &Message),
        content: Option<&Content>,
        event: Option<&Arc<Document>>,
    ) -> Result<Option<InboxEntry>, EngineError> {
        let (Some(user_id), Some(Content::Push { title, body, data, .. })) = (&notification.recipient, content) else {
            return Ok(None);
        };
        let event = self.event_record(tenant, notification, event).await?;
        let metadata: Map<String, Value> =
            event.as_ref().and_then(|e| e.body.get("metadata")).and_then(Value::as_object).cloned().unwrap_or_default();
        let declared = metadata.get("notificationType").and_then(Value::as_str);
        let notification_type = match type_of_event(&notification.event.name).or(declared) {
            Some(known) => Some(known.to_string()),
            None => {
                let clinic = self.store.find_clinic_settings(tenant).await?.unwrap_or_default();
                clinic.knows(&message.template_name).then(|| message.template_name.clone())
            }
        };
        let at = self.clock.now();
        Ok(Some(InboxEntry {
            id: new_document_id(at),
            user_id: user_id.clone(),
            number: 0,
            seq: 0,
            notification_id: notification_id.to_string(),
            message_index: index,
            notification_type,
            priority: Priority::of_event(&metadata).as_str().to_string(),
            title: title.clone(),
            body: body.clone().unwrap_or_default(),
            data: json!({"event": notification.event.name, "key": notification.event.key, "push": data}),
            created_at: at,
            updated_at: at,
            read_at: None,
            dismissed_at: None,
            archived_at: None,
        }))
    }
}
