//! What every request handler can reach.

use crate::auth::EndUserAuth;
use herald_core::clock::Clock;
use herald_engine::documents::Documents;
use herald_engine::events::Events;
use herald_engine::user_settings::UserSettings;
use herald_store::Store;
use std::sync::Arc;

/// Shared, cheaply cloned application state.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    store: Arc<dyn Store>,
    documents: Documents,
    events: Events,
    user_settings: UserSettings,
    end_users: EndUserAuth,
    clock: Arc<dyn Clock>,
    openapi: Arc<serde_json::Value>,
}

impl AppState {
    /// Assembles the state.
    pub(crate) fn new(
        store: Arc<dyn Store>,
        documents: Documents,
        events: Events,
        user_settings: UserSettings,
        end_users: EndUserAuth,
        clock: Arc<dyn Clock>,
        openapi: serde_json::Value,
    ) -> Self {
        Self(Arc::new(Inner { store, documents, events, user_settings, end_users, clock, openapi: Arc::new(openapi) }))
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

    /// End users' own settings.
    pub fn user_settings(&self) -> &UserSettings {
        &self.0.user_settings
    }

    /// End-user authentication.
    pub fn end_users(&self) -> &EndUserAuth {
        &self.0.end_users
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.0.clock
    }

    /// The OpenAPI document of every route.
    pub fn openapi(&self) -> &Arc<serde_json::Value> {
        &self.0.openapi
    }
}
