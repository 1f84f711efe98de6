//! How every wait of a step is bounded ([`guard`]). Without `within`, a step fails when no
//! byte moved on its connection, in either direction, for the no-progress timeout, counted from
//! when the step began waiting (time spent on other connections' steps or in a `sleep` is not
//! the connection's fault). With `within D` the step must be done D after it began. A wait also
//! ends as soon as the connection's writer fails.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::roundtrip::divergence::DivergenceKind;
use crate::roundtrip::progress::Progress;
use crate::roundtrip::writer::WriterState;

/// How a wait ended, when it did not complete.
pub(super) enum Interrupted {
    /// The deadline passed; the wait was this long.
    TimedOut(Duration),
    /// The writer failed.
    Writer(DivergenceKind),
}

/// Runs `operation` until it completes, the writer fails, or the deadline passes: `within`'s
/// `(instant, duration)` when given, else no progress for `timeout`.
pub(super) async fn guard<T>(
    progress: &Progress,
    timeout: Duration,
    within: Option<(Instant, Duration)>,
    state: &watch::Receiver<WriterState>,
    operation: impl Future<Output = T>,
) -> Result<T, Interrupted> {
    tokio::pin!(operation);
    let mut state = state.clone();
    if let Some(kind) = state.borrow_and_update().failure.clone() {
        return Err(Interrupted::Writer(kind));
    }
    loop {
        let deadline = within.map_or_else(|| progress.deadline(timeout), |(at, _)| at);
        tokio::select! {
            biased;
            output = &mut operation => return Ok(output),
            Ok(()) = state.changed() => {
                if let Some(kind) = state.borrow_and_update().failure.clone() {
                    return Err(Interrupted::Writer(kind));
                }
            }
            () = tokio::time::sleep_until(deadline) => match within {
                Some((_, d)) => return Err(Interrupted::TimedOut(d)),
                // The other direction may have moved meanwhile; only a deadline that still
                // stands is a stall.
                None if progress.deadline(timeout) <= Instant::now() => {
                    return Err(Interrupted::TimedOut(timeout));
                }
                None => {}
            },
        }
    }
}
