//! The contract of recipients' preferences and clinic settings.

use super::{Case, now};
use herald_core::rules::preferences::{ClinicSettings, Preferences};
use herald_store::Store;
use serde_json::json;
use std::sync::Arc;

/// This file's cases.
pub const CASES: &[(&str, Case)] = cases![
    preferences_round_trip_per_tenant_and_user,
    clinic_settings_round_trip_per_tenant,
    preference_context_reads_the_clinic_and_recipients_at_once
];

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

async fn preference_context_reads_the_clinic_and_recipients_at_once(store: Arc<dyn Store>) {
    let none = store.find_preference_context("clinic-a", &["p1".into(), "p2".into()]).await.unwrap();
    assert_eq!((none.0, none.1.len()), (None, 0), "nothing stored yet");
    let mut settings = ClinicSettings::default();
    settings.apply(json!({"settings": {"budget_sent": {"auto_send": false}}})).unwrap();
    store.put_clinic_settings("clinic-a", &settings, now()).await.unwrap();
    let mut quiet = Preferences::default();
    quiet.apply_general(json!({"enabled": false})).unwrap();
    store.put_preferences("clinic-a", "p1", &quiet, now()).await.unwrap();
    store.put_preferences("clinic-a", "p3", &Preferences::default(), now()).await.unwrap();
    store.put_preferences("clinic-b", "p2", &quiet, now()).await.unwrap();

    let (clinic, preferences) = store.find_preference_context("clinic-a", &["p1".into(), "p2".into()]).await.unwrap();
    assert_eq!(clinic, Some(settings.clone()));
    assert_eq!(preferences.len(), 1, "only the users asked for, only this tenant's: {preferences:?}");
    assert_eq!(preferences.get("p1"), Some(&quiet));
    let (clinic, preferences) = store.find_preference_context("clinic-a", &[]).await.unwrap();
    assert_eq!((clinic, preferences.len()), (Some(settings), 0));
}
