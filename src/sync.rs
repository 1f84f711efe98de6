//! Shared state between threads, written once for the server, the proxy, `spawn` and the fuzz
//! harness: a lock that carries on through poisoning, and a bounded ring of records that a
//! reader can wait on.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Locks a mutex, carrying on through poisoning: the counters stay meaningful even if a thread
/// panicked while holding the lock, and a stats reader must never panic because of it.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A ring of the most recent records of closed connections, and a way to wait for one: the
/// bounded history that [`ServerStats`](crate::ServerStats) and the proxy's stats both keep.
#[derive(Debug)]
pub(crate) struct ClosedRing<T> {
    /// Oldest first, at most `capacity` of them.
    records: Mutex<VecDeque<T>>,
    /// Wakes [`ClosedRing::wait_newest`] whenever a record is pushed.
    changed: Condvar,
    capacity: usize,
}

impl<T: Clone> ClosedRing<T> {
    /// An empty ring that keeps at most `capacity` records (0 keeps none).
    pub(crate) fn new(capacity: usize) -> ClosedRing<T> {
        ClosedRing {
            records: Mutex::new(VecDeque::with_capacity(capacity.min(4096))),
            changed: Condvar::new(),
            capacity,
        }
    }

    /// Adds a record, dropping the oldest one when full, and wakes the waiters.
    pub(crate) fn push(&self, record: T) {
        if self.capacity == 0 {
            return;
        }
        let mut records = lock(&self.records);
        if records.len() == self.capacity {
            records.pop_front();
        }
        records.push_back(record);
        drop(records);
        self.changed.notify_all();
    }

    /// The newest record that `matches`.
    pub(crate) fn newest(&self, matches: impl Fn(&T) -> bool) -> Option<T> {
        lock(&self.records)
            .iter()
            .rev()
            .find(|r| matches(r))
            .cloned()
    }

    /// Waits, at most `timeout`, for a record that `matches` (blocking the calling thread).
    pub(crate) fn wait_newest(&self, timeout: Duration, matches: impl Fn(&T) -> bool) -> Option<T> {
        let deadline = Instant::now() + timeout;
        let mut records = lock(&self.records);
        loop {
            if let Some(record) = records.iter().rev().find(|r| matches(r)) {
                return Some(record.clone());
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            records = match self.changed.wait_timeout(records, left) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    /// Every record, oldest first.
    pub(crate) fn to_vec(&self) -> Vec<T> {
        lock(&self.records).iter().cloned().collect()
    }
}
