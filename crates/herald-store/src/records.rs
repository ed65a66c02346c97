//! Plain records for tenants and API keys.

use herald_core::access::Role;
use jiff::Timestamp;

/// A tenant: a clinic or organisation. Every other row belongs to one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantRecord {
    /// The tenant's slug, its identifier everywhere.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// When it was created.
    pub created_at: Timestamp,
}

/// A stored API key: only the hash of its secret is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// Public identifier, for listing and revoking.
    pub key_id: String,
    /// The tenant the key acts for.
    pub tenant: String,
    /// What the key may do.
    pub role: Role,
    /// SHA-256 of the secret, hex.
    pub key_hash: String,
    /// When it was minted.
    pub created_at: Timestamp,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
}

/// What a bulk upsert did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UpsertOutcome {
    /// Documents that were new.
    pub inserted: u64,
    /// Documents that replaced an existing one.
    pub updated: u64,
}
