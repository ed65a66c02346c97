//! How a store's writer tells this process's dispatcher about the delivery jobs it commits.
//!
//! Two ways, both fed by the writer after each commit and before its writers hear back:
//!
//! - **Hand-off.** Once a dispatcher takes the due jobs ([`DeliveryFeed::take_due_jobs`]),
//!   each delivery job an event commits due at once is written already claimed — `running`,
//!   one attempt, leased for the dispatcher's lease from the event's time — and sent to it
//!   straight after the commit. The dispatcher starts on it at once: no claim statement, no
//!   wait for a claim's own commit. Only as many are handed over as the dispatcher has room
//!   for (its receiver's free capacity when the batch begins); the others stay `pending` for a
//!   claim, as without a hand-off. Each job comes with its notification and event record as
//!   they were committed, which the dispatcher would otherwise read back. A handed-over job the
//!   dispatcher never finishes (the process dies, or its receiver is gone by the time of the
//!   send) comes back when its lease runs out, like any claimed job.
//! - **Wake-up.** When a commit adds delivery jobs it did not hand over (no dispatcher took
//!   them, it had no room, they are stand-ins of fallbacks, or due later), [`DeliveryFeed::added`]
//!   is notified so a dispatcher waiting for its next poll claims at once.

use herald_core::document::Document;
use herald_core::job::{ClaimedJob, Job, JobKind, JobStatus};
use jiff::{SignedDuration, Timestamp};
use std::sync::{Arc, Mutex};
use tokio::sync::{Notify, mpsc};

/// What a store's writer tells this process's dispatcher about the delivery jobs it commits.
#[derive(Default)]
pub struct DeliveryFeed {
    added: Notify,
    hand_off: Mutex<Option<HandOff>>,
}

/// A delivery job handed over as its event committed, with the documents it was committed
/// with. They are what a read would give at once: the job is leased to this process, so
/// nothing else changes its message meanwhile.
#[derive(Debug)]
pub struct HandedJob {
    /// The job, claimed.
    pub claimed: ClaimedJob,
    /// Its notification, as committed.
    pub notification: Option<Document>,
    /// Its event's record, as committed.
    pub event: Option<Arc<Document>>,
}

/// Where handed-over jobs go, and how long they are leased for.
struct HandOff {
    jobs: mpsc::Sender<HandedJob>,
    lease: SignedDuration,
}

/// How many due delivery jobs one batch may hand over, and their lease.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Room {
    /// Jobs the dispatcher can still take.
    pub(crate) left: usize,
    /// How long a handed-over job is leased, from its event's time.
    pub(crate) lease: SignedDuration,
}

impl Room {
    /// `job` of an event committed at `event_at` (none: the commit has no event), claimed for
    /// the hand-off with the end of its lease — when it is a delivery due by then and there is
    /// room left, which it takes.
    pub(crate) fn claim(&mut self, job: &Job, event_at: Option<Timestamp>) -> Option<(Job, Timestamp)> {
        let at = event_at?;
        let due_now = job.kind == JobKind::Delivery && job.status == JobStatus::Pending && job.due_at <= at;
        if !due_now || self.left == 0 {
            return None;
        }
        self.left -= 1;
        let lease_until = at.checked_add(self.lease).unwrap_or(job.due_at);
        Some((Job { status: JobStatus::Running, attempts: job.attempts + 1, ..job.clone() }, lease_until))
    }
}

impl DeliveryFeed {
    /// Notified when this process commits delivery jobs it did not hand over (an event's
    /// messages, a fallback's stand-in), so a dispatcher waiting for its next poll can claim
    /// at once. A notification given while nobody waits is kept for the next wait.
    pub fn added(&self) -> &Notify {
        &self.added
    }

    /// From now on, hands over up to `capacity` waiting jobs at a time: each delivery job an
    /// event commits due at once is committed already claimed (leased for `lease` from the
    /// event's time) and sent here. Taking them again replaces the previous receiver.
    pub fn take_due_jobs(&self, lease: SignedDuration, capacity: usize) -> mpsc::Receiver<HandedJob> {
        let (jobs, receiver) = mpsc::channel(capacity.max(1));
        *self.hand_off.lock().expect("the feed's lock is never poisoned") = Some(HandOff { jobs, lease });
        receiver
    }

    /// How many jobs a batch beginning now may hand over; `None` when no dispatcher takes them.
    /// Only the writer sends, so the room can only grow until the batch's jobs are sent.
    pub(crate) fn room(&self) -> Option<Room> {
        let hand_off = self.hand_off.lock().expect("the feed's lock is never poisoned");
        hand_off.as_ref().filter(|h| !h.jobs.is_closed()).map(|h| Room { left: h.jobs.capacity(), lease: h.lease })
    }

    /// Sends a committed batch's handed-over jobs to the dispatcher.
    pub(crate) fn hand_over(&self, jobs: Vec<HandedJob>) {
        if jobs.is_empty() {
            return;
        }
        let hand_off = self.hand_off.lock().expect("the feed's lock is never poisoned");
        let Some(hand_off) = hand_off.as_ref() else { return };
        for job in jobs {
            if hand_off.jobs.try_send(job).is_err() {
                tracing::warn!("the dispatcher stopped taking jobs; a handed-over job waits for its lease to run out");
            }
        }
    }
}
