//! WhatsApp's own rules: the customer-service window, and what its webhooks report.
//!
//! WhatsApp takes a free-form message only within 24 hours of the recipient's last message to
//! the business; outside that window only an approved template may open the conversation. The
//! providers' webhooks tell Herald when each number last wrote, kept per tenant and number
//! (the time WhatsApp gives, never later than now). A WhatsApp message whose template has no
//! `whatsappTemplateName` is sent as a free-form text — the template's `smsMessage`, rendered,
//! the short text the template already has — when the window is open at delivery; otherwise it
//! fails with seed 03's error, as a `POST /send` does at acceptance when the window is closed
//! then. (Inline `messageContent` stays refused for WhatsApp at `POST /send`, as seed 03 wants a
//! `templateId` there.)
//!
//! A template message goes in the language of the recipient's `locale`, else of the tenant's
//! `defaultLocale` — the first WhatsApp supports, by
//! [`language_code`](herald_channels::whatsapp::language_code) — else the provider's
//! `default_language`.

use super::Inner;
use crate::{EngineError, callbacks};
use herald_channels::whatsapp::{WebhookReport, language_code};
use herald_core::notification::MessageStatus;
use herald_core::render::{self, Content, RenderInput};
use herald_core::resources::channel::Channel;
use herald_core::resources::template::Template;
use herald_core::resources::user::User;
use herald_store::Store;
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;
use std::sync::Arc;

/// Seed 03's error for a WhatsApp message that needs a template and has none.
pub const MISSING_TEMPLATE: &str = "Error: Missing required template name for WhatsApp message";

/// How long after a recipient's last message free-form texts may reach them.
pub const WINDOW: SignedDuration = SignedDuration::from_hours(24);

/// Whether `user` wrote to the tenant's WhatsApp number within [`WINDOW`] before `now`.
pub async fn window_open(store: &dyn Store, tenant: &str, user: &User, now: Timestamp) -> Result<bool, EngineError> {
    let Some(phone) = &user.phone_number else { return Ok(false) };
    let last = store.last_whatsapp_inbound(tenant, phone.as_str()).await?;
    Ok(last.is_some_and(|last| now.duration_since(last) < WINDOW))
}

/// Applies what a proven webhook of `service` (the provider's name) reported for `tenant`:
/// each inbound message opens (or extends) its sender's window, and each `delivered`, `read`
/// or `failed` status moves its message forward ([`crate::callbacks`]). A `sent` status adds
/// nothing to the provider's answer; a status about a message Herald did not send (other
/// software on the same number) is acknowledged and left alone, so WhatsApp does not retry it
/// for days.
pub async fn receive(
    store: &Arc<dyn Store>,
    tenant: &str,
    service: &str,
    report: &WebhookReport,
    now: Timestamp,
) -> Result<(), EngineError> {
    if store.find_tenant(tenant).await?.is_none() {
        return Err(EngineError::NotFound("tenant"));
    }
    for inbound in &report.inbound {
        let at = inbound.at.map_or(now, |at| at.min(now));
        store.record_whatsapp_inbound(tenant, inbound.from.as_str(), at).await?;
    }
    let mut unknown = 0;
    for status in report.statuses.iter().filter(|s| s.status != MessageStatus::Sent) {
        let at = status.at.map_or(now, |at| at.min(now));
        if callbacks::apply(store, service, &status.provider_message_id, status.status, status.detail.clone(), at).await?.is_none() {
            unknown += 1;
        }
    }
    tracing::debug!(service, inbound = report.inbound.len(), statuses = report.statuses.len(), unknown, "WhatsApp webhook received");
    Ok(())
}

impl Inner {
    /// A WhatsApp message's content: its template message in the language of the recipient's
    /// locale, else the tenant's default locale (the first WhatsApp supports; none leaves it to
    /// the provider's default) — or, when the template names no WhatsApp template, its
    /// `smsMessage` as a free-form text inside the window, else seed 03's error.
    pub(super) async fn whatsapp_content(
        &self,
        tenant: &str,
        user: &User,
        template: &Template,
        input: &RenderInput,
    ) -> Result<Result<Option<Content>, String>, EngineError> {
        if template.whatsapp_template_name.is_some() {
            let tenant_locale = input.tenant.get("defaultLocale").and_then(Value::as_str);
            let language = user.locale.as_deref().into_iter().chain(tenant_locale).find_map(language_code).map(str::to_string);
            return Ok(render::render(template, Channel::Whatsapp, input)
                .map(|content| match content {
                    Content::Whatsapp { template_name, parameters, .. } => Some(Content::Whatsapp { template_name, parameters, language }),
                    other => Some(other),
                })
                .map_err(|invalid| invalid.to_string()));
        }
        if template.sms_message.is_none() || !window_open(self.store.as_ref(), tenant, user, self.clock.now()).await? {
            return Ok(Err(MISSING_TEMPLATE.into()));
        }
        Ok(render::render(template, Channel::Sms, input)
            .map(|content| match content {
                Content::Sms { body } => Some(Content::WhatsappText { body }),
                other => Some(other),
            })
            .map_err(|invalid| invalid.to_string()))
    }
}
