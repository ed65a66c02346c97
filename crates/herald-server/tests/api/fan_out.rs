//! One event, every channel: a Herald configured with a real SMTP server for email, the Twilio
//! fake for SMS, the WhatsApp Cloud API fake, the FCM fake and the in-app inbox sends one
//! appointment on all of them; each message ends `SUCCESS`, then `delivered` once its service
//! reports it — Twilio and WhatsApp through their signed webhooks, the SMTP relay, the push app
//! and the in-app client through `POST /api/v1/delivery-reports`.

use crate::support::{TestApp, cases};
use herald_channels::twilio::signature;
use herald_channels::{FcmConfig, ProviderConfig, SmtpConfig, SmtpSecurity, TwilioSmsConfig, WhatsappCloudConfig};
use herald_core::access::Role;
use herald_core::resources::channel::Channel;
use herald_core::secrets::Secret;
use herald_testkit::fake_api::{Answer, FakeApi};
use herald_testkit::fcm::FcmFake;
use herald_testkit::smtp::SmtpSink;
use hmac::Mac;
use jiff::SignedDuration;
use reqwest::StatusCode;
use serde_json::{Value, json};

cases![one_event_fans_out_to_every_channel_and_each_message_is_delivered_after_its_report];

const CREATED: &str = "AM/AppointmentCreated/v1";
const APP_SECRET: &str = "meta-app-secret";
const PHONE: &str = "+393331234567";
const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const AUTH_TOKEN: &str = "twilio-auth-token";
const SMS_SID: &str = "SM1f0e8ae6ade43cb3c0ce4525424e404f";
const WAMID: &str = "wamid.HBgMMzkzMzMxMjM0NTY3FQIAERgSQjM4QjQ1QzQ5RDVBMzc5MTk2AA==";

/// The fakes every channel talks to.
struct Services {
    smtp: SmtpSink,
    twilio: FakeApi,
    whatsapp: FakeApi,
    fcm: FcmFake,
}

impl Services {
    async fn start() -> Self {
        let whatsapp = FakeApi::start(Answer::json(
            200,
            json!({"messaging_product": "whatsapp", "contacts": [{"input": PHONE, "wa_id": "393331234567"}],
                   "messages": [{"id": WAMID, "message_status": "accepted"}]}),
        ))
        .await;
        let twilio = FakeApi::start(Answer::json(
            201,
            json!({"sid": SMS_SID, "account_sid": ACCOUNT, "to": PHONE, "status": "queued", "num_segments": "1"}),
        ))
        .await;
        Self { smtp: SmtpSink::start(), twilio, whatsapp, fcm: FcmFake::start().await }
    }

    /// Each channel's provider, pointed at its fake.
    fn providers(&self) -> Vec<(Channel, ProviderConfig)> {
        vec![
            (
                Channel::Email,
                ProviderConfig::Smtp(SmtpConfig {
                    security: SmtpSecurity::Plain,
                    timeout_seconds: 5,
                    max_connections: 2,
                    ..SmtpConfig::new("127.0.0.1", self.smtp.port, "Clinica San Luca <noreply@sanluca.example>")
                }),
            ),
            (
                Channel::Sms,
                ProviderConfig::Twilio(
                    serde_json::from_value::<TwilioSmsConfig>(json!({
                        "base_url": self.twilio.url, "account_sid": ACCOUNT, "auth_token": AUTH_TOKEN, "from": "SanLuca", "timeout_seconds": 5
                    }))
                    .unwrap(),
                ),
            ),
            (
                Channel::Whatsapp,
                ProviderConfig::WhatsappCloud(WhatsappCloudConfig {
                    base_url: self.whatsapp.url.clone(),
                    api_version: "v23.0".into(),
                    phone_number_id: "106540352242922".into(),
                    access_token: Secret::new("EAAG-token"),
                    default_language: "en".into(),
                    app_secret: Some(Secret::new(APP_SECRET)),
                    verify_token: None,
                    timeout_seconds: 5,
                }),
            ),
            (
                Channel::Push,
                ProviderConfig::Fcm(FcmConfig {
                    service_account: Some(Secret::new(self.fcm.service_account("clinic-app"))),
                    service_account_file: None,
                    project_id: None,
                    token_url: None,
                    send_url: self.fcm.url.clone(),
                    timeout_seconds: 5,
                }),
            ),
            (Channel::InApp, ProviderConfig::InApp),
        ]
    }
}

