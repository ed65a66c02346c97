//! The email itself (RFC 5322, built with lettre), the same for every email provider: SMTP
//! sends it as is, SES sends it raw when it has attachments.
//!
//! - Structure: `multipart/alternative` with a text and an HTML part when both are rendered;
//!   with attachments, that body comes first in a `multipart/mixed` followed by one part per
//!   file. The `Message-ID` is derived from the message's idempotency key, so a retry after a
//!   lost answer carries the same id and receivers can drop the copy.
//! - `Reply-To`: `POST /send`'s `emailReplyTo`, else the provider's `reply_to` setting.
//! - `List-Unsubscribe: <url>` and `List-Unsubscribe-Post: List-Unsubscribe=One-Click`
//!   (RFC 2369, RFC 8058) only on messages whose event is one of the provider's
//!   `unsubscribe_events` and only when `unsubscribe_url` is set. Those are the
//!   non-transactional types a patient may stop at once (by default seed 05's `welcome`);
//!   appointment, budget, clinical and manual messages are transactional and never carry it,
//!   since a patient must not lose them by one click in a mail client. The URL (https only, as
//!   RFC 8058 asks) may hold `{tenant}`, `{user}` and `{event}`, filled in percent-encoded.
//! - Header injection: values that reach headers are refused at the edge when they hold CR, LF
//!   or other control characters (`POST /send`, templates, SMTP settings); a rendered subject,
//!   which template data can still shape, has its control characters replaced by spaces here.

use crate::{Attachment, Outgoing, SendError};
use herald_core::render::Content;
use lettre::Message;
use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// What is percent-encoded in a value put into the unsubscribe URL: all but RFC 3986's
/// unreserved characters.
const URL_VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// The event types that carry `List-Unsubscribe` unless configured otherwise.
pub fn default_unsubscribe_events() -> Vec<String> {
    vec!["welcome".to_string()]
}

/// The sender-side settings every email provider shares.
#[derive(Clone, Debug)]
pub(crate) struct MailSettings {
    /// The sender, unless a send overrides it.
    pub(crate) from: Mailbox,
    /// Where replies go, unless a send says.
    pub(crate) reply_to: Option<Mailbox>,
    /// The one-click unsubscribe URL template.
    pub(crate) unsubscribe_url: Option<String>,
    /// The event names whose messages carry `List-Unsubscribe`.
    pub(crate) unsubscribe_events: Vec<String>,
}

impl MailSettings {
    /// Checks the configured values; the error names the setting (under `prefix`).
    pub(crate) fn new(
        prefix: &str,
        from: &str,
        reply_to: Option<&str>,
        unsubscribe_url: Option<&str>,
        unsubscribe_events: &[String],
    ) -> Result<Self, String> {
        let from: Mailbox = from.parse().map_err(|_| format!("{prefix}.from is not an email address"))?;
        let reply_to = reply_to.map(|r| r.parse().map_err(|_| format!("{prefix}.reply_to is not an email address"))).transpose()?;
        let unsafe_url = |url: &str| !url.starts_with("https://") || url.chars().any(|c| c.is_control() || c.is_whitespace() || c == '>');
        if unsubscribe_url.is_some_and(unsafe_url) {
            return Err(format!("{prefix}.unsubscribe_url must be an https URL (RFC 8058)"));
        }
        Ok(Self { from, reply_to, unsubscribe_url: unsubscribe_url.map(str::to_string), unsubscribe_events: unsubscribe_events.to_vec() })
    }

    /// The sender of `outgoing`: the send's override, else the configured one.
    pub(crate) fn sender(&self, outgoing: &Outgoing) -> Result<Mailbox, SendError> {
        outgoing.email.sender.as_deref().map_or_else(|| Ok(self.from.clone()), mailbox)
    }

    /// Where replies to `outgoing` go.
    pub(crate) fn reply_to(&self, outgoing: &Outgoing) -> Result<Option<Mailbox>, SendError> {
        match outgoing.email.reply_to.as_deref() {
            Some(address) => mailbox(address).map(Some),
            None => Ok(self.reply_to.clone()),
        }
    }

    /// The `List-Unsubscribe` URL of `outgoing`, when its event type allows one.
    pub(crate) fn unsubscribe(&self, outgoing: &Outgoing) -> Option<String> {
        let url = self.unsubscribe_url.as_ref()?;
        let event = outgoing.event.get("name").and_then(|n| n.as_str())?;
        if !self.unsubscribe_events.iter().any(|e| e == event) {
            return None;
        }
        let encode = |value: &str| utf8_percent_encode(value, URL_VALUE).to_string();
        Some(
            url.replace("{tenant}", &encode(&outgoing.tenant))
                .replace("{user}", &encode(&outgoing.recipient.id))
                .replace("{event}", &encode(event)),
        )
    }
}

