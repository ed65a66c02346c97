//! Everything a provider needs for one message: the recipient as they are now, and the
//! content rendered from the template (or the send's inline title and body) with the event's
//! payload as `data`, the recipient as `user` and the tenant's own variables as `tenant`. The
//! template is found by name (the tenant's, the system's, the template folder's) and its
//! variant follows the recipient's locale, else the tenant's default, else the configured
//! default. Webhooks carry the event instead of rendered content; emails carry their
//! attachments (see `attachments`).

use super::{Inner, Refused};
use crate::EngineError;
use herald_channels::Outgoing;
use herald_core::notification::{InlineContent, Message, Notification};
use herald_core::query::{Filter, ListQuery};
use herald_core::render::{self, Content, RenderInput};
use herald_core::resources::Collection;
use herald_core::resources::channel::Channel;
use herald_core::resources::template::Template;
use herald_core::resources::user::User;
use herald_core::rules::preferences::Preferences;
use serde_json::{Value, json};

/// A message ready to send and its recipient, or why it cannot be sent (with the recipient,
/// when they are known, for fallbacks).
pub(super) type Prepared = Result<(Outgoing, User), (Refused, Option<User>)>;

impl Inner {
    /// Prepares `message` of `notification` for its provider, for a recipient with
    /// `preferences`.
    pub(super) async fn prepare(
        &self,
        tenant: &str,
        notification: &Notification,
        message: &Message,
        key: &str,
        preferences: Option<&Preferences>,
    ) -> Result<Prepared, EngineError> {
        let Some(recipient_id) = &notification.recipient else {
            return Ok(Err((Refused("the notification has no recipient".into()), None)));
        };
        let found = self
            .store
            .find_documents(Collection::Users, tenant, &ListQuery::matching(Filter::equals("id", recipient_id.as_str()), 1))
            .await?;
        let Some(user) = found.into_iter().next().and_then(|d| serde_json::from_value::<User>(Value::Object(d.body)).ok()) else {
            return Ok(Err((Refused("the recipient is gone".into()), None)));
        };
        if let Err(reason) = user.address_for(message.channel) {
            return Ok(Err((Refused(reason.into()), Some(user))));
        }
        let event = &notification.event;
        let event_json = json!({"name": event.name, "id": event.id, "key": event.key, "payload": event.payload, "notificationId": key.split('.').next(), "recipient": recipient_id});
        let content = match self.content(tenant, notification, message, &user, preferences).await? {
            Ok(content) => content,
            Err(reason) => return Ok(Err((Refused(reason), Some(user)))),
        };
        let attachments = match self.attachments(tenant, message).await? {
            Ok(attachments) => attachments,
            Err(reason) => return Ok(Err((Refused(reason), Some(user)))),
        };
        let outgoing = Outgoing {
            idempotency_key: key.to_string(),
            tenant: tenant.to_string(),
            recipient: user.clone(),
            content,
            email: message.email.clone().unwrap_or_default(),
            attachments,
            event: event_json,
            at: self.clock.now(),
        };
        Ok(Ok((outgoing, user)))
    }

    /// The rendered content, or the reason it cannot be rendered.
    async fn content(
        &self,
        tenant: &str,
        notification: &Notification,
        message: &Message,
        user: &User,
        preferences: Option<&Preferences>,
    ) -> Result<Result<Option<Content>, String>, EngineError> {
        if message.channel == Channel::Webhook {
            return Ok(Ok(None));
        }
        let user = &crate::preferences::personalize(user.clone(), preferences);
        let template = match &message.content {
            Some(inline) => inline_template(inline),
            None => match self.templates.find(tenant, &message.template_name).await? {
                Some(template) => template,
                None => return Ok(Err(format!("the template {} does not exist", message.template_name))),
            },
        };
        let clinic = crate::lookups::tenant_variables(&self.store, tenant).await?;
        let tenant_locale = clinic.get("defaultLocale").and_then(Value::as_str);
        let preferred: Vec<&str> =
            user.locale.iter().map(String::as_str).chain(tenant_locale).chain([self.default_locale.as_str()]).collect();
        let (template, chosen) = template.localized(&preferred);
        let input = RenderInput {
            data: Value::Object(notification.event.payload.clone()),
            user: serde_json::to_value(user).expect("users serialize"),
            tenant: clinic,
            now: self.clock.now(),
            locale: chosen.unwrap_or(&self.default_locale).to_string(),
        };
        if message.channel == Channel::Whatsapp {
            return self.whatsapp_content(tenant, user, &template, &input).await;
        }
        if message.channel == Channel::InApp {
            return Ok(super::inbox::in_app_content(&template, &input).map(Some));
        }
        Ok(render::render(&template, message.channel, &input).map(Some).map_err(|invalid| invalid.to_string()))
    }
}

/// A template made of a send's inline title and body, for every channel.
fn inline_template(inline: &InlineContent) -> Template {
    serde_json::from_value(json!({
        "name": "inline",
        "emailTitle": inline.title,
        "emailMessage": inline.body,
        "smsMessage": inline.body,
        "voiceMessage": inline.body,
        "pushTitle": inline.title,
        "pushMessage": inline.body,
    }))
    .expect("an inline template is a valid template")
}
