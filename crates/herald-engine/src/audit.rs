//! TEMPORARY local stand-in until the lead's audit trail lands on main (not committed).
use crate::EngineError;
use herald_store::Store;
use std::sync::Arc;
pub struct AuditEntry {
    pub tenant: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub changes: serde_json::Value,
    pub source: String,
    pub at: jiff::Timestamp,
}
pub async fn record(_store: &Arc<dyn Store>, _entry: AuditEntry) -> Result<(), EngineError> {
    Ok(())
}
