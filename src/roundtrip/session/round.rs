//! One round on the session's blocking socket: a send written cut by the write plan
//! ([`Session::write_round`]), an expectation read by the read plan and checked byte by byte
//! ([`Session::read_echo`]); and what they share: the case's deadline, the mapping of socket
//! errors (a socket timeout is a stall), and pauses short enough to spin.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use super::{CaseProgress, Session, MAX_ROUND_LEN};
use crate::case::{PauseScale, Payload, ReadPlan, WritePlan};
use crate::roundtrip::divergence::DivergenceKind;
use crate::roundtrip::sent::{self, Expected, SentLog};

impl Session {
    /// Sends `payload` cut by `plan`; returns the number of chunks written.
    pub(super) fn write_round(
        &mut self,
        plan: &WritePlan,
        payload: &Payload,
        scale: PauseScale,
        progress: &mut CaseProgress,
    ) -> Result<u64, DivergenceKind> {
        let mut writes = 0;
        for cut in plan.cuts(payload.len()) {
            let bytes: &[u8] = match payload {
                Payload::Literal(bytes) => &bytes[cut.range.clone()],
                Payload::Generated { .. } => {
                    let n =
                        payload.fill_at(cut.range.start, &mut self.write_buffer[..cut.range.len()]);
                    &self.write_buffer[..n]
                }
            };
            self.stream
                .write_all(bytes)
                .map_err(|e| stall_or(&e, "writing", progress))?;
            progress.sent += bytes.len() as u64;
            writes += 1;
            self.wait_for_server(progress)?;
            pause(scale.apply(cut.pause));
            check_deadline(progress)?;
        }
        Ok(writes)
    }

    /// Reads what comes back up to stream offset `end` by `plan`, checking every byte against
    /// what `expected` fills in for an offset; returns the number of reads.
    pub(super) fn read_echo(
        &mut self,
        plan: &ReadPlan,
        sent: &SentLog,
        expected: Expected<'_>,
        end: u64,
        scale: PauseScale,
        progress: &mut CaseProgress,
    ) -> Result<u64, DivergenceKind> {
        let start = progress.received;
        let len = usize::try_from(end.saturating_sub(start)).unwrap_or(usize::MAX);
        let mut reads = 0;
        for cut in plan.cuts(len) {
            let mut at = cut.range.start;
            while at < cut.range.end {
                let want = (cut.range.end - at).min(MAX_ROUND_LEN);
                let n = match self.stream.read(&mut self.read_buffer[..want]) {
                    Ok(0) => return Err(DivergenceKind::EarlyEof),
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(stall_or(&e, "reading", progress)),
                };
                reads += 1;
                let offset = start + at as u64;
                if let Some(i) = expected.first_mismatch(sent, offset, &self.read_buffer[..n]) {
                    // Everything before the first wrong byte came back intact.
                    progress.received = offset + i as u64;
                    let bytes = |from: u64, to: u64| expected.bytes(sent, from, to);
                    let wrong = &self.read_buffer[i..n];
                    return Err(sent::mismatch(bytes, start, end, progress.received, wrong));
                }
                at += n;
                progress.received += n as u64;
            }
            pause(scale.apply(cut.pause));
            check_deadline(progress)?;
        }
        Ok(reads)
    }
}

pub(super) fn check_deadline(progress: &CaseProgress) -> Result<(), DivergenceKind> {
    if Instant::now() > progress.deadline {
        return Err(DivergenceKind::Stalled {
            waited: progress.limit,
        });
    }
    Ok(())
}

/// A socket timeout is a stall; anything else is what it is.
pub(super) fn stall_or(
    error: &io::Error,
    during: &'static str,
    progress: &CaseProgress,
) -> DivergenceKind {
    match error.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => DivergenceKind::Stalled {
            waited: progress.limit,
        },
        _ => io_kind(error, during),
    }
}

pub(super) fn io_kind(error: &io::Error, during: &'static str) -> DivergenceKind {
    DivergenceKind::from_io(error, during)
}

/// Waits out a scaled pause. Pauses under a millisecond, which is most of them once scaled for
/// fuzzing, are spun: a sleep that short overshoots by tens of microseconds, and a fuzzer that
/// sleeps finds nothing.
pub(super) fn pause(duration: Duration) {
    if duration.is_zero() {
        return;
    }
    if duration >= Duration::from_millis(1) {
        std::thread::sleep(duration);
        return;
    }
    let until = Instant::now() + duration;
    while Instant::now() < until {
        std::hint::spin_loop();
    }
}
