//! The health of every configured provider, for `/readyz`: each global `channels.<channel>`
//! provider and each tenant's entries are checked with [`Provider::healthcheck`] (an SMTP
//! server is connected to and greeted; HTTP providers check what their service lets them)
//! in the background, every interval, each within a timeout; `/readyz` shows the last
//! results. A tenant's entry is shown by tenant, channel, id and type only — never its
//! settings. Entries that are not enabled, and `disabled` ones, are listed as `disabled`
//! without a check.
//!
//! A failing provider does not make Herald unready: messages still queue and retry, and
//! other channels and tenants still send, so a load balancer must not take the instance
//! out. `/readyz` says `degraded` instead, with the reason.

use crate::EngineError;
use crate::delivery::providers::Providers;
use crate::tenant_providers::{self, StoredEntry, open_config};
use herald_channels::Provider;
use herald_core::clock::Clock;
use herald_core::resources::channel::Channel;
use herald_core::secrets::Keyring;
use herald_store::Store;
use jiff::Timestamp;
use serde::Serialize;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Checks run at once.
const CONCURRENT_CHECKS: usize = 8;

/// How a provider fared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// The check passed.
    Ok,
    /// The check failed or timed out.
    Failing,
    /// Not in use, so not checked.
    Disabled,
}

/// One provider's last check.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderStatus {
    /// `global` or `tenant`.
    pub scope: &'static str,
    /// The tenant, for a tenant's entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// The channel it serves.
    pub channel: Channel,
    /// The tenant's entry id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The provider type (`smtp`, `webhook`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// The outcome.
    pub status: Health,
    /// Why it failed (never a secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When it was checked.
    #[serde(with = "herald_core::document::timestamp_format")]
    pub checked_at: Timestamp,
}

/// Checks providers and keeps the last results.
#[derive(Clone)]
pub struct ProviderHealth {
    providers: Providers,
    store: Arc<dyn Store>,
    keyring: Keyring,
    clock: Arc<dyn Clock>,
    timeout: Duration,
    last: Arc<RwLock<Option<Vec<ProviderStatus>>>>,
}

/// What one check is about, before it runs.
struct Check {
    status: ProviderStatus,
    provider: Option<Arc<dyn Provider>>,
}

impl ProviderHealth {
    /// Checks the global `providers` and the tenants' entries in `store` (opened with
    /// `keyring`), each allowed `timeout`.
    pub fn new(providers: Providers, store: Arc<dyn Store>, keyring: Keyring, clock: Arc<dyn Clock>, timeout: Duration) -> Self {
        Self { providers, store, keyring, clock, timeout, last: Arc::default() }
    }

    /// The last results, `None` before the first check finished.
    pub fn report(&self) -> Option<Vec<ProviderStatus>> {
        self.last.read().expect("never poisoned").clone()
    }

    /// Checks every provider now, keeps and returns the results.
    pub async fn check_all(&self) -> Result<Vec<ProviderStatus>, EngineError> {
        let now = self.clock.now();
        let mut checks: Vec<Check> = self
            .providers
            .globals()
            .map(|(channel, provider)| Check {
                status: status("global", None, channel, None, provider.name().to_string(), now),
                provider: Some(provider.clone()),
            })
            .collect();
        for tenant in self.store.list_tenants().await? {
            for entry in tenant_providers::list(&self.store, &tenant.slug, None).await? {
                checks.push(self.entry_check(&tenant.slug, &entry, now));
            }
        }
        let permits = Arc::new(Semaphore::new(CONCURRENT_CHECKS));
        let mut tasks = JoinSet::new();
        for (index, check) in checks.iter().enumerate() {
            let Some(provider) = check.provider.clone() else { continue };
            let (permits, timeout) = (permits.clone(), self.timeout);
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await.expect("the semaphore is never closed");
                let outcome = match tokio::time::timeout(timeout, provider.healthcheck()).await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(error)) => Err(error.reason),
                    Err(_) => Err("the check did not finish in time".to_string()),
                };
                (index, outcome)
            });
        }
        while let Some(done) = tasks.join_next().await {
            let Ok((index, outcome)) = done else { continue };
            let status = &mut checks[index].status;
            (status.status, status.reason) = match outcome {
                Ok(()) => (Health::Ok, None),
                Err(reason) => (Health::Failing, Some(reason)),
            };
        }
        let results: Vec<ProviderStatus> = checks.into_iter().map(|c| c.status).collect();
        for failing in results.iter().filter(|s| s.status == Health::Failing) {
            tracing::warn!(scope = failing.scope, tenant = ?failing.tenant, channel = failing.channel.as_str(), id = ?failing.id, reason = ?failing.reason, "a provider's health check failed");
        }
        *self.last.write().expect("never poisoned") = Some(results.clone());
        Ok(results)
    }

    /// Checks every `interval` until `shutdown` is cancelled, starting at once.
    pub async fn run(self, interval: Duration, shutdown: CancellationToken) {
        loop {
            if let Err(error) = self.check_all().await {
                tracing::warn!(%error, "checking the providers' health failed; trying again later");
            }
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                () = shutdown.cancelled() => return,
            }
        }
    }

    /// A tenant's entry, built to be checked unless it is not in use.
    fn entry_check(&self, tenant: &str, stored: &StoredEntry, now: Timestamp) -> Check {
        let mut status = status("tenant", Some(tenant), stored.entry.channel, Some(&stored.id), stored.kind().to_string(), now);
        if !stored.entry.enabled {
            status.status = Health::Disabled;
            return Check { status, provider: None };
        }
        match open_config(&self.keyring, &stored.entry.config).and_then(|config| config.map(|c| c.build()).transpose()) {
            Ok(Some(provider)) => Check { status, provider: Some(provider) },
            Ok(None) => Check { status: ProviderStatus { status: Health::Disabled, ..status }, provider: None },
            Err(_) => Check {
                status: ProviderStatus { status: Health::Failing, reason: Some("its settings cannot be used".into()), ..status },
                provider: None,
            },
        }
    }
}

fn status(scope: &'static str, tenant: Option<&str>, channel: Channel, id: Option<&str>, kind: String, now: Timestamp) -> ProviderStatus {
    ProviderStatus {
        scope,
        tenant: tenant.map(str::to_string),
        channel,
        id: id.map(str::to_string),
        kind,
        status: Health::Failing,
        reason: Some("not checked yet".into()),
        checked_at: now,
    }
}
