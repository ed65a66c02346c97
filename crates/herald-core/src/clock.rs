//! Time, injected: production reads the system clock; tests set and advance a manual one, so
//! no test ever sleeps to wait for time to pass.

use jiff::{SignedDuration, Timestamp};
use std::sync::Mutex;

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// Now, to the millisecond.
    fn now(&self) -> Timestamp;
}

/// The system's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        crate::document::to_millis(Timestamp::now())
    }
}

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct ManualClock(Mutex<Timestamp>);

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: Timestamp) -> Self {
        Self(Mutex::new(crate::document::to_millis(start)))
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: SignedDuration) {
        let mut now = self.0.lock().expect("the clock lock is never poisoned");
        *now = now.checked_add(by).expect("the clock stays in range");
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().expect("the clock lock is never poisoned")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(Timestamp::from_second(1_700_000_000).unwrap());
        assert_eq!(clock.now(), clock.now());
        clock.advance(SignedDuration::from_hours(1));
        assert_eq!(clock.now().as_second(), 1_700_003_600);
    }
}
