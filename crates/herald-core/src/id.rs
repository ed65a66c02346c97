//! Document identifiers in the CRUD service's default shape: 24 hex digits, like a MongoDB
//! ObjectId (4 bytes of seconds since the epoch, then 8 random bytes), so ids sort roughly by
//! creation time and existing clients that validate ObjectIds accept them.

use rand::RngCore;

/// A fresh document id for a document created at `now`.
pub fn new_document_id(now: jiff::Timestamp) -> String {
    let mut bytes = [0u8; 12];
    bytes[..4].copy_from_slice(&(now.as_second() as u32).to_be_bytes());
    rand::rng().fill_bytes(&mut bytes[4..]);
    hex::encode(bytes)
}

/// Whether `text` has the shape of a document id (24 hex digits).
pub fn is_document_id(text: &str) -> bool {
    text.len() == 24 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_24_hex_and_unique() {
        let now = jiff::Timestamp::from_second(1_700_000_000).unwrap();
        let a = new_document_id(now);
        let b = new_document_id(now);
        assert!(is_document_id(&a));
        assert_ne!(a, b);
        assert!(a.starts_with("6553f100"));
        assert!(!is_document_id("xyz"));
    }
}
