//! The SMTP provider against a real SMTP server in the test process: `Reply-To` from the
//! settings or the send, `List-Unsubscribe` with one-click only on the configured
//! non-transactional types, and no header injection through a rendered subject.

use herald_channels::{Outgoing, Provider, SmtpConfig, SmtpProvider, SmtpSecurity};
use herald_core::notification::EmailOptions;
use herald_core::render::Content;
use herald_testkit::smtp::SmtpSink;
use serde_json::json;

fn provider(sink: &SmtpSink, unsubscribe_url: Option<&str>) -> SmtpProvider {
    SmtpProvider::new(&SmtpConfig {
        security: SmtpSecurity::Plain,
        timeout_seconds: 5,
        max_connections: 1,
        reply_to: Some("front-desk@sanluca.example".into()),
        unsubscribe_url: unsubscribe_url.map(str::to_string),
        unsubscribe_events: vec!["welcome".into(), "newsletter".into()],
        ..SmtpConfig::new("127.0.0.1", sink.port, "Clinica San Luca <noreply@sanluca.example>")
    })
    .unwrap()
}

fn outgoing(event: &str, subject: &str) -> Outgoing {
    Outgoing {
        idempotency_key: format!("{event}.0"),
        tenant: "san-luca".into(),
        recipient: serde_json::from_value(json!({"id": "patient-1", "emailAddress": "ada@example.org"})).unwrap(),
        content: Some(Content::Email { subject: subject.into(), text: Some("Hello Ada".into()), html: None }),
        email: EmailOptions::default(),
        attachments: Vec::new(),
        event: json!({"name": event}),
        at: "2027-01-15T08:00:00Z".parse().unwrap(),
    }
}

/// The header block of the last received mail, unfolded.
fn headers(sink: &SmtpSink) -> String {
    let data = String::from_utf8(sink.received().last().unwrap().data.clone()).unwrap();
    let head = data.split("\r\n\r\n").next().unwrap().to_string();
    head.replace("\r\n ", " ").replace("\r\n\t", " ")
}

#[tokio::test]
async fn non_transactional_types_carry_one_click_unsubscribe() {
    let sink = SmtpSink::start();
    let smtp = provider(&sink, Some("https://sanluca.example/unsubscribe?tenant={tenant}&user={user}&type={event}"));
    smtp.send(&outgoing("welcome", "Welcome")).await.unwrap();
    let head = headers(&sink);
    assert!(head.contains("List-Unsubscribe: <https://sanluca.example/unsubscribe?tenant=san-luca&user=patient-1&type=welcome>"), "{head}");
    assert!(head.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"), "{head}");
    assert!(head.contains("Reply-To: front-desk@sanluca.example"), "{head}");

    smtp.send(&outgoing("appointment_reminder", "Your appointment")).await.unwrap();
    let head = headers(&sink);
    assert!(!head.contains("List-Unsubscribe"), "transactional messages never carry it: {head}");

    let without_url = provider(&sink, None);
    without_url.send(&outgoing("welcome", "Welcome")).await.unwrap();
    assert!(!headers(&sink).contains("List-Unsubscribe"), "no URL, no header");
}

#[tokio::test]
async fn a_send_overrides_reply_to() {
    let sink = SmtpSink::start();
    let mut message = outgoing("appointment_reminder", "Your appointment");
    message.email.reply_to = Some("dr.rossi@sanluca.example".into());
    provider(&sink, None).send(&message).await.unwrap();
    let head = headers(&sink);
    assert!(head.contains("Reply-To: dr.rossi@sanluca.example") && !head.contains("front-desk"), "{head}");
}

#[tokio::test]
async fn a_rendered_subject_cannot_inject_headers() {
    let sink = SmtpSink::start();
    provider(&sink, None).send(&outgoing("appointment_reminder", "Hi\r\nBcc: spy@evil.example\r\nX-Injected: yes")).await.unwrap();
    let mail = sink.received().pop().unwrap();
    assert_eq!(mail.to, ["ada@example.org"], "no extra recipient");
    let head = headers(&sink);
    assert!(!head.lines().any(|l| l.starts_with("Bcc:") || l.starts_with("X-Injected:")), "{head}");
}

#[tokio::test]
async fn unsubscribe_urls_must_be_https() {
    let sink = SmtpSink::start();
    let config = |url: &str| SmtpConfig {
        security: SmtpSecurity::Plain,
        timeout_seconds: 5,
        max_connections: 1,
        unsubscribe_url: Some(url.into()),
        unsubscribe_events: Vec::new(),
        ..SmtpConfig::new("127.0.0.1", sink.port, "noreply@sanluca.example")
    };
    assert!(SmtpProvider::new(&config("http://sanluca.example/u")).is_err());
    assert!(SmtpProvider::new(&config("https://sanluca.example/u>\r\nX: y")).is_err());
    assert!(SmtpProvider::new(&config("https://sanluca.example/u")).is_ok());
}
