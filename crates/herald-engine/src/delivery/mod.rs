//! The dispatcher: claims due delivery jobs (the outbox the engine writes with each event),
//! renders each message, hands it to its channel's provider (the tenant's own by priority with
//! failover, else the global one: see [`providers`]) and records what happened — all
//! with bounded concurrency, on every instance at once (claims never overlap).
//!
//! A message goes `queued → sending → SUCCESS`, or back to `queued` with its next attempt's
//! time after a retryable failure, or to `FAILURE` after a permanent one or the last attempt;
//! every attempt is kept in the message (`attempts`: outcome, status code, truncated answer,
//! provider id, duration) and every status in `history`. A failure that is final adds an entry
//! to the notification's `failures` and, when the message has fallback channels, queues a
//! stand-in on the next one the recipient can be reached on.
//!
//! The step after the provider's answer (message, failure, stand-in, job) is one transaction,
//! and it records the `sending` status in the history too. The `sending` step is written on its
//! own only when the provider has not answered within [`DeliveryConfig::slow_call_ms`] (500 ms
//! unless set; 0 writes it before every call), so that a slow call shows
//! as `sending` while it lasts: for the usual call of a few milliseconds, a write of its own
//! would cost as much as the delivery's outcome and show nothing anyone could see. If Herald
//! dies while a provider call is in flight, the job's lease runs out and the message is sent
//! again with the same idempotency key — the only way a message can go out twice.
//!
//! An SMS first passes [`sms`]'s gate: an opted-out number skips it (and its fallback is
//! used), an overlong body fails it, and the per-number abuse safeguards may defer it.
//!
//! Rendering problems (a missing variable, a template that is gone) and recipients that are
//! gone are permanent failures of that message; they never stop the dispatcher. A job whose
//! task panics is left to its lease and claimed again.

mod attachments;
mod devices;
mod inbox;
mod prepare;
pub mod providers;
mod quiet_hours;
pub mod rate_limits;
pub mod retry;
pub mod sms;
pub mod whatsapp;

use crate::EngineError;
use crate::files::Files;
use crate::template_lookup::TemplateLookup;
use herald_core::clock::Clock;
use herald_core::document::{Document, to_body};
use herald_core::id::new_document_id;
use herald_core::job::{ClaimedJob, Job, JobKind};
use herald_core::notification::{Attempt, AttemptOutcome, Failure, Message, MessageStatus, Notification};
use herald_core::render::Content;
use herald_core::resources::Collection;
use herald_core::resources::channel::Channel;
use herald_core::resources::user::User;
use herald_core::sms_safeguards::Safeguards;
use herald_store::{DeliveryUpdate, HandedJob, InboxEntry, JobOutcome, LogDetails, Store};
use jiff::SignedDuration;
use providers::Providers;
use rate_limits::{RateLimitConfig, RateLimits};
use retry::RetryPolicy;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Deliveries in flight at once by default. A delivery spends most of its time waiting —
/// for the group commits of its `sending` and `sent` steps and for the provider — and uses
/// little CPU, so the throughput of one instance is about this many divided by a delivery's
/// latency: 512 keeps two cores busy (about 2,000 webhook deliveries/s on SQLite, see
/// BENCHMARKS.md) where 32 or 64 left them waiting on each other. Providers are still held
/// to their rate limits, and an SMTP account to its connection pool.
pub const DEFAULT_CONCURRENCY: usize = 512;

/// How deliveries run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    /// Most messages in flight at once ([`DEFAULT_CONCURRENCY`] unless set).
    pub concurrency: usize,
    /// Seconds a provider call may take before it counts as a retryable failure.
    pub send_timeout_seconds: u64,
    /// Milliseconds a provider call runs before its message is recorded as `sending` on its
    /// own; 0 records it before every call.
    pub slow_call_ms: u64,
    /// When failed messages are tried again.
    pub retry: RetryPolicy,
    /// Per-channel and per-tenant limits.
    pub rate_limits: RateLimitConfig,
    /// The SMS abuse safeguards: per-number limit and repeat delay (see [`sms`]).
    pub sms_safeguards: Safeguards,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            concurrency: DEFAULT_CONCURRENCY,
            send_timeout_seconds: 30,
            slow_call_ms: 500,
            retry: RetryPolicy::default(),
            rate_limits: RateLimitConfig::default(),
            sms_safeguards: Safeguards::default(),
        }
    }
}

