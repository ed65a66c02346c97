//! The timer service (the seeds' `POST /schedule`, `POST /abort`): timers are durable timed jobs
//! like reminders; when one expires the scheduler delivers its payload by an HTTP call to an
//! allowed host (never to arbitrary internal addresses) or an AMQP message, through
//! [`TimerOutputs`]; the scheduler decides when to try again.

use crate::EngineError;
use herald_channels::{SendError, http};
use herald_core::Invalid;
use herald_core::clock::Clock;
use herald_core::document::format_timestamp;
use herald_core::id::new_document_id;
use herald_core::job::{Job, JobKind, JobStatus};
use herald_core::timer::{OutputMode, Protocol, RestMethod, TimerRequest};
use herald_store::{EventCommit, Store};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// Hosts a `rest` timer may call: `host` (any port) or `host:port`.
#[derive(Clone, Debug, Default)]
pub struct AllowedHosts(Vec<String>);

impl AllowedHosts {
    /// The hosts from configuration.
    pub fn new(hosts: Vec<String>) -> Self {
        Self(hosts)
    }

    /// Whether `hostname` on `port` may be called.
    pub fn allows(&self, hostname: &str, port: Option<u16>) -> bool {
        let host = hostname.to_ascii_lowercase();
        self.0.iter().any(|allowed| {
            let allowed = allowed.to_ascii_lowercase();
            match (allowed.rsplit_once(':'), port) {
                (Some((h, p)), Some(port)) => h == host && p == port.to_string(),
                (Some(_), None) => false,
                (None, _) => allowed == host,
            }
        })
    }
}

/// Where expired timers deliver: HTTP to allowed hosts, and the broker when one is configured.
#[derive(Clone)]
pub struct TimerOutputs {
    /// The HTTP client.
    pub http: reqwest::Client,
    /// Hosts `rest` timers may call.
    pub allowed: AllowedHosts,
    /// The broker for `amqp` timers.
    pub amqp: Option<herald_broker::BrokerConfig>,
}

impl TimerOutputs {
    /// Delivers an expired timer's payload: an HTTP call to an allowed host, or a message on
    /// an existing exchange.
    /// Answers are read as the HTTP providers' are (`herald_channels::http`).
    pub async fn deliver(&self, timer: TimerRequest) -> Result<(), SendError> {
        let body = Value::Object(timer.payload);
        match timer.output_mode {
            OutputMode::Rest { method, protocol, hostname, port, path, headers } => {
                if !self.allowed.allows(&hostname, port) {
                    return Err(SendError::permanent("the host is not among the hosts timers may call"));
                }
                let scheme = match protocol {
                    Protocol::Http => "http",
                    Protocol::Https => "https",
                };
                let url = format!("{scheme}://{hostname}{}{path}", port.map(|p| format!(":{p}")).unwrap_or_default());
                let method = match method {
                    RestMethod::Post => reqwest::Method::POST,
                    RestMethod::Put => reqwest::Method::PUT,
                    RestMethod::Patch => reqwest::Method::PATCH,
                };
                let mut request = self.http.request(method, url).json(&body).timeout(Duration::from_secs(10));
                for (name, value) in &headers {
                    request = request.header(name, value);
                }
                let response = request.send().await.map_err(|e| http::unanswered(&e, "the endpoint"))?;
                http::answer(response, "the endpoint").await.map(|_| ())
            }
            OutputMode::Amqp { exchange, routing_key, headers } => {
                let Some(broker) = &self.amqp else {
                    return Err(SendError::permanent("AMQP output is not configured on this server (amqp_url)"));
                };
                herald_broker::publish_to(broker, &exchange, &routing_key, body.to_string().as_bytes(), &headers)
                    .await
                    .map_err(|error| SendError::transient(format!("publishing failed: {error}")))
            }
        }
    }
}

/// Schedules, aborts and reports timers.
#[derive(Clone)]
pub struct Timers {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    allowed: AllowedHosts,
}

impl Timers {
    /// The service, calling only `allowed` hosts.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, allowed: AllowedHosts) -> Self {
        Self { store, clock, allowed }
    }

    /// Stores a timer; returns its `expirationId`.
    pub async fn schedule(&self, tenant: &str, body: Value) -> Result<String, EngineError> {
        let request = TimerRequest::parse(body)?;
        if let OutputMode::Rest { hostname, port, .. } = &request.output_mode
            && !self.allowed.allows(hostname, *port)
        {
            return Err(Invalid::new("outputMode.hostname", "is not among the hosts timers may call (timer_allowed_hosts)").into());
        }
        let due = request.expiration_date()?;
        let id = new_document_id(self.clock.now());
        let payload = serde_json::to_value(&request).expect("timers serialize");
        let job = Job::pending(id.clone(), JobKind::Timer, due, payload);
        self.store.commit_event(tenant, EventCommit { jobs: vec![job], ..EventCommit::default() }).await?;
        Ok(id)
    }

    /// Aborts a pending timer.
    pub async fn abort(&self, tenant: &str, id: &str) -> Result<(), EngineError> {
        match self.store.find_job(tenant, id).await? {
            Some(job) if job.kind == JobKind::Timer && job.status == JobStatus::Pending => {
                self.store.commit_event(tenant, EventCommit { aborted_jobs: vec![id.to_string()], ..EventCommit::default() }).await?;
                Ok(())
            }
            Some(job) if job.kind == JobKind::Timer => Err(EngineError::Conflict { what: "timer", field: "expirationStatus" }),
            _ => Err(EngineError::NotFound("timer")),
        }
    }

    /// A timer as the timer service shows it: its request, `expirationDate` and
    /// `expirationStatus` (`0` pending, `1` expired, `2` aborted, `3` error).
    pub async fn status(&self, tenant: &str, id: &str) -> Result<Value, EngineError> {
        let job = self.store.find_job(tenant, id).await?.filter(|j| j.kind == JobKind::Timer).ok_or(EngineError::NotFound("timer"))?;
        let (code, description) = match job.status {
            JobStatus::Pending | JobStatus::Running => (0, "pending"),
            JobStatus::Done => (1, "expired"),
            JobStatus::Aborted => (2, "aborted"),
            JobStatus::Failed => (3, "error"),
        };
        let mut timer = job.payload.clone();
        timer["_id"] = Value::String(job.id.clone());
        timer["expirationDate"] = Value::String(format_timestamp(job.due_at));
        timer["expirationStatus"] = json!({"id": code, "description": description});
        Ok(timer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_hosts_match_host_or_host_and_port() {
        let allowed = AllowedHosts::new(vec!["orders.internal".into(), "127.0.0.1:8081".into()]);
        assert!(allowed.allows("orders.internal", Some(3000)));
        assert!(allowed.allows("ORDERS.internal", None));
        assert!(allowed.allows("127.0.0.1", Some(8081)));
        assert!(!allowed.allows("127.0.0.1", Some(8082)));
        assert!(!allowed.allows("169.254.169.254", None));
    }
}
