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

/// A configuration value that must never be printed. It serializes as its plain value, except
/// inside [`seal_secrets`] (sealed) and [`open_secrets`] (read sealed, opened).
#[derive(Clone, PartialEq, Eq)]
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

/// What [`Secret`]s do when they are serialized or deserialized on this thread.
enum Mode {
    /// Serialize sealed.
    Seal(Keyring),
    /// Deserialize from sealed values.
    Open(Keyring),
}

thread_local! {
    static MODE: std::cell::RefCell<Option<Mode>> = const { std::cell::RefCell::new(None) };
}

/// Runs `work` with every [`Secret`] on this thread in `mode`, restoring the previous mode
/// afterwards (also when `work` panics).
fn with_mode<R>(mode: Mode, work: impl FnOnce() -> R) -> R {
    struct Restore(Option<Mode>);
    impl Drop for Restore {
        fn drop(&mut self) {
            MODE.with(|m| *m.borrow_mut() = self.0.take());
        }
    }
    let _restore = Restore(MODE.with(|m| m.borrow_mut().replace(mode)));
    work()
}

/// `value` as JSON with every [`Secret`] in it sealed with `keyring` (`v1:<key id>:<nonce and
/// ciphertext>`): how provider settings are stored. Whatever the type, no field that holds a
/// secret is stored in the clear.
pub fn seal_secrets<T: serde::Serialize>(keyring: &Keyring, value: &T) -> serde_json::Result<serde_json::Value> {
    with_mode(Mode::Seal(keyring.clone()), || serde_json::to_value(value))
}

/// Reads JSON made by [`seal_secrets`], opening every [`Secret`] with `keyring`; a secret that
/// is not sealed, or that no key of the ring opens, is an error (which names no secret).
pub fn open_secrets<T: serde::de::DeserializeOwned>(keyring: &Keyring, value: serde_json::Value) -> serde_json::Result<T> {
    with_mode(Mode::Open(keyring.clone()), || serde_json::from_value(value))
}

/// Whether `text` has the shape of a sealed value (`v1:<8 hex digits>:<base64>`).
pub fn is_sealed(text: &str) -> bool {
    let mut parts = text.splitn(3, ':');
    matches!(
        (parts.next(), parts.next(), parts.next()),
        (Some("v1"), Some(kid), Some(data)) if kid.len() == 8 && kid.bytes().all(|b| b.is_ascii_hexdigit()) && !data.is_empty()
            && data.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    )
}

/// `value` with every sealed string in it replaced by `"set"`: what responses show of a
/// stored secret.
pub fn redact_sealed(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(text) if is_sealed(text) => Value::String("set".into()),
        Value::Array(items) => Value::Array(items.iter().map(redact_sealed).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), redact_sealed(v))).collect()),
        other => other.clone(),
    }
}

impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let sealed = MODE.with(|m| match &*m.borrow() {
            Some(Mode::Seal(keyring)) => Some(keyring.seal(&self.0)),
            _ => None,
        });
        serializer.serialize_str(sealed.as_deref().unwrap_or(&self.0))
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let opened = MODE.with(|m| match &*m.borrow() {
            Some(Mode::Open(keyring)) => Some(keyring.open(&text)),
            _ => None,
        });
        match opened {
            Some(Ok(plain)) => Ok(Self(plain)),
            Some(Err(error)) => Err(serde::de::Error::custom(format!("a stored secret cannot be opened: {error}"))),
            None => Ok(Self(text)),
        }
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

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Settings {
        host: String,
        password: Option<Secret>,
        nested: Vec<Secret>,
    }

    #[test]
    fn secrets_are_sealed_wherever_they_are_and_open_again() {
        let ring = Keyring::new(SecretKey::generate(), vec![]);
        let settings =
            Settings { host: "smtp.example.org".into(), password: Some(Secret::new("hunter2")), nested: vec![Secret::new("token")] };
        let sealed = seal_secrets(&ring, &settings).unwrap();
        assert_eq!(sealed["host"], "smtp.example.org", "only secrets are sealed");
        let password = sealed["password"].as_str().unwrap();
        assert!(is_sealed(password) && is_sealed(sealed["nested"][0].as_str().unwrap()), "{sealed}");
        assert!(!sealed.to_string().contains("hunter2") && !sealed.to_string().contains("token"));
        assert_eq!(open_secrets::<Settings>(&ring, sealed.clone()).unwrap(), settings);
        assert_eq!(redact_sealed(&sealed)["password"], "set");
        assert_eq!(redact_sealed(&sealed)["host"], "smtp.example.org");
        assert_eq!(serde_json::to_value(&settings).unwrap()["password"], "hunter2", "outside the modes secrets stay plain");
        let other = Keyring::new(SecretKey::generate(), vec![]);
        let error = open_secrets::<Settings>(&other, sealed).unwrap_err().to_string();
        assert!(error.contains("cannot be opened") && !error.contains("hunter2"), "{error}");
        let plain = serde_json::json!({"host": "h", "password": "hunter2", "nested": []});
        assert!(open_secrets::<Settings>(&ring, plain).is_err(), "a stored secret must be sealed");
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
