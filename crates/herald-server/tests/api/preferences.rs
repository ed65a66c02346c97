//! Recipients' preferences (seed 04 and seed 05): an opt-out stops its type on every channel
//! and every path (event, `/send`, reminder) with seed 05's reason on the skipped message; the
//! master toggle; mandatory types; quiet hours deferring a message until they end under the
//! controlled clock, and an urgent event passing them, audited; bad input refused with
//! nothing changed; staff access under seed 05's permissions.

use crate::support::{JWT_SECRET, START_MS, TestApp, assert_error, cases, messages, triple};
use herald_channels::{ConsoleProvider, InAppProvider, Provider};
use herald_core::access::Role;
use herald_core::job::{JobKind, JobStatus};
use herald_core::resources::channel::Channel;
use herald_engine::delivery::DeliveryConfig;
use jiff::{SignedDuration, Timestamp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;

cases![
    opting_out_of_a_type_stops_it_on_every_channel_via_events_sends_and_reminders,
    the_master_toggle_stops_all_but_mandatory_types_which_cannot_be_opted_out_of,
    quiet_hours_defer_a_message_until_they_end_and_an_urgent_event_passes_audited,
    bad_preferences_are_refused_and_change_nothing,
    staff_manage_patient_preferences_under_seed_05_permissions,
];

/// A user token for `sub` in the `default` tenant.
pub fn token(sub: &str) -> String {
    let claims = json!({"sub": sub, "tenant": "default", "groups": ["patients"], "exp": START_MS / 1000 + 30 * 24 * 3600});
    jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes())).unwrap()
}

async fn put(app: &TestApp, path: &str, key: &str, body: Value) -> (StatusCode, Value) {
    app.call(Method::PUT, path, Some(key), Some(body)).await
}

/// A patient in the directory, reachable by email, SMS and in-app.
async fn patient(app: &TestApp, id: &str) {
    let n = id.len();
    app.create(
        "users",
        &app.admin_key,
        json!({"id": id, "emailAddress": format!("{id}@example.org"), "phoneNumber": format!("+3460000000{n}"), "groups": ["patients"]}),
    )
    .await;
}

/// The tenant's audit records with `action`.
pub async fn audited(app: &TestApp, action: &str) -> Vec<Value> {
    let (status, list) = app.get(&format!("/api/v1/audit?action={action}"), &app.admin_key).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list["entries"].as_array().cloned().unwrap_or_default()
}

const OPTED_OUT: &str = "patient_opted_out_of_appointment_reminder";

