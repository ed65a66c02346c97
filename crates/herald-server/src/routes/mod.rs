//! The HTTP faces. Each file is one resource or concern; handlers only translate between HTTP
//! and the engine.

mod audit;
#[macro_use]
mod crud;
mod clinic_settings;
mod delivery_reports;
mod event_settings;
mod events;
mod files;
mod health;
mod inbox;
mod message_log;
mod notification_events;
mod notification_settings;
mod notifications;
mod openapi;
mod preferences;
mod providers;
mod realtime;
mod saga;
mod ses;
mod smtp_settings;
mod templates;
mod tenant;
mod timers;
mod twilio;
mod user_settings;
mod users;
mod whatsapp;

use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;

pub use openapi::ApiDoc;
pub(crate) use ses::SesWebhooks;
pub(crate) use twilio::TwilioWebhooks;
pub(crate) use whatsapp::WhatsappWebhooks;

/// Every documented route, with the bulk routes' larger body limit applied and the file
/// uploads' limit (the largest file, plus room for the form around it).
pub(crate) fn api(bulk_body_limit: usize, max_file_bytes: u64) -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(<ApiDoc as utoipa::OpenApi>::openapi())
        .merge(users::router(bulk_body_limit))
        .merge(templates::router())
        .merge(notification_settings::router())
        .merge(event_settings::router())
        .merge(notification_events::router())
        .merge(saga::router())
        .merge(events::router())
        .merge(notifications::router())
        .merge(user_settings::router())
        .merge(timers::router())
        .merge(preferences::router())
        .merge(clinic_settings::router())
        .merge(tenant::router())
        .merge(audit::router())
        .merge(message_log::router())
        .merge(files::router(max_file_bytes))
        .merge(providers::router())
        .merge(smtp_settings::router())
        .merge(health::router())
        .merge(whatsapp::router())
        .merge(delivery_reports::router())
        .merge(ses::router())
        .merge(twilio::router())
        .merge(inbox::router())
        .merge(realtime::router())
}
