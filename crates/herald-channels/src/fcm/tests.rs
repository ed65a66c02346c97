//! FCM against the local fake of its token endpoint and send API.

use super::*;
use herald_testkit::fcm::{CLIENT_EMAIL, FcmFake, SERVICE_ACCOUNT_PUBLIC_KEY, invalid_token, quota_exceeded, unregistered};
use jsonwebtoken::{DecodingKey, Validation};

const PROJECT: &str = "herald-test";

fn client(fake: &FcmFake) -> FcmClient {
    let config = FcmConfig {
        service_account: Some(Secret::new(fake.service_account(PROJECT))),
        service_account_file: None,
        project_id: None,
        token_url: None,
        send_url: fake.url.clone(),
        timeout_seconds: 5,
    };
    FcmClient::new(&config).unwrap()
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + seconds).unwrap()
}

fn push(at: Timestamp) -> Push<'static> {
    Push {
        title: Some("Appointment"),
        subtitle: Some("Tomorrow"),
        body: Some("See you at 9:00"),
        data: None,
        key: "64b7f0c2a1e3d4f5a6b7c8d9.0",
        at,
    }
}

/// The assertion's claims, once its RS256 signature is verified with the account's public key.
fn verified_assertion(assertion: &str, token_url: &str) -> (jsonwebtoken::Header, Value) {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[token_url]);
    validation.set_issuer(&[CLIENT_EMAIL]);
    validation.validate_exp = false;
    let key = DecodingKey::from_rsa_pem(SERVICE_ACCOUNT_PUBLIC_KEY.as_bytes()).unwrap();
    let data = jsonwebtoken::decode::<Value>(assertion, &key, &validation).expect("an assertion signed by the service account");
    (data.header, data.claims)
}

#[tokio::test]
async fn sends_the_documented_request_with_an_access_token_kept_until_it_expires() {
    let fake = FcmFake::start().await;
    let fcm = client(&fake);
    let receipt = fcm.send("device-token-1", &push(at(0))).await.unwrap();
    assert_eq!(receipt.provider_message_id.as_deref(), Some("projects/herald-test/messages/0:1"));
    assert_eq!(receipt.response_code, Some(200));

    let exchanges = fake.exchanges();
    assert_eq!(exchanges.len(), 1);
    assert_eq!(exchanges[0].content_type, "application/x-www-form-urlencoded");
    assert_eq!(exchanges[0].form["grant_type"], "urn:ietf:params:oauth:grant-type:jwt-bearer");
    let (header, claims) = verified_assertion(&exchanges[0].form["assertion"], &fake.token_url);
    assert_eq!(header.kid.as_deref(), Some("test-key-1"));
    assert_eq!(claims["scope"], "https://www.googleapis.com/auth/firebase.messaging");
    assert_eq!((claims["iat"].as_i64(), claims["exp"].as_i64()), (Some(at(0).as_second()), Some(at(3600).as_second())));

    let sends = fake.sends();
    assert_eq!(sends.len(), 1);
    assert_eq!(sends[0].path, "/v1/projects/herald-test/messages:send");
    assert_eq!(sends[0].headers["authorization"], "Bearer ya29.test-access-token-1");
    assert_eq!(sends[0].headers["content-type"], "application/json");
    assert_eq!(
        sends[0].body,
        json!({"message": {
            "token": "device-token-1",
            "notification": {"title": "Appointment", "body": "See you at 9:00"},
            "data": {"heraldMessageId": "64b7f0c2a1e3d4f5a6b7c8d9.0"},
            "apns": {"payload": {"aps": {"alert": {"subtitle": "Tomorrow"}}}},
        }})
    );

    fcm.send("device-token-2", &push(at(3500))).await.unwrap();
    assert_eq!(fake.exchanges().len(), 1, "the access token is kept");
    fcm.send("device-token-2", &push(at(3560))).await.unwrap();
    assert_eq!(fake.exchanges().len(), 2, "a new token a minute before the old one expires");
    assert_eq!(fake.sends()[2].headers["authorization"], "Bearer ya29.test-access-token-2");
}

