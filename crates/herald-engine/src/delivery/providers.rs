//! Which providers send a tenant's message on a channel, and failover between them.
//!
//! The chain of a (tenant, channel) is the tenant's enabled entries by priority (see
//! [`crate::tenant_providers`]), else the global `channels.<channel>` provider. A channel the
//! global configuration disables (`type = "disabled"`, or seed 05's `EMAIL_ENABLED=false`) has
//! no global provider: its messages fail as those of a tenant's `disabled` entry do, with the
//! reason [`disabled`] gives — unless the tenant has providers of its own, which come first as
//! always (seed 05: the environment is the fallback of clinics without their own settings). A tenant's
//! entries replace the global provider rather than precede it, so a clinic's mail never
//! leaves through the platform's server once the clinic has its own. A `disabled` entry ends
//! the chain (first in it, the channel is off for the tenant); an entry whose settings cannot
//! be opened or built is skipped with a warning, and if none is left the message fails.
//!
//! The entries are read on every delivery (one indexed query) and compared with the chain
//! built last time by their ids and revisions: a change made through any instance is used by
//! the next message, without a restart, and built providers (with their connection pools) are
//! kept while nothing changed.
//!
//! Failover happens within one attempt: a transient failure (a timeout, an unreachable
//! server, 429, 5xx) moves on to the next provider at once; a permanent one ends the attempt,
//! since the message itself is at fault. Each provider tried before the last is recorded as an
//! attempt with outcome `retry` and no `nextAttemptAt`, naming its `service` and entry. Failover
//! stops before the job's lease could run out (each provider may take the whole send timeout);
//! the next attempt starts again from the first provider, which may have recovered.

use crate::EngineError;
use crate::tenant_providers::{self, StoredEntry, open_config};
use herald_channels::{Outgoing, Provider, Receipt, SendError};
use herald_core::clock::Clock;
use herald_core::notification::{Attempt, AttemptOutcome};
use herald_core::resources::channel::Channel;
use herald_core::secrets::Keyring;
use herald_store::Store;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Resolves the providers of each (tenant, channel). Cheap to clone; clones share the cache.
#[derive(Clone)]
pub struct Providers {
    global: Arc<HashMap<Channel, Arc<dyn Provider>>>,
    disabled: Arc<Vec<Channel>>,
    tenants: Option<Arc<TenantSource>>,
}

/// Why a message of a disabled channel is not sent; `whose` says where it was switched off
/// (`this tenant`, `this server`).
pub fn disabled(channel: Channel, whose: &str) -> String {
    format!("{} is disabled for {whose}", channel.as_str())
}

/// Where tenants' own providers come from, and the chains built from them.
struct TenantSource {
    store: Arc<dyn Store>,
    keyring: Keyring,
    cache: Mutex<HashMap<(String, Channel), Built>>,
}

/// A chain and the entries (ids and revisions) it was built from.
struct Built {
    fingerprint: Vec<(String, i64)>,
    chain: Result<Chain, String>,
}

/// The providers one message is tried with, in order (never empty).
#[derive(Clone)]
pub struct Chain {
    links: Vec<Link>,
}

#[derive(Clone)]
struct Link {
    provider: Arc<dyn Provider>,
    /// The tenant's entry name; `None` for the global provider.
    entry: Option<String>,
}

/// How a message went through its chain.
pub(super) struct Sent {
    /// The last provider's answer.
    pub(super) answer: Result<Receipt, SendError>,
    /// The last provider's name (the message's `service`).
    pub(super) service: &'static str,
    /// The last provider's tenant entry.
    pub(super) entry: Option<String>,
    /// When the last provider was handed the message.
    pub(super) started_at: jiff::Timestamp,
    /// How long the last provider took.
    pub(super) duration_ms: u64,
    /// The attempts of the providers failed over from.
    pub(super) failed_over: Vec<Attempt>,
}

impl Providers {
    /// Only the global providers, one per channel (tenants' entries are not read).
    pub fn global(providers: HashMap<Channel, Arc<dyn Provider>>) -> Self {
        Self { global: Arc::new(providers), disabled: Arc::default(), tenants: None }
    }

    /// Also `channels` switched off globally: no global provider sends them.
    pub fn with_disabled(self, channels: Vec<Channel>) -> Self {
        Self { disabled: Arc::new(channels), ..self }
    }

    /// Also each tenant's own entries from `store`, their secrets opened with `keyring`.
    pub fn with_tenants(self, store: Arc<dyn Store>, keyring: Keyring) -> Self {
        let source = TenantSource { store, keyring, cache: Mutex::default() };
        Self { tenants: Some(Arc::new(source)), ..self }
    }

