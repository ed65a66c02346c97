//! Secrets at rest (provider credentials, SMTP passwords): XChaCha20-Poly1305 under a key from
//! the environment. Every sealed value names the id of the key that sealed it, so keys can
//! rotate: seal with the primary key, open with whichever key the value names.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::fmt;

/// A 256-bit key. `Debug` never prints it.
#[derive(Clone)]
pub struct SecretKey {
    bytes: [u8; 32],
    id: String,
}

impl SecretKey {
    /// Generates a fresh random key.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self::from_bytes(bytes)
    }

    /// Reads a key written as 64 hex digits or as base64 of 32 bytes.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let text = text.trim();
        let decoded = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(text).ok()
        } else {
            STANDARD.decode(text).or_else(|_| URL_SAFE_NO_PAD.decode(text)).ok()
        };
        let bytes: [u8; 32] = decoded.and_then(|d| d.try_into().ok()).ok_or("must be 32 bytes written as 64 hex digits or base64")?;
        Ok(Self::from_bytes(bytes))
    }

    fn from_bytes(bytes: [u8; 32]) -> Self {
        let id = hex::encode(&Sha256::digest(bytes)[..4]);
        Self { bytes, id }
    }

    /// The key's public id: the first 8 hex digits of its SHA-256.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The key written as base64, for storing in a key file.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.bytes)
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(id={}, ***)", self.id)
    }
}

/// The keys Herald knows: one to seal with, older ones still accepted for opening.
#[derive(Clone, Debug)]
pub struct Keyring {
    primary: SecretKey,
    previous: Vec<SecretKey>,
}

/// Why a sealed value could not be opened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OpenError {
    /// The value is not in the `v1:<key id>:<data>` shape.
    #[error("sealed value is malformed")]
    Malformed,
    /// No configured key has the id the value names.
    #[error("sealed with key {0}, which is not configured")]
    UnknownKey(String),
    /// The key is right but the data was altered.
    #[error("sealed value failed authentication")]
    Tampered,
}

impl Keyring {
    /// A keyring sealing with `primary` and still opening values sealed with `previous`.
    pub fn new(primary: SecretKey, previous: Vec<SecretKey>) -> Self {
        Self { primary, previous }
    }

    /// The id of the key new values are sealed with.
    pub fn primary_id(&self) -> &str {
        self.primary.id()
    }

    /// Encrypts `plaintext` as `v1:<key id>:<base64 nonce+ciphertext>`.
    pub fn seal(&self, plaintext: &str) -> String {
        let cipher = XChaCha20Poly1305::new((&self.primary.bytes).into());
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        let mut data = nonce.to_vec();
        data.extend(cipher.encrypt(XNonce::from_slice(&nonce), plaintext.as_bytes()).expect("encryption cannot fail"));
        format!("v1:{}:{}", self.primary.id(), URL_SAFE_NO_PAD.encode(data))
    }

    /// Decrypts a value made by [`Keyring::seal`] with any key of the ring.
    pub fn open(&self, sealed: &str) -> Result<String, OpenError> {
        let mut parts = sealed.splitn(3, ':');
        let (Some("v1"), Some(kid), Some(data)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(OpenError::Malformed);
        };
        let key = std::iter::once(&self.primary)
            .chain(&self.previous)
            .find(|k| k.id() == kid)
            .ok_or_else(|| OpenError::UnknownKey(kid.to_string()))?;
        let data = URL_SAFE_NO_PAD.decode(data).map_err(|_| OpenError::Malformed)?;
        if data.len() < 24 {
            return Err(OpenError::Malformed);
        }
        let (nonce, ciphertext) = data.split_at(24);
        let plain =
            XChaCha20Poly1305::new((&key.bytes).into()).decrypt(XNonce::from_slice(nonce), ciphertext).map_err(|_| OpenError::Tampered)?;
        String::from_utf8(plain).map_err(|_| OpenError::Tampered)
    }
}

/// A configuration value that must never be printed.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_open_round_trip() {
        let ring = Keyring::new(SecretKey::generate(), vec![]);
        let sealed = ring.seal("smtp-password");
        assert!(sealed.starts_with(&format!("v1:{}:", ring.primary_id())));
        assert!(!sealed.contains("smtp-password"));
        assert_eq!(ring.open(&sealed).unwrap(), "smtp-password");
    }

    #[test]
    fn rotated_keys_still_open_old_values() {
        let old = SecretKey::generate();
        let sealed = Keyring::new(old.clone(), vec![]).seal("secret");
        let rotated = Keyring::new(SecretKey::generate(), vec![old]);
        assert_eq!(rotated.open(&sealed).unwrap(), "secret");
        let forgotten = Keyring::new(SecretKey::generate(), vec![]);
        assert!(matches!(forgotten.open(&sealed), Err(OpenError::UnknownKey(_))));
    }

    #[test]
    fn tampering_is_detected() {
        let ring = Keyring::new(SecretKey::generate(), vec![]);
        let mut sealed = ring.seal("secret");
        let last = sealed.pop().unwrap();
        sealed.push(if last == 'A' { 'B' } else { 'A' });
        assert!(matches!(ring.open(&sealed), Err(OpenError::Tampered | OpenError::Malformed)));
        assert_eq!(ring.open("nonsense"), Err(OpenError::Malformed));
    }

    #[test]
    fn keys_parse_from_hex_or_base64_and_never_print() {
        let key = SecretKey::generate();
        let again = SecretKey::parse(&key.to_base64()).unwrap();
        assert_eq!(again.id(), key.id());
        assert!(SecretKey::parse(&"ab".repeat(32)).is_ok());
        assert!(SecretKey::parse("too-short").is_err());
        assert!(!format!("{key:?}").contains(&key.to_base64()));
    }
}
