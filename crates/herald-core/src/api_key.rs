//! API keys for services: random, shown once, stored only as a hash.

use rand::RngCore;
use sha2::{Digest, Sha256};

/// A newly minted API key: the secret to hand out once, and what is stored.
pub struct MintedKey {
    /// The full key (`hk_…`), shown to the operator once and never stored.
    pub secret: String,
    /// A short public identifier for listing and revoking the key.
    pub key_id: String,
    /// The SHA-256 of the secret, hex: what the database keeps.
    pub hash: String,
}

/// Mints a key with 256 bits of randomness.
pub fn mint() -> MintedKey {
    let mut raw = [0u8; 32];
    rand::rng().fill_bytes(&mut raw);
    let mut id = [0u8; 6];
    rand::rng().fill_bytes(&mut id);
    let secret = format!("hk_{}", base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, raw));
    MintedKey { hash: hash(&secret), key_id: hex::encode(id), secret }
}

/// The stored form of a presented key. Keys carry 256 random bits, so a plain SHA-256 is as
/// strong as a slow password hash here and keeps authentication cheap.
pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_keys_hash_to_their_stored_form() {
        let key = mint();
        assert!(key.secret.starts_with("hk_"));
        assert_eq!(key.secret.len(), 46);
        assert_eq!(hash(&key.secret), key.hash);
        assert_ne!(mint().secret, key.secret);
        assert_eq!(key.key_id.len(), 12);
    }
}
