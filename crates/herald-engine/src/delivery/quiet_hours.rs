//! Quiet hours at delivery: a message due while its recipient is in quiet hours is deferred
//! (its job is due again when they end, the message stays `queued`, and the wait does not
//! count as an attempt). Quiet hours are read in the recipient's preferred time zone, else the
//! directory's `timeZone`, else the tenant's, else UTC.
//!
//! An event is urgent when its `metadata.urgent` is `true` or its `metadata.priority` is
//! `"urgent"` (seed 04's priority levels); its messages — and those of the reminders it
//! schedules, which carry its metadata — go out during quiet hours, and each such bypass is
//! recorded in the audit trail. Webhooks reach systems, not people: quiet hours never hold
//! them.

use super::Inner;
use crate::EngineError;
use herald_core::document::Document;
use herald_core::notification::{Message, Notification};
use herald_core::resources::channel::Channel;
use herald_core::rules::preferences::Preferences;
use herald_core::rules::quiet_hours::{Timing, timing};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::{Value, json};
use std::sync::Arc;

impl Inner {
    /// When `message` must wait for its recipient's quiet hours (in `preferences`) to end;
    /// `None` to send it now. `event` is the event's record when the delivery has it.
    pub(super) async fn quiet_hours(
        &self,
        tenant: &str,
        (notification_id, notification): (&str, &Notification),
        message: &Message,
        preferences: Option<&Preferences>,
        event: Option<&Arc<Document>>,
        now: Timestamp,
    ) -> Result<Option<Timestamp>, EngineError> {
        if message.channel == Channel::Webhook {
            return Ok(None);
        }
        let Some(user_id) = notification.recipient.as_deref() else { return Ok(None) };
        let Some(preferences) = preferences.filter(|p| !p.quiet_hours.is_empty()) else { return Ok(None) };
        let zone_name = match &preferences.time_zone {
            Some(zone) => Some(zone.to_string()),
            None => match crate::preferences::directory_user(&self.store, tenant, user_id).await?.and_then(|u| u.time_zone) {
                Some(zone) => Some(zone.to_string()),
                None => self.store.find_tenant(tenant).await?.and_then(|t| t.time_zone),
            },
        };
        let zone = zone_name.and_then(|name| TimeZone::get(&name).ok()).unwrap_or(TimeZone::UTC);
        let urgent = self.urgent(tenant, notification, event).await?;
        match timing(&preferences.quiet_hours, urgent, now, &zone) {
            Timing::Now => Ok(None),
            Timing::DeferUntil(end) => Ok(Some(end)),
            Timing::UrgentBypass(end) => {
                let entry = crate::audit::AuditEntry {
                    tenant: tenant.to_string(),
                    actor: "system".into(),
                    action: "quiet_hours.bypass".into(),
                    target: format!("notifications/{notification_id}"),
                    changes: json!({"recipient": user_id, "channel": message.channel, "event": notification.event.name,
                        "quietUntil": herald_core::document::format_timestamp(end)}),
                    source: None,
                };
                crate::audit::record(&self.store, &self.clock, entry).await?;
                Ok(None)
            }
        }
    }

    /// Whether the event behind `notification` is marked urgent.
    async fn urgent(&self, tenant: &str, notification: &Notification, event: Option<&Arc<Document>>) -> Result<bool, EngineError> {
        let record = self.event_record(tenant, notification, event).await?;
        let metadata = record.as_ref().and_then(|r| r.body.get("metadata"));
        let flag = |field: &str| metadata.and_then(|m| m.get(field));
        Ok(flag("urgent") == Some(&Value::Bool(true)) || flag("priority").and_then(Value::as_str) == Some("urgent"))
    }
}
