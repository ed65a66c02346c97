//! The end user's own notification settings (seed 03: `/user-notification-settings/`,
//! `/user/events/`, `/user/notification-settings/`): what they receive, on which channels,
//! and changing it — never anyone else's.

use crate::EngineError;
use crate::documents::{Actor, Documents};
use crate::events::default_event_names;
use crate::lookups;
use herald_core::Invalid;
use herald_core::query::{Filter, ListQuery, Update};
use herald_core::resources::Collection;
use herald_core::resources::channel::Channel;
use herald_core::resources::event_setting::EventSetting;
use herald_core::resources::notification_setting::Rule;
use herald_core::rules::settings::{self, Audience, StoredSetting};
use herald_store::Store;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;

/// An event as a user sees it (seed 03, `GET /user/events/`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VisibleEvent {
    /// The event name.
    pub event_name: String,
    /// Channels the event may use: its setting's supported channels (or all active ones)
    /// within the active channels.
    pub supported_channels: Vec<Channel>,
    /// Channels the user's settings enable for it, within the supported ones.
    pub enabled_channels: Vec<Channel>,
}

/// The end-user settings service.
#[derive(Clone)]
pub struct UserSettings {
    store: Arc<dyn Store>,
    documents: Documents,
    active_channels: Vec<Channel>,
}

/// Most settings `GET /user-notification-settings/` returns (the seed's limit).
const USER_SETTINGS_LIMIT: u32 = 200;

impl UserSettings {
    /// The service, with the channels active on this server.
    pub fn new(store: Arc<dyn Store>, documents: Documents, active_channels: Vec<Channel>) -> Self {
        Self { store, documents, active_channels }
    }

    /// The settings that target the user: by id, or one of their groups, roles or clusters;
    /// further narrowed by the CRUD list parameters.
    pub async fn list<'a>(
        &self,
        tenant: &str,
        user: &Audience,
        params: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Vec<Value>, EngineError> {
        let mut query = ListQuery::from_params(params, USER_SETTINGS_LIMIT)?;
        let mine = Filter::Or(vec![
            Filter::equals("user", user.id.as_str()),
            Filter::one_of("group", user.groups.iter().cloned()),
            Filter::one_of("role", user.roles.iter().cloned()),
            Filter::one_of("cluster", user.clusters.iter().cloned()),
        ]);
        query.filter = Filter::And(vec![query.filter, mine]);
        self.documents.list_query(Collection::NotificationSettings, tenant, &query).await
    }

    /// Changes one of the user's own settings (one whose `user` is them); `user` itself cannot
    /// change.
    pub async fn patch(&self, tenant: &str, user: &Audience, id: &str, body: &Value) -> Result<Value, EngineError> {
        self.own(tenant, user, id).await?;
        let update = Update::parse(body)?;
        if update.touched_fields().any(|field| field == "user") {
            return Err(Invalid::new("user", "cannot be changed: these are your own settings").into());
        }
        let actor = Actor { tenant: tenant.to_string(), id: user.id.clone() };
        Ok(self.documents.patch_with(Collection::NotificationSettings, &actor, id, &update).await?.to_json())
    }

    /// Deletes one of the user's own settings.
    pub async fn delete(&self, tenant: &str, user: &Audience, id: &str) -> Result<(), EngineError> {
        self.own(tenant, user, id).await?;
        self.documents.delete(Collection::NotificationSettings, tenant, id).await
    }

    async fn own(&self, tenant: &str, user: &Audience, id: &str) -> Result<(), EngineError> {
        let document = self.documents.get(Collection::NotificationSettings, tenant, id).await?;
        if document.body.get("user").and_then(Value::as_str) == Some(user.id.as_str()) {
            Ok(())
        } else {
            Err(EngineError::NotFound("notification setting"))
        }
    }

