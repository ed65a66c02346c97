//! The timed-job runner: claims due jobs from the durable job table and runs them. Reminder
//! jobs re-enter the engine as their reminder event (source `timer`), exactly as the timer
//! service calls the notification manager back in seed 03; the job id is the event's id, so a
//! reminder run twice (a worker died between commit and settle) is deduplicated.
//!
//! Aborted reminders are never claimed. A reminder whose event is refused (its recipients are
//! gone, its plan ended) fails for good with the reason; a storage failure retries it after a
//! back-off. A claimed job whose worker died is claimed again when its lease runs out.
//!
//! Timer jobs (the timer-service API) deliver their payload when they expire: an HTTP call to
//! an allowed host (2xx: expired; 408, 425, 429 and 5xx or no answer: tried again up to five times,
//! honouring `Retry-After`; other answers: error) or an AMQP message to an existing exchange.
//!
//! Time comes from the injected clock: tests call [`Scheduler::run_due`] after moving a manual
//! clock; `herald serve` runs [`Scheduler::run`], which polls.

use crate::EngineError;
use crate::delivery::retry::RetryPolicy;
use crate::documents::Actor;
use crate::events::Events;
use crate::timers::TimerOutputs;
use herald_core::clock::Clock;
use herald_core::event::EventSource;
use herald_core::job::{ClaimedJob, JobKind};
use herald_core::timer::TimerRequest;
use herald_store::{JobOutcome, Store};
use jiff::SignedDuration;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How many jobs one claim takes.
const CLAIM_BATCH: u32 = 64;
/// How long before a job that hit a storage failure is tried again.
const RETRY_AFTER: SignedDuration = SignedDuration::from_secs(30);

/// Waits between an expired timer's delivery attempts: five attempts over 2.5 minutes.
fn timer_retries() -> RetryPolicy {
    RetryPolicy { schedule_seconds: vec![10, 20, 40, 80], jitter: 0.0 }
}

/// Runs due timed jobs.
#[derive(Clone)]
pub struct Scheduler {
    store: Arc<dyn Store>,
    events: Events,
    clock: Arc<dyn Clock>,
    outputs: TimerOutputs,
    lease: SignedDuration,
}

impl Scheduler {
    /// A runner over `store`, re-entering `events` with reminders and delivering timers
    /// through `outputs`; a claimed job is reserved for `lease`.
    pub fn new(store: Arc<dyn Store>, events: Events, clock: Arc<dyn Clock>, outputs: TimerOutputs, lease: SignedDuration) -> Self {
        Self { store, events, clock, outputs, lease }
    }

    /// Runs every job due now; returns how many ran.
    pub async fn run_due(&self) -> Result<usize, EngineError> {
        let mut ran = 0;
        loop {
            let now = self.clock.now();
            let lease_until = now.checked_add(self.lease).unwrap_or(now);
            let claimed = self.store.claim_due_jobs(&[JobKind::Reminder, JobKind::Timer], now, lease_until, CLAIM_BATCH).await?;
            if claimed.is_empty() {
                return Ok(ran);
            }
            for job in claimed {
                let outcome = self.run_job(&job).await;
                self.store.settle_job(&job.tenant, &job.job.id, outcome).await?;
                ran += 1;
            }
        }
    }

    async fn run_job(&self, claimed: &ClaimedJob) -> JobOutcome {
        match claimed.job.kind {
            JobKind::Timer => self.fire_timer(claimed).await,
            _ => self.fire_reminder(claimed).await,
        }
    }

    async fn fire_timer(&self, claimed: &ClaimedJob) -> JobOutcome {
        let Ok(timer) = serde_json::from_value::<TimerRequest>(claimed.job.payload.clone()) else {
            return JobOutcome::Failed("the timer job is malformed".into());
        };
        match self.outputs.deliver(timer).await {
            Ok(()) => JobOutcome::Done,
            Err(failure) => {
                let now = self.clock.now();
                let wait = failure.transient.then(|| timer_retries().wait_after(claimed.job.attempts, failure.retry_after, 0.0)).flatten();
                match wait.and_then(|wait| now.checked_add(wait).ok()) {
                    Some(at) => JobOutcome::Retry(at, failure.reason),
                    None => JobOutcome::Failed(failure.reason),
                }
            }
        }
    }

    async fn fire_reminder(&self, claimed: &ClaimedJob) -> JobOutcome {
        let Some(Value::Object(event)) = claimed.job.payload.get("event") else {
            return JobOutcome::Failed("the reminder job has no event".into());
        };
        let mut event = event.clone();
        event.insert("id".into(), Value::String(format!("reminder-{}", claimed.job.id)));
        event.retain(|_, value| !value.is_null());
        let actor = Actor { tenant: claimed.tenant.clone(), id: "timer".into() };
        match self.events.ingest(&actor, EventSource::Timer, Value::Object(event)).await {
            Ok(_) => JobOutcome::Done,
            Err(EngineError::Store(error)) => {
                tracing::warn!(%error, "reminder postponed: storage failed");
                JobOutcome::Retry(self.clock.now().checked_add(RETRY_AFTER).unwrap_or(self.clock.now()), "storage unavailable".into())
            }
            Err(refused) => JobOutcome::Failed(refused.to_string()),
        }
    }

    /// Runs due jobs every `poll` until `shutdown` is cancelled.
    pub async fn run(self, poll: Duration, shutdown: CancellationToken) {
        loop {
            if let Err(error) = self.run_due().await {
                tracing::warn!(%error, "running due jobs failed; trying again");
            }
            tokio::select! {
                () = tokio::time::sleep(poll) => {}
                () = shutdown.cancelled() => return,
            }
        }
    }
}
