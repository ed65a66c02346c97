//! The notification manager's handler utilities as pure functions (seed 03, "Custom handler
//! API"): which settings apply to whom and in which order, how they merge, which messages and
//! reminders follow. The engine feeds them stored data and commits what they decide.

pub mod messages;
pub mod plan;
pub mod preferences;
pub mod quiet_hours;
pub mod recipients;
pub mod reminders;
pub mod settings;