/// Sends queued messages.
#[derive(Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    /// One permit per delivery in flight, shared by claimed and handed-over jobs.
    slots: Arc<Semaphore>,
    clock: Arc<dyn Clock>,
    providers: Providers,
    config: DeliveryConfig,
    limits: RateLimits,
    lease: SignedDuration,
    templates: TemplateLookup,
    default_locale: String,
    files: Files,
}

/// A message that will not be sent, and why.
struct Refused(String);

impl Dispatcher {
    /// A dispatcher sending each channel's messages through `providers` (a channel without a
    /// provider fails its messages for good), with email attachments read from `files`; a
    /// claimed message is reserved for `lease`, which must be longer than the send timeout.
    #[allow(clippy::too_many_arguments, reason = "each is a collaborator the app and the tests pass in; none has a sensible default")]
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        providers: Providers,
        config: DeliveryConfig,
        lease: SignedDuration,
        templates: TemplateLookup,
        default_locale: String,
        files: Files,
    ) -> Self {
        let limits = RateLimits::new(config.rate_limits.clone());
        let slots = Arc::new(Semaphore::new(config.concurrency.max(1)));
        Self { inner: Arc::new(Inner { store, slots, clock, providers, config, limits, lease, templates, default_locale, files }) }
    }

    /// Delivers every message due now; returns how many jobs it handled (sent, failed,
    /// rescheduled or deferred by a rate limit). Up to `concurrency` deliveries run at once
    /// (handed-over ones included, see [`Self::run`]), and more are claimed as soon as half of
    /// them are free — not when the slowest of a round is done — so a delivery waiting on a
    /// slow provider or on the writer does not hold the others back. Once a claim finds
    /// nothing, the deliveries in flight finish and one more claim decides whether anything
    /// became due meanwhile (a retry due now, say).
    pub async fn run_due(&self) -> Result<usize, EngineError> {
        let mut handled = 0;
        let concurrency = self.inner.config.concurrency.max(1);
        let mut tasks = JoinSet::new();
        let mut nothing_due = false;
        loop {
            let free = self.inner.slots.available_permits();
            if tasks.is_empty() || (!nothing_due && free >= concurrency.div_ceil(2)) {
                let now = self.inner.clock.now();
                let lease_until = now.checked_add(self.inner.lease).unwrap_or(now);
                let room = u32::try_from(free).unwrap_or(u32::MAX);
                let claimed = match self.inner.store.claim_due_jobs(&[JobKind::Delivery], now, lease_until, room).await {
                    Ok(claimed) => claimed,
                    Err(error) if tasks.is_empty() => return Err(error.into()),
                    Err(error) => {
                        tracing::warn!(%error, "claiming due messages failed; finishing those in flight first");
                        Vec::new()
                    }
                };
                if claimed.is_empty() && tasks.is_empty() {
                    return Ok(handled);
                }
                nothing_due = claimed.is_empty();
                for job in claimed {
                    let slot = self.inner.slots.clone().acquire_owned().await.expect("the slots are never closed");
                    tasks.spawn(self.inner.clone().deliver_in(slot, job, Known::default()));
                }
            }
            match tasks.join_next().await {
                Some(Ok(Ok(()))) => handled += 1,
                Some(Ok(Err(error))) => tracing::warn!(%error, "a delivery could not be recorded; its lease will bring it back"),
                Some(Err(panic)) => tracing::error!(%panic, "a delivery task panicked; its lease will bring it back"),
                None => {}
            }
        }
    }

    /// Delivers messages until `shutdown` is cancelled. The jobs this process commits due at
    /// once are handed over by the store as they commit (see `herald_store::DeliveryFeed`) and
    /// start at once; the others are claimed at once when this process commits them, and every
    /// `poll` otherwise (other instances' jobs, retries and deferred messages coming due).
    /// Messages in flight, and those already handed over, finish first.
    pub async fn run(self, poll: Duration, shutdown: CancellationToken) {
        let feed = self.inner.store.delivery_feed();
        let handed = feed.take_due_jobs(self.inner.lease, self.inner.config.concurrency.max(1));
        let handed = tokio::spawn(self.clone().run_handed(handed, shutdown.clone()));
        loop {
            match self.run_due().await {
                Ok(0) => {}
                Ok(_) => continue,
                Err(error) => tracing::warn!(%error, "delivering due messages failed; trying again"),
            }
            tokio::select! {
                () = tokio::time::sleep(poll) => {}
                () = feed.added().notified() => {}
                () = shutdown.cancelled() => break,
            }
        }
        let _ = handed.await;
    }

    /// Delivers the jobs the store hands over, each as soon as a slot is free; at `shutdown`,
    /// takes no more but delivers those already handed over, and waits for every delivery.
    async fn run_handed(self, mut jobs: mpsc::Receiver<HandedJob>, shutdown: CancellationToken) {
        loop {
            let slot = self.inner.slots.clone().acquire_owned().await.expect("the slots are never closed");
            let job = tokio::select! {
                job = jobs.recv() => job,
                () = shutdown.cancelled() => {
                    jobs.close();
                    jobs.recv().await
                }
            };
            let Some(HandedJob { claimed, notification, event }) = job else { break };
            let delivery = self.inner.clone().deliver_in(slot, claimed, Known { notification, event });
            tokio::spawn(async move {
                if let Err(error) = delivery.await {
                    tracing::warn!(%error, "a delivery could not be recorded; its lease will bring it back");
                }
            });
        }
        let all = u32::try_from(self.inner.config.concurrency.max(1)).unwrap_or(u32::MAX);
        let _ = self.inner.slots.acquire_many(all).await;
    }
}

