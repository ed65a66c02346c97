//! Durable timed jobs: everything Herald must do later (deliveries, reminders) is a row with a
//! due time, claimed by a worker when it is due. Payloads are small: ids and what to emit.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a job does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// Send one message of a notification.
    Delivery,
    /// Emit a reminder event.
    Reminder,
    /// A timer-service timer: call a URL or publish a message.
    Timer,
}

impl JobKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Delivery => "delivery",
            JobKind::Reminder => "reminder",
            JobKind::Timer => "timer",
        }
    }

    /// Reads a stored name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "delivery" => Some(JobKind::Delivery),
            "reminder" => Some(JobKind::Reminder),
            "timer" => Some(JobKind::Timer),
            _ => None,
        }
    }
}

/// Where a job is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Waiting for its time.
    Pending,
    /// Claimed by a worker, until its lease runs out.
    Running,
    /// Done.
    Done,
    /// Cancelled before it ran.
    Aborted,
    /// Gave up: see its last error.
    Failed,
}

impl JobStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::Running => "running",
            JobStatus::Done => "done",
            JobStatus::Aborted => "aborted",
            JobStatus::Failed => "failed",
        }
    }

    /// Reads a stored name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(JobStatus::Pending),
            "running" => Some(JobStatus::Running),
            "done" => Some(JobStatus::Done),
            "aborted" => Some(JobStatus::Aborted),
            "failed" => Some(JobStatus::Failed),
            _ => None,
        }
    }
}

/// A timed job.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    /// Its id (a reminder's `expirationId`).
    pub id: String,
    /// What it does.
    pub kind: JobKind,
    /// When it is due.
    pub due_at: Timestamp,
    /// Where it is in its life.
    pub status: JobStatus,
    /// What it needs: ids, or the event a reminder emits.
    pub payload: Value,
    /// How many times it was tried.
    pub attempts: u32,
}

impl Job {
    /// A job of `kind` waiting until `due_at`, never tried yet.
    pub fn pending(id: String, kind: JobKind, due_at: Timestamp, payload: Value) -> Self {
        Self { id, kind, due_at, status: JobStatus::Pending, payload, attempts: 0 }
    }
}

/// A job a worker claimed, with its tenant.
#[derive(Clone, Debug, PartialEq)]
pub struct ClaimedJob {
    /// The tenant the job belongs to.
    pub tenant: String,
    /// The job (status `running`; `attempts` counts this one).
    pub job: Job,
}
