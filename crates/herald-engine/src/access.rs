//! Who is calling, and what they may do.

use crate::EngineError;
use crate::documents::Actor;
use herald_core::access::{Permission, Role};
use herald_core::api_key;
use herald_store::Store;
use std::sync::Arc;

/// A service authenticated by an API key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceCaller {
    /// The tenant the key acts for.
    pub tenant: String,
    /// The key's public id.
    pub key_id: String,
    /// The key's role.
    pub role: Role,
}

impl ServiceCaller {
    /// Whether the caller's role grants `permission`.
    pub fn may(&self, permission: Permission) -> bool {
        self.role.grants(permission)
    }

    /// The caller as recorded on documents it writes.
    pub fn actor(&self) -> Actor {
        Actor { tenant: self.tenant.clone(), id: format!("apikey:{}", self.key_id) }
    }
}

/// Resolves the secret of a presented API key to its caller; unknown and revoked keys are
/// refused alike.
pub async fn authenticate_key(store: &Arc<dyn Store>, secret: &str) -> Result<ServiceCaller, EngineError> {
    let record = store.find_api_key(&api_key::hash(secret)).await?;
    match record {
        Some(key) if key.revoked_at.is_none() => Ok(ServiceCaller { tenant: key.tenant, key_id: key.key_id, role: key.role }),
        _ => Err(EngineError::Unauthenticated("the API key is unknown or revoked")),
    }
}