/// The address a message on `channel` goes to, as the message log records it.
fn address(channel: Channel, user: &User) -> Option<String> {
    match channel {
        Channel::Email => user.email_address.as_ref().map(ToString::to_string),
        Channel::Sms | Channel::Voice | Channel::Whatsapp => user.phone_number.as_ref().map(ToString::to_string),
        Channel::Push => {
            let devices = user.device_tokens.len() + usize::from(user.device_token.is_some());
            (devices > 0).then(|| format!("{devices} device(s)"))
        }
        Channel::InApp | Channel::Webhook => None,
    }
}

/// The subject of an email or the title of a push, as the message log records it.
fn subject(content: &Content) -> Option<String> {
    match content {
        Content::Email { subject, .. } => Some(subject.clone()),
        Content::Push { title, .. } => title.clone(),
        _ => None,
    }
}

/// The message a delivery job is for: its notification, its index there, and what the
/// message log keeps of it.
struct Slot<'a> {
    job_id: &'a str,
    notification_id: &'a str,
    index: usize,
    log: LogDetails,
}

impl Slot<'_> {
    /// The message as it is now, and how the claimed job ends (none: it goes on).
    fn update(&self, message: &Message, job: Option<JobOutcome>, at: jiff::Timestamp) -> DeliveryUpdate {
        DeliveryUpdate {
            notification_id: self.notification_id.to_string(),
            message_index: self.index,
            message: serde_json::to_value(message).expect("messages serialize"),
            failure: None,
            stand_in: None,
            job: job.map(|outcome| (self.job_id.to_string(), outcome)),
            log: self.log.clone(),
            inbox: None,
            at,
        }
    }
}

/// What a delivery has without reading it: a handed-over job's notification and event record
/// (see `herald_store::HandedJob`).
#[derive(Default)]
struct Known {
    notification: Option<Document>,
    event: Option<Arc<Document>>,
}

impl Inner {
    /// [`Inner::deliver`] holding `slot` until it is done. A panic frees the slot as it unwinds;
    /// the job's lease brings the job back.
    async fn deliver_in(self: Arc<Self>, slot: OwnedSemaphorePermit, claimed: ClaimedJob, known: Known) -> Result<(), EngineError> {
        let delivered = self.deliver(claimed, known).await;
        drop(slot);
        delivered
    }