/// A WhatsApp Cloud status webhook, signed as Meta signs it.
fn whatsapp_status(app: &TestApp, status: &str) -> (String, String) {
    let value = json!({"messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
        "statuses": [{"id": WAMID, "status": status, "timestamp": app.now().as_second().to_string(), "recipient_id": "393331234567"}]});
    let body = json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": value}]}]})
        .to_string();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(APP_SECRET.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    (body, format!("sha256={hex}"))
}

/// The messages of patient-1's notification, by channel.
async fn messages(app: &TestApp) -> Vec<(String, Value)> {
    let (status, list) = app.get("/notifications?recipient=patient-1", &app.admin_key).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let messages = list[0]["messages"].as_array().unwrap_or_else(|| panic!("no notification: {list}"));
    let mut by_channel: Vec<(String, Value)> = messages.iter().map(|m| (m["channel"].as_str().unwrap().to_string(), m.clone())).collect();
    by_channel.sort_by(|a, b| a.0.cmp(&b.0));
    by_channel
}

fn statuses(messages: &[(String, Value)]) -> Vec<(&str, &str)> {
    messages.iter().map(|(channel, m)| (channel.as_str(), m["status"].as_str().unwrap())).collect()
}

async fn one_event_fans_out_to_every_channel_and_each_message_is_delivered_after_its_report(app: TestApp) {
    let services = Services::start().await;
    let herald = app.configured(|config| config.channels.extend(services.providers())).await;
    let key = &app.admin_key;
    app.create(
        "users",
        key,
        json!({"id": "patient-1", "name": "Ada", "emailAddress": "ada.rossi@example.org", "phoneNumber": PHONE, "groups": ["patients"],
               "deviceTokens": [{"platform": "android", "token": "android-1"}]}),
    )
    .await;
    app.create(
        "templates",
        key,
        json!({"name": "appointment", "emailTitle": "Your appointment", "emailHtmlMessage": "<p>Dear {{user.name}}, see you soon.</p>",
               "pushTitle": "Appointment booked", "pushMessage": "See you soon", "smsMessage": "Appointment booked, see you soon",
               "whatsappTemplateName": "appointment_created", "whatsappTemplateParameters": "{{user.name}}"}),
    )
    .await;
    let channels = json!(["email", "sms", "whatsapp", "push", "in_app"]);
    app.create(
        "notification-settings",
        key,
        json!({"eventName": CREATED, "group": "patients", "channels": channels, "templateName": "appointment"}),
    )
    .await;
    let start = herald_core::document::format_timestamp(app.now().checked_add(SignedDuration::from_hours(72)).unwrap());
    let (status, answer) = app
        .emit(json!({"name": CREATED, "key": "apt-1", "payload": {"startDate": start, "resourceId": "dr-rossi", "participantIds": ["patient-1"]}}))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(herald.dispatcher.run_due().await.unwrap(), 5, "one message per channel");

    let sent = messages(&app).await;
    assert_eq!(
        statuses(&sent),
        [("email", "SUCCESS"), ("in_app", "SUCCESS"), ("push", "SUCCESS"), ("sms", "SUCCESS"), ("whatsapp", "SUCCESS")]
    );
    let mail = services.smtp.received();
    assert_eq!(mail.len(), 1, "the SMTP server got the email");
    assert_eq!(mail[0].to, ["ada.rossi@example.org"]);
    assert!(String::from_utf8_lossy(&mail[0].data).contains("Subject: Your appointment"));
    let sms: Vec<(String, String)> = serde_urlencoded::from_str(&services.twilio.received()[0].body).unwrap();
    assert!(
        sms.contains(&("To".into(), PHONE.into())) && sms.contains(&("Body".into(), "Appointment booked, see you soon".into())),
        "{sms:?}"
    );
    assert_eq!(services.whatsapp.received()[0].json()["template"]["name"], "appointment_created");
    assert_eq!(services.fcm.sends()[0].body["message"]["token"], "android-1");

    let (body, hub_signature) = whatsapp_status(&app, "delivered");
    let response = app
        .client
        .post(format!("{}/webhooks/whatsapp/default", herald.base))
        .header("x-hub-signature-256", hub_signature)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let status_url = format!("{}/webhooks/twilio/default/status", herald.base);
    let params: Vec<(String, String)> = [("MessageSid", SMS_SID), ("AccountSid", ACCOUNT), ("MessageStatus", "delivered")]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .to_vec();
    let signed = signature(&Secret::new(AUTH_TOKEN), &status_url, &params);
    let response = app.client.post(&status_url).header("x-twilio-signature", signed).form(&params).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let (integration, _) = app.key("default", Role::Integration).await;
    let reports: Vec<Value> = sent
        .iter()
        .filter(|(channel, _)| channel != "whatsapp" && channel != "sms")
        .map(|(_, m)| json!({"service": m["service"], "providerMessageId": m["providerMessageId"], "status": "delivered"}))
        .collect();
    let (status, answer) = app.post("/api/v1/delivery-reports", &integration, Value::Array(reports)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(answer["results"].as_array().unwrap().iter().all(|r| r["outcome"] == "applied"), "{answer}");

    let delivered = messages(&app).await;
    let all_delivered =
        [("email", "delivered"), ("in_app", "delivered"), ("push", "delivered"), ("sms", "delivered"), ("whatsapp", "delivered")];
    assert_eq!(statuses(&delivered), all_delivered);
    for (channel, message) in &delivered {
        let history: Vec<&str> = message["history"].as_array().unwrap().iter().map(|h| h["status"].as_str().unwrap()).collect();
        assert_eq!(history, ["queued", "sending", "SUCCESS", "delivered"], "{channel}");
    }
}
