//! Spawns a real Herald for one test and talks to it over HTTP.

use herald_core::clock::ManualClock;
use herald_core::secrets::SecretKey;
use herald_server::config::{AuthConfig, JwtConfig, Secret};
use herald_server::{App, Config};
use herald_store::Store;
use herald_testkit::Backend;
use jiff::{SignedDuration, Timestamp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A test body: gets a running app.
pub type Case = fn(TestApp) -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// Registers `async fn name(app: TestApp)` functions as cases.
macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        pub const CASES: &[(&str, crate::support::Case)] = &[$((stringify!($name), (|app| Box::pin($name(app))) as crate::support::Case)),*];
    };
}
pub(crate) use cases;

/// The JWT secret test apps accept.
pub const JWT_SECRET: &str = "test-jwt-secret-with-at-least-32-chars";

/// When every test's clock starts.
pub const START_MS: i64 = 1_800_000_000_000;

/// A running Herald and what a test needs to talk to it.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    /// The admin key of the `default` tenant created at first start.
    pub admin_key: String,
    pub store: Arc<dyn Store>,
    pub clock: Arc<ManualClock>,
    /// The configuration the app runs with, for starting a second instance on its database.
    pub config: Config,
    /// The timed-job runner (its polling is off in tests: they run what is due by hand).
    pub scheduler: herald_engine::scheduler::Scheduler,
    /// The app's template lookup, for dispatchers with other providers.
    pub templates: herald_engine::template_lookup::TemplateLookup,
    /// The app's files service, for dispatchers that attach its files.
    pub files: herald_engine::files::Files,
}

pub fn run(backend: Backend, case: Case) -> Result<(), libtest_mimic::Failed> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime");
    runtime.block_on(async move {
        let database = backend.scratch().await;
        let files_root = tempfile::tempdir().expect("a folder for the test's files");
        let mut config = test_config(database.url());
        config.files.root = Some(files_root.path().to_path_buf());
        let clock = Arc::new(ManualClock::new(Timestamp::from_millisecond(START_MS).unwrap()));
        let app = App::build_with_clock(config.clone(), clock.clone()).await.expect("the app builds");
        let base = format!("http://{}", app.local_addr());
        let admin_key = app.bootstrap_key().expect("a fresh database gets a default tenant").secret.clone();
        let store = app.store();
        let scheduler = app.scheduler();
        let templates = app.template_lookup();
        let files = app.files();
        let shutdown = app.shutdown_token();
        let server = tokio::spawn(app.run_until_stopped());
        case(TestApp { base, client: reqwest::Client::new(), admin_key, store, clock, config, scheduler, templates, files }).await;
        shutdown.cancel();
        server.await.expect("the server task ends").expect("the server stops cleanly");
        drop(database);
    });
    Ok(())
}

/// The configuration every test app runs with.
pub fn test_config(database_url: &str) -> Config {
    Config {
        database_url: database_url.to_string(),
        bind: "127.0.0.1:0".parse().unwrap(),
        secret_key: Some(Secret::new(SecretKey::generate().to_base64())),
        body_limit: 64 * 1024,
        bulk_body_limit: 1024 * 1024,
        max_page_size: 50,
        scripts_dir: Some(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/handlers").into()),
        script_timeout_ms: 300,
        script_memory_mb: 16,
        job_poll_interval_ms: 0,
        timer_allowed_hosts: vec!["127.0.0.1".into()],
        auth: AuthConfig { jwt: Some(JwtConfig { leeway_seconds: 0, ..JwtConfig::hs256(Secret::new(JWT_SECRET)) }), gateway: None },
        ..Config::default()
    }
}

impl TestApp {
    /// Sends a request with an optional bearer key and JSON body; returns status and JSON body
    /// (`null` when empty).
    pub async fn call(&self, method: Method, path: &str, key: Option<&str>, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status();
        let text = response.text().await.expect("a body");
        let json = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        (status, json)
    }

    pub async fn get(&self, path: &str, key: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(key), None).await
    }

    pub async fn post(&self, path: &str, key: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(key), Some(body)).await
    }

    pub async fn patch(&self, path: &str, key: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, Some(key), Some(body)).await
    }

    pub async fn delete(&self, path: &str, key: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, Some(key), None).await
    }

    /// Creates a document and returns its `_id`.
    pub async fn create(&self, collection: &str, key: &str, body: Value) -> String {
        let (status, created) = self.post(&format!("/{collection}/"), key, body).await;
        assert_eq!(status, StatusCode::OK, "{created}");
        created["_id"].as_str().expect("an _id").to_string()
    }

    /// How many documents a collection holds for the key's tenant.
    pub async fn count(&self, collection: &str, key: &str) -> u64 {
        let (status, count) = self.get(&format!("/{collection}/count"), key).await;
        assert_eq!(status, StatusCode::OK, "{count}");
        count.as_u64().expect("a number")
    }

    /// Sends an event to `POST /notification-events/` with the admin key.
    pub async fn emit(&self, event: Value) -> (StatusCode, Value) {
        self.post("/notification-events/", &self.admin_key, event).await
    }

    /// Starts a second Herald on the same database and clock; returns its base URL and the
    /// token that stops it.
    pub async fn second_instance(&self) -> (String, tokio_util::sync::CancellationToken) {
        let app = App::build_with_clock(self.config.clone(), self.clock.clone()).await.expect("a second instance builds");
        let base = format!("http://{}", app.local_addr());
        let stop = app.shutdown_token();
        tokio::spawn(app.run_until_stopped());
        (base, stop)
    }

    /// Starts a second Herald on the same database and clock with a configuration of its own:
    /// the test's, background provider health checks off, then `configure` (providers, webhook
    /// secrets).
    pub async fn configured(&self, configure: impl FnOnce(&mut Config)) -> ConfiguredHerald {
        let mut config = self.config.clone();
        config.provider_health.interval_seconds = 0;
        configure(&mut config);
        let herald = App::build_with_clock(config, self.clock.clone()).await.expect("Herald builds");
        let base = format!("http://{}", herald.local_addr());
        let (dispatcher, stop) = (herald.dispatcher(), herald.shutdown_token());
        tokio::spawn(herald.run_until_stopped());
        ConfiguredHerald { base, dispatcher, stop }
    }

    /// Moves the clock forward and runs the timed jobs that became due; returns how many ran.
    pub async fn advance_and_run(&self, by: SignedDuration) -> usize {
        self.clock.advance(by);
        self.scheduler.run_due().await.expect("due jobs run")
    }

    /// A dispatcher over the app's store and clock with these providers and settings.
    pub fn dispatcher_with(
        &self,
        providers: Vec<(herald_core::resources::channel::Channel, Arc<dyn herald_channels::Provider>)>,
        config: herald_engine::delivery::DeliveryConfig,
    ) -> herald_engine::delivery::Dispatcher {
        let providers = providers.into_iter().collect();
        herald_engine::delivery::Dispatcher::new(
            self.store.clone(),
            self.clock.clone(),
            providers,
            config,
            SignedDuration::from_secs(120),
            self.templates.clone(),
            "en".into(),
            self.files.clone(),
        )
    }

    /// The current time of the app's clock.
    pub fn now(&self) -> Timestamp {
        herald_core::clock::Clock::now(self.clock.as_ref())
    }

    /// Creates another tenant through the engine, as `herald tenant create` does, and
    /// returns its admin key.
    pub async fn new_tenant(&self, slug: &str) -> String {
        let tenants = herald_engine::tenants::Tenants::new(self.store.clone(), self.clock.clone());
        tenants.create(slug, None, None).await.expect("the tenant is created").secret
    }

    /// Mints a key with `role` for `tenant`; returns (secret, key id).
    pub async fn key(&self, tenant: &str, role: herald_core::access::Role) -> (String, String) {
        let tenants = herald_engine::tenants::Tenants::new(self.store.clone(), self.clock.clone());
        let key = tenants.issue_key(tenant, role).await.expect("the key is minted");
        (key.secret, key.key_id)
    }

    /// Revokes a key.
    pub async fn revoke(&self, tenant: &str, key_id: &str) {
        let tenants = herald_engine::tenants::Tenants::new(self.store.clone(), self.clock.clone());
        tenants.revoke_key(tenant, key_id).await.expect("the key is revoked");
    }
}