    async fn deliver(&self, claimed: ClaimedJob, known: Known) -> Result<(), EngineError> {
        let ClaimedJob { tenant, job } = claimed;
        let settle = |outcome| self.store.settle_job(&tenant, &job.id, outcome);
        let Some((notification_id, index)) =
            job.payload.get("notification").and_then(Value::as_str).zip(job.payload.get("message").and_then(Value::as_u64))
        else {
            return Ok(settle(JobOutcome::Failed("the delivery job is malformed".into())).await?);
        };
        let index = usize::try_from(index).unwrap_or(usize::MAX);
        let document = match known.notification.filter(|n| n.id == notification_id) {
            Some(document) => Some(document),
            None => self.store.get_document(Collection::Notifications, &tenant, notification_id).await?,
        };
        let triggered_by = document.as_ref().map(|d| d.creator_id.clone()).unwrap_or_default();
        let notification = document.and_then(|d| serde_json::from_value::<Notification>(Value::Object(d.body)).ok());
        let log = LogDetails {
            recipient: notification.as_ref().and_then(|n| n.recipient.clone()),
            event_id: notification.as_ref().map(|n| n.event.id.clone()),
            event_name: notification.as_ref().map(|n| n.event.name.clone()),
            triggered_by,
            ..LogDetails::default()
        };
        let mut slot = Slot { job_id: &job.id, notification_id, index, log };
        let Some((notification, mut message)) = notification.and_then(|n| n.messages.get(slot.index).cloned().map(|m| (n, m))) else {
            return Ok(settle(JobOutcome::Failed("the message is gone".into())).await?);
        };
        if !matches!(message.status, MessageStatus::Queued | MessageStatus::Sending) {
            return Ok(settle(JobOutcome::Done).await?);
        }
        let now = self.clock.now();
        let preferences = match (message.channel, notification.recipient.as_deref()) {
            (Channel::Webhook, _) | (_, None) => None,
            (_, Some(user_id)) => self.store.find_preferences(&tenant, user_id).await?,
        };
        let event = known.event.as_ref();
        let noted = (notification_id, &notification);
        if let Some(quiet_until) = self.quiet_hours(&tenant, noted, &message, preferences.as_ref(), event, now).await? {
            return Ok(settle(JobOutcome::Defer(quiet_until)).await?);
        }
        if let Err(ready_at) = self.limits.take(&tenant, message.channel, now) {
            return Ok(settle(JobOutcome::Defer(ready_at)).await?);
        }
        let key = format!("{notification_id}.{}", slot.index);
        let (outgoing, recipient) = match self.prepare(&tenant, &notification, &message, &key, preferences.as_ref()).await? {
            Ok(prepared) => {
                slot.log.address = address(message.channel, &prepared.1);
                slot.log.subject = prepared.0.content.as_ref().and_then(subject);
                prepared
            }
            Err((Refused(reason), recipient)) => {
                let record = self.fail(&slot, &mut message, &notification, recipient.as_ref(), reason);
                return Ok(self.store.record_delivery(&tenant, record).await?);
            }
        };
        let chain = match self.providers.resolve(&tenant, message.channel).await? {
            Ok(chain) => chain,
            Err(reason) => {
                let record = self.fail(&slot, &mut message, &notification, Some(&recipient), reason);
                return Ok(self.store.record_delivery(&tenant, record).await?);
            }
        };
        if message.channel == Channel::Sms {
            let record = match self.sms_gate(&tenant, &outgoing, now).await? {
                sms::Gate::Go => None,
                sms::Gate::Defer(ready_at) => return Ok(settle(JobOutcome::Defer(ready_at)).await?),
                sms::Gate::Skip(reason) => Some(self.skip(&slot, &mut message, &notification, &recipient, reason)),
                sms::Gate::Fail(reason) => Some(self.fail(&slot, &mut message, &notification, Some(&recipient), reason)),
            };
            if let Some(record) = record {
                return Ok(self.store.record_delivery(&tenant, record).await?);
            }
        }
        let inbox = match message.channel {
            Channel::InApp => self.inbox_entry(&tenant, noted, (slot.index, &message), outgoing.content.as_ref(), event).await?,
            _ => None,
        };
        message.reach(MessageStatus::Sending, now);
        let timeout = Duration::from_secs(self.config.send_timeout_seconds.max(1));
        let budget = Duration::try_from(self.lease).unwrap_or(timeout);
        let call = chain.send(&outgoing, timeout, budget, job.attempts, self.clock.as_ref());
        tokio::pin!(call);
        let record_sending = async || {
            if let Err(error) = self.store.record_delivery(&tenant, slot.update(&message, None, now)).await {
                tracing::warn!(%error, "a slow message could not be recorded as sending; its outcome will be");
            }
        };
        let slow_call = Duration::from_millis(self.config.slow_call_ms);
        // An in-app message is delivered by the write that records its outcome (its inbox entry
        // is in the same transaction) and its provider never waits: it is never slow.
        let sent = if message.channel == Channel::InApp {
            call.await
        } else if slow_call.is_zero() {
            record_sending().await;
            call.await
        } else {
            tokio::select! {
                sent = &mut call => sent,
                () = tokio::time::sleep(slow_call) => {
                    record_sending().await;
                    call.await
                }
            }
        };
        self.forget_gone_devices(&tenant, &recipient.id, &sent.answer).await;
        let at = self.clock.now();
        message.service = Some(sent.service.to_string());
        message.attempts.extend(sent.failed_over);
        let mut attempt = Attempt {
            number: job.attempts,
            started_at: sent.started_at,
            duration_ms: sent.duration_ms,
            outcome: AttemptOutcome::Sent,
            response_code: None,
            response: None,
            provider_message_id: None,
            error: None,
            next_attempt_at: None,
            service: Some(sent.service.to_string()),
            provider: sent.entry,
        };
        let record = match sent.answer {
            Ok(receipt) => {
                attempt.response_code = receipt.response_code;
                attempt.response = receipt.response;
                attempt.provider_message_id = receipt.provider_message_id.clone();
                message.provider_message_id = receipt.provider_message_id;
                if message.channel == Channel::InApp {
                    message.rendered = outgoing.content.as_ref().map(|c| serde_json::to_value(c).expect("contents serialize"));
                }
                message.attempts.push(attempt);
                message.reach(MessageStatus::Sent, at);
                let mut update = slot.update(&message, Some(JobOutcome::Done), at);
                update.inbox = inbox.map(|entry| Box::new(InboxEntry { created_at: at, updated_at: at, ..entry }));
                update
            }
            Err(error) => {
                attempt.response_code = error.response_code;
                attempt.response = error.response.clone();
                attempt.error = Some(error.reason.clone());
                let retry_at = error
                    .transient
                    .then(|| self.config.retry.wait_after(job.attempts, error.retry_after, rand::random::<f64>()))
                    .flatten()
                    .and_then(|wait| at.checked_add(wait).ok());
                match retry_at {
                    Some(retry_at) => {
                        attempt.outcome = AttemptOutcome::Retry;
                        attempt.next_attempt_at = Some(retry_at);
                        message.attempts.push(attempt);
                        message.reach(MessageStatus::Queued, at);
                        slot.update(&message, Some(JobOutcome::Retry(retry_at, error.reason)), at)
                    }
                    None => {
                        attempt.outcome = AttemptOutcome::Failed;
                        message.attempts.push(attempt);
                        self.fail(&slot, &mut message, &notification, Some(&recipient), error.reason)
                    }
                }
            }
        };
        self.store.record_delivery(&tenant, record).await?;
        Ok(())
    }