#[tokio::test]
async fn a_refused_access_token_is_renewed_once() {
    let fake = FcmFake::start().await;
    let fcm = client(&fake);
    fcm.send("device-token-1", &push(at(0))).await.unwrap();
    fake.revoke_access_tokens();
    let receipt = fcm.send("device-token-1", &push(at(60))).await.unwrap();
    assert_eq!(receipt.response_code, Some(200));
    assert_eq!(fake.exchanges().len(), 2);
    let sends = fake.sends();
    assert_eq!(sends.len(), 3);
    assert_eq!(sends[1].headers["authorization"], "Bearer ya29.test-access-token-1");
    assert_eq!(sends[2].headers["authorization"], "Bearer ya29.test-access-token-2");

    let unauthenticated =
        (401, json!({"error": {"code": 401, "status": "UNAUTHENTICATED", "message": "Request had invalid authentication credentials."}}));
    fake.answer("device-token-1", unauthenticated.clone(), None);
    fake.answer("device-token-1", unauthenticated, None);
    let error = fcm.send("device-token-1", &push(at(120))).await.unwrap_err();
    assert_eq!((error.response_code, error.transient), (Some(401), false), "{error:?}");
    assert_eq!(fake.exchanges().len(), 3, "renewed once, not again");
    assert_eq!(fake.sends().len(), 5);
}

#[tokio::test]
async fn unregistered_and_invalid_tokens_are_gone_and_busy_answers_are_retried() {
    let fake = FcmFake::start().await;
    let fcm = client(&fake);
    fake.answer("old", unregistered(), None);
    let error = fcm.send("old", &push(at(0))).await.unwrap_err();
    assert_eq!(error.reason, "FCM answered 404 UNREGISTERED");
    assert_eq!((error.transient, error.response_code), (false, Some(404)));
    assert_eq!(error.gone_devices.0, [herald_core::resources::user::DeviceToken { platform: Platform::Android, token: "old".into() }]);
    assert!(error.response.as_deref().unwrap().contains("UNREGISTERED"));

    fake.answer("garbage", invalid_token(), None);
    let error = fcm.send("garbage", &push(at(0))).await.unwrap_err();
    assert_eq!(error.reason, "FCM answered 400 INVALID_ARGUMENT");
    assert_eq!(error.gone_devices.0.len(), 1);

    let bad_payload = (
        400,
        json!({"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": "Invalid value at 'message.data[0].value'",
        "details": [{"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [{"field": "message.data[0].value", "description": "Invalid value"}]},
                    {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "INVALID_ARGUMENT"}]}}),
    );
    fake.answer("fine", bad_payload, None);
    let error = fcm.send("fine", &push(at(0))).await.unwrap_err();
    assert!(error.gone_devices.is_empty(), "a bad payload says nothing about the token");
    assert!(!error.transient);

    fake.answer("fine", quota_exceeded(), Some(30));
    let error = fcm.send("fine", &push(at(0))).await.unwrap_err();
    assert_eq!(error.reason, "FCM answered 429 QUOTA_EXCEEDED");
    assert!(error.transient);
    assert_eq!(error.retry_after, Some(Duration::from_secs(30)));
    assert!(error.gone_devices.is_empty());

    let unavailable = (
        503,
        json!({"error": {"code": 503, "status": "UNAVAILABLE", "message": "The service is currently unavailable.",
        "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "UNAVAILABLE"}]}}),
    );
    fake.answer("fine", unavailable, None);
    let error = fcm.send("fine", &push(at(0))).await.unwrap_err();
    assert_eq!((error.transient, error.retry_after), (true, None));
}

#[test]
fn push_data_goes_to_android_and_apns_as_given() {
    let data = json!({"android": {"priority": "high", "notification": {"title": "Hi", "body": "There"}}, "apns": {"payload": {"aps": {"badge": 1}}}});
    let with_data = Push { title: None, subtitle: None, body: None, data: Some(&data), key: "k.1", at: at(0) };
    assert_eq!(
        message("t", &with_data),
        json!({"message": {"token": "t", "data": {"heraldMessageId": "k.1"},
            "android": {"priority": "high", "notification": {"title": "Hi", "body": "There"}}, "apns": {"payload": {"aps": {"badge": 1}}}}})
    );
}

#[test]
fn configuration_errors_name_the_setting_and_never_the_key() {
    let config = |account: Option<&str>| FcmConfig {
        service_account: account.map(Secret::new),
        service_account_file: None,
        project_id: None,
        token_url: None,
        send_url: default_send_url(),
        timeout_seconds: 5,
    };
    let error = |account| FcmClient::new(&config(account)).err().unwrap();
    assert!(error(None).contains("service_account"));
    assert!(error(Some("not json")).contains("service account"));
    let secret_key = r#"{"client_email": "a@b", "private_key": "-----BEGIN PRIVATE KEY-----\nsecret-bits\n-----END PRIVATE KEY-----\n", "project_id": "p"}"#;
    let message = error(Some(secret_key));
    assert!(message.contains("private_key") && !message.contains("secret-bits"), "{message}");
    let no_project = json!({"client_email": "a@b", "private_key": herald_testkit::fcm::SERVICE_ACCOUNT_KEY}).to_string();
    assert!(error(Some(&no_project)).contains("project_id"));
}