async fn opting_out_of_a_type_stops_it_on_every_channel_via_events_sends_and_reminders(app: TestApp) {
    let key = &app.admin_key;
    patient(&app, "p-1").await;
    patient(&app, "p-22").await;
    app.create(
        "notification-settings",
        key,
        json!({"eventName": "appointment.reminder", "group": "patients", "channels": ["email", "sms", "in_app"], "templateName": "appointment_reminder"}),
    )
    .await;
    let template = app
        .create(
            "templates",
            key,
            json!({"name": "appointment_reminder", "emailTitle": "Reminder", "emailMessage": "See you soon", "smsMessage": "See you soon"}),
        )
        .await;
    let (status, preferences) =
        put(&app, "/patient-notifications/preferences/appointment_reminder", &token("p-1"), json!({"enabled": false})).await;
    assert_eq!(status, StatusCode::OK, "{preferences}");
    assert_eq!(preferences["preferences"]["appointment_reminder"]["enabled"], false);
    assert_eq!(preferences["preferences"]["welcome"]["enabled"], true, "other types stay on");

    // An event.
    let (status, answer) = app.emit(json!({"name": "appointment.reminder", "payload": {"patient_id": "p-1"}})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let skipped = [
        triple("email", "appointment_reminder", "skipped"),
        triple("sms", "appointment_reminder", "skipped"),
        triple("in_app", "appointment_reminder", "skipped"),
    ];
    assert_eq!(messages(&answer["notifications"][0]), skipped);
    for message in answer["notifications"][0]["messages"].as_array().unwrap() {
        assert_eq!(message["reason"], OPTED_OUT, "{message}");
    }

    // POST /send (seed 03's channels: no in-app) with the type's template: the opted-out
    // patient is skipped, the other one is not.
    let (status, sent) =
        app.post("/send", key, json!({"channels": ["email", "sms"], "recipients": ["p-1", "p-22"], "templateId": template})).await;
    assert_eq!(status, StatusCode::OK, "{sent}");
    let failures = sent["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 2, "{sent}");
    assert!(failures.iter().all(|f| f["userId"] == "p-1" && f["error"] == OPTED_OUT), "{sent}");
    let (_, sends) = app.get("/notifications?event.name=Herald/Send/v1&recipient=p-22", key).await;
    assert_eq!(messages(&sends[0]), [triple("email", "appointment_reminder", "queued"), triple("sms", "appointment_reminder", "queued")]);
    let (_, withheld) = app.get("/notifications?event.name=Herald/Send/v1&recipient=p-1", key).await;
    assert_eq!(messages(&withheld[0]), skipped[..2]);

    // A reminder firing: the confirmation goes, the reminder it schedules does not.
    let start = app.now().checked_add(SignedDuration::from_hours(72)).unwrap();
    let (status, scheduled) = app
        .emit(json!({"name": "appointment.scheduled", "payload": {"appointment_id": "a-1", "patient_id": "p-1", "start_time": herald_core::document::format_timestamp(start)}}))
        .await;
    assert_eq!(status, StatusCode::OK, "{scheduled}");
    assert_eq!(messages(&scheduled["notifications"][0]), [triple("email", "appointment_confirmation", "queued")]);
    assert_eq!(app.advance_and_run(SignedDuration::from_hours(48)).await, 1, "the 24-hour reminder fires");
    let (_, reminders) = app.get("/notifications?event.name=appointment.reminder&event.key=a-1", key).await;
    assert_eq!(messages(&reminders[0]), skipped, "{reminders}");
    assert!(reminders[0]["messages"].as_array().unwrap().iter().all(|m| m["reason"] == OPTED_OUT));

    let jobs = app.store.list_jobs("default", JobKind::Delivery).await.unwrap();
    let notification_ids: Vec<String> = jobs.iter().map(|j| j.payload["notification"].as_str().unwrap().to_string()).collect();
    for id in [&answer["notifications"][0]["_id"], &reminders[0]["_id"]] {
        assert!(!notification_ids.contains(&id.as_str().unwrap().to_string()), "no delivery is queued for a skipped message");
    }
}

async fn the_master_toggle_stops_all_but_mandatory_types_which_cannot_be_opted_out_of(app: TestApp) {
    let key = &app.admin_key;
    patient(&app, "p-1").await;
    let user = token("p-1");
    let (status, settings) =
        put(&app, "/api/v1/notifications/settings", key, json!({"settings": {"emergency_leave": {"mandatory": true}}})).await;
    assert_eq!(status, StatusCode::OK, "{settings}");
    let (status, preferences) = put(&app, "/patient-notifications/preferences", &user, json!({"enabled": false})).await;
    assert_eq!((status, preferences["enabled"].clone()), (StatusCode::OK, json!(false)), "{preferences}");

    let (_, report) = app.emit(json!({"name": "report.ready", "payload": {"patient_id": "p-1"}})).await;
    assert_eq!(
        messages(&report["notifications"][0]),
        [triple("whatsapp", "report_ready", "skipped"), triple("email", "report_ready", "skipped")]
    );
    assert!(report["notifications"][0]["messages"].as_array().unwrap().iter().all(|m| m["reason"] == "patient_opted_out"), "{report}");
    let (_, emergency) = app.emit(json!({"name": "doctor.emergency_leave", "payload": {"patient_id": "p-1"}})).await;
    assert_eq!(
        messages(&emergency["notifications"][0]),
        [triple("whatsapp", "emergency_leave", "queued"), triple("email", "emergency_leave", "queued")],
        "a mandatory type ignores the master toggle"
    );

    for body in [json!({"enabled": false}), json!({"channels": {"email": false}})] {
        assert_error(
            &put(&app, "/patient-notifications/preferences/emergency_leave", &user, body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "mandatory",
        );
    }
    let (_, after) = app.get("/patient-notifications/preferences", &user).await;
    assert_eq!(
        after["preferences"]["emergency_leave"],
        json!({"enabled": true, "mandatory": true, "channels": {"email": true, "sms": true, "push": true, "voice": true, "whatsapp": true, "in_app": true}})
    );
}

/// A dispatcher sending email through the console and in-app into the inbox.
fn dispatcher(app: &TestApp) -> herald_engine::delivery::Dispatcher {
    let providers: Vec<(Channel, Arc<dyn Provider>)> =
        vec![(Channel::Email, Arc::new(ConsoleProvider::default())), (Channel::InApp, Arc::new(InAppProvider))];
    app.dispatcher_with(providers, DeliveryConfig::default())
}

async fn quiet_hours_defer_a_message_until_they_end_and_an_urgent_event_passes_audited(app: TestApp) {
    let key = &app.admin_key;
    app.create("users", key, json!({"id": "p-1", "emailAddress": "p1@example.org"})).await;
    app.create("templates", key, json!({"name": "prescription_ready", "emailTitle": "Your prescription", "emailMessage": "It is ready."}))
        .await;
    let quiet = json!({"timeZone": "Europe/Rome", "quietHours": [{"start": "22:00", "end": "07:00"}]});
    let (status, preferences) = put(&app, "/patient-notifications/preferences", &token("p-1"), quiet).await;
    assert_eq!(status, StatusCode::OK, "{preferences}");
    // 2027-01-15 08:00 UTC is 09:00 in Rome; move to 22:30 Rome time.
    assert_eq!(app.now(), Timestamp::from_second(1_800_000_000).unwrap());
    app.clock.advance(SignedDuration::from_mins(13 * 60 + 30));
    let dispatcher = dispatcher(&app);

    let (_, answer) = app.emit(json!({"name": "prescription.ready", "payload": {"patient_id": "p-1"}})).await;
    let id = answer["notifications"][0]["_id"].as_str().unwrap().to_string();
    assert_eq!(dispatcher.run_due().await.unwrap(), 1, "the email is looked at and deferred");
    let (_, waiting) = app.get(&format!("/notifications/{id}"), key).await;
    assert_eq!(messages(&waiting), [triple("whatsapp", "prescription_ready", "skipped"), triple("email", "prescription_ready", "queued")]);
    assert!(waiting["messages"][1]["attempts"].as_array().is_none_or(Vec::is_empty), "a wait is not an attempt");
    let job = app
        .store
        .list_jobs("default", JobKind::Delivery)
        .await
        .unwrap()
        .into_iter()
        .find(|j| j.payload["notification"] == id.as_str())
        .unwrap();
    assert_eq!((job.status, job.due_at.to_string()), (JobStatus::Pending, "2027-01-16T06:00:00Z".to_string()), "due at 07:00 in Rome");
    assert_eq!(job.attempts, 0);

    // An urgent event passes the same quiet hours, and the bypass is audited.
    let (_, urgent) = app.emit(json!({"name": "prescription.ready", "metadata": {"urgent": true}, "payload": {"patient_id": "p-1"}})).await;
    let urgent_id = urgent["notifications"][0]["_id"].as_str().unwrap().to_string();
    assert_eq!(dispatcher.run_due().await.unwrap(), 1);
    let (_, sent) = app.get(&format!("/notifications/{urgent_id}"), key).await;
    assert_eq!(sent["messages"][1]["status"], "SUCCESS", "{sent}");
    let bypasses = audited(&app, "quiet_hours.bypass").await;
    assert_eq!(bypasses.len(), 1, "{bypasses:?}");
    assert_eq!(bypasses[0]["target"], format!("notifications/{urgent_id}"));
    let (_, still) = app.get(&format!("/notifications/{id}"), key).await;
    assert_eq!(still["messages"][1]["status"], "queued", "the ordinary message still waits");

    // At 06:59 Rome time it still waits; at 07:00 it goes.
    app.clock.advance(SignedDuration::from_mins(8 * 60 + 29));
    assert_eq!(dispatcher.run_due().await.unwrap(), 0);
    app.clock.advance(SignedDuration::from_mins(1));
    assert_eq!(dispatcher.run_due().await.unwrap(), 1);
    let (_, delivered) = app.get(&format!("/notifications/{id}"), key).await;
    assert_eq!(delivered["messages"][1]["status"], "SUCCESS", "{delivered}");
    assert_eq!(delivered["messages"][1]["attempts"][0]["number"], 1);
}

async fn bad_preferences_are_refused_and_change_nothing(app: TestApp) {
    let user = token("p-1");
    let (_, before) = app.get("/patient-notifications/preferences", &user).await;
    assert_eq!(before["enabled"], true);
    let general = "/patient-notifications/preferences";
    let cases = [
        ("/patient-notifications/preferences/holiday_greetings", json!({"enabled": false}), "type"),
        ("/patient-notifications/preferences/welcome", json!({"channels": {"fax": false}}), "channels.fax"),
        ("/patient-notifications/preferences/welcome", json!({"channels": {"email": "off"}}), "channels.email"),
        ("/patient-notifications/preferences/welcome", json!({"enabled": false, "priority": "low"}), "priority"),
        (general, json!({"quietHours": [{"start": "22:00", "end": "07:00"}, {"start": "06:30", "end": "08:00"}]}), "quietHours[1]"),
        (general, json!({"quietHours": [{"start": "25:00", "end": "07:00"}]}), "quietHours[0].start"),
        (general, json!({"quietHours": [{"start": "22:00", "end": "22:00"}]}), "quietHours[0].end"),
        (general, json!({"quietHours": [{"start": "22:00", "end": "07:00", "days": ["someday"]}]}), "quietHours[0].days[0]"),
        (general, json!({"timeZone": "Atlantis/Capital", "enabled": false}), "timeZone"),
        (general, json!({"preferredLocale": "not a locale"}), "preferredLocale"),
        (general, json!({"enabled": "no"}), "enabled"),
    ];
    for (path, body, field) in cases {
        assert_error(&put(&app, path, &user, body).await, StatusCode::BAD_REQUEST, field);
    }
    let typed = json!({"name": "report.ready", "metadata": {"notificationType": "holiday_greetings"}, "payload": {"patient_id": "p-1"}});
    assert_error(&app.emit(typed).await, StatusCode::BAD_REQUEST, "metadata.notificationType");
    let (_, refused) = app.get("/events?status=ERROR", &app.admin_key).await;
    assert_eq!(refused.as_array().unwrap().len(), 1, "the refused event is in the events log: {refused}");
    assert_error(&app.call(Method::GET, general, None, None).await, StatusCode::UNAUTHORIZED, "token");
    assert_error(&app.call(Method::PUT, general, None, Some(json!({"enabled": false}))).await, StatusCode::UNAUTHORIZED, "token");
    let (_, after) = app.get(general, &user).await;
    assert_eq!(after, before, "nothing changed");
    assert!(audited(&app, "preferences.update").await.is_empty());
    assert!(audited(&app, "preferences.update_type").await.is_empty());
}

async fn staff_manage_patient_preferences_under_seed_05_permissions(app: TestApp) {
    patient(&app, "p-1").await;
    let (viewer, _) = app.key("default", Role::Viewer).await;
    let (manager, _) = app.key("default", Role::Manager).await;
    let (integration, _) = app.key("default", Role::Integration).await;
    let path = "/api/v1/notifications/preferences/p-1";

    let (status, seen) = app.get(path, &viewer).await;
    assert_eq!((status, seen["userId"].clone(), seen["enabled"].clone()), (StatusCode::OK, json!("p-1"), json!(true)), "{seen}");
    assert_error(&put(&app, path, &viewer, json!({"enabled": false})).await, StatusCode::FORBIDDEN, "notifications.preferences.write");
    assert_error(
        &put(&app, &format!("{path}/welcome"), &viewer, json!({"enabled": false})).await,
        StatusCode::FORBIDDEN,
        "notifications.preferences.write",
    );
    assert_error(&app.get(path, &integration).await, StatusCode::FORBIDDEN, "notifications.preferences.read");
    assert_error(&app.get("/api/v1/notifications/preferences/nobody", &viewer).await, StatusCode::NOT_FOUND, "user");
    assert_eq!(app.get(path, &viewer).await.1, seen, "refused changes changed nothing");

    let (status, changed) = put(&app, &format!("{path}/welcome"), &manager, json!({"channels": {"sms": false}})).await;
    assert_eq!((status, changed["preferences"]["welcome"]["channels"]["sms"].clone()), (StatusCode::OK, json!(false)), "{changed}");
    let (status, changed) = put(&app, path, &manager, json!({"preferredLocale": "es"})).await;
    assert_eq!((status, changed["preferredLocale"].clone()), (StatusCode::OK, json!("es")));
    let (_, own_view) = app.get("/patient-notifications/preferences", &token("p-1")).await;
    assert_eq!(own_view, changed, "the patient sees what staff set");

    let records = audited(&app, "preferences.update_type").await;
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["target"], "preferences/p-1");
    assert_eq!(audited(&app, "preferences.update").await.len(), 1);
}
