//! The contract of recipients' preferences and clinic settings.

use super::{Case, now};
use herald_core::rules::preferences::{ClinicSettings, Preferences};
use herald_store::Store;
use serde_json::json;
use std::sync::Arc;

/// This file's cases.
pub const CASES: &[(&str, Case)] = cases![preferences_round_trip_per_tenant_and_user, clinic_settings_round_trip_per_tenant];

async fn preferences_round_trip_per_tenant_and_user(store: Arc<dyn Store>) {
    assert_eq!(store.find_preferences("clinic-a", "p1").await.unwrap(), None);
    let mut mine = Preferences::default();
    mine.apply_general(
        json!({"enabled": false, "timeZone": "Europe/Rome", "quietHours": [{"start": "22:00", "end": "07:00", "days": ["fri"]}]}),
    )
    .unwrap();
    mine.apply_type("welcome", json!({"channels": {"sms": false}}), &ClinicSettings::default()).unwrap();
    store.put_preferences("clinic-a", "p1", &mine, now()).await.unwrap();
    assert_eq!(store.find_preferences("clinic-a", "p1").await.unwrap(), Some(mine.clone()));
    assert_eq!(store.find_preferences("clinic-a", "p2").await.unwrap(), None, "per user");
    assert_eq!(store.find_preferences("clinic-b", "p1").await.unwrap(), None, "per tenant");

    let mut changed = mine.clone();
    changed.apply_general(json!({"enabled": true, "quietHours": []})).unwrap();
    store.put_preferences("clinic-a", "p1", &changed, now()).await.unwrap();
    assert_eq!(store.find_preferences("clinic-a", "p1").await.unwrap(), Some(changed), "replaced");
}

async fn clinic_settings_round_trip_per_tenant(store: Arc<dyn Store>) {
    assert_eq!(store.find_clinic_settings("clinic-a").await.unwrap(), None);
    let mut settings = ClinicSettings::default();
    settings.apply(json!({"settings": {"budget_sent": {"auto_send": false}, "holiday_greetings": {"custom": true}}})).unwrap();
    store.put_clinic_settings("clinic-a", &settings, now()).await.unwrap();
    assert_eq!(store.find_clinic_settings("clinic-a").await.unwrap(), Some(settings.clone()));
    assert_eq!(store.find_clinic_settings("clinic-b").await.unwrap(), None, "per tenant");

    settings.apply(json!({"settings": {"emergency_leave": {"mandatory": true}}})).unwrap();
    store.put_clinic_settings("clinic-a", &settings, now()).await.unwrap();
    assert_eq!(store.find_clinic_settings("clinic-a").await.unwrap(), Some(settings), "replaced");
}
