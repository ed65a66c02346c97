//! The clinic catalogue (seed 02 and seed 05 events): inline or directory patients, staff
//! groups, the catalogue's default channels and appointment reminders at 24 h, 2 h and 30 min.

use crate::support::{TestApp, assert_error, cases, messages, triple};
use herald_core::job::{JobKind, JobStatus};
use jiff::{SignedDuration, Timestamp};
use reqwest::StatusCode;
use serde_json::json;

cases![
    an_inline_patient_is_emailed_and_reminded_24h_2h_and_30min_before,
    a_cancellation_aborts_the_reminders_and_reaches_a_directory_patient_on_whatsapp_and_email,
    staff_events_go_to_their_group,
    tenant_settings_replace_the_catalogue_defaults,
    slot_dates_are_read_in_the_patients_time_zone,
    catalogue_events_are_validated,
];

fn iso(ts: Timestamp) -> String {
    herald_core::document::format_timestamp(ts)
}

fn hours_from_now(app: &TestApp, hours: i64) -> Timestamp {
    app.now().checked_add(SignedDuration::from_hours(hours)).unwrap()
}

async fn an_inline_patient_is_emailed_and_reminded_24h_2h_and_30min_before(app: TestApp) {
    let start = hours_from_now(&app, 72);
    let (status, answer) = app
        .emit(json!({"name": "appointment.scheduled", "payload": {"clinic_id": "c-1", "appointment_id": "a-1", "patient_id": "p-9", "patient_email": "ana@example.org",
            "patient_name": "Ana", "start_time": iso(start), "professional_name": "Dr. Ruiz"}}))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let notification = &answer["notifications"][0];
    assert_eq!(notification["recipient"], "p-9");
    assert_eq!(messages(notification), [triple("email", "appointment_confirmation", "queued")]);
    let due: Vec<String> =
        notification["reminders"].as_array().unwrap().iter().map(|r| r["expirationDate"].as_str().unwrap().to_string()).collect();
    assert_eq!(
        due,
        [iso(hours_from_now(&app, 48)), iso(hours_from_now(&app, 70)), iso(start.checked_sub(SignedDuration::from_mins(30)).unwrap())]
    );
    let jobs = app.store.list_jobs("default", JobKind::Reminder).await.unwrap();
    assert_eq!(jobs.len(), 3);
    let fired = jobs[0].payload["event"].clone();
    assert_eq!((fired["name"].as_str(), fired["key"].as_str()), (Some("appointment.reminder"), Some("a-1")));
    let (status, reminded) = app.emit(fired).await;
    assert_eq!(status, StatusCode::OK, "{reminded}");
    assert_eq!(
        messages(&reminded["notifications"][0]),
        [triple("whatsapp", "appointment_reminder", "skipped"), triple("email", "appointment_reminder", "queued")]
    );
}

async fn a_cancellation_aborts_the_reminders_and_reaches_a_directory_patient_on_whatsapp_and_email(app: TestApp) {
    app.create("users", &app.admin_key, json!({"id": "p-1", "phoneNumber": "+34600000001", "emailAddress": "p1@example.org"})).await;
    let slot = |hours: i64| {
        let at = hours_from_now(&app, hours);
        json!({"patient_id": "p-1", "booking_reference": "BK-77", "slot_date": at.to_string()[..10], "slot_time": at.to_string()[11..16], "doctor_name": "Dr. Mora"})
    };
    let (status, confirmed) = app.emit(json!({"name": "appointment.confirmed", "payload": slot(50)})).await;
    assert_eq!(status, StatusCode::OK, "{confirmed}");
    assert_eq!(
        messages(&confirmed["notifications"][0]),
        [triple("whatsapp", "appointment_confirmed", "queued"), triple("email", "appointment_confirmed", "queued")]
    );
    assert_eq!(confirmed["notifications"][0]["reminders"].as_array().unwrap().len(), 3);
    let (_, cancelled) = app.emit(json!({"name": "appointment.cancelled", "payload": slot(50)})).await;
    assert_eq!(
        messages(&cancelled["notifications"][0]),
        [triple("whatsapp", "appointment_cancelled", "queued"), triple("email", "appointment_cancelled", "queued")]
    );
    let jobs = app.store.list_jobs("default", JobKind::Reminder).await.unwrap();
    assert!(jobs.iter().all(|j| j.status == JobStatus::Aborted), "cancelling the booking aborts its reminders");
}

