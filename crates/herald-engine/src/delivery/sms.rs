//! What an SMS must pass before its provider is called, in this order:
//!
//! 1. **Consent** (DESIGN.md): a number that replied STOP to the tenant
//!    ([`crate::sms_consent`]) gets no SMS; the message is `skipped` with reason
//!    [`OPTED_OUT`] (in the notification and the message log), and its next fallback channel,
//!    if any, is queued instead.
//! 2. **Length**: a body over 1600 characters (or empty) fails for good, never cut short
//!    ([`herald_core::sms`]).
//! 3. **Abuse safeguards** ([`herald_core::sms_safeguards`]): the per-number limit and the
//!    exponential delay between repeats; a message over them is deferred through the job
//!    table to the time they allow, keeping its attempts. The usage record is updated by
//!    compare-and-swap, so Herald instances sharing a PostgreSQL database agree on it.

use super::Inner;
use crate::EngineError;
use herald_channels::Outgoing;
use herald_core::render::Content;
use herald_core::sms::check_body;
use jiff::Timestamp;

/// The reason an SMS to a number that replied STOP is skipped.
pub const OPTED_OUT: &str = "opted_out";

/// Rounds of compare-and-swap before an SMS is deferred a second to try again.
const SWAP_ROUNDS: usize = 5;

/// What becomes of an SMS before its provider is called.
pub(super) enum Gate {
    /// It goes now.
    Go,
    /// It is not sent, and its fallback is used.
    Skip(String),
    /// It fails for good.
    Fail(String),
    /// It waits until then.
    Defer(Timestamp),
}

impl Inner {
    /// Whether `outgoing`, an SMS of `tenant`, may go at `now`.
    pub(super) async fn sms_gate(&self, tenant: &str, outgoing: &Outgoing, now: Timestamp) -> Result<Gate, EngineError> {
        let Some(phone) = outgoing.recipient.phone_number.as_ref().map(|p| p.as_str()) else { return Ok(Gate::Go) };
        if self.store.sms_opted_out(tenant, phone).await? {
            return Ok(Gate::Skip(OPTED_OUT.into()));
        }
        if let Some(Content::Sms { body }) = &outgoing.content
            && let Err(reason) = check_body(body)
        {
            return Ok(Gate::Fail(reason));
        }
        let rules = &self.config.sms_safeguards;
        if !rules.enabled {
            return Ok(Gate::Go);
        }
        for _ in 0..SWAP_ROUNDS {
            let usage = self.store.sms_number_usage(tenant, phone).await?;
            match rules.decide(usage, now) {
                Err(ready) => return Ok(Gate::Defer(ready)),
                Ok(next) => {
                    if self.store.swap_sms_number_usage(tenant, phone, usage, next).await? {
                        return Ok(Gate::Go);
                    }
                }
            }
        }
        Ok(Gate::Defer(now.checked_add(jiff::SignedDuration::from_secs(1)).unwrap_or(now)))
    }
}
