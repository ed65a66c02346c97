//! What every request handler can reach.

use crate::auth::EndUserAuth;
use herald_core::clock::Clock;
use herald_engine::documents::Documents;
use herald_engine::events::Events;
use herald_engine::files::Files;
use herald_engine::idempotency::Idempotency;
use herald_engine::inbox::Inbox;
use herald_engine::preferences::NotificationPreferences;
use herald_engine::provider_health::ProviderHealth;
use herald_engine::saga::Saga;
use herald_engine::smtp_settings::SmtpSettings;
use herald_engine::templates::Previews;
use herald_engine::tenant_providers::TenantProviders;
use herald_engine::timers::Timers;
use herald_engine::user_settings::UserSettings;
use herald_store::Store;
use std::sync::Arc;

/// Shared, cheaply cloned application state.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// Everything the state holds.
pub(crate) struct Inner {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) documents: Documents,
    pub(crate) events: Events,
    pub(crate) saga: Saga,
    pub(crate) user_settings: UserSettings,
    pub(crate) previews: Previews,
    pub(crate) timers: Timers,
    pub(crate) idempotency: Idempotency,
    pub(crate) files: Files,
    pub(crate) end_users: EndUserAuth,
    pub(crate) preferences: NotificationPreferences,
    pub(crate) email_provider: Option<Arc<dyn herald_channels::Provider>>,
    pub(crate) tenant_providers: TenantProviders,
    pub(crate) smtp_settings: SmtpSettings,
    pub(crate) provider_health: ProviderHealth,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) openapi: Arc<serde_json::Value>,
    pub(crate) whatsapp: crate::routes::WhatsappWebhooks,
    pub(crate) ses: crate::routes::SesWebhooks,
    pub(crate) twilio: crate::routes::TwilioWebhooks,
    pub(crate) inbox: Inbox,
    pub(crate) realtime: crate::config::RealtimeConfig,
}

impl AppState {
    /// Assembles the state.
    pub(crate) fn new(inner: Inner) -> Self {
        Self(Arc::new(inner))
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.0.store
    }

    /// The CRUD collections service.
    pub fn documents(&self) -> &Documents {
        &self.0.documents
    }

    /// Event processing.
    pub fn events(&self) -> &Events {
        &self.0.events
    }

    /// The Flow Manager's send commands.
    pub fn saga(&self) -> &Saga {
        &self.0.saga
    }

    /// End users' own settings.
    pub fn user_settings(&self) -> &UserSettings {
        &self.0.user_settings
    }

    /// Template previews.
    pub fn previews(&self) -> &Previews {
        &self.0.previews
    }

    /// Idempotency keys.
    pub fn idempotency(&self) -> &Idempotency {
        &self.0.idempotency
    }

    /// The files service.
    pub fn files(&self) -> &Files {
        &self.0.files
    }

    /// The timer service.
    pub fn timers(&self) -> &Timers {
        &self.0.timers
    }

    /// End-user authentication.
    pub fn end_users(&self) -> &EndUserAuth {
        &self.0.end_users
    }

    /// Recipients' preferences and clinic settings.
    pub fn preferences(&self) -> &NotificationPreferences {
        &self.0.preferences
    }

    /// The email channel's provider, for test emails.
    pub fn email_provider(&self) -> Option<&Arc<dyn herald_channels::Provider>> {
        self.0.email_provider.as_ref()
    }

    /// Tenants' own providers.
    pub fn tenant_providers(&self) -> &TenantProviders {
        &self.0.tenant_providers
    }

    /// Seed 05's SMTP settings.
    pub fn smtp_settings(&self) -> &SmtpSettings {
        &self.0.smtp_settings
    }

    /// Every provider's last health check.
    pub fn provider_health(&self) -> &ProviderHealth {
        &self.0.provider_health
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.0.clock
    }

    /// The WhatsApp webhooks' secrets.
    pub(crate) fn whatsapp(&self) -> &crate::routes::WhatsappWebhooks {
        &self.0.whatsapp
    }

    /// What SES webhooks (SNS deliveries) are verified with.
    pub(crate) fn ses(&self) -> &crate::routes::SesWebhooks {
        &self.0.ses
    }

    /// The Twilio accounts of the global configuration, for webhook signatures.
    pub(crate) fn twilio(&self) -> &crate::routes::TwilioWebhooks {
        &self.0.twilio
    }

    /// The patient notification center.
    pub fn inbox(&self) -> &Inbox {
        &self.0.inbox
    }

    /// The real-time connections' settings.
    pub(crate) fn realtime(&self) -> &crate::config::RealtimeConfig {
        &self.0.realtime
    }

    /// The OpenAPI document of every route.
    pub fn openapi(&self) -> &Arc<serde_json::Value> {
        &self.0.openapi
    }
}
