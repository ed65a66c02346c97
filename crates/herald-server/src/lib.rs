//! Herald's HTTP server: the seed APIs as thin routes over the engine, authentication, the
//! error shape, OpenAPI, metrics, and the [`App`] builder that ties them to configuration.

mod amqp;
mod app;
pub mod auth;
pub mod config;
pub mod error;
mod extract;
pub mod keyring;
mod observability;
mod routes;
mod state;

pub use app::App;
pub use config::Config;
pub use routes::ApiDoc;
pub use state::AppState;
