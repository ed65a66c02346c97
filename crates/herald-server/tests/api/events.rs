//! `POST /notification-events/` through every default handler: the notification records
//! (recipients, channels, templates, statuses) and the timed jobs (reminders: when, for whom,
//! which event), dedup, unknown events, schemas and routing changes.

use crate::support::{TestApp, assert_error, cases, messages, triple};
use herald_core::job::{Job, JobKind, JobStatus};
use jiff::{SignedDuration, Timestamp};
use reqwest::StatusCode;
use serde_json::{Value, json};

cases![
    appointment_created_notifies_each_participant_and_schedules_reminders,
    appointment_updated_adds_keeps_removes_and_reschedules,
    appointment_updated_without_reschedule_keeps_reminders,
    appointment_deleted_aborts_reminders,
    appointment_reminder_goes_to_its_recipients_for_its_schedule,
    integrity_alerts_go_to_the_targeted_users,
    plan_created_schedules_the_first_plan_day_and_each_reminder_the_next,
    plan_updated_and_deleted_abort_and_reschedule,
    threshold_exceeded_alerts_the_doctor,
    unknown_participants_are_recorded_as_failures,
    duplicate_event_ids_within_the_window_are_processed_once,
    unknown_events_are_refused_and_logged,
    schemas_and_bad_events_are_refused_and_logged,
    event_setting_changes_apply_at_once_on_every_instance,
    custom_handlers_run_sandboxed_with_the_utility_api,
    reminders_fire_once_at_their_time_and_never_when_aborted,
    plan_reminders_fire_day_after_day_until_the_plan_ends,
    hours_hold_messages_back_but_not_reminders,
    reminders_whose_time_has_passed_are_recorded_as_skipped,
];

const CREATED: &str = "AM/AppointmentCreated/v1";

fn at(app: &TestApp, hours: i64) -> Timestamp {
    app.now().checked_add(SignedDuration::from_hours(hours)).unwrap()
}

fn iso(ts: Timestamp) -> String {
    herald_core::document::format_timestamp(ts)
}

async fn users(app: &TestApp) {
    let key = &app.admin_key;
    for user in [
        json!({"id": "patient-1", "emailAddress": "p1@example.org", "phoneNumber": "+390600000001", "groups": ["patients"], "timeZone": "Europe/Rome"}),
        json!({"id": "patient-2", "emailAddress": "p2@example.org", "phoneNumber": "+390600000002", "groups": ["patients"]}),
        json!({"id": "patient-3", "phoneNumber": "+390600000003", "groups": ["patients"]}),
        json!({"id": "dr-rossi", "emailAddress": "rossi@example.org", "groups": ["doctors"]}),
        json!({"id": "dr-verdi", "emailAddress": "verdi@example.org", "groups": ["doctors"], "roles": ["security"]}),
    ] {
        app.create("users", key, user).await;
    }
}

async fn setting(app: &TestApp, body: Value) -> String {
    app.create("notification-settings", &app.admin_key, body).await
}

async fn appointment_settings(app: &TestApp) -> (String, String) {
    let patients = setting(app, json!({"eventName": CREATED, "group": "patients", "channels": ["email", "sms"], "templateName": "appointment-patient", "reminders": ["P1D", "PT2H"]})).await;
    let doctors = setting(app, json!({"eventName": CREATED, "group": "doctors", "channels": ["email", "sms"], "templateName": "appointment-doctor", "reminders": ["PT1H"]})).await;
    for (event, template) in [("AM/AppointmentUpdated/v1", "appointment-updated"), ("AM/AppointmentDeleted/v1", "appointment-deleted")] {
        setting(app, json!({"eventName": event, "channels": ["email"], "templateName": template})).await;
    }
    (patients, doctors)
}

fn appointment(start: Timestamp, participants: &[&str]) -> Value {
    let end = start.checked_add(SignedDuration::from_mins(45)).unwrap();
    json!({"startDate": iso(start), "endDate": iso(end), "resourceId": "dr-rossi", "participantIds": participants})
}

/// The notification for `recipient` in an answer or a list.
fn for_recipient<'a>(notifications: &'a Value, recipient: &str) -> &'a Value {
    notifications
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["recipient"] == recipient)
        .unwrap_or_else(|| panic!("no notification for {recipient}: {notifications}"))
}

async fn reminder_jobs(app: &TestApp) -> Vec<Job> {
    app.store.list_jobs("default", JobKind::Reminder).await.unwrap()
}