    /// The global provider of each channel.
    pub fn globals(&self) -> impl Iterator<Item = (Channel, &Arc<dyn Provider>)> {
        self.global.iter().map(|(channel, provider)| (*channel, provider))
    }

    /// The chain for a message of `tenant` on `channel`, or why there is none.
    pub async fn resolve(&self, tenant: &str, channel: Channel) -> Result<Result<Chain, String>, EngineError> {
        if let Some(source) = &self.tenants {
            let entries = tenant_providers::list(&source.store, tenant, Some(channel)).await?;
            let enabled: Vec<StoredEntry> = entries.into_iter().filter(|e| e.entry.enabled).collect();
            if !enabled.is_empty() {
                return Ok(source.chain(tenant, channel, &enabled));
            }
        }
        if self.disabled.contains(&channel) {
            return Ok(Err(disabled(channel, "this server")));
        }
        Ok(match self.global.get(&channel) {
            Some(provider) => Ok(Chain { links: vec![Link { provider: provider.clone(), entry: None }] }),
            None => Err("no provider is configured for this channel".into()),
        })
    }
}

impl FromIterator<(Channel, Arc<dyn Provider>)> for Providers {
    fn from_iter<I: IntoIterator<Item = (Channel, Arc<dyn Provider>)>>(providers: I) -> Self {
        Self::global(providers.into_iter().collect())
    }
}

impl TenantSource {
    /// The chain of `enabled` (sorted by priority), from the cache while they are unchanged.
    fn chain(&self, tenant: &str, channel: Channel, enabled: &[StoredEntry]) -> Result<Chain, String> {
        let fingerprint: Vec<(String, i64)> = enabled.iter().map(|e| (e.id.clone(), e.revision)).collect();
        let key = (tenant.to_string(), channel);
        if let Some(built) = self.cache.lock().expect("never poisoned").get(&key).filter(|b| b.fingerprint == fingerprint) {
            return built.chain.clone();
        }
        let chain = self.build(tenant, channel, enabled);
        self.cache.lock().expect("never poisoned").insert(key, Built { fingerprint, chain: chain.clone() });
        chain
    }

    fn build(&self, tenant: &str, channel: Channel, enabled: &[StoredEntry]) -> Result<Chain, String> {
        let mut links = Vec::new();
        for stored in enabled {
            let name = stored.entry.name.as_str();
            match open_config(&self.keyring, &stored.entry.config).and_then(|config| config.map(|c| c.build()).transpose()) {
                Ok(Some(provider)) => links.push(Link { provider, entry: Some(name.to_string()) }),
                Ok(None) if links.is_empty() => return Err(disabled(channel, "this tenant")),
                Ok(None) => break,
                Err(reason) => tracing::warn!(tenant, entry = name, %reason, "a tenant provider cannot be used; it is skipped"),
            }
        }
        if links.is_empty() { Err("the tenant's providers for this channel cannot be used".into()) } else { Ok(Chain { links }) }
    }
}

impl Chain {
    /// Hands `outgoing` to each provider in turn until one accepts it or fails for good, each
    /// given `timeout`, none started once `budget` could be overrun. `number` is the attempt's.
    pub(super) async fn send(&self, outgoing: &Outgoing, timeout: Duration, budget: Duration, number: u32, clock: &dyn Clock) -> Sent {
        let began = Instant::now();
        let mut failed_over = Vec::new();
        for (i, link) in self.links.iter().enumerate() {
            let started_at = clock.now();
            let started = Instant::now();
            let answer = match tokio::time::timeout(timeout, link.provider.send(outgoing)).await {
                Ok(answer) => answer,
                Err(_) => Err(SendError::transient("the provider did not answer in time")),
            };
            let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            let more = i + 1 < self.links.len() && began.elapsed() + timeout < budget;
            match answer {
                Err(error) if error.transient && more => {
                    tracing::info!(tenant = %outgoing.tenant, key = %outgoing.idempotency_key, service = link.provider.name(), entry = ?link.entry, reason = %error.reason, "failing over to the next provider");
                    failed_over.push(Attempt {
                        number,
                        started_at,
                        duration_ms,
                        outcome: AttemptOutcome::Retry,
                        response_code: error.response_code,
                        response: error.response,
                        provider_message_id: None,
                        error: Some(error.reason),
                        next_attempt_at: None,
                        service: Some(link.provider.name().to_string()),
                        provider: link.entry.clone(),
                    });
                }
                answer => {
                    return Sent { answer, service: link.provider.name(), entry: link.entry.clone(), started_at, duration_ms, failed_over };
                }
            }
        }
        unreachable!("a chain is never empty and its last provider always answers")
    }
}
