//! The app builder: configuration in, a bound server out. Tests build it on port 0 with a
//! fresh database and a manual clock; `herald serve` builds it from the environment.

use crate::amqp::EventSink;
use crate::auth::EndUserAuth;
use crate::config::Config;
use crate::error::ApiError;
use crate::observability::{REQUEST_ID_HEADER, RandomRequestId, record_metrics, route_of};
use crate::state::{AppState, Inner};
use crate::{keyring, routes};
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::HeaderName;
use axum::{Router, ServiceExt, middleware};
use herald_channels::{Provider, ProviderConfig};
use herald_core::clock::{Clock, SystemClock};
use herald_core::resources::channel::Channel;
use herald_engine::delivery::Dispatcher;
use herald_engine::delivery::providers::Providers;
use herald_engine::documents::Documents;
use herald_engine::events::Events;
use herald_engine::events::custom::ScriptHost;
use herald_engine::files::Files;
use herald_engine::idempotency::Idempotency;
use herald_engine::inbox::Inbox;
use herald_engine::inbox::hub::Hub;
use herald_engine::preferences::NotificationPreferences;
use herald_engine::provider_health::ProviderHealth;
use herald_engine::saga::{Saga, SagaEvents};
use herald_engine::scheduler::Scheduler;
use herald_engine::smtp_settings::SmtpSettings;
use herald_engine::template_lookup::TemplateLookup;
use herald_engine::templates::Previews;
use herald_engine::tenant_providers::TenantProviders;
use herald_engine::tenants::{IssuedKey, Tenants};
use herald_engine::timers::{AllowedHosts, TimerOutputs, Timers};
use herald_engine::user_settings::UserSettings;
use herald_scripting::{ScriptLimits, Scripts};
use herald_store::Store;
use jiff::SignedDuration;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::Layer;
use tower_http::normalize_path::NormalizePathLayer;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnFailure, DefaultOnResponse, TraceLayer};
use tracing::Level;

/// Loads the custom handler scripts named in configuration; a script that does not compile
/// stops Herald, naming the file.
fn load_scripts(config: &Config) -> anyhow::Result<Option<Arc<ScriptHost>>> {
    let Some(dir) = &config.scripts_dir else { return Ok(None) };
    let limits = ScriptLimits {
        timeout: std::time::Duration::from_millis(config.script_timeout_ms),
        memory_bytes: config.script_memory_mb * 1024 * 1024,
        ..ScriptLimits::default()
    };
    let scripts = Scripts::load_dir(dir, &limits).map_err(|e| anyhow::anyhow!("scripts_dir ({}): {e}", dir.display()))?;
    tracing::info!(handlers = ?scripts.names(), "custom handlers loaded");
    Ok(Some(Arc::new(ScriptHost::new(scripts, limits))))
}

/// The provider of each active channel: the configured one, else the in-app store for the
/// in-app channel and the console for the others; none for a `disabled` one.
fn providers(config: &Config) -> anyhow::Result<HashMap<Channel, Arc<dyn Provider>>> {
    let mut providers = HashMap::new();
    for channel in &config.active_channels {
        let default = if *channel == Channel::InApp { ProviderConfig::InApp } else { ProviderConfig::Console(Default::default()) };
        let provider_config = config.channels.get(channel).unwrap_or(&default);
        if matches!(provider_config, ProviderConfig::Disabled) {
            continue;
        }
        let provider = provider_config.build().map_err(|e| anyhow::anyhow!("channels.{}: {e}", channel.as_str()))?;
        providers.insert(*channel, provider);
    }
    Ok(providers)
}

/// Where `POST /saga/send` publishes its outcome events, when a label is configured
/// (configuration guarantees the broker then is).
fn saga_events(config: &Config) -> Option<SagaEvents> {
    let url = config.amqp_url.as_ref()?;
    let saga = &config.saga;
    (saga.success_event_label.is_some() || saga.fail_event_label.is_some()).then(|| SagaEvents {
        broker: config.amqp.broker(url.expose()),
        exchange: saga.exchange.clone(),
        success_label: saga.success_event_label.clone(),
        fail_label: saga.fail_event_label.clone(),
        tenant_header: config.amqp.tenant_header.clone(),
    })
}

