//! The writer of one direction: shapes what gets through with the timing toxics (`latency`,
//! `slice` through the [`Slicer`], `bandwidth` through the [`Pacer`], `slow-close`), writes it
//! to the other socket, gives each written byte back to the budget, and passes the FIN or the
//! reset on. Once the connection is cut, it no longer waits for any of them: what it holds is
//! owed, and written at once.

use std::io;
use std::time::Duration;

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::pump::{error_end, Budget, Event};
use super::slicer::Slicer;
use super::GraceCut;
use crate::proxy::chain::FlowPlan;
use crate::proxy::chain::ToxicKind;
use crate::proxy::seed::ToxicRng;
use crate::proxy::stats::ProxyEnd;

/// A `latency` toxic's state: each chunk's jitter is drawn from `rng`.
struct Latency {
    latency: Duration,
    jitter: Duration,
    rng: ToxicRng,
}

pub(super) async fn write_side<W: AsyncWrite + Unpin>(
    mut dst: W,
    mut rx: mpsc::UnboundedReceiver<Event>,
    plan: FlowPlan,
    budget: &Budget<'_>,
    write_end: ProxyEnd,
    cut: &GraceCut,
) -> Result<(), ProxyEnd> {
    let mut slicers = Vec::new();
    let mut latencies = Vec::new();
    let mut rate: Option<u64> = None;
    let mut slow_close = Duration::ZERO;
    for (toxic, rng) in plan.toxics {
        match toxic.kind {
            ToxicKind::Slice { size, delay } => slicers.push(Slicer::new(size, delay, rng)),
            ToxicKind::Latency { latency, jitter } => latencies.push(Latency {
                latency,
                jitter,
                rng,
            }),
            ToxicKind::Bandwidth { rate: r } => rate = Some(rate.map_or(r, |old| old.min(r))),
            ToxicKind::SlowClose { delay } => slow_close += delay,
            _ => {}
        }
    }
    let mut pacer = rate.map(Pacer::new);
    let mut last_deadline = Instant::now();
    let mut last_write = Instant::now();
    let fail = |e: io::Error| error_end(&e, write_end.clone());
    while let Some(event) = rx.recv().await {
        match event {
            Event::Data(bytes, arrival) => {
                if !latencies.is_empty() {
                    let mut deadline = arrival;
                    for l in &mut latencies {
                        let j = l.rng.duration(Duration::ZERO, l.jitter * 2);
                        // latency ± jitter, never before the arrival.
                        deadline = (deadline + l.latency + j)
                            .checked_sub(l.jitter)
                            .unwrap_or(deadline)
                            .max(arrival);
                    }
                    deadline = deadline.max(last_deadline);
                    last_deadline = deadline;
                    wait_until(deadline, cut).await;
                }
                let mut pieces = vec![(0..bytes.len(), Duration::ZERO)];
                for slicer in &mut slicers {
                    pieces = slicer.cut(pieces, budget.flow);
                }
                for (range, gap) in pieces {
                    if !gap.is_zero() {
                        wait_until(last_write + gap, cut).await;
                    }
                    let piece = &bytes[range];
                    match &mut pacer {
                        Some(pacer) => {
                            for part in piece.chunks(pacer.burst) {
                                pacer.wait(part.len(), cut).await;
                                dst.write_all(part).await.map_err(fail)?;
                                budget.give(part.len(), true);
                            }
                        }
                        None => {
                            dst.write_all(piece).await.map_err(fail)?;
                            budget.give(piece.len(), true);
                        }
                    }
                    last_write = Instant::now();
                }
            }
            Event::Eof => {
                if !slow_close.is_zero() {
                    wait_until(Instant::now() + slow_close, cut).await;
                }
                dst.flush().await.map_err(fail)?;
                dst.shutdown().await.map_err(fail)?;
                return Ok(());
            }
            Event::Reset => return Err(ProxyEnd::ResetToxic),
        }
    }
    Ok(())
}

/// Waits until `deadline`, or until the connection is cut. The runtime's timer counts whole
/// milliseconds, so a wait shorter than one (most slice delays) would become a millisecond or
/// more: those are spun instead, yielding to the runtime's other tasks on every turn, which
/// costs CPU while they last.
async fn wait_until(deadline: Instant, cut: &GraceCut) {
    if cut.is_cut() {
        return;
    }
    tokio::select! {
        () = wait_until_deadline(deadline) => {}
        () = cut.cutting() => {}
    }
}

async fn wait_until_deadline(deadline: Instant) {
    loop {
        let now = Instant::now();
        if now >= deadline {
            return;
        }
        if deadline - now >= Duration::from_millis(1) {
            tokio::time::sleep_until(deadline).await;
            return;
        }
        tokio::task::yield_now().await;
    }
}

/// `bandwidth`: writes of at most `burst` bytes (a hundredth of a second's worth), each one
/// waiting until the previous ones have been paid for at `rate` bytes per second. Over any
/// window of T seconds at most `rate * T + burst` bytes go out.
struct Pacer {
    rate: u64,
    burst: usize,
    next: Option<Instant>,
}

impl Pacer {
    fn new(rate: u64) -> Pacer {
        Pacer {
            rate,
            burst: usize::try_from((rate / 100).max(1)).unwrap_or(usize::MAX),
            next: None,
        }
    }

    async fn wait(&mut self, len: usize, cut: &GraceCut) {
        let now = Instant::now();
        let start = match self.next {
            Some(next) if next > now => {
                wait_until(next, cut).await;
                next
            }
            // Idle time earns no credit: a burst after a pause is still paced.
            _ => now,
        };
        let cost = Duration::from_nanos(
            u64::try_from(len as u128 * 1_000_000_000 / u128::from(self.rate)).unwrap_or(u64::MAX),
        );
        self.next = Some(start + cost);
    }
}
