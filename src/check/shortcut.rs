//! The shortcuts [`play_case`](super::play_case) takes on proptest's shrink steps, which keep a
//! default `proptest!` run against a server that stops answering to well under a minute.
//!
//! A timing-only failure costs its timeout, then four times that to confirm it: ten seconds at
//! the default 2 s. proptest shrinks a failure by playing up to four times its case count of
//! simpler cases (1024 by default, with no time limit), and a server that stops answering fails
//! most of them by time, so paying that on every step kept a default run going for many
//! minutes. So:
//!
//! - **Confirmed once.** After a timing-only failure at an address has been confirmed, plays at
//!   that address use a quarter of the timeouts (at least 100 ms) and take a timing-only
//!   failure without playing it again, marked
//!   [`confirmed_earlier`](crate::roundtrip::Divergence::confirmed_earlier) so that the report
//!   says so. This memory is process-wide and per address.
//! - **A shrink budget.** proptest shrinks a payload a byte at a time, so even half a second
//!   per step can add up to minutes. Once [`DEFAULT_SHRINK_TIME`] has passed since the
//!   confirmation, a play at that address that looks like a shrink step — on the same thread
//!   (proptest shrinks on the thread that found the failure, and the test harness gives each
//!   `#[test]` a thread of its own), with no more connections and bytes than the last case
//!   that failed there — passes without being played (an empty [`Outcome`]), so that proptest
//!   stops at the smallest case that failed so far, as its own `max_shrink_time` would; a note
//!   on stderr says so, once. Any other case is played.
//!
//! Both lapse a minute after the last failure at the address.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use super::DEFAULT_SHRINK_TIME;
use crate::case::Case;
use crate::roundtrip::{self, Divergence, Outcome, PlayOptions};
use crate::sync::lock;

/// How long after the last failure at an address its memory lasts.
const WINDOW: Duration = Duration::from_secs(60);
/// The shortcut's timeouts are a quarter of the given ones, but never below this: a loaded
/// machine must still get a byte through.
const FLOOR: Duration = Duration::from_millis(100);

/// A confirmed timing-only failure at `addr`, as seen by one thread.
struct Memory {
    addr: SocketAddr,
    thread: ThreadId,
    /// When it was confirmed (or, for a thread that only ever took the shortcut, its first
    /// failure): the thread's shrink budget runs from here.
    confirmed: Instant,
    /// The last failure at `addr` on this thread.
    last_failure: Instant,
    /// The size of the case that failed last: connections and bytes.
    last_size: (usize, u64),
    /// Whether the note that the budget is spent was printed.
    noted: bool,
}

/// A few entries at most, so a list.
static MEMORY: Mutex<Vec<Memory>> = Mutex::new(Vec::new());

/// What to do with the next play at an address.
enum Plan {
    /// Play it, confirming a timing-only failure at 4x.
    Confirmed,
    /// Play it once with shorter timeouts.
    Shortcut,
    /// This thread's shrink budget there is spent: do not play.
    Pass,
}

/// Plays `case` at `addr` as `play_case` does; see the module docs.
pub(super) async fn play(
    case: &Case,
    addr: SocketAddr,
    options: &PlayOptions,
) -> Result<Outcome, Divergence> {
    match plan(addr, size(case)) {
        Plan::Pass => Ok(Outcome {
            connections: Vec::new(),
            elapsed: Duration::ZERO,
            unconfirmed: None,
        }),
        Plan::Confirmed => {
            let result = roundtrip::play_confirmed(case, addr, options).await;
            // play_confirmed returns a timing-only failure only once it failed again at 4x.
            if matches!(&result, Err(d) if d.kind.is_timing_only() && d.confirmed) {
                remember(addr, size(case));
            }
            result
        }
        Plan::Shortcut => {
            let quick = PlayOptions {
                timeout: shortened(options.timeout),
                connect_timeout: shortened(options.connect_timeout),
                ..options.clone()
            };
            let mut result = roundtrip::play(case, addr, &quick).await;
            if let Err(divergence) = &mut result {
                // Any failure keeps the memory: shrinking steps between failure kinds.
                remember(addr, size(case));
                if divergence.kind.is_timing_only() {
                    divergence.confirmed = true;
                    divergence.confirmed_earlier = true;
                }
            }
            result
        }
    }
}