    /// The events visible to the user: every default event and every event with settings,
    /// unless its `userGroups` leave the user out.
    pub async fn events(&self, tenant: &str, user: &Audience) -> Result<Vec<VisibleEvent>, EngineError> {
        let event_settings = lookups::event_settings(&self.store, tenant, None).await?;
        let notification_settings = lookups::notification_settings(&self.store, tenant, None).await?;
        let mut names: BTreeSet<String> = default_event_names().into_iter().collect();
        names.extend(event_settings.iter().map(|s| s.event_name.to_string()));
        let mut visible = Vec::new();
        for name in names {
            let setting = event_settings.iter().find(|s| s.event_name.as_str() == name);
            if !Self::is_visible(setting, user) {
                continue;
            }
            let supported = self.supported(setting);
            let enabled = Self::enabled(&notification_settings, &name, user, &supported);
            visible.push(VisibleEvent { event_name: name, supported_channels: supported, enabled_channels: enabled });
        }
        Ok(visible)
    }

    /// Sets the channels the user receives `event_name` on: rewrites the channels of every
    /// setting of that event with `user` set to them, or creates one inheriting the template
    /// of the strongest setting that targets their groups, roles or clusters. Returns how many
    /// settings were updated and whether one was created.
    pub async fn set_enabled_channels(
        &self,
        tenant: &str,
        user: &Audience,
        event_name: &str,
        channels: &[Channel],
    ) -> Result<Value, EngineError> {
        let setting = lookups::event_settings(&self.store, tenant, Some(event_name)).await?.into_iter().next();
        let setting = setting.as_ref();
        let known = setting.is_some() || default_event_names().iter().any(|n| n == event_name);
        if !known || !Self::is_visible(setting, user) {
            return Err(EngineError::Forbidden(format!("the event {event_name} is not visible to you")));
        }
        let supported = self.supported(setting);
        if let Some(i) = channels.iter().position(|c| !supported.contains(c)) {
            return Err(Invalid::new(format!("enabledChannels[{i}]"), "is not supported by this event").into());
        }
        let actor = Actor { tenant: tenant.to_string(), id: user.id.clone() };
        let for_event = lookups::notification_settings(&self.store, tenant, Some(event_name)).await?;
        let own: Vec<&StoredSetting> = for_event.iter().filter(|s| s.setting.user.as_deref() == Some(user.id.as_str())).collect();
        let update = Update::parse(&json!({"$set": {"channels": channels}}))?;
        for stored in &own {
            self.documents.patch_with(Collection::NotificationSettings, &actor, &stored.id, &update).await?;
        }
        if !own.is_empty() {
            return Ok(json!({"updated": own.len(), "created": false}));
        }
        let strongest = settings::applicable(&for_event, event_name, Some(user), &[])
            .into_iter()
            .find(|s| s.setting.user.is_none() && s.setting.rule == Rule::Send);
        let Some(template) = strongest.map(|s| s.setting.template_name) else {
            return Err(Invalid::new(
                "eventName",
                "no notification setting targets your groups, roles or clusters to inherit the template from",
            )
            .into());
        };
        let body = json!({"eventName": event_name, "user": user.id, "channels": channels, "templateName": template});
        self.documents.create(Collection::NotificationSettings, &actor, body).await?;
        Ok(json!({"updated": 0, "created": true}))
    }

    fn is_visible(setting: Option<&EventSetting>, user: &Audience) -> bool {
        match setting.and_then(|s| s.user_groups.as_ref()) {
            Some(groups) if !groups.is_empty() => groups.iter().any(|g| user.groups.contains(g)),
            _ => true,
        }
    }

    fn supported(&self, setting: Option<&EventSetting>) -> Vec<Channel> {
        match setting.and_then(|s| s.supported_channels.as_ref()) {
            Some(channels) => self.active_channels.iter().copied().filter(|c| channels.contains(c)).collect(),
            None => self.active_channels.clone(),
        }
    }

    /// The channels of the strongest `SEND` settings targeting the user (time slots aside).
    fn enabled(all: &[StoredSetting], event_name: &str, user: &Audience, supported: &[Channel]) -> Vec<Channel> {
        let mut sorted = settings::applicable(all, event_name, Some(user), &[]);
        for stored in &mut sorted {
            stored.setting.hours.clear();
        }
        let merged = settings::merge(&sorted, jiff::Timestamp::UNIX_EPOCH, &jiff::tz::TimeZone::UTC);
        let enabled: BTreeSet<Channel> = merged.iter().flat_map(|s| s.setting.channels.iter().copied()).collect();
        supported.iter().copied().filter(|c| enabled.contains(c)).collect()
    }
}
