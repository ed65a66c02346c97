//! Templates compile on write and preview without sending.

use crate::support::{TestApp, assert_error, cases};
use reqwest::StatusCode;
use serde_json::json;

cases![templates_that_do_not_compile_are_refused_with_the_line, previews_render_every_channel_without_sending];

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
        json!({"channel": "email", "subject": "Appointment on 02/03/2027", "text": null, "html": "<p>Dear Ada &lt;3 at Default tenant</p>"})
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
