//! SMS consent (DESIGN.md): what a recipient's reply to a tenant's SMS number asks for.
//!
//! - A STOP-family reply ([`herald_core::sms::keyword`]) records an opt-out of the tenant's
//!   SMS for that number at once — the next SMS to it is skipped
//!   ([`crate::delivery::sms::OPTED_OUT`]) — and is answered with one confirmation; a repeated
//!   STOP changes nothing and is not confirmed again.
//! - START / UNSTOP / YES from an opted-out number restores its SMS, confirmed once; from a
//!   number that never opted out it changes nothing and gets no answer.
//! - HELP / INFO is answered with the clinic's name and contact (its profile's phone and
//!   email) and how to stop.
//! - Anything else gets no answer.
//!
//! Every consent change is audited (`sms_consent.opt_out` / `sms_consent.opt_in`, actor
//! `sms_reply`), the number masked in the target (`sms_consent/+*******4567`).
//!
//! Twilio's own Advanced Opt-Out (on Messaging Services) may also answer STOP and block the
//! number at Twilio; Herald records the opt-out either way, so SMS through any provider stop.

use crate::audit::{self, AuditEntry};
use crate::message_log::mask;
use crate::{EngineError, lookups};
use herald_core::clock::Clock;
use herald_core::sms::{Keyword, keyword};
use herald_core::values::E164;
use herald_store::Store;
use serde_json::{Value, json};
use std::sync::Arc;

/// Applies `body`, a reply from `from` to the tenant's SMS number; answers the text to send
/// back, if any. `source` is where the webhook came from, for the audit trail.
pub async fn receive(
    store: &Arc<dyn Store>,
    clock: &Arc<dyn Clock>,
    tenant: &str,
    from: &E164,
    body: &str,
    source: Option<String>,
) -> Result<Option<String>, EngineError> {
    let clinic = lookups::tenant_variables(store, tenant).await?;
    let Some(name) = clinic.get("name").and_then(Value::as_str) else {
        return Err(EngineError::NotFound("tenant"));
    };
    let Some(keyword) = keyword(body) else { return Ok(None) };
    let opted_out = match keyword {
        Keyword::Help => return Ok(Some(help(name, &clinic))),
        Keyword::Stop => true,
        Keyword::Start => false,
    };
    if !store.set_sms_opt_out(tenant, from.as_str(), opted_out, clock.now()).await? {
        return Ok(None);
    }
    let action = if opted_out { "sms_consent.opt_out" } else { "sms_consent.opt_in" };
    let entry = AuditEntry {
        tenant: tenant.to_string(),
        actor: "sms_reply".into(),
        action: action.into(),
        target: format!("sms_consent/{}", mask(from.as_str())),
        changes: json!({"channel": "sms", "optedOut": opted_out}),
        source,
    };
    audit::record(store, clock, entry).await?;
    Ok(Some(if opted_out {
        format!("{name}: you will receive no more text messages from us. Reply START to receive them again.")
    } else {
        format!("{name}: you will receive our text messages again. Reply STOP to stop them.")
    }))
}

/// The answer to HELP: the clinic and how to reach it.
fn help(name: &str, clinic: &Value) -> String {
    let contact: Vec<&str> = ["phone", "email"].iter().filter_map(|field| clinic.get(*field).and_then(Value::as_str)).collect();
    if contact.is_empty() {
        format!("{name}. Reply STOP to receive no more text messages.")
    } else {
        format!("{name}: contact us at {}. Reply STOP to receive no more text messages.", contact.join(" or "))
    }
}
