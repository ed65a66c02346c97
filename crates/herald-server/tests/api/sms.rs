//! SMS end to end, against a local fake of Twilio's API: a STOP reply suppresses the next SMS
//! (the fake receives nothing, the message is skipped and its fallback used) and START
//! restores it; HELP answers the clinic's contact; status callbacks move a sent SMS to
//! `delivered`; webhooks with a bad or missing signature are refused and change nothing; the
//! abuse safeguards defer repeats through the job table; an overlong body fails for good.

use crate::support::{ConfiguredHerald, TestApp, cases};
use herald_channels::twilio::signature;
use herald_channels::{ProviderConfig, TwilioSmsConfig};
use herald_core::resources::channel::Channel;
use herald_core::secrets::Secret;
use herald_testkit::fake_api::{Answer, FakeApi};
use jiff::SignedDuration;
use reqwest::StatusCode;
use serde_json::{Value, json};

cases![
    sms_stop_suppresses_the_next_sms_and_start_restores_it,
    sms_help_answers_the_clinic_contact_and_other_replies_get_nothing,
    sms_webhooks_with_a_bad_signature_are_refused_and_change_nothing,
    sms_webhooks_of_a_tenant_with_its_own_twilio_account_are_signed_with_its_token,
    sms_status_callbacks_move_the_message_to_delivered,
    sms_repeats_to_one_number_are_deferred_by_the_safeguards,
    sms_safeguards_hold_across_instances_sharing_the_database,
    voice_calls_read_the_message_and_their_status_callbacks_settle_it,
    sms_bodies_over_1600_characters_fail_for_good,
];

const CREATED: &str = "AM/AppointmentCreated/v1";
const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const AUTH_TOKEN: &str = "twilio-auth-token";
const PHONE: &str = "+393331234567";
const SID: &str = "SM1f0e8ae6ade43cb3c0ce4525424e404f";

/// Twilio's documented answer to a created message.
fn created() -> Answer {
    Answer::json(201, json!({"sid": SID, "account_sid": ACCOUNT, "to": PHONE, "status": "queued", "num_segments": "1"}))
}

/// A second Herald on the test's database and clock, with Twilio on the SMS channel.
struct SmsHerald(ConfiguredHerald);

impl std::ops::Deref for SmsHerald {
    type Target = ConfiguredHerald;

    fn deref(&self) -> &ConfiguredHerald {
        &self.0
    }
}

impl SmsHerald {
    /// A Herald sending SMS through Twilio at `fake`.
    async fn start(app: &TestApp, fake: &FakeApi) -> Self {
        let twilio: TwilioSmsConfig = serde_json::from_value(json!({
            "base_url": fake.url, "account_sid": ACCOUNT, "auth_token": AUTH_TOKEN, "from": "StClaire", "timeout_seconds": 5
        }))
        .unwrap();
        Self::start_with(app, Channel::Sms, ProviderConfig::Twilio(twilio)).await
    }

    /// A Herald with `provider` on `channel`.
    async fn start_with(app: &TestApp, channel: Channel, provider: ProviderConfig) -> Self {
        Self(
            app.configured(|config| {
                config.channels.insert(channel, provider);
                config.email.allow_private_hosts = true;
            })
            .await,
        )
    }

    /// Posts Twilio's form `params` to `path`, signed with `token` (none: unsigned); returns
    /// status and body text.
    async fn post(&self, app: &TestApp, path: &str, params: &[(&str, &str)], token: Option<&str>) -> (StatusCode, String) {
        let pairs: Vec<(String, String)> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let url = format!("{}{path}", self.base);
        let mut request = app.client.post(&url).form(&pairs);
        if let Some(token) = token {
            request = request.header("x-twilio-signature", signature(&Secret::new(token), &url, &pairs));
        }
        let response = request.send().await.unwrap();
        (response.status(), response.text().await.unwrap())
    }

    /// A signed reply `body` from the patient.
    async fn reply(&self, app: &TestApp, body: &str) -> (StatusCode, String) {
        let params = [("MessageSid", "SMinbound"), ("AccountSid", ACCOUNT), ("From", PHONE), ("To", "+14155550100"), ("Body", body)];
        self.post(app, "/webhooks/twilio/default/inbound", &params, Some(AUTH_TOKEN)).await
    }
}

/// A patient, an SMS template and a setting that sends it by SMS, falling back to in-app.
async fn setup(app: &TestApp, sms_message: &str) {
    let key = &app.admin_key;
    app.create("users", key, json!({"id": "patient-1", "name": "Ada", "phoneNumber": PHONE, "groups": ["patients"]})).await;
    app.create("templates", key, json!({"name": "appointment-patient", "smsMessage": sms_message})).await;
    app.create(
        "notification-settings",
        key,
        json!({"eventName": CREATED, "group": "patients", "channels": ["sms"], "fallbackChannels": ["in_app"], "templateName": "appointment-patient"}),
    )
    .await;
}

