//! `POST /send` (seed 03) through the engine: the recipients (users by id, or the users of
//! clusters) get one message per channel — with the template or with the inline content —
//! queued for delivery now or at `scheduledAt`, committed like an event's notifications and
//! recorded in the events log as `Herald/Send/v1`. The answer lists the failures known at
//! acceptance: unknown recipients, channels a recipient has no address for, WhatsApp without
//! a template name to a recipient outside the customer-service window (`delivery::whatsapp`).
//! Attachments (the template's and the request's `emailAttachments`) must be stored files
//! within the 15 MiB an email may carry, or nothing is queued.

use super::Events;
use super::arrival::Arrival;
use super::context::{HandlerContext, UNKNOWN_RECIPIENT};
use crate::EngineError;
use crate::delivery::whatsapp::window_open;
use crate::documents::Actor;
use herald_core::Invalid;
use herald_core::event::{EventSource, EventStatus, IncomingEvent};
use herald_core::notification::{EmailOptions, InlineContent, MessageStatus, Notification};
use herald_core::resources::Collection;
use herald_core::resources::channel::Channel;
use herald_core::rules::messages::{MessageSpec, plan};
use herald_core::rules::recipients::RecipientQuery;
use herald_core::send::SendRequest;
use serde_json::{Value, json};

/// The event name sends are recorded under.
pub const SEND_EVENT: &str = "Herald/Send/v1";

/// The WhatsApp error seed 03 shows.
const WHATSAPP_WITHOUT_TEMPLATE: &str = "Error: Missing required template name for WhatsApp message";

impl Events {
    /// Queues a send; answers `{"failures": [{"userId", "channel", "error"}]}`.
    pub async fn send(&self, actor: &Actor, body: Value) -> Result<Value, EngineError> {
        let request = SendRequest::parse(body, &self.active_channels)?;
        let (template_name, whatsapp_ready, template_attachments) = match &request.template_id {
            Some(id) => {
                let found = self.store.get_document(Collection::Templates, &actor.tenant, id).await?;
                let template = found.ok_or_else(|| Invalid::new("templateId", "no such template"))?;
                let name = template.body.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
                let attachments = template.body.get("emailAttachments").cloned().map(serde_json::from_value).transpose();
                let attachments = attachments.map_err(|_| Invalid::new("templateId", "the template's emailAttachments are malformed"))?;
                (name, template.body.get("whatsappTemplateName").is_some(), attachments.unwrap_or_default())
            }
            None => ("inline".to_string(), false, Vec::new()),
        };
        let attachments =
            crate::files::accept_attachments(self.store.as_ref(), &actor.tenant, &template_attachments, &request.email_attachments).await?;
        let now = self.clock.now();
        let event = IncomingEvent {
            name: herald_core::values::EventName::parse(SEND_EVENT).expect("a valid name"),
            id: None,
            key: None,
            metadata: json!({"channels": request.channels, "templateId": request.template_id, "scheduledAt": request.scheduled_at.map(herald_core::document::format_timestamp),
                "emailCarbonCopies": request.email_carbon_copies, "emailBlindCarbonCopies": request.email_blind_carbon_copies, "emailSender": request.email_sender, "emailReplyTo": request.email_reply_to, "priority": request.priority.map(|p| p.as_str())})
            .as_object()
            .cloned()
            .unwrap_or_default(),
            payload: request.data.clone(),
        };
        let arrival = Arrival::new(actor, &event, EventSource::Http, now);
        let mut context = HandlerContext::new(self.store.clone(), actor.clone(), now, arrival.view(), None);
        if let Some(at) = request.scheduled_at {
            context.deliver_at(at);
        }
        let mut users = context.get_recipients(&RecipientQuery::ids(request.recipients.iter().cloned())).await?;
        if !request.clusters.is_empty() {
            let clustered =
                context.get_recipients(&RecipientQuery { clusters: request.clusters.clone(), ..RecipientQuery::default() }).await?;
            users.extend(clustered.into_iter().filter(|c| !request.recipients.contains(&c.user.id)));
        }
        let mut failures = Vec::new();
        for id in request.recipients.iter().filter(|id| !users.iter().any(|u| &u.user.id == *id)) {
            for channel in &request.channels {
                failures.push(json!({"userId": id, "channel": channel, "error": UNKNOWN_RECIPIENT}));
            }
        }
        let content = request.inline.as_ref().map(|(title, body)| InlineContent { title: title.clone(), body: body.clone() });
        let email = EmailOptions {
            carbon_copies: request.email_carbon_copies.iter().map(ToString::to_string).collect(),
            blind_carbon_copies: request.email_blind_carbon_copies.iter().map(ToString::to_string).collect(),
            sender: request.email_sender.as_ref().map(ToString::to_string),
            reply_to: request.email_reply_to.as_ref().map(ToString::to_string),
        };
        let specs: Vec<MessageSpec> = request
            .channels
            .iter()
            .map(|channel| MessageSpec {
                channel: *channel,
                template_name: template_name.clone(),
                fallbacks: request.fallback_channels.iter().copied().filter(|c| c != channel).collect(),
            })
            .collect();
        for user in &users {
            let mut messages = plan(&user.user, &specs);
            for message in &mut messages {
                if message.channel == Channel::Whatsapp
                    && !whatsapp_ready
                    && !window_open(self.store.as_ref(), &actor.tenant, &user.user, now).await?
                {
                    message.status = MessageStatus::Skipped;
                    message.reason = Some(WHATSAPP_WITHOUT_TEMPLATE.into());
                }
                if message.channel == Channel::Email {
                    message.email = Some(email.clone());
                    message.attachments.clone_from(&attachments);
                }
                message.content = content.clone();
            }
            for message in messages.iter().filter(|m| m.status == MessageStatus::Skipped) {
                failures.push(json!({"userId": user.user.id, "channel": message.channel, "error": message.reason}));
            }
            context.push_notification(Notification {
                event: context.event_reference(),
                recipient: Some(user.user.id.clone()),
                messages,
                reminders: Vec::new(),
                failures: Vec::new(),
            });
        }
        for (user_id, channel, reason) in crate::preferences::apply(&self.store, &actor.tenant, &mut context, true).await? {
            failures.push(json!({"userId": user_id, "channel": channel, "error": reason}));
        }
        let (notifications, mut commit) = context.finish();
        commit.event = Some(arrival.record(EventStatus::Processed, &[]));
        commit.notifications = notifications;
        self.store.commit_event(&actor.tenant, commit).await?;
        Ok(json!({"failures": failures}))
    }
}
