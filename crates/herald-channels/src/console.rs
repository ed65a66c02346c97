//! The console provider, for development: logs that a message went out (channel, tenant,
//! idempotency key, content size) and accepts it. It never logs the content or the address,
//! which may be patient data.

use crate::{Outgoing, Provider, Receipt, SendError};
use async_trait::async_trait;

/// Accepts every message, logging only where it would have gone.
#[derive(Clone, Debug, Default)]
pub struct ConsoleProvider;

#[async_trait]
impl Provider for ConsoleProvider {
    fn name(&self) -> &'static str {
        "console"
    }

    async fn send(&self, outgoing: &Outgoing) -> Result<Receipt, SendError> {
        let size = outgoing.content.as_ref().and_then(|c| serde_json::to_string(c).ok()).map_or(0, |c| c.len());
        tracing::info!(tenant = %outgoing.tenant, key = %outgoing.idempotency_key, bytes = size, "console provider: message accepted");
        Ok(Receipt { provider_message_id: Some(format!("console-{}", outgoing.idempotency_key)), ..Receipt::default() })
    }

    async fn healthcheck(&self) -> Result<(), SendError> {
        Ok(())
    }
}
