//! Herald's engine: the services that apply the domain's rules over the store. Every HTTP
//! face and the CLI call these; no business rule lives in a route handler.
//!
//! - [`documents::Documents`]: the CRUD collections (users, templates, notification and event
//!   settings) — validation, update operators, uniqueness, optimistic concurrency.
//! - [`tenants::Tenants`]: tenants and their API keys.
//! - [`access`]: who a bearer key belongs to and what it may do.
//! - [`audit`]: the append-only trail of configuration changes and urgent bypasses.
//! - [`callbacks`]: provider reports (delivered, read, bounced, …) applied to their messages.
//! - [`message_log`]: every message with its recipient, status and provider, for the log API.
//! - [`events::Events`]: event ingest, routing, the default and custom handlers.
//! - [`saga::Saga`]: the Flow Manager's send commands and the events that answer them.
//! - [`scheduler::Scheduler`]: runs due reminders and timer-service timers.
//! - [`delivery::Dispatcher`]: sends queued messages through the channels' providers.
//! - [`template_lookup::TemplateLookup`]: a template by name: the tenant's, the system's, a file's.
//! - [`user_settings::UserSettings`]: an end user's own settings and visible events.
//! - [`files::Files`]: the files service, whose files emails carry as attachments.
//! - [`preferences::NotificationPreferences`]: recipients' preferences and clinics' settings
//!   per notification type, applied to every message made.
//! - [`inbox::Inbox`]: the patient notification center (seed 04) and its real-time hub.
//! - [`manual_send`]: seed 05's manual send and test email.
//! - [`tenant_providers::TenantProviders`], [`smtp_settings::SmtpSettings`],
//!   [`provider_health::ProviderHealth`]: tenants' own providers, seed 05's SMTP settings and
//!   every provider's health.

pub mod access;
pub mod audit;
pub mod callbacks;
pub mod delivery;
pub mod documents;
mod error;
pub mod events;
pub mod files;
pub mod idempotency;
pub mod inbox;
pub mod lookups;
pub mod manual_send;
pub mod message_log;
pub mod preferences;
pub mod provider_health;
pub mod public_host;
pub mod saga;
pub mod scheduler;
pub mod sms_consent;
pub mod smtp_settings;
pub mod template_lookup;
pub mod templates;
pub mod tenant_providers;
pub mod tenants;
pub mod timers;
pub mod twilio_webhooks;
pub mod user_settings;

pub use error::EngineError;