/// `address` as a mailbox.
pub(crate) fn mailbox(address: &str) -> Result<Mailbox, SendError> {
    address.parse::<Mailbox>().map_err(|_| SendError::permanent("an email address is not valid"))
}

/// The rendered email content: subject (control characters replaced by spaces), text, HTML.
pub(crate) fn email_content(outgoing: &Outgoing) -> Result<(String, Option<&String>, Option<&String>), SendError> {
    let Some(Content::Email { subject, text, html }) = &outgoing.content else {
        return Err(SendError::permanent("an email needs email content"));
    };
    if text.is_none() && html.is_none() {
        return Err(SendError::permanent("an email needs a body"));
    }
    let subject = subject.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    Ok((subject, text.as_ref(), html.as_ref()))
}

/// The recipient's address.
pub(crate) fn recipient(outgoing: &Outgoing) -> Result<&str, SendError> {
    outgoing.recipient.email_address.as_ref().map(|a| a.as_str()).ok_or_else(|| SendError::permanent("the recipient has no email address"))
}

/// The email for `outgoing`; errors are permanent (the message cannot be built).
pub(crate) fn message(settings: &MailSettings, outgoing: &Outgoing) -> Result<Message, SendError> {
    let (subject, text, html) = email_content(outgoing)?;
    let from = settings.sender(outgoing)?;
    let domain = from.email.domain().to_string();
    let mut builder = Message::builder()
        .from(from)
        .to(mailbox(recipient(outgoing)?)?)
        .subject(subject)
        .message_id(Some(format!("<{}@{domain}>", outgoing.idempotency_key)));
    for cc in &outgoing.email.carbon_copies {
        builder = builder.cc(mailbox(cc)?);
    }
    for bcc in &outgoing.email.blind_carbon_copies {
        builder = builder.bcc(mailbox(bcc)?);
    }
    if let Some(reply_to) = settings.reply_to(outgoing)? {
        builder = builder.reply_to(reply_to);
    }
    if let Some(url) = settings.unsubscribe(outgoing) {
        builder = builder.header(ListUnsubscribe(format!("<{url}>"))).header(ListUnsubscribePost);
    }
    let body = match (text, html) {
        (Some(text), Some(html)) => Body::Alternative(MultiPart::alternative_plain_html(text.clone(), html.clone())),
        (None, Some(html)) => Body::Single(SinglePart::builder().header(ContentType::TEXT_HTML).body(html.clone())),
        (Some(text), _) => Body::Single(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(text.clone())),
        (None, None) => return Err(SendError::permanent("an email needs a body")),
    };
    let built = match (body, with_attachments(&outgoing.attachments)?) {
        (Body::Alternative(alternative), Some(attach)) => builder.multipart(attach(MultiPart::mixed().multipart(alternative))),
        (Body::Single(single), Some(attach)) => builder.multipart(attach(MultiPart::mixed().singlepart(single))),
        (Body::Alternative(alternative), None) => builder.multipart(alternative),
        (Body::Single(single), None) => builder.singlepart(single),
    };
    built.map_err(|e| SendError::permanent(format!("the email cannot be built: {e}")))
}

/// An email's text: one part, or the text and HTML alternatives.
enum Body {
    Single(SinglePart),
    Alternative(MultiPart),
}

/// What appends `attachments` after the body of a `multipart/mixed` email, each as an
/// `attachment` part with its file name and content type (binary files in base64); `None`
/// without attachments, so such emails keep their plain structure.
fn with_attachments(attachments: &[Attachment]) -> Result<Option<impl FnOnce(MultiPart) -> MultiPart>, SendError> {
    if attachments.is_empty() {
        return Ok(None);
    }
    let parts = attachments
        .iter()
        .map(|file| {
            let content_type =
                ContentType::parse(&file.content_type).map_err(|_| SendError::permanent("an attachment's content type is not valid"))?;
            Ok(lettre::message::Attachment::new(file.filename.clone()).body(file.content.clone(), content_type))
        })
        .collect::<Result<Vec<_>, SendError>>()?;
    Ok(Some(move |mixed: MultiPart| parts.into_iter().fold(mixed, MultiPart::singlepart)))
}

/// `List-Unsubscribe` (RFC 2369): the URL in angle brackets.
#[derive(Clone)]
struct ListUnsubscribe(String);

impl Header for ListUnsubscribe {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe")
    }

    fn parse(value: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(value.to_string()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058).
#[derive(Clone)]
struct ListUnsubscribePost;

/// The only value RFC 8058 defines.
pub(crate) const ONE_CLICK: &str = "List-Unsubscribe=One-Click";

impl Header for ListUnsubscribePost {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe-Post")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), ONE_CLICK.to_string())
    }
}