fn pending(jobs: &[Job]) -> Vec<(String, Timestamp, String)> {
    jobs.iter()
        .filter(|j| j.status == JobStatus::Pending)
        .map(|j| {
            (
                j.payload["event"]["metadata"]["reminder"]["recipients"][0].as_str().unwrap().to_string(),
                j.due_at,
                j.payload["event"]["name"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn appointment_created_notifies_each_participant_and_schedules_reminders(app: TestApp) {
    users(&app).await;
    let (patients, doctors) = appointment_settings(&app).await;
    let start = at(&app, 72);
    let (status, answer) = app.emit(json!({"name": CREATED, "key": "appointment-1", "metadata": {"userFields": ["resourceId", "participantIds"]}, "payload": appointment(start, &["patient-1"])})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let notifications = &answer["notifications"];
    assert_eq!(notifications.as_array().unwrap().len(), 2);

    let patient = for_recipient(notifications, "patient-1");
    assert_eq!(messages(patient), [triple("email", "appointment-patient", "queued"), triple("sms", "appointment-patient", "queued")]);
    let reminders = patient["reminders"].as_array().unwrap();
    assert_eq!(reminders.len(), 2);
    assert_eq!(reminders[0]["schedule"], "P1D");
    assert_eq!(reminders[0]["expirationDate"], iso(at(&app, 48)));
    assert_eq!(reminders[0]["status"], "ACTIVE");
    assert_eq!(reminders[0]["triggers"], json!([patients]));
    assert_eq!(reminders[1]["expirationDate"], iso(at(&app, 70)));

    let doctor = for_recipient(notifications, "dr-rossi");
    assert_eq!(messages(doctor), [triple("email", "appointment-doctor", "queued"), triple("sms", "appointment-doctor", "skipped")]);
    assert_eq!(doctor["messages"][1]["reason"], "the recipient has no phone number");
    assert_eq!(doctor["reminders"][0]["triggers"], json!([doctors]));

    let jobs = reminder_jobs(&app).await;
    let reminder = "AM/AppointmentReminder/v1".to_string();
    assert_eq!(
        pending(&jobs),
        [
            ("patient-1".to_string(), at(&app, 48), reminder.clone()),
            ("patient-1".to_string(), at(&app, 70), reminder.clone()),
            ("dr-rossi".to_string(), at(&app, 71), reminder)
        ]
    );
    assert_eq!(jobs[0].payload["event"]["metadata"]["reminder"]["schedule"], "P1D");
    assert_eq!(jobs[0].payload["event"]["payload"]["participantIds"], json!(["patient-1"]));
    assert_eq!(jobs[0].payload["event"]["key"], "appointment-1");
    assert_eq!(Some(jobs[0].id.as_str()), reminders[0]["expirationId"].as_str());
    assert_eq!(app.store.list_jobs("default", JobKind::Delivery).await.unwrap().len(), 3, "one delivery job per queued message");

    let event_id = answer["_id"].as_str().unwrap();
    let (_, logged) = app.get(&format!("/events/{event_id}"), &app.admin_key).await;
    assert_eq!(
        (logged["status"].as_str(), logged["source"].as_str(), logged["name"].as_str()),
        (Some("PROCESSED"), Some("http"), Some(CREATED))
    );
    let (_, stored) = app.get(&format!("/notifications/?event._id={event_id}&_s=recipient"), &app.admin_key).await;
    assert_eq!(stored.as_array().unwrap().len(), 2);
    let (_, one) = app.get(&format!("/notifications/{}", notifications[0]["_id"].as_str().unwrap()), &app.admin_key).await;
    assert_eq!(one["event"]["_id"], event_id);

    let past = app.emit(json!({"name": CREATED, "payload": appointment(at(&app, -1), &["patient-1"])})).await;
    assert_error(&past, StatusCode::BAD_REQUEST, "payload.startDate");
}

async fn appointment_updated_adds_keeps_removes_and_reschedules(app: TestApp) {
    users(&app).await;
    appointment_settings(&app).await;
    let start = at(&app, 72);
    let (status, _) =
        app.emit(json!({"name": CREATED, "key": "appointment-7", "payload": appointment(start, &["patient-1", "patient-2"])})).await;
    assert_eq!(status, StatusCode::OK);
    let moved = at(&app, 96);
    let (status, answer) = app
        .emit(json!({"name": "AM/AppointmentUpdated/v1", "key": "appointment-7", "payload": {
            "originalAppointment": appointment(start, &["patient-1", "patient-2"]),
            "currentAppointment": appointment(moved, &["patient-1", "patient-3"])}}))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let notifications = &answer["notifications"];

    let added = for_recipient(notifications, "patient-3");
    assert_eq!(added["event"]["name"], CREATED, "a new participant gets the created event");
    assert_eq!(messages(added), [triple("email", "appointment-patient", "skipped"), triple("sms", "appointment-patient", "queued")]);
    assert_eq!(added["event"]["payload"]["startDate"], iso(moved));
    let removed = for_recipient(notifications, "patient-2");
    assert_eq!(removed["event"]["name"], "AM/AppointmentDeleted/v1");
    assert_eq!(messages(removed), [triple("email", "appointment-deleted", "queued")]);
    let kept = for_recipient(notifications, "patient-1");
    assert_eq!(kept["event"]["name"], "AM/AppointmentUpdated/v1");
    assert_eq!(messages(kept), [triple("email", "appointment-updated", "queued")]);
    assert_eq!(kept["reminders"].as_array().unwrap().len(), 2, "rescheduled: new reminders");
    assert_eq!(kept["reminders"][0]["expirationDate"], iso(at(&app, 72)));

    let jobs = reminder_jobs(&app).await;
    let mut active: Vec<(String, Timestamp)> = pending(&jobs).into_iter().map(|(who, when, _)| (who, when)).collect();
    active.sort();
    assert_eq!(
        active,
        [
            ("dr-rossi".to_string(), at(&app, 95)),
            ("patient-1".to_string(), at(&app, 72)),
            ("patient-1".to_string(), at(&app, 94)),
            ("patient-3".to_string(), at(&app, 72)),
            ("patient-3".to_string(), at(&app, 94)),
        ],
        "the old reminders of patient-1, patient-2 and the doctor were aborted, the moved ones scheduled"
    );
    assert_eq!(jobs.iter().filter(|j| j.status == JobStatus::Aborted).count(), 5);
    let (_, first) = app.get("/notifications/?event.name=AM%2FAppointmentCreated%2Fv1&recipient=patient-2", &app.admin_key).await;
    assert!(first[0]["reminders"].as_array().unwrap().iter().all(|r| r["status"] == "ABORTED"), "{first}");
}

async fn appointment_updated_without_reschedule_keeps_reminders(app: TestApp) {
    users(&app).await;
    appointment_settings(&app).await;
    let start = at(&app, 72);
    app.emit(json!({"name": CREATED, "key": "appointment-8", "payload": appointment(start, &["patient-1"])})).await;
    let mut current = appointment(start, &["patient-1"]);
    current["room"] = json!("B12");
    let (status, answer) =
        app.emit(json!({"name": "AM/AppointmentUpdated/v1", "key": "appointment-8", "payload": {"originalAppointment": appointment(start, &["patient-1"]), "currentAppointment": current}})).await;
    assert_eq!(status, StatusCode::OK);
    assert!(for_recipient(&answer["notifications"], "patient-1")["reminders"].as_array().unwrap().is_empty());
    assert_eq!(pending(&reminder_jobs(&app).await).len(), 3, "nothing aborted");
}

async fn appointment_deleted_aborts_reminders(app: TestApp) {
    users(&app).await;
    appointment_settings(&app).await;
    let start = at(&app, 72);
    app.emit(json!({"name": CREATED, "key": "appointment-9", "payload": appointment(start, &["patient-1"])})).await;
    app.emit(json!({"name": CREATED, "key": "appointment-10", "payload": appointment(start, &["patient-2"])})).await;
    let (status, answer) =
        app.emit(json!({"name": "AM/AppointmentDeleted/v1", "key": "appointment-9", "payload": appointment(start, &["patient-1"])})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(messages(for_recipient(&answer["notifications"], "patient-1")), [triple("email", "appointment-deleted", "queued")]);
    let remaining: Vec<String> = pending(&reminder_jobs(&app).await).into_iter().map(|(who, _, _)| who).collect();
    assert_eq!(remaining.len(), 3, "appointment-10 keeps its reminders: {remaining:?}");
    assert!(remaining.iter().all(|who| who != "patient-1"), "patient-1's reminders were aborted: {remaining:?}");
    assert_eq!(remaining.iter().filter(|who| *who == "patient-2").count(), 2);
    assert_eq!(remaining.iter().filter(|who| *who == "dr-rossi").count(), 1, "the doctor's reminder for appointment-9 was aborted");
}

async fn appointment_reminder_goes_to_its_recipients_for_its_schedule(app: TestApp) {
    users(&app).await;
    setting(&app, json!({"eventName": "AM/AppointmentReminder/v1", "group": "patients", "channels": ["sms"], "templateName": "reminder-day-before", "reminders": ["P1D"]})).await;
    setting(&app, json!({"eventName": "AM/AppointmentReminder/v1", "group": "patients", "channels": ["email"], "templateName": "reminder-soon", "reminders": ["PT2H"]})).await;
    let reminder = |schedule: &str| {
        json!({"name": "AM/AppointmentReminder/v1", "key": "appointment-1", "metadata": {"reminder": {"schedule": schedule, "recipients": ["patient-1"], "expirationDate": iso(at(&app, 1))}},
            "payload": appointment(at(&app, 25), &["patient-1", "patient-2"])})
    };
    let (status, answer) = app.emit(reminder("P1D")).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["notifications"].as_array().unwrap().len(), 1, "only the reminder's recipients");
    assert_eq!(messages(&answer["notifications"][0]), [triple("sms", "reminder-day-before", "queued")]);
    let (_, answer) = app.emit(reminder("PT2H")).await;
    assert_eq!(messages(&answer["notifications"][0]), [triple("email", "reminder-soon", "queued")]);
    let (_, answer) = app.emit(reminder("PT30M")).await;
    assert_eq!(answer["notifications"], json!([]), "no setting asks for that schedule");
    assert_error(&app.emit(json!({"name": "AM/AppointmentReminder/v1", "payload": {}})).await, StatusCode::BAD_REQUEST, "metadata");
}

async fn integrity_alerts_go_to_the_targeted_users(app: TestApp) {
    users(&app).await;
    setting(
        &app,
        json!({"eventName": "IC/ResourceForbiddenEvent/v1", "role": "security", "channels": ["email"], "templateName": "integrity-alert"}),
    )
    .await;
    let (status, answer) = app
        .emit(json!({"id": "8f77103f", "key": "medical-reports/628f", "name": "IC/ResourceForbiddenEvent/v1", "payload": {"collectionName": "medical-reports", "resourceUuid": "628f"}}))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let recipients: Vec<&str> = answer["notifications"].as_array().unwrap().iter().map(|n| n["recipient"].as_str().unwrap()).collect();
    assert_eq!(recipients, ["dr-verdi"]);
    assert_eq!(messages(&answer["notifications"][0]), [triple("email", "integrity-alert", "queued")]);
}

fn plan(kind: &str, each: Value) -> Value {
    json!({"planName": format!("{kind} plan"), "startDate": "2027-01-20T00:00:00Z", "endDate": "2027-01-23T00:00:00Z", "each": each, "doctorId": "dr-rossi", "patientId": "patient-1"})
}

async fn plan_created_schedules_the_first_plan_day_and_each_reminder_the_next(app: TestApp) {
    users(&app).await;
    setting(&app, json!({"eventName": "TMM/MonitoringCreated/v1", "user": "patient-1", "channels": ["email"], "templateName": "monitoring-created", "reminders": ["PT1H"]})).await;
    setting(&app, json!({"eventName": "TMM/MonitoringReminder/v1", "user": "patient-1", "channels": ["sms"], "templateName": "monitoring-reminder", "reminders": ["PT1H"]})).await;
    let (status, answer) =
        app.emit(json!({"name": "TMM/MonitoringCreated/v1", "key": "bp-1", "metadata": {"excludeUsers": ["dr-rossi"], "includeUsers": ["dr-verdi"]}, "payload": plan("Monitoring", json!(["day"]))})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let recipients: Vec<&str> = answer["notifications"].as_array().unwrap().iter().map(|n| n["recipient"].as_str().unwrap()).collect();
    assert_eq!(recipients, ["patient-1"], "dr-rossi excluded; dr-verdi included but no setting applies to him");
    let jobs = reminder_jobs(&app).await;
    let first_due: Timestamp = "2027-01-19T23:00:00Z".parse().unwrap();
    assert_eq!(pending(&jobs), [("patient-1".to_string(), first_due, "TMM/MonitoringReminder/v1".to_string())]);

    app.clock.advance(SignedDuration::from_secs(first_due.as_second() - app.now().as_second()));
    let fired = jobs[0].payload["event"].clone();
    let (status, answer) = app.emit(fired).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(messages(&answer["notifications"][0]), [triple("sms", "monitoring-reminder", "queued")]);
    let next: Timestamp = "2027-01-20T23:00:00Z".parse().unwrap();
    assert_eq!(answer["notifications"][0]["reminders"][0]["expirationDate"], iso(next), "the next plan day is scheduled");

    let weekly = plan("Therapy", json!(["friday"]));
    setting(&app, json!({"eventName": "TMM/TherapyCreated/v1", "user": "patient-1", "channels": ["in_app"], "templateName": "therapy-created", "reminders": ["PT2H"]})).await;
    let (_, answer) = app.emit(json!({"name": "TMM/TherapyCreated/v1", "key": "therapy-1", "payload": weekly})).await;
    assert_eq!(
        answer["notifications"][0]["reminders"][0]["expirationDate"], "2027-01-21T22:00:00.000Z",
        "Friday 22 January, two hours before midnight UTC"
    );
}

async fn plan_updated_and_deleted_abort_and_reschedule(app: TestApp) {
    users(&app).await;
    for event in ["TMM/TherapyCreated/v1", "TMM/TherapyUpdated/v1", "TMM/TherapyDeleted/v1"] {
        setting(&app, json!({"eventName": event, "channels": ["email"], "templateName": event.replace('/', "-"), "reminders": ["PT1H"]}))
            .await;
    }
    app.emit(json!({"name": "TMM/TherapyCreated/v1", "key": "therapy-2", "payload": plan("Therapy", json!(["day"]))})).await;
    assert_eq!(pending(&reminder_jobs(&app).await).len(), 2, "doctor and patient");
    let mut current = plan("Therapy", json!(["day"]));
    current["doctorId"] = json!("dr-verdi");
    current["startDate"] = json!("2027-01-21T00:00:00Z");
    let (status, answer) = app.emit(json!({"name": "TMM/TherapyUpdated/v1", "key": "therapy-2", "payload": {"originalTherapy": plan("Therapy", json!(["day"])), "currentTherapy": current}})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let notifications = &answer["notifications"];
    assert_eq!(for_recipient(notifications, "dr-verdi")["event"]["name"], "TMM/TherapyCreated/v1");
    assert_eq!(for_recipient(notifications, "dr-rossi")["event"]["name"], "TMM/TherapyDeleted/v1");
    assert_eq!(for_recipient(notifications, "patient-1")["event"]["name"], "TMM/TherapyUpdated/v1");
    let mut active: Vec<(String, Timestamp)> = pending(&reminder_jobs(&app).await).into_iter().map(|(w, t, _)| (w, t)).collect();
    active.sort();
    let first_day: Timestamp = "2027-01-20T23:00:00Z".parse().unwrap();
    assert_eq!(active, [("dr-verdi".to_string(), first_day), ("patient-1".to_string(), first_day)]);

    let (status, _) = app.emit(json!({"name": "TMM/TherapyDeleted/v1", "key": "therapy-2", "payload": current})).await;
    assert_eq!(status, StatusCode::OK);
    assert!(pending(&reminder_jobs(&app).await).is_empty(), "deleting the plan aborts every reminder");
}

async fn threshold_exceeded_alerts_the_doctor(app: TestApp) {
    users(&app).await;
    setting(
        &app,
        json!({"eventName": "TMM/ThresholdExceeded/v1", "group": "doctors", "channels": ["email", "push"], "templateName": "threshold"}),
    )
    .await;
    let (status, answer) = app
        .emit(json!({"name": "TMM/ThresholdExceeded/v1", "key": "bp-1", "payload": {"plan": plan("Monitoring", json!(["day"])), "detection": {"value": {"maximumBloodPressure": 130}}}}))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        messages(for_recipient(&answer["notifications"], "dr-rossi")),
        [triple("email", "threshold", "queued"), triple("push", "threshold", "skipped")]
    );
    assert_eq!(answer["notifications"].as_array().unwrap().len(), 1);
}

async fn unknown_participants_are_recorded_as_failures(app: TestApp) {
    users(&app).await;
    appointment_settings(&app).await;
    let (status, answer) = app.emit(json!({"name": CREATED, "payload": appointment(at(&app, 30), &["patient-1", "ghost"])})).await;
    assert_eq!(status, StatusCode::OK);
    let ghost = for_recipient(&answer["notifications"], "ghost");
    assert_eq!(ghost["failures"][0]["message"], "the recipient is not in the users directory");
    assert!(ghost["messages"].as_array().unwrap().is_empty());
}

async fn duplicate_event_ids_within_the_window_are_processed_once(app: TestApp) {
    users(&app).await;
    appointment_settings(&app).await;
    let event = json!({"id": "evt-42", "name": CREATED, "key": "appointment-42", "payload": appointment(at(&app, 30), &["patient-1"])});
    let (_, first) = app.emit(event.clone()).await;
    app.clock.advance(SignedDuration::from_mins(4));
    let (status, again) = app.emit(event.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again, first, "the first answer is repeated");
    assert_eq!(app.count("events", &app.admin_key).await, 1);
    assert_eq!(pending(&reminder_jobs(&app).await).len(), 3, "reminders scheduled once");
    app.clock.advance(SignedDuration::from_mins(2));
    let (_, later) = app.emit(event).await;
    assert_ne!(later["_id"], first["_id"], "outside the 5-minute window the id is new again");
    let other = app.new_tenant("other").await;
    let (status, _) =
        app.post("/notification-events/", &other, json!({"id": "evt-42", "name": "IC/ResourceForbiddenEvent/v1", "payload": {}})).await;
    assert_eq!(status, StatusCode::OK, "ids are per tenant");
}

async fn unknown_events_are_refused_and_logged(app: TestApp) {
    let response = app.emit(json!({"name": "ACME/Unheard/v1", "id": "u-1", "payload": {"x": 1}})).await;
    assert_error(&response, StatusCode::BAD_REQUEST, "Unknown event");
    assert_eq!(response.1["message"], "Unknown event");
    let (_, logged) = app.get("/events/?status=ERROR", &app.admin_key).await;
    assert_eq!(logged.as_array().unwrap().len(), 1);
    assert_eq!((logged[0]["name"].as_str(), logged[0]["errors"][0]["message"].as_str()), (Some("ACME/Unheard/v1"), Some("Unknown event")));
    assert_eq!(app.count("notifications", &app.admin_key).await, 0);
    let (viewer, _) = app.key("default", herald_core::access::Role::Viewer).await;
    assert_error(&app.post("/notification-events/", &viewer, json!({"name": CREATED})).await, StatusCode::FORBIDDEN, "events.emit");
}

async fn schemas_and_bad_events_are_refused_and_logged(app: TestApp) {
    users(&app).await;
    assert_error(&app.emit(json!({"payload": {}})).await, StatusCode::BAD_REQUEST, "name");
    assert_error(
        &app.emit(json!({"name": CREATED, "payload": {"participantIds": ["patient-1"]}})).await,
        StatusCode::BAD_REQUEST,
        "startDate",
    );
    assert_error(&app.emit(json!({"name": CREATED, "payload": {"startDate": 5}})).await, StatusCode::BAD_REQUEST, "payload.startDate");
    assert_error(
        &app.emit(json!({"name": CREATED, "payload": {"startDate": iso(at(&app, 5))}})).await,
        StatusCode::BAD_REQUEST,
        "userFields",
    );
    let (_, errors) = app.get("/events/count?status=ERROR", &app.admin_key).await;
    assert_eq!(errors, json!(3), "events with a name are logged");

    app.create("event-settings", &app.admin_key, json!({"eventName": CREATED, "eventSchema": {"type": "object", "required": ["payload"], "properties": {"payload": {"required": ["clinicId"]}}}})).await;
    let response = app.emit(json!({"name": CREATED, "payload": appointment(at(&app, 5), &["patient-1"])})).await;
    assert_error(&response, StatusCode::BAD_REQUEST, "clinicId");
    let mut accepted = appointment(at(&app, 5), &["patient-1"]);
    accepted["clinicId"] = json!("c-1");
    assert_eq!(
        app.emit(json!({"name": CREATED, "payload": accepted})).await.0,
        StatusCode::OK,
        "the event setting's schema replaces the built-in one"
    );
}

async fn event_setting_changes_apply_at_once_on_every_instance(app: TestApp) {
    users(&app).await;
    let (second, stop) = app.second_instance().await;
    let emit_on_second =
        |body: Value| app.client.post(format!("{second}/notification-events/")).bearer_auth(&app.admin_key).json(&body).send();
    let event = json!({"name": CREATED, "payload": appointment(at(&app, 5), &["patient-1"])});
    assert_eq!(emit_on_second(event.clone()).await.unwrap().status(), StatusCode::OK);
    let id = app
        .create("event-settings", &app.admin_key, json!({"eventName": CREATED, "eventSchema": {"type": "object", "required": ["key"]}}))
        .await;
    assert_eq!(
        emit_on_second(event.clone()).await.unwrap().status(),
        StatusCode::BAD_REQUEST,
        "a schema added on one instance applies on the other"
    );
    app.patch(&format!("/event-settings/{id}"), &app.admin_key, json!({"$unset": {"eventSchema": true}})).await;
    assert_eq!(emit_on_second(event.clone()).await.unwrap().status(), StatusCode::OK);
    app.patch(&format!("/event-settings/{id}"), &app.admin_key, json!({"handlerName": "not-installed"})).await;
    let refused: Value = emit_on_second(event.clone()).await.unwrap().json().await.unwrap();
    assert!(refused["message"].as_str().unwrap().contains("not-installed"), "{refused}");
    app.delete(&format!("/event-settings/{id}"), &app.admin_key).await;
    assert_eq!(emit_on_second(event).await.unwrap().status(), StatusCode::OK, "deleting restores the default handler");
    stop.cancel();
}

async fn custom_handlers_run_sandboxed_with_the_utility_api(app: TestApp) {
    users(&app).await;
    let lab = "CLINIC/LabResult/v1";
    app.create(
        "event-settings",
        &app.admin_key,
        json!({"eventName": lab, "handlerName": "lab-result", "handlerConfig": {"template": "lab-ready"}}),
    )
    .await;
    let (status, answer) = app.emit(json!({"name": lab, "key": "lab-1", "payload": {"patientId": "patient-1"}})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(messages(for_recipient(&answer["notifications"], "patient-1")), [triple("in_app", "lab-ready", "queued")]);
    setting(&app, json!({"eventName": lab, "user": "patient-1", "channels": ["email", "sms"], "templateName": "lab-result"})).await;
    let (_, answer) = app.emit(json!({"name": lab, "key": "lab-2", "payload": {"patientId": "patient-1"}})).await;
    assert_eq!(messages(&answer["notifications"][0]), [triple("email", "lab-result", "queued"), triple("sms", "lab-result", "queued")]);

    for (handler, reason) in [
        ("forever", "stopped after 300 ms"),
        ("greedy", "more memory than allowed"),
        ("thrower", "lab system unreachable"),
        ("missing", "not loaded"),
    ] {
        let name = format!("CLINIC/{handler}/v1");
        app.create("event-settings", &app.admin_key, json!({"eventName": name, "handlerName": handler})).await;
        let response = app.emit(json!({"name": name, "payload": {}})).await;
        assert_error(&response, StatusCode::BAD_REQUEST, reason);
        let (_, logged) = app.get(&format!("/events/?name={}", name.replace('/', "%2F")), &app.admin_key).await;
        assert_eq!(logged[0]["status"], "ERROR");
        assert!(logged[0]["errors"][0]["message"].as_str().unwrap().contains(reason), "{logged}");
    }
    let (status, _) = app.emit(json!({"name": lab, "payload": {"patientId": "patient-2"}})).await;
    assert_eq!(status, StatusCode::OK, "the server carries on after a runaway script");
}

async fn reminders_fire_once_at_their_time_and_never_when_aborted(app: TestApp) {
    users(&app).await;
    appointment_settings(&app).await;
    setting(&app, json!({"eventName": "AM/AppointmentReminder/v1", "group": "patients", "channels": ["sms"], "templateName": "reminder", "reminders": ["P1D", "PT2H"]})).await;
    let start = at(&app, 72);
    let (status, _) = app.emit(json!({"name": CREATED, "key": "appointment-r", "payload": appointment(start, &["patient-1"])})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.scheduler.run_due().await.unwrap(), 0, "nothing is due yet");
    assert_eq!(app.advance_and_run(SignedDuration::from_hours(48)).await, 1, "the day-before reminder fires at its time");
    assert_eq!(app.scheduler.run_due().await.unwrap(), 0, "and only once");
    let (_, fired) = app.get("/events/?source=timer", &app.admin_key).await;
    assert_eq!((fired[0]["name"].as_str(), fired[0]["status"].as_str()), (Some("AM/AppointmentReminder/v1"), Some("PROCESSED")));
    let (_, sent) = app.get(&format!("/notifications/?event._id={}", fired[0]["_id"].as_str().unwrap()), &app.admin_key).await;
    assert_eq!(messages(for_recipient(&sent, "patient-1")), [triple("sms", "reminder", "queued")]);

    let (status, _) =
        app.emit(json!({"name": "AM/AppointmentDeleted/v1", "key": "appointment-r", "payload": appointment(start, &["patient-1"])})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.advance_and_run(SignedDuration::from_hours(30)).await, 0, "aborted reminders never fire");
    let statuses: Vec<JobStatus> = reminder_jobs(&app).await.into_iter().map(|j| j.status).collect();
    assert_eq!(statuses, [JobStatus::Done, JobStatus::Aborted, JobStatus::Aborted]);
}

async fn plan_reminders_fire_day_after_day_until_the_plan_ends(app: TestApp) {
    users(&app).await;
    setting(&app, json!({"eventName": "TMM/TherapyCreated/v1", "user": "patient-1", "channels": ["email"], "templateName": "therapy", "reminders": ["PT1H"]})).await;
    setting(&app, json!({"eventName": "TMM/TherapyReminder/v1", "user": "patient-1", "channels": ["sms"], "templateName": "take-your-pills", "reminders": ["PT1H"]})).await;
    let mut therapy = plan("Therapy", json!(["day"]));
    therapy["doctorId"] = json!("");
    let (status, _) = app.emit(json!({"name": "TMM/TherapyCreated/v1", "key": "therapy-9", "payload": therapy})).await;
    assert_eq!(status, StatusCode::OK);
    let first: Timestamp = "2027-01-19T23:00:00Z".parse().unwrap();
    app.clock.advance(SignedDuration::from_secs(first.as_second() - app.now().as_second()));
    let mut fired = 0;
    for _ in 0..6 {
        fired += app.scheduler.run_due().await.unwrap();
        app.clock.advance(SignedDuration::from_hours(24));
    }
    assert_eq!(fired, 4, "one reminder for each of the four plan days (20 to 23 January), then none");
    let (_, sms) = app.get("/notifications/count?event.name=TMM%2FTherapyReminder%2Fv1", &app.admin_key).await;
    assert_eq!(sms, json!(4));
}

async fn hours_hold_messages_back_but_not_reminders(app: TestApp) {
    users(&app).await;
    setting(&app, json!({"eventName": CREATED, "user": "patient-2", "channels": ["email"], "templateName": "office-hours", "hours": ["12:00-13:00"], "reminders": ["P1D"]})).await;
    let (status, answer) =
        app.emit(json!({"name": CREATED, "key": "appointment-h", "payload": appointment(at(&app, 72), &["patient-2"])})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let notification = for_recipient(&answer["notifications"], "patient-2");
    assert!(notification["messages"].as_array().unwrap().is_empty(), "08:00 UTC is outside 12:00-13:00");
    assert_eq!(notification["reminders"][0]["expirationDate"], iso(at(&app, 48)), "the reminder is scheduled all the same");
    app.clock.advance(SignedDuration::from_hours(4));
    let (_, inside) =
        app.emit(json!({"name": CREATED, "key": "appointment-i", "payload": appointment(at(&app, 72), &["patient-2"])})).await;
    assert_eq!(
        messages(for_recipient(&inside["notifications"], "patient-2")),
        [triple("email", "office-hours", "queued")],
        "12:00 UTC is inside"
    );
}

async fn reminders_whose_time_has_passed_are_recorded_as_skipped(app: TestApp) {
    users(&app).await;
    setting(&app, json!({"eventName": CREATED, "group": "patients", "channels": ["email"], "templateName": "t", "reminders": ["P1D", "PT2H", "PT30M"]})).await;
    let (status, answer) = app.emit(json!({"name": CREATED, "key": "soon", "payload": appointment(at(&app, 1), &["patient-1"])})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let reminders = for_recipient(&answer["notifications"], "patient-1")["reminders"].as_array().unwrap().clone();
    let summary: Vec<_> = reminders
        .iter()
        .map(|r| (r["schedule"].as_str().unwrap(), r["status"].as_str().unwrap(), r.get("expirationId").is_some()))
        .collect();
    assert_eq!(summary, [("P1D", "SKIPPED", false), ("PT2H", "SKIPPED", false), ("PT30M", "ACTIVE", true)], "an appointment an hour away");
    assert_eq!(pending(&reminder_jobs(&app).await).len(), 1, "only the reminder still ahead is scheduled");
    assert_eq!(app.advance_and_run(SignedDuration::from_hours(2)).await, 1, "and only it fires");
}