async fn emit(app: &TestApp, key: &str) {
    let start = herald_core::document::format_timestamp(app.now().checked_add(SignedDuration::from_hours(72)).unwrap());
    let (status, answer) =
        app.emit(json!({"name": CREATED, "key": key, "payload": {"startDate": start, "participantIds": ["patient-1"]}})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

/// The messages of the latest notification of `patient-1`.
async fn messages(app: &TestApp) -> Vec<Value> {
    let (status, list) = app.get("/notifications?recipient=patient-1&_s=-createdAt", &app.admin_key).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list[0]["messages"].as_array().unwrap_or_else(|| panic!("no notification: {list}")).clone()
}

fn form_of(body: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str(body).unwrap()
}

async fn sms_stop_suppresses_the_next_sms_and_start_restores_it(app: TestApp) {
    setup(&app, "See you soon").await;
    let fake = FakeApi::start(created()).await;
    let herald = SmsHerald::start(&app, &fake).await;

    let (status, twiml) = herald.reply(&app, " Stop ").await;
    assert_eq!(status, StatusCode::OK, "{twiml}");
    assert!(twiml.contains("<Response><Message>") && twiml.contains("Reply START"), "one confirmation: {twiml}");
    let (_, again) = herald.reply(&app, "STOP").await;
    assert!(again.ends_with("<Response/>"), "a repeated STOP is not confirmed twice: {again}");

    emit(&app, "apt-1").await;
    herald.dispatcher.run_due().await.unwrap();
    assert!(fake.received().is_empty(), "the opted-out number gets no SMS");
    let suppressed = messages(&app).await;
    assert_eq!(
        (suppressed[0]["status"].as_str(), suppressed[0]["reason"].as_str()),
        (Some("skipped"), Some("opted_out")),
        "{suppressed:?}"
    );
    assert_eq!(
        (suppressed[1]["channel"].as_str(), suppressed[1]["status"].as_str()),
        (Some("in_app"), Some("SUCCESS")),
        "the fallback is used"
    );
    let (_, log) = app.get("/api/v1/notifications/logs?channel=sms", &app.admin_key).await;
    assert!(log.to_string().contains("\"opted_out\""), "the message log shows why: {log}");

    let (_, trail) = app.get("/api/v1/audit?action=sms_consent.opt_out", &app.admin_key).await;
    assert_eq!(trail["entries"].as_array().map(Vec::len), Some(1), "{trail}");
    assert!(!trail.to_string().contains("3331234567") && trail.to_string().contains("4567"), "the number is masked: {trail}");

    let (_, restored) = herald.reply(&app, "start").await;
    assert!(restored.contains("<Message>") && restored.contains("Reply STOP"), "{restored}");
    app.clock.advance(SignedDuration::from_secs(60));
    emit(&app, "apt-2").await;
    herald.dispatcher.run_due().await.unwrap();
    let received = fake.received();
    assert_eq!(received.len(), 1, "START restores SMS");
    assert!(form_of(&received[0].body).contains(&("Body".to_string(), "See you soon".to_string())));
    assert_eq!(messages(&app).await[0]["status"], "SUCCESS");
}

async fn sms_help_answers_the_clinic_contact_and_other_replies_get_nothing(app: TestApp) {
    let (status, _) = app.patch("/api/v1/tenant", &app.admin_key, json!({"name": "St Claire Clinic", "phone": "+390612345678"})).await;
    assert_eq!(status, StatusCode::OK);
    let fake = FakeApi::start(created()).await;
    let herald = SmsHerald::start(&app, &fake).await;
    let (status, help) = herald.reply(&app, "help").await;
    assert_eq!(status, StatusCode::OK);
    assert!(help.contains("St Claire Clinic") && help.contains("+390612345678") && help.contains("STOP"), "{help}");
    let (_, other) = herald.reply(&app, "Thanks, see you tomorrow").await;
    assert!(other.ends_with("<Response/>"), "{other}");
    assert!(!app.store.sms_opted_out("default", PHONE).await.unwrap());
}

async fn sms_webhooks_with_a_bad_signature_are_refused_and_change_nothing(app: TestApp) {
    let fake = FakeApi::start(created()).await;
    let herald = SmsHerald::start(&app, &fake).await;
    let stop = [("From", PHONE), ("Body", "STOP")];
    for token in [Some("wrong-token"), None] {
        let (status, body) = herald.post(&app, "/webhooks/twilio/default/inbound", &stop, token).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert!(body.contains("X-Twilio-Signature") && body.contains("statusCode"), "{body}");
    }
    assert!(!app.store.sms_opted_out("default", PHONE).await.unwrap(), "nothing changed");
    let (status, _) = herald.post(&app, "/webhooks/twilio/nowhere/inbound", &stop, Some(AUTH_TOKEN)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "an unknown tenant, once proven");
}

async fn sms_webhooks_of_a_tenant_with_its_own_twilio_account_are_signed_with_its_token(app: TestApp) {
    setup(&app, "See you soon").await;
    let fake = FakeApi::start(created()).await;
    let herald = SmsHerald::start(&app, &fake).await;
    let own = json!({"name": "clinic-twilio", "config": {"type": "twilio", "base_url": fake.url, "account_sid": ACCOUNT,
        "auth_token": "clinic-auth-token", "from": "+14155550100", "public_base": "https://herald.example.org"}});
    let response =
        app.client.post(format!("{}/api/v1/providers/sms", herald.base)).bearer_auth(&app.admin_key).json(&own).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED, "{}", response.text().await.unwrap());

    let (status, _) = herald.reply(&app, "STOP").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the global account no longer signs this tenant's webhooks");
    let stop = [("From", PHONE), ("Body", "STOP")];
    let (status, _) = herald.post(&app, "/webhooks/twilio/default/inbound", &stop, Some("clinic-auth-token")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the URL Twilio signed is the account's public_base");
    let pairs: Vec<(String, String)> = stop.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let signed = signature(&Secret::new("clinic-auth-token"), "https://herald.example.org/webhooks/twilio/default/inbound", &pairs);
    let response = app
        .client
        .post(format!("{}/webhooks/twilio/default/inbound", herald.base))
        .header("x-twilio-signature", signed)
        .form(&pairs)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(app.store.sms_opted_out("default", PHONE).await.unwrap());

    emit(&app, "apt-1").await;
    herald.dispatcher.run_due().await.unwrap();
    assert!(fake.received().is_empty(), "the tenant's own account sends nothing to the opted-out number either");
}

async fn sms_status_callbacks_move_the_message_to_delivered(app: TestApp) {
    setup(&app, "See you soon").await;
    let fake = FakeApi::start(created()).await;
    let herald = SmsHerald::start(&app, &fake).await;
    emit(&app, "apt-1").await;
    herald.dispatcher.run_due().await.unwrap();
    let sent = &messages(&app).await[0];
    assert_eq!(
        (sent["status"].as_str(), sent["providerMessageId"].as_str(), sent["service"].as_str()),
        (Some("SUCCESS"), Some(SID), Some("twilio"))
    );

    let delivered = [("MessageSid", SID), ("MessageStatus", "delivered"), ("AccountSid", ACCOUNT)];
    let (status, body) = herald.post(&app, "/webhooks/twilio/default/status", &delivered, Some("forged")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(messages(&app).await[0]["status"], "SUCCESS", "a bad signature changes nothing");
    app.new_tenant("clinic-b").await;
    let (status, body) = herald.post(&app, "/webhooks/twilio/clinic-b/status", &delivered, Some(AUTH_TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(messages(&app).await[0]["status"], "SUCCESS", "another tenant's URL reaches only that tenant's messages");

    let (status, body) = herald.post(&app, "/webhooks/twilio/default/status", &delivered, Some(AUTH_TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(messages(&app).await[0]["status"], "delivered");
    let late = [("MessageSid", SID), ("MessageStatus", "sent")];
    herald.post(&app, "/webhooks/twilio/default/status", &late, Some(AUTH_TOKEN)).await;
    assert_eq!(messages(&app).await[0]["status"], "delivered", "statuses only move forward");
}

async fn sms_repeats_to_one_number_are_deferred_by_the_safeguards(app: TestApp) {
    setup(&app, "See you soon").await;
    let fake = FakeApi::start(created()).await;
    let herald = SmsHerald::start(&app, &fake).await;
    for key in ["apt-1", "apt-2", "apt-3", "apt-4"] {
        emit(&app, key).await;
    }
    herald.dispatcher.run_due().await.unwrap();
    assert_eq!(fake.received().len(), 3, "three go at once, the fourth waits");
    assert_eq!(sms_statuses(&app).await, ["SUCCESS", "SUCCESS", "SUCCESS", "queued"], "deferred, not dropped");

    app.clock.advance(SignedDuration::from_secs(29));
    herald.dispatcher.run_due().await.unwrap();
    assert_eq!(fake.received().len(), 3, "the first repeat delay is 30 s");
    app.clock.advance(SignedDuration::from_secs(1));
    herald.dispatcher.run_due().await.unwrap();
    assert_eq!(fake.received().len(), 4);
    assert_eq!(sms_statuses(&app).await, ["SUCCESS"; 4]);
}

async fn sms_safeguards_hold_across_instances_sharing_the_database(app: TestApp) {
    setup(&app, "See you soon").await;
    let fake = FakeApi::start(created()).await;
    let (first, second) = (SmsHerald::start(&app, &fake).await, SmsHerald::start(&app, &fake).await);
    for key in ["apt-1", "apt-2", "apt-3", "apt-4", "apt-5", "apt-6"] {
        emit(&app, key).await;
    }
    let (a, b) = tokio::join!(first.dispatcher.run_due(), second.dispatcher.run_due());
    assert_eq!(a.unwrap() + b.unwrap(), 6, "every job was handled once");
    assert_eq!(fake.received().len(), 3, "the two instances share one count per number");
    assert_eq!(sms_statuses(&app).await.iter().filter(|s| *s == "queued").count(), 3);
}

async fn voice_calls_read_the_message_and_their_status_callbacks_settle_it(app: TestApp) {
    let key = &app.admin_key;
    app.create("users", key, json!({"id": "patient-1", "name": "Ada", "phoneNumber": PHONE, "groups": ["patients"]})).await;
    app.create("templates", key, json!({"name": "appointment-patient", "voiceMessage": "Your visit is at 9 & 30"})).await;
    app.create(
        "notification-settings",
        key,
        json!({"eventName": CREATED, "group": "patients", "channels": ["voice"], "templateName": "appointment-patient"}),
    )
    .await;
    let call_sid = "CA5ef8732a3c49700934481addd5ce1659";
    let fake = FakeApi::start(Answer::json(201, json!({"sid": call_sid, "status": "queued"}))).await;
    let voice: herald_channels::TwilioVoiceConfig = serde_json::from_value(json!({
        "base_url": fake.url, "account_sid": ACCOUNT, "auth_token": AUTH_TOKEN, "from": "+14155550100", "language": "it-IT", "repeat": 0
    }))
    .unwrap();
    let herald = SmsHerald::start_with(&app, Channel::Voice, ProviderConfig::TwilioVoice(voice)).await;
    emit(&app, "apt-1").await;
    herald.dispatcher.run_due().await.unwrap();
    let received = fake.received();
    assert_eq!(received[0].path, format!("/2010-04-01/Accounts/{ACCOUNT}/Calls.json"));
    let twiml = "<Response><Say language=\"it-IT\" loop=\"1\">Your visit is at 9 &amp; 30</Say></Response>".to_string();
    assert!(form_of(&received[0].body).contains(&("Twiml".to_string(), twiml)), "{}", received[0].body);
    assert_eq!(messages(&app).await[0]["service"], "twilio_voice");

    let ringing = [("CallSid", call_sid), ("CallStatus", "ringing")];
    herald.post(&app, "/webhooks/twilio/default/status", &ringing, Some(AUTH_TOKEN)).await;
    assert_eq!(messages(&app).await[0]["status"], "SUCCESS", "a ringing call is not settled yet");
    let unanswered = [("CallSid", call_sid), ("CallStatus", "no-answer")];
    let (status, _) = herald.post(&app, "/webhooks/twilio/default/status", &unanswered, Some(AUTH_TOKEN)).await;
    assert_eq!(status, StatusCode::OK);
    let message = &messages(&app).await[0];
    assert_eq!(message["status"], "FAILURE", "{message}");
}

/// The statuses of every SMS of `patient-1`, sent ones first.
async fn sms_statuses(app: &TestApp) -> Vec<String> {
    let (_, list) = app.get("/notifications?recipient=patient-1", &app.admin_key).await;
    let mut statuses: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|n| {
            n["messages"].as_array().unwrap().iter().filter(|m| m["channel"] == "sms").map(|m| m["status"].as_str().unwrap().to_string())
        })
        .collect();
    statuses.sort_by_key(|status| status != "SUCCESS");
    statuses
}

async fn sms_bodies_over_1600_characters_fail_for_good(app: TestApp) {
    setup(&app, &"a".repeat(1601)).await;
    let fake = FakeApi::start(created()).await;
    let herald = SmsHerald::start(&app, &fake).await;
    emit(&app, "apt-1").await;
    herald.dispatcher.run_due().await.unwrap();
    assert!(fake.received().is_empty(), "never truncated and sent");
    let failed = &messages(&app).await[0];
    assert_eq!(failed["status"], "FAILURE");
    assert!(failed["error"].as_str().unwrap().contains("1600"), "{failed}");
}
