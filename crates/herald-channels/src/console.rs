//! The console provider, for development: accepts every message and logs that it went out
//! (channel, tenant, idempotency key, content size) — never its content or address, which may
//! be patient data.
//!
//! With `print = true` (seed 05's console email provider: "prints emails to console instead of
//! sending") it also writes each message — recipient, subject and body — to standard output,
//! outside the log pipeline. Only the operator's own configuration can turn that on (a
//! tenant's `console` entry cannot, see `tenant_providers`), and `EMAIL_PROVIDER=console` does;
//! it is for a developer's machine, never for patient data.

use crate::{Outgoing, Provider, Receipt, SendError};
use async_trait::async_trait;
use herald_core::render::Content;
use serde::{Deserialize, Serialize};
use std::io::Write;

/// The console provider's settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Writes each message's recipient, subject and body to standard output.
    pub print: bool,
}

/// Accepts every message, logging only where it would have gone (and, when configured,
/// printing it).
#[derive(Clone, Debug, Default)]
pub struct ConsoleProvider {
    print: bool,
}

impl ConsoleProvider {
    /// A console provider with `config`'s settings.
    pub fn new(config: &ConsoleConfig) -> Self {
        Self { print: config.print }
    }
}

/// The message as a developer reads it on the console.
fn printed(outgoing: &Outgoing) -> String {
    let user = &outgoing.recipient;
    let address = |value: Option<String>| value.unwrap_or_else(|| "-".into());
    let (to, body) = match &outgoing.content {
        Some(Content::Email { subject, text, html }) => {
            let body = text.clone().or_else(|| html.clone()).unwrap_or_default();
            (address(user.email_address.as_ref().map(|a| a.as_str().to_string())), format!("Subject: {subject}\n\n{body}"))
        }
        Some(Content::Sms { body } | Content::Voice { body } | Content::WhatsappText { body }) => {
            (address(user.phone_number.as_ref().map(|p| p.as_str().to_string())), body.clone())
        }
        Some(Content::Push { title, body, .. }) => {
            (user.id.clone(), format!("{}\n{}", title.clone().unwrap_or_default(), body.clone().unwrap_or_default()))
        }
        Some(Content::Whatsapp { template_name, parameters, .. }) => {
            (address(user.phone_number.as_ref().map(|p| p.as_str().to_string())), format!("template {template_name} {parameters:?}"))
        }
        None => (user.id.clone(), outgoing.event.to_string()),
    };
    format!("----- console: message {} for tenant {} to {to}\n{body}\n-----\n", outgoing.idempotency_key, outgoing.tenant)
}

#[async_trait]
impl Provider for ConsoleProvider {
    fn name(&self) -> &'static str {
        "console"
    }

    async fn send(&self, outgoing: &Outgoing) -> Result<Receipt, SendError> {
        let size = outgoing.content.as_ref().and_then(|c| serde_json::to_string(c).ok()).map_or(0, |c| c.len());
        tracing::info!(tenant = %outgoing.tenant, key = %outgoing.idempotency_key, bytes = size, "console provider: message accepted");
        if self.print {
            let _ = std::io::stdout().lock().write_all(printed(outgoing).as_bytes());
        }
        Ok(Receipt { provider_message_id: Some(format!("console-{}", outgoing.idempotency_key)), ..Receipt::default() })
    }

    async fn healthcheck(&self) -> Result<(), SendError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn outgoing(content: Content) -> Outgoing {
        Outgoing {
            idempotency_key: "n1.0".into(),
            tenant: "san-luca".into(),
            recipient: serde_json::from_value(json!({"id": "p1", "emailAddress": "ada@example.org", "phoneNumber": "+390612345678"}))
                .unwrap(),
            content: Some(content),
            email: Default::default(),
            attachments: Vec::new(),
            event: json!({}),
            at: "2027-01-15T08:00:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn printed_messages_show_recipient_subject_and_body() {
        let email = outgoing(Content::Email { subject: "Your appointment".into(), text: Some("See you".into()), html: None });
        assert_eq!(
            printed(&email),
            "----- console: message n1.0 for tenant san-luca to ada@example.org\nSubject: Your appointment\n\nSee you\n-----\n"
        );
        let sms = outgoing(Content::Sms { body: "Reminder".into() });
        assert!(printed(&sms).contains("to +390612345678\nReminder\n"));
    }

    #[test]
    fn the_console_is_quiet_unless_told_to_print() {
        let config: ConsoleConfig = serde_json::from_value(json!({})).unwrap();
        assert!(!ConsoleProvider::new(&config).print);
        let loud: ConsoleConfig = serde_json::from_value(json!({"print": true})).unwrap();
        assert!(ConsoleProvider::new(&loud).print);
    }
}
