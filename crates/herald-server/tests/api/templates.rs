//! Templates compile on write and preview without sending.

use crate::support::{TestApp, assert_error, cases};
use reqwest::StatusCode;
use serde_json::json;

cases![
    templates_that_do_not_compile_are_refused_with_the_line,
    previews_render_every_channel_without_sending,
    previews_render_jinja_templates_in_the_requested_locale
];

async fn templates_that_do_not_compile_are_refused_with_the_line(app: TestApp) {
    let response = app
        .post(
            "/templates/",
            &app.admin_key,
            json!({"name": "broken", "emailTitle": "ok", "smsMessage": "Hello\n{{#if data.x}}never closed"}),
        )
        .await;
    assert_error(&response, StatusCode::BAD_REQUEST, "smsMessage");
    assert!(response.1["message"].as_str().unwrap().contains("line "), "{}", response.1);
    let id = app.create("templates", &app.admin_key, json!({"name": "fine", "smsMessage": "Hi {{user.name}}"})).await;
    assert_error(
        &app.patch(&format!("/templates/{id}"), &app.admin_key, json!({"smsMessage": "{{/each}}"})).await,
        StatusCode::BAD_REQUEST,
        "smsMessage",
    );
    assert_eq!(app.count("templates", &app.admin_key).await, 1);
}

async fn previews_render_every_channel_without_sending(app: TestApp) {
    let id = app
        .create(
            "templates",
            &app.admin_key,
            json!({"name": "appointment", "emailTitle": "Appointment on {{dateFormat data.date format=\"DD/MM/YYYY\" tz=\"Europe/Rome\"}}",
                "emailHtmlMessage": "<p>Dear {{user.name}} at {{tenant.name}}</p>", "smsMessage": "Room {{data.room}}"}),
        )
        .await;
    let (status, preview) = app
        .post(
            &format!("/templates/{id}/preview"),
            &app.admin_key,
            json!({"data": {"date": "2027-03-01T23:30:00Z"}, "user": {"name": "Ada <3"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(
        preview["rendered"][0],
        json!({"channel": "email", "subject": "Appointment on 02/03/2027", "text": "Dear Ada <3 at Default tenant",
            "html": "<p>Dear Ada &lt;3 at Default tenant</p>"})
    );
    assert!(preview["rendered"][1]["error"].as_str().unwrap().contains("smsMessage"), "a missing variable fails that message: {preview}");
    assert_eq!(app.count("notifications", &app.admin_key).await, 0, "nothing was sent");
    let other = app.new_tenant("elsewhere").await;
    assert_error(&app.post(&format!("/templates/{id}/preview"), &other, json!({})).await, StatusCode::NOT_FOUND, "template");
    assert_error(
        &app.post(&format!("/templates/{id}/preview"), &app.admin_key, json!({"data": [1]})).await,
        StatusCode::BAD_REQUEST,
        "data",
    );
}

async fn previews_render_jinja_templates_in_the_requested_locale(app: TestApp) {
    let id = app
        .create(
            "templates",
            &app.admin_key,
            json!({"name": "appointment_confirmation", "syntax": "jinja",
                "emailTitle": "Appointment confirmed at {{ clinic_name }}",
                "emailHtmlMessage": "<h1>Hello {{ patient_name }},</h1><p>Your appointment is on {{ start_time }}.</p>",
                "smsMessage": "{{ patient_name }}: {{ start_time }}{% if reason %} ({{ reason }}){% endif %}",
                "locales": {"it": {"emailTitle": "Appuntamento confermato da {{ clinic_name }}",
                    "emailHtmlMessage": "<h1>Ciao {{ patient_name }},</h1><p>Il tuo appuntamento è il {{ start_time }}.</p>"}}}),
        )
        .await;
    let data = json!({"patient_name": "Ada <3", "start_time": "2030-05-02 10:00", "clinic_name": "St Claire"});
    let path = format!("/templates/{id}/preview");
    let (status, italian) = app.post(&path, &app.admin_key, json!({"data": data, "locale": "it-IT"})).await;
    assert_eq!(status, StatusCode::OK, "{italian}");
    assert_eq!(italian["locale"], "it");
    assert_eq!(
        italian["rendered"],
        json!([
            {"channel": "email", "subject": "Appuntamento confermato da St Claire", "text": "Ciao Ada <3,\n\nIl tuo appuntamento è il 2030-05-02 10:00.",
                "html": "<h1>Ciao Ada &lt;3,</h1><p>Il tuo appuntamento è il 2030-05-02 10:00.</p>"},
            {"channel": "sms", "body": "Ada <3: 2030-05-02 10:00"},
        ])
    );
    let (status, base) = app.post(&path, &app.admin_key, json!({"data": data, "locale": "fr"})).await;
    assert_eq!(status, StatusCode::OK, "{base}");
    assert_eq!((&base["locale"], &base["rendered"][0]["subject"]), (&json!(null), &json!("Appointment confirmed at St Claire")));
    let (_, missing) = app.post(&path, &app.admin_key, json!({"data": {"patient_name": "Ada"}})).await;
    assert!(missing["rendered"][0]["error"].as_str().unwrap().contains("emailTitle"), "{missing}");
    assert_error(
        &app.post(
            "/templates/",
            &app.admin_key,
            json!({"name": "x", "syntax": "jinja", "locales": {"de-CH": {"smsMessage": "{% for %}"}}}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "locales.de-CH.smsMessage",
    );
}
