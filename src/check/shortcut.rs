//! The shortcut [`play_case`](super::play_case) takes on proptest's shrink steps.
//!
//! A timing-only failure costs its timeout, then four times that to confirm it: ten seconds at
//! the default 2 s. proptest shrinks a failure by playing up to four times its case count of
//! simpler cases, and a server that stops answering fails most of them the same way, so paying
//! that on every step keeps a default `proptest!` run going for many minutes. So the
//! confirmation is paid once per address: after a timing-only failure at an address has been
//! confirmed, plays at that address use a quarter of the timeouts (at least 100 ms) and take a
//! timing-only failure without playing it again, marked
//! [`confirmed_earlier`](crate::roundtrip::Divergence::confirmed_earlier) so that the report
//! says so. The memory is process-wide, per address, and lasts while failures keep coming
//! there: it lapses a minute after the last one.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::case::Case;
use crate::roundtrip::{self, Divergence, Outcome, PlayOptions};
use crate::sync::lock;

/// How long after the last failure at an address the shortcut still applies there.
const WINDOW: Duration = Duration::from_secs(60);
/// The shortcut's timeouts are a quarter of the given ones, but never below this: a loaded
/// machine must still get a byte through.
const FLOOR: Duration = Duration::from_millis(100);

/// When the last failure was seen at each address with a confirmed timing-only failure; a few
/// entries at most, so a list.
static RECENT: Mutex<Vec<(SocketAddr, Instant)>> = Mutex::new(Vec::new());

/// Plays `case` at `addr` as `play_case` does: confirmed at 4x, unless a timing-only failure
/// was confirmed there recently; then once, with shorter timeouts.
pub(super) async fn play(
    case: &Case,
    addr: SocketAddr,
    options: &PlayOptions,
) -> Result<Outcome, Divergence> {
    if !recently_confirmed(addr) {
        let result = roundtrip::play_confirmed(case, addr, options).await;
        // play_confirmed returns a timing-only failure only once it failed again at 4x.
        if matches!(&result, Err(d) if d.kind.is_timing_only() && d.confirmed) {
            remember(addr);
        }
        return result;
    }
    let quick = PlayOptions {
        timeout: shortened(options.timeout),
        connect_timeout: shortened(options.connect_timeout),
        ..options.clone()
    };
    let mut result = roundtrip::play(case, addr, &quick).await;
    if let Err(divergence) = &mut result {
        // Any failure keeps the shortcut alive: shrinking steps between failure kinds.
        remember(addr);
        if divergence.kind.is_timing_only() {
            divergence.confirmed = true;
            divergence.confirmed_earlier = true;
        }
    }
    result
}

/// A quarter of `timeout`, at least [`FLOOR`] (and never more than `timeout`).
fn shortened(timeout: Duration) -> Duration {
    (timeout / 4).max(FLOOR).min(timeout)
}

fn recently_confirmed(addr: SocketAddr) -> bool {
    let mut recent = lock(&RECENT);
    recent.retain(|(_, at)| at.elapsed() < WINDOW);
    recent.iter().any(|(a, _)| *a == addr)
}

fn remember(addr: SocketAddr) {
    let mut recent = lock(&RECENT);
    recent.retain(|(a, at)| *a != addr && at.elapsed() < WINDOW);
    recent.push((addr, Instant::now()));
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
    fn an_address_is_remembered_and_others_are_not() {
        // TEST-NET addresses: no test plays there, so this memory changes no other test.
        let here: SocketAddr = "192.0.2.1:9".parse().unwrap();
        let there: SocketAddr = "192.0.2.2:9".parse().unwrap();
        remember(here);
        assert!(recently_confirmed(here));
        assert!(!recently_confirmed(there));
    }
}
