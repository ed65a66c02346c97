//! Document identifiers in the CRUD service's default shape: 24 hex digits laid out like a
//! MongoDB ObjectId — 4 bytes of seconds since the epoch, 5 random bytes drawn once per
//! process, then a 3-byte counter — so existing clients that validate ObjectIds accept them.
//!
//! The ids one process makes within a second are increasing. That matters to the databases:
//! every table is indexed by `(tenant_id, id)`, and increasing ids are appended to the index's
//! last page. With 8 random bytes after the seconds, each new id landed on a random page among
//! the second's entries, and a commit of a few dozen events rewrote hundreds of index pages
//! (the SQLite ingest bench wrote about seven times its data to the WAL). Ids are not secrets:
//! every read of a document by id is authenticated and scoped to its tenant.

use rand::{Rng, RngCore};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// This process's random bytes and the next counter value (a random start, like MongoDB's).
fn process_part() -> &'static ([u8; 5], AtomicU32) {
    static PART: OnceLock<([u8; 5], AtomicU32)> = OnceLock::new();
    PART.get_or_init(|| {
        let mut random = [0u8; 5];
        rand::rng().fill_bytes(&mut random);
        (random, AtomicU32::new(rand::rng().random()))
    })
}

/// A fresh document id for a document created at `now`.
pub fn new_document_id(now: jiff::Timestamp) -> String {
    let (random, counter) = process_part();
    let count = counter.fetch_add(1, Ordering::Relaxed);
    let mut bytes = [0u8; 12];
    bytes[..4].copy_from_slice(&(now.as_second() as u32).to_be_bytes());
    bytes[4..9].copy_from_slice(random);
    bytes[9..].copy_from_slice(&count.to_be_bytes()[1..]);
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

    #[test]
    fn ids_made_within_a_second_increase_until_the_counter_wraps() {
        let now = jiff::Timestamp::from_second(1_700_000_000).unwrap();
        let ids: Vec<String> = (0..1000).map(|_| new_document_id(now)).collect();
        let wraps = ids.windows(2).filter(|pair| pair[0] >= pair[1]).count();
        assert!(wraps <= 1, "{wraps} decreases among {} ids", ids.len());
        assert!(ids.iter().all(|id| id[8..18] == ids[0][8..18]), "one process, one random part");
    }
}
