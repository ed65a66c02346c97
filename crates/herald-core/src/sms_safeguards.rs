//! Abuse safeguards of the SMS service (seed 01): a limit of SMS per number over a time
//! window, and an exponential delay between repeated SMS to the same number — so neither a
//! misbehaving integration nor a flood of events can bomb a patient's phone or run up toll
//! fraud.
//!
//! For each (tenant, number) Herald keeps the start of the current window, how many SMS went
//! in it and when the last one went ([`NumberUsage`]). A send is allowed when
//!
//! - the window has fewer than `max_per_window` sends (a window lasts `window_seconds` from its
//!   first send; the next send after it opens a new one), and
//! - the first `free_repeats` sends of a window go at once; every further one waits
//!   `repeat_delay_seconds × 2^(n-1)` after the previous send (n = 1 for the first delayed
//!   one), at most `max_delay_seconds`.
//!
//! Otherwise [`Safeguards::decide`] answers when the send may go, and the dispatcher defers
//! the message to then through the durable job table — it is delayed, never dropped. (The
//! reference SMS service answers its HTTP callers at once, so it can only refuse; Herald has
//! already accepted the event, so it keeps the message. The reference's 429 is Twilio's own
//! concurrency limit, which Herald retries with `Retry-After`.) The reference's settings map
//! onto these: `RATE_LIMIT_MAX_REQUESTS` / `RATE_LIMIT_TIME_WINDOW` ≈ `max_per_window` /
//! `window_seconds` (per number here, not for the whole service), and
//! `EXPONENTIAL_DELAY_RESET_AFTER` ≈ `window_seconds`, as the delay starts over with each
//! window. Defaults: 10 per hour, 3 at once, then 30 s, 60 s, 120 s … capped at 15 minutes.
//! `enabled = false` turns both off. SMS only: voice calls are not counted.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

/// The configured safeguards (`delivery.sms_safeguards`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Safeguards {
    /// Whether they apply.
    pub enabled: bool,
    /// Most SMS to one number in one window.
    pub max_per_window: u32,
    /// How long a window lasts, in seconds.
    pub window_seconds: u64,
    /// How many SMS of a window go without delay.
    pub free_repeats: u32,
    /// The first delay, in seconds; each further one doubles.
    pub repeat_delay_seconds: u64,
    /// The longest delay, in seconds.
    pub max_delay_seconds: u64,
}

impl Default for Safeguards {
    fn default() -> Self {
        Self { enabled: true, max_per_window: 10, window_seconds: 3600, free_repeats: 3, repeat_delay_seconds: 30, max_delay_seconds: 900 }
    }
}

/// What is known of the SMS sent to one number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NumberUsage {
    /// When the current window began.
    pub window_start: Timestamp,
    /// SMS sent in it.
    pub sends: u32,
    /// When the last one went.
    pub last_sent: Timestamp,
}

impl Safeguards {
    /// Whether an SMS may go to a number with `usage` at `now`: the usage after it, or when
    /// to try again.
    pub fn decide(&self, usage: Option<NumberUsage>, now: Timestamp) -> Result<NumberUsage, Timestamp> {
        let fresh = NumberUsage { window_start: now, sends: 1, last_sent: now };
        let Some(usage) = usage.filter(|_| self.enabled) else { return Ok(fresh) };
        let window_end = usage.window_start.checked_add(seconds(self.window_seconds)).unwrap_or(now);
        if now >= window_end || now < usage.window_start {
            return Ok(fresh);
        }
        if usage.sends >= self.max_per_window {
            return Err(window_end);
        }
        if usage.sends >= self.free_repeats {
            let doublings = (usage.sends - self.free_repeats).min(30);
            let delay = self.repeat_delay_seconds.saturating_mul(1 << doublings).min(self.max_delay_seconds);
            let ready = usage.last_sent.checked_add(seconds(delay)).unwrap_or(now);
            if now < ready {
                return Err(ready);
            }
        }
        Ok(NumberUsage { sends: usage.sends + 1, last_sent: now, ..usage })
    }
}

fn seconds(count: u64) -> SignedDuration {
    SignedDuration::from_secs(i64::try_from(count).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + second).unwrap()
    }

    /// Sends as often as allowed from `start`, returning each send's time.
    fn flood(rules: &Safeguards, until: i64) -> Vec<i64> {
        let (mut usage, mut now, mut sent) = (None, 0, Vec::new());
        while now < until {
            match rules.decide(usage, at(now)) {
                Ok(next) => {
                    usage = Some(next);
                    sent.push(now);
                }
                Err(ready) => now = ready.as_second() - 1_800_000_000,
            }
        }
        sent
    }

    #[test]
    fn repeats_wait_exponentially_and_the_window_caps_them() {
        let rules = Safeguards::default();
        let sent = flood(&rules, 3600);
        assert_eq!(sent, [0, 0, 0, 30, 90, 210, 450, 930, 1830, 2730], "30, 60, 120 … capped at 900 s; 10 per hour");
        let next_hour = flood(&rules, 3601);
        assert_eq!(next_hour.last(), Some(&3600), "a new window opens after the hour");
    }

    #[test]
    fn disabled_safeguards_let_everything_through() {
        let rules = Safeguards { enabled: false, ..Safeguards::default() };
        let busy = NumberUsage { window_start: at(0), sends: 1000, last_sent: at(0) };
        assert!(rules.decide(Some(busy), at(0)).is_ok());
    }

    #[test]
    fn the_limit_holds_until_the_window_ends() {
        let rules = Safeguards { max_per_window: 2, free_repeats: 5, ..Safeguards::default() };
        let full = NumberUsage { window_start: at(0), sends: 2, last_sent: at(10) };
        assert_eq!(rules.decide(Some(full), at(20)), Err(at(3600)));
        assert_eq!(rules.decide(Some(full), at(3600)).unwrap().sends, 1);
    }
}