/// A second Herald with a configuration of its own (see [`TestApp::configured`]); stopped when
/// dropped.
pub struct ConfiguredHerald {
    /// Its base URL.
    pub base: String,
    /// Its dispatcher, to run the deliveries that are due.
    pub dispatcher: herald_engine::delivery::Dispatcher,
    stop: tokio_util::sync::CancellationToken,
}

impl Drop for ConfiguredHerald {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Asserts the seeds' error shape and status, and that the message names `field`.
pub fn assert_error(response: &(StatusCode, Value), status: StatusCode, field: &str) {
    let (actual, body) = response;
    assert_eq!(*actual, status, "{body}");
    assert_eq!(body["statusCode"], status.as_u16().to_string(), "{body}");
    assert_eq!(body["error"], status.canonical_reason().unwrap(), "{body}");
    let message = body["message"].as_str().expect("a message");
    assert!(message.contains(field), "message {message:?} should name {field:?}");
}

/// Every CRUD collection's path.
pub const COLLECTIONS: [&str; 4] = ["users", "templates", "notification-settings", "event-settings"];

/// A valid document for `collection`, distinct for each `n`.
pub fn sample(collection: &str, n: usize) -> Value {
    match collection {
        "users" => {
            json!({"id": format!("user-{n}"), "name": format!("User {n}"), "emailAddress": format!("user{n}@example.org"), "groups": ["patients"]})
        }
        "templates" => {
            json!({"name": format!("template-{n}"), "emailTitle": "Hello", "emailMessage": "Hi {{user.name}}"})
        }
        "notification-settings" => {
            json!({"eventName": "AM/AppointmentCreated/v1", "group": format!("group-{n}"), "channels": ["email"], "templateName": "template-1"})
        }
        "event-settings" => {
            json!({"eventName": format!("custom/Event{n}/v1"), "supportedChannels": ["email", "sms"]})
        }
        other => panic!("unknown collection {other}"),
    }
}

/// A harmless change for `collection`.
pub fn change(collection: &str) -> Value {
    match collection {
        "users" => json!({"$set": {"name": "Changed"}}),
        "templates" => json!({"$set": {"smsMessage": "Changed"}}),
        "notification-settings" => json!({"$set": {"hours": ["08:00-20:00"]}}),
        "event-settings" => json!({"$set": {"userGroups": ["staff"]}}),
        other => panic!("unknown collection {other}"),
    }
}

/// A notification's messages as (channel, template, status).
pub fn messages(notification: &Value) -> Vec<(String, String, String)> {
    notification["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["channel"].as_str().unwrap().into(), m["templateName"].as_str().unwrap().into(), m["status"].as_str().unwrap().into()))
        .collect()
}

/// One expected message.
pub fn triple(channel: &str, template: &str, status: &str) -> (String, String, String) {
    (channel.into(), template.into(), status.into())
}