    /// The record of the event behind `notification`: `known` when it is that record, else read.
    async fn event_record(
        &self,
        tenant: &str,
        notification: &Notification,
        known: Option<&Arc<Document>>,
    ) -> Result<Option<Arc<Document>>, EngineError> {
        match known.filter(|event| event.id == notification.event.document_id) {
            Some(event) => Ok(Some(event.clone())),
            None => Ok(self.store.get_document(Collection::Events, tenant, &notification.event.document_id).await?.map(Arc::new)),
        }
    }

    /// `message` is not sent, for `reason` (a rule withheld it): its record, skipped, with the
    /// stand-in on the next fallback channel, if any, and the job done.
    fn skip(
        &self,
        slot: &Slot<'_>,
        message: &mut Message,
        notification: &Notification,
        recipient: &User,
        reason: String,
    ) -> DeliveryUpdate {
        let at = self.clock.now();
        message.reason = Some(reason);
        message.reach(MessageStatus::Skipped, at);
        DeliveryUpdate {
            stand_in: stand_in(slot, message, notification, Some(recipient), at),
            ..slot.update(message, Some(JobOutcome::Done), at)
        }
    }

    /// `message` failed for good: its record, with the notification's failure entry, the
    /// stand-in on the next fallback channel (if the recipient is known and has one) and the
    /// job failed with `reason`.
    fn fail(
        &self,
        slot: &Slot<'_>,
        message: &mut Message,
        notification: &Notification,
        recipient: Option<&User>,
        reason: String,
    ) -> DeliveryUpdate {
        let at = self.clock.now();
        message.error = Some(reason.clone());
        message.reach(MessageStatus::Failed, at);
        let failure = Failure { message: format!("{} message {} failed: {reason}", message.channel.as_str(), slot.index) };
        DeliveryUpdate {
            failure: Some(Value::Object(to_body(&failure))),
            stand_in: stand_in(slot, message, notification, recipient, at),
            ..slot.update(message, Some(JobOutcome::Failed(reason)), at)
        }
    }
}

/// The stand-in for `message` on its next fallback channel the recipient can be reached
/// on, queued with its delivery job.
fn stand_in(
    slot: &Slot<'_>,
    message: &Message,
    notification: &Notification,
    recipient: Option<&User>,
    at: jiff::Timestamp,
) -> Option<(Value, Job)> {
    recipient.and_then(|user| message.fallback(slot.index, user, &notification.messages)).map(|mut stand_in| {
        stand_in.reach(MessageStatus::Queued, at);
        let payload = json!({"notification": slot.notification_id, "message": null});
        (serde_json::to_value(&stand_in).expect("messages serialize"), Job::pending(new_document_id(at), JobKind::Delivery, at, payload))
    })
}
