//! Provider reports about messages they took — delivered, read, bounced, complained, failed —
//! arriving through each provider's webhook (whose signature the route has verified). A
//! report finds its message in any tenant by the provider's name and its message id, and
//! moves it forward only (see `MessageStatus::accepts_report`); a report about an unknown id
//! changes nothing.
//!
//! A report can only find a message once its acceptance is recorded, which happens in the
//! same group commit as the provider's answer — milliseconds before any provider sends a
//! report in practice. A report that still arrives first is answered as unknown; providers
//! that retry unanswered reports (SNS, WhatsApp) bring it back.

use crate::EngineError;
use herald_core::notification::MessageStatus;
use herald_store::{DeliveryReport, Store};
use jiff::Timestamp;
use std::sync::Arc;

pub use herald_store::ReportOutcome as Applied;

/// Applies a report from `service` (the provider's `Provider::name`) about its message
/// `provider_message_id`. `None` when no message has that id.
pub async fn apply(
    store: &Arc<dyn Store>,
    service: &str,
    provider_message_id: &str,
    status: MessageStatus,
    detail: Option<String>,
    at: Timestamp,
) -> Result<Option<Applied>, EngineError> {
    record(store, None, service, provider_message_id, status, detail, at).await
}

/// Applies a report that a tenant's own caller sent (a relay or an app reporting through
/// `POST /api/v1/delivery-reports`): like [`apply`], but only a message of `tenant` is found.
pub async fn apply_in_tenant(
    store: &Arc<dyn Store>,
    tenant: &str,
    service: &str,
    provider_message_id: &str,
    status: MessageStatus,
    detail: Option<String>,
    at: Timestamp,
) -> Result<Option<Applied>, EngineError> {
    record(store, Some(tenant), service, provider_message_id, status, detail, at).await
}

async fn record(
    store: &Arc<dyn Store>,
    tenant: Option<&str>,
    service: &str,
    provider_message_id: &str,
    status: MessageStatus,
    detail: Option<String>,
    at: Timestamp,
) -> Result<Option<Applied>, EngineError> {
    let report = DeliveryReport {
        tenant: tenant.map(str::to_string),
        service: service.to_string(),
        provider_message_id: provider_message_id.to_string(),
        status,
        detail,
        at,
    };
    Ok(store.record_report(report).await?)
}
