//! The engine's reads of configuration and recipients, in one place: each collection queried
//! and decoded the same way wherever the engine needs it. Documents that no longer decode
//! (written by an older version with other rules) are skipped rather than failing the event.

use crate::EngineError;
use herald_core::query::{Filter, ListQuery};
use herald_core::resources::Collection;
use herald_core::resources::event_setting::EventSetting;
use herald_core::rules::settings::StoredSetting;
use herald_store::Store;
use serde_json::Value;
use std::sync::Arc;

/// The most documents one engine read takes: well above any tenant's settings or the
/// recipients of one event.
pub const READ_LIMIT: u32 = 10_000;

/// The tenant's notification settings, of one event or of all.
pub async fn notification_settings(
    store: &Arc<dyn Store>,
    tenant: &str,
    event_name: Option<&str>,
) -> Result<Vec<StoredSetting>, EngineError> {
    let filter = event_name.map_or_else(Filter::all, |name| Filter::equals("eventName", name));
    let documents = store.find_documents(Collection::NotificationSettings, tenant, &ListQuery::matching(filter, READ_LIMIT)).await?;
    Ok(documents
        .into_iter()
        .filter_map(|d| serde_json::from_value(Value::Object(d.body)).ok().map(|setting| StoredSetting { id: d.id, setting }))
        .collect())
}

/// The tenant's event settings, of one event or of all.
pub async fn event_settings(store: &Arc<dyn Store>, tenant: &str, event_name: Option<&str>) -> Result<Vec<EventSetting>, EngineError> {
    let filter = event_name.map_or_else(Filter::all, |name| Filter::equals("eventName", name));
    let documents = store.find_documents(Collection::EventSettings, tenant, &ListQuery::matching(filter, READ_LIMIT)).await?;
    Ok(documents.into_iter().filter_map(|d| serde_json::from_value(Value::Object(d.body)).ok()).collect())
}

/// The tenant's own variables, as templates see them under `tenant` (`name`, `slug`,
/// `phone`, `email`, `defaultLocale`, `timeZone`; a profile field never set is absent).
pub async fn tenant_variables(store: &Arc<dyn Store>, tenant: &str) -> Result<Value, EngineError> {
    let Some(t) = store.find_tenant(tenant).await? else { return Ok(Value::Null) };
    let mut variables = serde_json::json!({"name": t.name, "slug": t.slug});
    for (name, value) in [("phone", t.phone), ("email", t.email), ("defaultLocale", t.default_locale), ("timeZone", t.time_zone)] {
        if let Some(value) = value {
            variables[name] = Value::String(value);
        }
    }
    Ok(variables)
}
