//! The no-progress clock: when either direction of a connection last moved a byte. A step
//! fails only when this clock runs out, so time spent on other connections, or in a pause the
//! plan asks for, is not held against the connection.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// When either direction of a connection last moved a byte, shared by its writer and reader.
pub(crate) struct Progress {
    base: Instant,
    last_nanos: AtomicU64,
}

impl Progress {
    pub(crate) fn new() -> Progress {
        Progress {
            base: Instant::now(),
            last_nanos: AtomicU64::new(0),
        }
    }

    pub(crate) fn touch(&self) {
        self.touch_at(Instant::now());
    }

    /// Counts `at`, possibly in the future, as the last progress: a pause the plan asks for
    /// holds the deadline off for its whole length, even when it is longer than the timeout.
    pub(crate) fn touch_at(&self, at: Instant) {
        let nanos =
            u64::try_from(at.saturating_duration_since(self.base).as_nanos()).unwrap_or(u64::MAX);
        self.last_nanos.fetch_max(nanos, Ordering::Relaxed);
    }

    pub(crate) fn deadline(&self, timeout: Duration) -> Instant {
        self.base + Duration::from_nanos(self.last_nanos.load(Ordering::Relaxed)) + timeout
    }
}
