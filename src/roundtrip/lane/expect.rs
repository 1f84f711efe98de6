//! An `expect` step: reads the echo by the read plan and checks every byte as it arrives
//! against what was sent (or the exact bytes asked for), then says what a failure means — a
//! mismatch with its evidence, bytes missing, an unanswered round or a stall, extra bytes or no
//! EOF.

use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::tcp::OwnedReadHalf;
use tokio::time::Instant;

use super::wait::Interrupted;
use super::Conn;
use crate::case::PauseScale;
use crate::roundtrip::divergence::DivergenceKind;
use crate::roundtrip::sent::{self, Expected};
use crate::roundtrip::writer::{self, IO_UNIT};
use crate::script::Expectation;

/// After a mismatch, how many wrong bytes to collect as evidence, and how long to wait for them.
const EVIDENCE_BYTES: usize = 32;
const EVIDENCE_WAIT: Duration = Duration::from_millis(50);

pub(super) async fn expect(
    c: &mut Conn<'_>,
    expectation: &Expectation,
    within: Option<(Instant, Duration)>,
    timeout: Duration,
    scale: PauseScale,
    closes_next: bool,
) -> Result<(), DivergenceKind> {
    c.progress.touch();
    if let Some(kind) = c.state.borrow().failure.clone() {
        return Err(kind);
    }
    let start = c.received;
    let (end, source) = match expectation {
        // The rules made sure that everything before the last send was expected, so
        // `expect last` reads to the same end as `expect echo`.
        Expectation::Echo | Expectation::Last => (c.sent.total(), Expected::Sent),
        Expectation::Bytes(p) => (start + p.len() as u64, Expected::Bytes(p, start)),
        Expectation::Eof => return expect_eof(c, timeout, within).await,
    };
    let len = usize::try_from(end.saturating_sub(start)).unwrap_or(usize::MAX);
    for cut in c.read_plan.clone().cuts(len) {
        let mut at = cut.range.start;
        while at < cut.range.end {
            let want = (cut.range.end - at).min(IO_UNIT);
            let n = match c.read(want, timeout, within).await {
                Ok(None) => return Ok(()),
                Ok(Some(result)) => result.map_err(|e| DivergenceKind::from_io(&e, "reading"))?,
                Err(Interrupted::Writer(kind)) => return Err(kind),
                Err(Interrupted::TimedOut(waited)) => {
                    let unanswered = matches!(source, Expected::Sent) && !c.shut && !closes_next;
                    return Err(timed_out(c, unanswered, start, end, waited));
                }
            };
            if n == 0 {
                return Err(DivergenceKind::EarlyEof);
            }
            c.reads += 1;
            c.progress.touch();
            let offset = start + at as u64;
            if let Some(bad) = source.first_mismatch(&c.sent, offset, &c.buffer[..n]) {
                let mut wrong = c.buffer[bad..n.min(bad + EVIDENCE_BYTES)].to_vec();
                if let Some(reader) = c.reader.as_mut() {
                    collect_evidence(reader, &mut wrong).await;
                }
                // Everything before the first wrong byte came back intact.
                c.received = offset + bad as u64;
                return Err(sent::mismatch(
                    |from, to| source.bytes(&c.sent, from, to),
                    start,
                    end,
                    c.received,
                    &wrong,
                ));
            }
            at += n;
            c.received = start + at as u64;
        }
        writer::pause(scale.apply(cut.pause), &c.progress).await;
    }
    Ok(())
}

/// A timed-out expectation: an unanswered round when the connection, still open for writing,
/// waits for the echo of messages it has written in full (the interactive pattern), a stall
/// otherwise.
fn timed_out(
    c: &Conn<'_>,
    unanswered: bool,
    start: u64,
    end: u64,
    waited: Duration,
) -> DivergenceKind {
    if unanswered && c.written() >= end && end > start {
        DivergenceKind::RoundUnanswered {
            round: c.sent.sends().saturating_sub(1),
            rounds: c.total_sends,
            round_received: c.received - start,
            round_len: end - start,
            waited,
        }
    } else {
        DivergenceKind::Stalled { waited }
    }
}

async fn expect_eof(
    c: &mut Conn<'_>,
    timeout: Duration,
    within: Option<(Instant, Duration)>,
) -> Result<(), DivergenceKind> {
    match c.read(EVIDENCE_BYTES * 2, timeout, within).await {
        Ok(None) | Ok(Some(Ok(0))) => Ok(()),
        Ok(Some(Ok(n))) => Err(DivergenceKind::ExtraBytes {
            bytes: c.buffer[..n].to_vec(),
        }),
        Ok(Some(Err(e))) => Err(DivergenceKind::from_io(&e, "waiting for EOF")),
        Err(Interrupted::Writer(kind)) => Err(kind),
        Err(Interrupted::TimedOut(waited)) => Err(DivergenceKind::NoEof { waited }),
    }
}

/// Tops the wrong bytes up by a short read, so the report has something to show and a crossing
/// between connections can be recognised.
async fn collect_evidence(reader: &mut OwnedReadHalf, evidence: &mut Vec<u8>) {
    let deadline = Instant::now() + EVIDENCE_WAIT;
    let mut more = [0u8; EVIDENCE_BYTES];
    while evidence.len() < EVIDENCE_BYTES {
        let want = EVIDENCE_BYTES - evidence.len();
        match tokio::time::timeout_at(deadline, reader.read(&mut more[..want])).await {
            Ok(Ok(n)) if n > 0 => evidence.extend_from_slice(&more[..n]),
            _ => break,
        }
    }
}