/// A quarter of `timeout`, at least [`FLOOR`] (and never more than `timeout`).
fn shortened(timeout: Duration) -> Duration {
    (timeout / 4).max(FLOOR).min(timeout)
}

/// A case's size as the budget compares it: connections and bytes.
fn size(case: &Case) -> (usize, u64) {
    (case.connections.len(), case.total_len())
}

fn plan(addr: SocketAddr, size: (usize, u64)) -> Plan {
    let mut memory = lock(&MEMORY);
    memory.retain(|m| m.last_failure.elapsed() < WINDOW);
    let me = thread::current().id();
    let shrink_step = |m: &Memory| {
        m.addr == addr
            && m.thread == me
            && m.confirmed.elapsed() >= DEFAULT_SHRINK_TIME
            && size.0 <= m.last_size.0
            && size.1 <= m.last_size.1
    };
    if let Some(mine) = memory.iter_mut().find(|m| shrink_step(m)) {
        if !std::mem::replace(&mut mine.noted, true) {
            eprintln!(
                "echo-harness: check::play_case: failures at {addr} have been shrinking for {}; \
                 further plays there on this thread pass without playing, so that proptest stops \
                 at the smallest failing case so far (bound shrinking yourself with \
                 check::proptest_config)",
                humantime::format_duration(DEFAULT_SHRINK_TIME)
            );
        }
        return Plan::Pass;
    }
    if memory.iter().any(|m| m.addr == addr) {
        Plan::Shortcut
    } else {
        Plan::Confirmed
    }
}

/// Records a failure of a case of `size` at `addr` on this thread.
fn remember(addr: SocketAddr, size: (usize, u64)) {
    let mut memory = lock(&MEMORY);
    let me = thread::current().id();
    let now = Instant::now();
    match memory.iter_mut().find(|m| m.addr == addr && m.thread == me) {
        Some(mine) => {
            mine.last_failure = now;
            mine.last_size = size;
        }
        None => memory.push(Memory {
            addr,
            thread: me,
            confirmed: now,
            last_failure: now,
            last_size: size,
            noted: false,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortened_is_a_quarter_with_a_floor_and_never_longer() {
        assert_eq!(
            shortened(Duration::from_secs(2)),
            Duration::from_millis(500)
        );
        assert_eq!(shortened(Duration::from_millis(200)), FLOOR);
        assert_eq!(
            shortened(Duration::from_millis(50)),
            Duration::from_millis(50)
        );
    }

    #[test]
    fn a_failure_is_remembered_for_its_address_and_its_budget_for_its_thread() {
        // TEST-NET addresses: no test plays there, so this memory changes no other test.
        let here: SocketAddr = "192.0.2.1:9".parse().unwrap();
        let there: SocketAddr = "192.0.2.2:9".parse().unwrap();
        remember(here, (2, 100));
        assert!(matches!(plan(here, (1, 10)), Plan::Shortcut));
        assert!(matches!(plan(there, (1, 10)), Plan::Confirmed));
        // Once the budget is spent, this thread passes a case no bigger than the last failing
        // one; a bigger one, and another thread, still play.
        for m in lock(&MEMORY).iter_mut().filter(|m| m.addr == here) {
            m.confirmed = Instant::now() - DEFAULT_SHRINK_TIME;
        }
        assert!(matches!(plan(here, (2, 100)), Plan::Pass));
        assert!(matches!(plan(here, (1, 10)), Plan::Pass));
        assert!(matches!(plan(here, (3, 10)), Plan::Shortcut));
        assert!(matches!(plan(here, (1, 101)), Plan::Shortcut));
        let elsewhere = thread::spawn(move || matches!(plan(here, (1, 10)), Plan::Shortcut));
        assert!(elsewhere.join().unwrap());
    }
}
