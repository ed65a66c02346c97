//! Herald's domain: validated values, the configuration resources, the CRUD query language,
//! permissions and secrets. Everything here is pure — no I/O — so the rules can be tested alone
//! and shared by every backend and every HTTP face.

pub mod access;
pub mod api_key;
pub mod catalogue;
pub mod clock;
pub mod document;
pub mod event;
pub mod files;
pub mod id;
pub mod inbox;
pub mod invalid;
pub mod job;
pub mod json;
pub mod notification;
pub mod query;
pub mod render;
pub mod resources;
pub mod rules;
pub mod saga;
pub mod secrets;
pub mod send;
pub mod sms;
pub mod sms_safeguards;
pub mod timer;
pub mod values;

pub use invalid::Invalid;