async fn staff_events_go_to_their_group(app: TestApp) {
    for (id, groups) in [("clerk-1", json!(["billing"])), ("clerk-2", json!(["billing", "finance"])), ("nurse", json!(["ward"]))] {
        app.create("users", &app.admin_key, json!({"id": id, "emailAddress": format!("{id}@example.org"), "groups": groups})).await;
    }
    let (status, answer) =
        app.emit(json!({"name": "billing.bill_generated", "payload": {"patient_id": "p-1", "amount": 120, "reference": "INV-1"}})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let recipients: Vec<&str> = answer["notifications"].as_array().unwrap().iter().map(|n| n["recipient"].as_str().unwrap()).collect();
    assert_eq!(recipients, ["clerk-1", "clerk-2"]);
    assert_eq!(
        messages(&answer["notifications"][0]),
        [triple("email", "staff_bill_generated", "queued"), triple("in_app", "staff_bill_generated", "queued")]
    );
    let (_, refund) = app.emit(json!({"name": "billing.refund_processed", "payload": {"amount": 40}})).await;
    assert_eq!(refund["notifications"].as_array().unwrap().len(), 1, "refunds go to finance only");
}

async fn tenant_settings_replace_the_catalogue_defaults(app: TestApp) {
    app.create(
        "notification-settings",
        &app.admin_key,
        json!({"eventName": "report.ready", "channels": ["sms"], "templateName": "report_ready_sms"}),
    )
    .await;
    let (status, answer) =
        app.emit(json!({"name": "report.ready", "payload": {"patient_phone": "+34600000002", "patient_name": "Luis"}})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["notifications"][0]["recipient"], "+34600000002");
    assert_eq!(messages(&answer["notifications"][0]), [triple("sms", "report_ready_sms", "queued")]);
}

async fn slot_dates_are_read_in_the_patients_time_zone(app: TestApp) {
    app.create("users", &app.admin_key, json!({"id": "p-rome", "emailAddress": "r@example.org", "timeZone": "Europe/Rome"})).await;
    let (status, answer) = app.emit(json!({"name": "appointment.confirmed", "payload": {"patient_id": "p-rome", "booking_reference": "BK-1", "slot_date": "2027-01-20", "slot_time": "10:00"}})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        answer["notifications"][0]["reminders"][0]["expirationDate"], "2027-01-19T09:00:00.000Z",
        "10:00 in Rome is 09:00 UTC; 24 hours before"
    );
}

async fn catalogue_events_are_validated(app: TestApp) {
    assert_error(
        &app.emit(json!({"name": "prescription.ready", "payload": {"patient_name": "Nobody"}})).await,
        StatusCode::BAD_REQUEST,
        "payload",
    );
    assert_error(
        &app.emit(json!({"name": "prescription.ready", "payload": {"patient_email": "not-an-email"}})).await,
        StatusCode::BAD_REQUEST,
        "payload.patient_email",
    );
    let past = hours_from_now(&app, -2);
    assert_error(
        &app.emit(json!({"name": "appointment.scheduled", "payload": {"patient_email": "a@example.org", "start_time": iso(past)}})).await,
        StatusCode::BAD_REQUEST,
        "start_time",
    );
    assert_error(
        &app.emit(json!({"name": "walkin.token_called", "payload": {"patient_phone": "+34600000003", "token_number": ["A", 12]}})).await,
        StatusCode::BAD_REQUEST,
        "token_number",
    );
}
