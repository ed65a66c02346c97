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

/// What a bulk upsert did to one document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upserted {
    /// The stored document's `_id` (the existing one when it was updated).
    pub id: String,
    /// Whether the document was new.
    pub inserted: bool,
}
