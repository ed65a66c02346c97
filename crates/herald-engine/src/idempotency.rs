//! `Idempotency-Key` on `POST /send` and `POST /notification-events/`: within 24 hours, the
//! same key with the same body gets the first answer again (without doing anything twice);
//! with a different body it is refused (422); while the first request is still being
//! processed, a repeat is told so (409). Server failures free the key so a retry can proceed.

use crate::EngineError;
use herald_core::Invalid;
use herald_core::clock::Clock;
use herald_store::Store;
use jiff::SignedDuration;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// How long a key is remembered.
pub const WINDOW: SignedDuration = SignedDuration::from_hours(24);

/// What to do with a request carrying a key.
#[derive(Debug, PartialEq)]
pub enum Begun {
    /// The key is new: process the request, then [`Idempotency::finish`].
    Proceed,
    /// The key answered this body before: repeat that answer.
    Replay(u16, Value),
}

/// Idempotency keys of every tenant.
#[derive(Clone)]
pub struct Idempotency {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

impl Idempotency {
    /// Keys kept in `store`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// Checks `key` for a request to `route` with `body`.
    pub async fn begin(&self, tenant: &str, route: &str, key: &str, body: &Value) -> Result<Begun, EngineError> {
        if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Invalid::new("Idempotency-Key", "must be 1 to 255 visible ASCII characters").into());
        }
        let hash = body_hash(body);
        let now = self.clock.now();
        let expired_before = now.checked_sub(WINDOW).unwrap_or(now);
        if self.store.claim_idempotency_key(tenant, route, key, &hash, now, expired_before).await? {
            return Ok(Begun::Proceed);
        }
        let record = self
            .store
            .find_idempotency_key(tenant, route, key)
            .await?
            .ok_or(EngineError::Busy("the Idempotency-Key is being released; retry"))?;
        if record.body_hash != hash {
            return Err(EngineError::Unprocessable("Idempotency-Key: was already used with a different body".into()));
        }
        match record.response {
            Some((status, body)) => Ok(Begun::Replay(status, body)),
            None => Err(EngineError::Busy("a request with this Idempotency-Key is still being processed")),
        }
    }

    /// Records the answer to a request that proceeded; a server failure frees the key.
    pub async fn finish(&self, tenant: &str, route: &str, key: &str, status: u16, body: &Value) -> Result<(), EngineError> {
        if status >= 500 {
            self.store.release_idempotency_key(tenant, route, key).await?;
        } else {
            self.store.answer_idempotency_key(tenant, route, key, status, body).await?;
        }
        Ok(())
    }
}

/// SHA-256 of the body as JSON text. serde_json keeps object keys sorted (Herald does not
/// enable its `preserve_order` feature), so key order does not matter; a test guards that.
fn body_hash(body: &Value) -> String {
    hex::encode(Sha256::digest(body.to_string().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::body_hash;
    use serde_json::json;

    #[test]
    fn key_order_does_not_change_the_hash() {
        let a: serde_json::Value = serde_json::from_str(r#"{"a":1,"b":{"x":[1,2],"y":null}}"#).unwrap();
        let b: serde_json::Value = serde_json::from_str(r#"{"b":{"y":null,"x":[1,2]},"a":1}"#).unwrap();
        assert_eq!(body_hash(&a), body_hash(&b));
        assert_ne!(body_hash(&a), body_hash(&json!({"a": 2})));
    }
}
