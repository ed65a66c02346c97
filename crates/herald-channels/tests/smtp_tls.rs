//! The SMTP provider's connection security against a real SMTP server in the test process:
//! STARTTLS with `AUTH PLAIN` (which the server accepts only inside TLS), implicit TLS (port
//! 465 style), a certificate that no trusted authority signed, a wrong password, and several
//! messages over one pooled connection.

use herald_channels::{Outgoing, Provider, SmtpConfig, SmtpProvider, SmtpSecurity};
use herald_core::notification::EmailOptions;
use herald_core::render::Content;
use herald_core::secrets::Secret;
use herald_testkit::smtp::{ImplicitTlsFront, SinkOptions, SmtpSink, TEST_CA_PEM};
use serde_json::json;

const USER: &str = "clinic-relay";
const PASSWORD: &str = "s3cret-relay-password";

fn config(port: u16, security: SmtpSecurity) -> SmtpConfig {
    SmtpConfig {
        security,
        max_connections: 1,
        root_certificate: Some(TEST_CA_PEM.into()),
        ..SmtpConfig::new("127.0.0.1", port, "Clinica San Luca <noreply@sanluca.example>")
    }
}

fn with_login(mut config: SmtpConfig, password: &str) -> SmtpConfig {
    config.username = Some(USER.into());
    config.password = Some(Secret::new(password));
    config
}

fn outgoing(n: usize) -> Outgoing {
    Outgoing {
        idempotency_key: format!("notification-{n}.0"),
        tenant: "san-luca".into(),
        recipient: serde_json::from_value(json!({"id": "patient-1", "emailAddress": "ada@example.org"})).unwrap(),
        content: Some(Content::Email { subject: format!("Reminder {n}"), text: Some("See you tomorrow".into()), html: None }),
        email: EmailOptions::default(),
        attachments: Vec::new(),
        event: json!({"name": "appointment_reminder"}),
        at: "2027-01-15T08:00:00Z".parse().unwrap(),
    }
}

fn secured_sink() -> SmtpSink {
    SmtpSink::start_with(SinkOptions { starttls: true, credentials: Some((USER.into(), PASSWORD.into())) })
}

#[tokio::test]
async fn starttls_then_auth_plain_delivers() {
    let sink = secured_sink();
    let smtp = SmtpProvider::new(&with_login(config(sink.port, SmtpSecurity::Starttls), PASSWORD)).unwrap();
    let receipt = smtp.send(&outgoing(1)).await.unwrap();
    assert_eq!(receipt.response_code, Some(250));
    assert_eq!(sink.logins(), [USER], "the server offers AUTH only after STARTTLS, so the login proves the upgrade");
    let mail = sink.received();
    assert_eq!((mail.len(), mail[0].to.as_slice()), (1, ["ada@example.org".to_string()].as_slice()));
}

#[tokio::test]
async fn implicit_tls_delivers() {
    let sink = SmtpSink::start();
    let front = ImplicitTlsFront::start(sink.port).await;
    let smtp = SmtpProvider::new(&config(front.port, SmtpSecurity::Tls)).unwrap();
    smtp.send(&outgoing(1)).await.unwrap();
    assert_eq!(front.handshakes(), 1, "the session was TLS from the first byte");
    assert_eq!(sink.received().len(), 1);
}

#[tokio::test]
async fn a_certificate_from_an_untrusted_authority_is_refused() {
    let sink = secured_sink();
    let mut untrusting = with_login(config(sink.port, SmtpSecurity::Starttls), PASSWORD);
    untrusting.root_certificate = None;
    let smtp = SmtpProvider::new(&untrusting).unwrap();
    assert!(smtp.send(&outgoing(1)).await.is_err(), "the test authority is not a public one");
    assert!(sink.received().is_empty() && sink.logins().is_empty(), "nothing was sent, no password went out");
    let mut garbled = config(sink.port, SmtpSecurity::Starttls);
    garbled.root_certificate = Some("not a certificate".into());
    assert!(SmtpProvider::new(&garbled).err().unwrap().contains("root_certificate"));
}

#[tokio::test]
async fn a_wrong_password_fails_for_good() {
    let sink = secured_sink();
    let smtp = SmtpProvider::new(&with_login(config(sink.port, SmtpSecurity::Starttls), "wrong")).unwrap();
    let error = smtp.send(&outgoing(1)).await.unwrap_err();
    assert!(!error.transient, "{error:?}");
    assert_eq!(error.response_code, Some(535));
    assert!(sink.received().is_empty());
}

#[tokio::test]
async fn messages_share_a_pooled_connection() {
    let sink = secured_sink();
    let smtp = SmtpProvider::new(&with_login(config(sink.port, SmtpSecurity::Starttls), PASSWORD)).unwrap();
    for n in 1..=3 {
        smtp.send(&outgoing(n)).await.unwrap();
    }
    assert_eq!(sink.received().len(), 3);
    let logins = sink.logins().len();
    assert!((1..3).contains(&logins), "a pooled connection carried more than one message ({logins} logins for 3)");
}
