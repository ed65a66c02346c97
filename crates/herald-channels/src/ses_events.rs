//! SES's reports about sent emails — event publishing's `eventType` or the identity
//! notifications' `notificationType`, with `mail.messageId` = the `MessageId` `SendEmail`
//! answered — read as Herald statuses:
//!
//! | SES | Herald |
//! | --- | --- |
//! | `Delivery` | `delivered` |
//! | `Bounce` with `bounceType` `Permanent` | `bounced` |
//! | `Bounce` `Transient` or `Undetermined` | nothing: SES keeps trying, or it says no more |
//! | `Complaint` | `complained` |
//! | `Reject`, `Rendering Failure` | `FAILURE` |
//! | `Open` | `read` |
//! | anything else (`Send`, `Click`, `DeliveryDelay`, `Subscription`) | nothing |
//!
//! The detail kept says what kind of bounce, complaint or rejection it was; never an address
//! or the diagnostic text, which quotes them.

use herald_core::notification::MessageStatus;
use serde_json::Value;

/// What an SES event says about one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SesReport {
    /// SES's message id.
    pub message_id: String,
    /// Its new status.
    pub status: MessageStatus,
    /// The kind of bounce, complaint or rejection.
    pub detail: Option<String>,
}

/// Reads an SES event; `Ok(None)` for an event that changes no status, `Err` when the text is
/// not an SES event.
pub fn read_event(text: &str) -> Result<Option<SesReport>, String> {
    let event: Value = serde_json::from_str(text).map_err(|_| "the message is not JSON".to_string())?;
    let kind = event.get("eventType").or_else(|| event.get("notificationType")).and_then(Value::as_str);
    let kind = kind.ok_or_else(|| "the message is not an SES event (no eventType)".to_string())?;
    let message_id = event.pointer("/mail/messageId").and_then(Value::as_str);
    let message_id = message_id.ok_or_else(|| "the SES event has no mail.messageId".to_string())?.to_string();
    let text_at = |pointer: &str| event.pointer(pointer).and_then(Value::as_str).map(short);
    let (status, detail) = match kind {
        "Delivery" => (MessageStatus::Delivered, None),
        "Bounce" if text_at("/bounce/bounceType").as_deref() == Some("Permanent") => {
            let sub = text_at("/bounce/bounceSubType").unwrap_or_else(|| "General".into());
            (MessageStatus::Bounced, Some(format!("permanent bounce ({sub})")))
        }
        "Complaint" => {
            let feedback = text_at("/complaint/complaintFeedbackType");
            (MessageStatus::Complained, Some(feedback.map_or_else(|| "complaint".to_string(), |f| format!("complaint ({f})"))))
        }
        "Reject" => (MessageStatus::Failed, Some(format!("rejected by SES ({})", text_at("/reject/reason").unwrap_or_default()))),
        "Rendering Failure" => (MessageStatus::Failed, Some("SES could not render the template".to_string())),
        "Open" => (MessageStatus::Read, None),
        _ => return Ok(None),
    };
    Ok(Some(SesReport { message_id, status, detail }))
}

/// A value fit for a detail: at most 64 characters, no control characters.
fn short(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report(event: Value) -> Option<SesReport> {
        read_event(&event.to_string()).unwrap()
    }

    #[test]
    fn events_map_to_statuses() {
        let mail = json!({"messageId": "0100-abc", "destination": ["patient@example.org"]});
        let delivered = report(json!({"eventType": "Delivery", "mail": mail, "delivery": {"recipients": ["patient@example.org"]}}));
        assert_eq!(delivered, Some(SesReport { message_id: "0100-abc".into(), status: MessageStatus::Delivered, detail: None }));
        let bounced = report(json!({"eventType": "Bounce", "mail": mail, "bounce": {"bounceType": "Permanent", "bounceSubType": "NoEmail",
            "bouncedRecipients": [{"emailAddress": "patient@example.org", "diagnosticCode": "smtp; 550 patient@example.org unknown"}]}}))
        .unwrap();
        assert_eq!((bounced.status, bounced.detail.as_deref()), (MessageStatus::Bounced, Some("permanent bounce (NoEmail)")));
        assert_eq!(report(json!({"eventType": "Bounce", "mail": mail, "bounce": {"bounceType": "Transient"}})), None);
        let complained = report(json!({"notificationType": "Complaint", "mail": mail, "complaint": {"complaintFeedbackType": "abuse"}}));
        assert_eq!(complained.unwrap().status, MessageStatus::Complained);
        let rejected = report(json!({"eventType": "Reject", "mail": mail, "reject": {"reason": "Bad content"}})).unwrap();
        assert_eq!((rejected.status, rejected.detail.as_deref()), (MessageStatus::Failed, Some("rejected by SES (Bad content)")));
        assert_eq!(report(json!({"eventType": "Rendering Failure", "mail": mail})).unwrap().status, MessageStatus::Failed);
        assert_eq!(report(json!({"eventType": "Open", "mail": mail})).unwrap().status, MessageStatus::Read);
        assert_eq!(report(json!({"eventType": "Send", "mail": mail})), None);
        assert!(read_event("{}").is_err() && read_event("nope").is_err());
        assert!(read_event(&json!({"eventType": "Delivery"}).to_string()).is_err());
    }
}
