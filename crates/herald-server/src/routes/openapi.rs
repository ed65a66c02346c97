//! The OpenAPI 3.1 document, generated from the route definitions themselves, so every route
//! is in it.

use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The document's fixed parts; paths are added as routes are registered.
#[derive(OpenApi)]
#[openapi(
    info(title = "Herald", description = "Notifications for healthcare software: events in, the right message to the right person on the right channel, on time."),
    modifiers(&BearerKeys),
    tags(
        (name = "users", description = "Recipients: patients and staff"),
        (name = "templates", description = "Message templates"),
        (name = "notification-settings", description = "Who gets which event, how"),
        (name = "event-settings", description = "Per-event schema, handler and channels"),
        (name = "events", description = "Events in, and the events log"),
        (name = "notifications", description = "What each event produced, per recipient"),
        (name = "user", description = "An end user's own settings (user token)"),
        (name = "timers", description = "The timer service: payloads delivered later"),
        (name = "files", description = "The files service: attachments for emails"),
        (name = "preferences", description = "Recipients' preferences: types, channels, quiet hours"),
        (name = "clinic-settings", description = "A clinic's settings per notification type, manual sends, test email"),
        (name = "providers", description = "A tenant's own providers per channel, with failover (admin)"),
        (name = "smtp-settings", description = "Seed 05: a tenant's own SMTP settings"),
        (name = "operations", description = "Health, readiness, metrics, this document"),
        (name = "callbacks", description = "Providers' delivery reports and inbound messages"),
    )
)]
pub struct ApiDoc;

struct BearerKeys;

impl Modify for BearerKeys {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("apiKey", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
        components.add_security_scheme(
            "userToken",
            SecurityScheme::Http(Http::builder().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

/// This OpenAPI document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations", responses((status = 200, description = "The OpenAPI 3.1 document", body = Object)))]
pub(crate) async fn openapi_json(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(state.openapi().as_ref().clone())
}
