//! Rate limits: token buckets per channel (the provider account) and per tenant, refilled by
//! the injected clock. A message over a limit is not dropped and does not use up an attempt:
//! its job is deferred until the bucket has a token again. One tenant over its limit does not
//! hold back the others, whose messages take tokens from their own buckets.
//!
//! The buckets live in memory, so with several Herald instances each enforces the limit on
//! its own share: configure `per_second` divided by the number of instances.

use herald_core::resources::channel::Channel;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// A sustained rate and the burst allowed above it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    /// Messages per second, sustained.
    pub per_second: f64,
    /// Messages that may go at once after a quiet spell (at least 1).
    pub burst: u32,
}

/// The configured limits.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Per channel, i.e. per provider account (`email = { per_second = 14, burst = 14 }`).
    #[serde(default)]
    pub channels: BTreeMap<Channel, Rate>,
    /// Every tenant's own limit, all channels together.
    #[serde(default)]
    pub per_tenant: Option<Rate>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Timestamp,
}

/// The buckets.
#[derive(Debug, Default)]
pub struct RateLimits {
    config: RateLimitConfig,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimits {
    /// Buckets for `config`, all full.
    pub fn new(config: RateLimitConfig) -> Self {
        Self { config, buckets: Mutex::default() }
    }

    /// Takes a token for a message of `tenant` on `channel` at `now`; when a bucket is empty,
    /// takes none and answers when to try again.
    pub fn take(&self, tenant: &str, channel: Channel, now: Timestamp) -> Result<(), Timestamp> {
        let limits: Vec<(String, Rate)> = [
            self.config.channels.get(&channel).map(|rate| (format!("channel:{}", channel.as_str()), *rate)),
            self.config.per_tenant.map(|rate| (format!("tenant:{tenant}"), rate)),
        ]
        .into_iter()
        .flatten()
        .collect();
        if limits.is_empty() {
            return Ok(());
        }
        let mut buckets = self.buckets.lock().expect("rate limit buckets are never poisoned");
        let mut ready_at = None;
        for (key, rate) in &limits {
            let burst = f64::from(rate.burst.max(1));
            let bucket = buckets.entry(key.clone()).or_insert(Bucket { tokens: burst, at: now });
            let elapsed = now.duration_since(bucket.at).as_secs_f64().max(0.0);
            bucket.tokens = (bucket.tokens + elapsed * rate.per_second).min(burst);
            bucket.at = now;
            if bucket.tokens < 1.0 {
                let wait = SignedDuration::from_secs_f64((1.0 - bucket.tokens) / rate.per_second.max(f64::MIN_POSITIVE));
                let at = now.checked_add(wait).unwrap_or(now);
                ready_at = Some(ready_at.map_or(at, |other: Timestamp| other.max(at)));
            }
        }
        if let Some(at) = ready_at {
            return Err(at);
        }
        for (key, _) in &limits {
            if let Some(bucket) = buckets.get_mut(key) {
                bucket.tokens -= 1.0;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_over_its_limit_waits_while_others_go() {
        let limits = RateLimits::new(RateLimitConfig { channels: BTreeMap::new(), per_tenant: Some(Rate { per_second: 2.0, burst: 2 }) });
        let now: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        assert!(limits.take("a", Channel::Sms, now).is_ok());
        assert!(limits.take("a", Channel::Sms, now).is_ok());
        assert_eq!(limits.take("a", Channel::Sms, now), Err(now.checked_add(SignedDuration::from_millis(500)).unwrap()));
        assert!(limits.take("b", Channel::Sms, now).is_ok(), "another tenant has its own bucket");
        assert!(limits.take("a", Channel::Sms, now.checked_add(SignedDuration::from_millis(500)).unwrap()).is_ok());
    }

    #[test]
    fn a_channel_limit_is_shared_by_every_tenant() {
        let channels = BTreeMap::from([(Channel::Email, Rate { per_second: 1.0, burst: 1 })]);
        let limits = RateLimits::new(RateLimitConfig { channels, per_tenant: None });
        let now: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        assert!(limits.take("a", Channel::Email, now).is_ok());
        assert!(limits.take("b", Channel::Email, now).is_err());
        assert!(limits.take("b", Channel::Sms, now).is_ok(), "other channels are not limited");
    }
}