/// A built Herald: migrated database, bound listener, ready to run.
pub struct App {
    listener: TcpListener,
    router: Router,
    consumer: Option<(herald_broker::BrokerConfig, Arc<EventSink>)>,
    scheduler: Scheduler,
    dispatcher: Dispatcher,
    job_poll: Option<std::time::Duration>,
    store: Arc<dyn Store>,
    bootstrap_key: Option<IssuedKey>,
    shutdown: CancellationToken,
    template_lookup: TemplateLookup,
    files: Files,
    provider_health: ProviderHealth,
    health_interval: Option<std::time::Duration>,
}

impl App {
    /// Builds Herald on the system clock.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// Builds Herald on the given clock: opens and migrates the database, creates the
    /// `default` tenant on an empty one, and binds the listener.
    pub async fn build_with_clock(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        crate::observability::prometheus();
        // The key is checked (and on SQLite created) at start, so a bad one stops Herald at
        // once; it seals and opens tenants' provider secrets.
        let keyring = keyring::load(&config)?;
        let store = herald_store::connect(&config.database_url).await?;
        store.migrate().await?;
        let bootstrap_key = Tenants::new(store.clone(), clock.clone()).ensure_default().await?;
        let end_users = EndUserAuth::from_config(&config.auth)?;
        let template_lookup = TemplateLookup::new(store.clone(), config.templates_dir.as_deref())?;
        let documents = Documents::new(store.clone(), clock.clone(), config.max_page_size, config.max_bulk_items);
        let objects = config.files.open(&config.default_files_root()).map_err(anyhow::Error::msg)?;
        let files = Files::new(store.clone(), objects, clock.clone(), config.files.max_file_bytes);
        let (router, openapi) = routes::api(config.bulk_body_limit, files.max_file_bytes()).split_for_parts();
        let events = Events::new(
            store.clone(),
            clock.clone(),
            SignedDuration::from_secs(config.dedup_window_seconds as i64),
            load_scripts(&config)?,
            config.active_channels.clone(),
        );
        let allowed = AllowedHosts::new(config.timer_allowed_hosts.clone());
        let outputs = TimerOutputs {
            http: reqwest::Client::new(),
            allowed: allowed.clone(),
            amqp: config.amqp_url.as_ref().map(|url| config.amqp.broker(url.expose())),
        };
        let lease = SignedDuration::from_secs(i64::try_from(config.job_lease_seconds).unwrap_or(i64::MAX));
        let scheduler = Scheduler::new(store.clone(), events.clone(), clock.clone(), outputs, lease);
        let global = providers(&config)?;
        let email_provider = global.get(&Channel::Email).cloned();
        let disabled = config.channels.iter().filter(|(_, c)| matches!(c, ProviderConfig::Disabled)).map(|(channel, _)| *channel).collect();
        let providers = Providers::global(global).with_disabled(disabled).with_tenants(store.clone(), keyring.clone());
        let dispatcher = Dispatcher::new(
            store.clone(),
            clock.clone(),
            providers.clone(),
            config.delivery.clone(),
            lease,
            template_lookup.clone(),
            config.default_locale.clone(),
            files.clone(),
        );
        let timers = Timers::new(store.clone(), clock.clone(), allowed);
        let job_poll = (config.job_poll_interval_ms > 0).then(|| std::time::Duration::from_millis(config.job_poll_interval_ms));
        let consumer = config.amqp_url.as_ref().map(|url| {
            let sink = EventSink {
                events: events.clone(),
                store: store.clone(),
                tenant_header: config.amqp.tenant_header.clone(),
                default_tenant: config.amqp.default_tenant.clone(),
            };
            (config.amqp.broker(url.expose()), Arc::new(sink))
        });
        let saga = Saga::new(events.clone(), saga_events(&config));
        let tenant_providers = TenantProviders::new(store.clone(), clock.clone(), keyring.clone(), config.email.allow_private_hosts);
        let smtp_settings = SmtpSettings::new(tenant_providers.clone(), clock.clone(), config.email.allow_private_hosts);
        let health_timeout = std::time::Duration::from_secs(config.provider_health.timeout_seconds);
        let provider_health = ProviderHealth::new(providers, store.clone(), keyring, clock.clone(), health_timeout);
        let health_interval =
            (config.provider_health.interval_seconds > 0).then(|| std::time::Duration::from_secs(config.provider_health.interval_seconds));
        let shutdown = CancellationToken::new();
        let inbox = Inbox::new(store.clone(), clock.clone(), Hub::start(&store, shutdown.clone()));
        let state = AppState::new(Inner {
            store: store.clone(),
            documents: documents.clone(),
            events,
            saga,
            user_settings: UserSettings::new(store.clone(), documents.clone(), config.active_channels.clone()),
            previews: Previews::new(documents, store.clone(), clock.clone(), config.default_locale.clone()),
            timers,
            idempotency: Idempotency::new(store.clone(), clock.clone()),
            files: files.clone(),
            end_users,
            preferences: NotificationPreferences::new(store.clone(), clock.clone()),
            email_provider,
            tenant_providers,
            smtp_settings,
            provider_health: provider_health.clone(),
            clock,
            openapi: Arc::new(serde_json::to_value(&openapi)?),
            whatsapp: routes::WhatsappWebhooks::from_config(&config),
            ses: routes::SesWebhooks::from_config(&config)?,
            twilio: routes::TwilioWebhooks::from_config(&config),
            inbox,
            realtime: config.realtime.clone(),
        });
        let request_id = HeaderName::from_static(REQUEST_ID_HEADER);
        let trace = TraceLayer::new_for_http()
            .make_span_with(|request: &Request| {
                let id = request.headers().get(REQUEST_ID_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
                tracing::info_span!("request", method = %request.method(), route = %route_of(request), request_id = %id)
            })
            .on_request(())
            .on_response(DefaultOnResponse::new().level(Level::INFO))
            .on_failure(DefaultOnFailure::new().level(Level::WARN));
        let router = router
            .fallback(|| async { ApiError::not_found("no such route") })
            .method_not_allowed_fallback(|| async {
                ApiError::new(axum::http::StatusCode::METHOD_NOT_ALLOWED, "this route does not take that method")
            })
            .layer(middleware::from_fn(record_metrics))
            .layer(DefaultBodyLimit::max(config.body_limit))
            .layer(trace)
            .layer(PropagateRequestIdLayer::new(request_id.clone()))
            .layer(SetRequestIdLayer::new(request_id, RandomRequestId))
            .with_state(state);
        let listener = TcpListener::bind(config.bind).await.map_err(|e| anyhow::anyhow!("bind ({}): cannot listen: {e}", config.bind))?;
        Ok(Self {
            listener,
            router,
            consumer,
            scheduler,
            dispatcher,
            job_poll,
            store,
            bootstrap_key,
            shutdown,
            template_lookup,
            files,
            provider_health,
            health_interval,
        })
    }

    /// The address the server listens on (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// The admin key of the `default` tenant, when this start created it.
    pub fn bootstrap_key(&self) -> Option<&IssuedKey> {
        self.bootstrap_key.as_ref()
    }

    /// The timed-job runner, for tests that move a manual clock and run what is due.
    pub fn scheduler(&self) -> Scheduler {
        self.scheduler.clone()
    }

    /// The delivery dispatcher, for tests that run due deliveries by hand.
    pub fn dispatcher(&self) -> Dispatcher {
        self.dispatcher.clone()
    }

    /// The store, for tests and tools that inspect what the server wrote.
    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// Templates by name (the tenant's, the system tenant's, `templates_dir`'s), for delivery.
    pub fn template_lookup(&self) -> TemplateLookup {
        self.template_lookup.clone()
    }

    /// The files service, for dispatchers that attach its files.
    pub fn files(&self) -> Files {
        self.files.clone()
    }

    /// The providers' health checks, for tests that check at a moment of their choosing.
    pub fn provider_health(&self) -> ProviderHealth {
        self.provider_health.clone()
    }

    /// Cancel this to stop the server gracefully: in-flight requests finish first.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Serves HTTP (and consumes RabbitMQ when configured) until the shutdown token is
    /// cancelled; in-flight requests and messages finish first.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let consumer = self.consumer.map(|(config, sink)| tokio::spawn(herald_broker::run_consumer(config, sink, self.shutdown.clone())));
        let jobs = self.job_poll.map(|poll| tokio::spawn(self.scheduler.run(poll, self.shutdown.clone())));
        let deliveries = self.job_poll.map(|poll| tokio::spawn(self.dispatcher.run(poll, self.shutdown.clone())));
        let health = self.health_interval.map(|every| tokio::spawn(self.provider_health.run(every, self.shutdown.clone())));
        let service = NormalizePathLayer::trim_trailing_slash().layer(self.router);
        axum::serve(self.listener, ServiceExt::<Request>::into_make_service_with_connect_info::<std::net::SocketAddr>(service))
            .with_graceful_shutdown(self.shutdown.clone().cancelled_owned())
            .await?;
        if let Some(consumer) = consumer {
            consumer.await??;
        }
        for runner in [jobs, deliveries, health].into_iter().flatten() {
            runner.await?;
        }
        Ok(())
    }
}
