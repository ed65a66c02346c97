//! When a failed delivery is tried again: a configurable schedule of waits, each stretched by
//! up to `jitter` of itself at random (so a provider that comes back is not hit by every
//! waiting message at once), and never sooner than the provider's `Retry-After`.

use jiff::SignedDuration;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The retry schedule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    /// Seconds to wait before the 2nd, 3rd, … attempt; a message gets one attempt more than
    /// there are entries.
    pub schedule_seconds: Vec<u64>,
    /// The most a wait is stretched at random, as a fraction of it (0 to 1).
    pub jitter: f64,
}

impl Default for RetryPolicy {
    /// 30 s, 2 min, 10 min, 30 min, 1 h, 3 h: six attempts over about five hours.
    fn default() -> Self {
        Self { schedule_seconds: vec![30, 120, 600, 1800, 3600, 10_800], jitter: 0.2 }
    }
}

impl RetryPolicy {
    /// The wait before the attempt after attempt number `attempts` (1 for the first), or
    /// `None` when that was the last. `unit` is a random number in [0, 1).
    pub fn wait_after(&self, attempts: u32, retry_after: Option<Duration>, unit: f64) -> Option<SignedDuration> {
        let base = *self.schedule_seconds.get(usize::try_from(attempts).ok()?.checked_sub(1)?)?;
        let stretched = base as f64 * (1.0 + self.jitter.clamp(0.0, 1.0) * unit.clamp(0.0, 1.0));
        let wait = Duration::from_secs_f64(stretched).max(retry_after.unwrap_or_default());
        SignedDuration::try_from(wait).ok()
    }

    /// How many attempts a message gets.
    pub fn attempts(&self) -> u32 {
        u32::try_from(self.schedule_seconds.len()).unwrap_or(u32::MAX).saturating_add(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_schedule_with_jitter_and_retry_after() {
        let policy = RetryPolicy { schedule_seconds: vec![10, 60], jitter: 0.5 };
        assert_eq!(policy.wait_after(1, None, 0.0), Some(SignedDuration::from_secs(10)));
        assert_eq!(policy.wait_after(1, None, 0.999_999).map(|d| d.as_secs()), Some(14));
        assert_eq!(policy.wait_after(2, Some(Duration::from_secs(120)), 0.0), Some(SignedDuration::from_secs(120)));
        assert_eq!(policy.wait_after(3, None, 0.0), None, "three attempts, then no more");
        assert_eq!(policy.attempts(), 3);
    }
}
