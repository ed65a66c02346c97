//! The in-app provider: the notification center reads in-app messages from the notification
//! records, so accepting the message is storing it — the dispatcher writes the rendered title
//! and body into the message (`rendered`) when this provider accepts it.

use crate::{Outgoing, Provider, Receipt, SendError};
use async_trait::async_trait;

/// Accepts in-app messages into the recipient's inbox (their notification records).
#[derive(Clone, Debug, Default)]
pub struct InAppProvider;

#[async_trait]
impl Provider for InAppProvider {
    fn name(&self) -> &'static str {
        "in_app"
    }

    async fn send(&self, outgoing: &Outgoing) -> Result<Receipt, SendError> {
        if outgoing.content.is_none() {
            return Err(SendError::permanent("an in-app message needs content"));
        }
        Ok(Receipt { provider_message_id: Some(outgoing.idempotency_key.clone()), ..Receipt::default() })
    }

    async fn healthcheck(&self) -> Result<(), SendError> {
        Ok(())
    }
}
