//! The load generator behind `echo-harness bench`: closed-loop request/response ([`request_response`]), bulk
//! streams ([`stream`]) and many held connections ([`hold`]) against any echo server, each
//! verifying **every byte** that comes back.
//!
//! Other echo benchmarks compare lengths at best, and treat a short read as a failure. Here a
//! reply is read until it is complete (short reads are normal on TCP), and every byte is
//! compared against the seeded [`generator`](crate::generator) as it arrives, so no copy of the
//! payload is ever kept: a 256 MiB stream costs two 256 KiB buffers. A wrong byte ends the run
//! with the harness's own [`Divergence`], hexdump and all.
//!
//! Each connection `i` sends the generated stream of seed `seed + i`, so bytes that cross from
//! one connection to another, or a reply replayed from an earlier message, are caught too.
//!
//! Results are figures, not verdicts: the speed goals of the project live in `scripts/bench.sh`,
//! which compares servers side by side, never in this module.

mod hold;
mod rr;
mod stream;

pub use hold::{hold, HoldOptions, HoldReport};
pub use rr::{request_response, RrOptions, RrReport};
pub use stream::{stream, StreamOptions, StreamReport};

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::net::TcpStream;

use crate::generator::GeneratedStream;
use crate::roundtrip::sent;
use crate::{Divergence, DivergenceKind};

/// A counter the caller may poll while a benchmark runs (for a progress bar): messages for
/// [`request_response`], payload bytes verified for [`stream`], connections done for [`hold`].
pub type ProgressCounter = Arc<AtomicU64>;

/// Why a benchmark could not give figures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// The options make no benchmark (no connections, an empty message...).
    #[error("{0}")]
    Options(String),
    /// The first connection could not be opened: nothing was ever exchanged, so the target was
    /// not there to begin with (an environment problem, not a misbehaving server).
    #[error("cannot reach {addr}: {}", describe(kind))]
    Unreachable {
        /// The address of the target.
        addr: SocketAddr,
        /// What went wrong: refused, timed out, or another I/O error.
        kind: DivergenceKind,
    },
    /// The target misbehaved once the benchmark was under way: a wrong byte, bytes missing or
    /// extra, a stall, a reset. The divergence says exactly what and where.
    #[error("{0}")]
    Diverged(Box<Divergence>),
}

impl BenchError {
    fn options(message: impl Into<String>) -> BenchError {
        BenchError::Options(message.into())
    }
}

/// What stopped a connection from opening, in words.
fn describe(kind: &DivergenceKind) -> String {
    match kind {
        DivergenceKind::Refused => "connection refused".to_string(),
        DivergenceKind::ConnectTimeout { waited } => {
            format!(
                "connecting took more than {}",
                humantime::format_duration(*waited)
            )
        }
        DivergenceKind::Io { message, .. } => message.clone(),
        other => other.name().to_string(),
    }
}

/// A latency distribution, summarised from an HDR histogram (3 significant digits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Latency {
    /// Round trips timed.
    pub samples: u64,
    /// Mean round trip.
    pub mean: Duration,
    /// Median.
    pub p50: Duration,
    /// 90th percentile.
    pub p90: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// 99.9th percentile.
    pub p999: Duration,
    /// The slowest round trip.
    pub max: Duration,
}

impl Latency {
    /// Summarises a histogram of nanoseconds.
    fn of(histogram: &Histogram<u64>) -> Latency {
        if histogram.is_empty() {
            return Latency::default();
        }
        let at = |q: f64| Duration::from_nanos(histogram.value_at_quantile(q));
        Latency {
            samples: histogram.len(),
            mean: Duration::from_nanos(histogram.mean() as u64),
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            p999: at(0.999),
            max: Duration::from_nanos(histogram.max()),
        }
    }
}

/// A histogram of round trips in nanoseconds, from 1 ns to an hour, at 3 significant digits.
fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("valid histogram bounds")
}

/// The seed of connection `index`'s stream.
fn connection_seed(seed: u64, index: usize) -> u64 {
    seed.wrapping_add(index as u64)
}

/// The name a divergence gives connection `index`, as in a case: `c0`, `c1`, ...
fn connection_name(index: usize) -> String {
    format!("c{index}")
}

/// Opens one client connection with NODELAY (replies are small and latency-bound) within
/// `timeout`.
async fn connect(addr: SocketAddr, timeout: Duration) -> Result<TcpStream, DivergenceKind> {
    match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Ok(Ok(stream)) => {
            stream.set_nodelay(true).map_err(|e| io_kind(&e))?;
            Ok(stream)
        }
        Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => Err(DivergenceKind::Refused),
        Ok(Err(e)) => Err(io_kind(&e)),
        Err(_) => Err(DivergenceKind::ConnectTimeout { waited: timeout }),
    }
}

/// An I/O error as a divergence kind: resets are their own kind.
fn io_failure(error: &io::Error, during: &'static str) -> DivergenceKind {
    match error.kind() {
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => DivergenceKind::Reset { during },
        _ => io_kind(error),
    }
}

fn io_kind(error: &io::Error) -> DivergenceKind {
    DivergenceKind::Io {
        kind: error.kind(),
        message: error.to_string(),
    }
}

/// A wrong byte at stream `offset` of the connection whose stream has `seed`, inside the
/// expected stretch `start..end` (the message, or the whole stream); `wrong` holds the received
/// bytes from the offset on. The hexdump windows are cut by [`sent::mismatch`], as for a case.
fn mismatch(seed: u64, start: u64, end: u64, offset: u64, wrong: &[u8]) -> DivergenceKind {
    let expected = |from: u64, to: u64| {
        let mut bytes = vec![0; usize::try_from(to - from).unwrap_or(0)];
        GeneratedStream::at(seed, from).fill(&mut bytes);
        bytes
    };
    sent::mismatch(expected, start, end, offset, wrong)
}

/// A divergence on connection `index`.
fn diverged(
    index: usize,
    kind: DivergenceKind,
    sent: u64,
    received: u64,
    expected: u64,
) -> Divergence {
    Divergence {
        // The bench does not replay: what it saw is what it reports.
        confirmed: true,
        ..Divergence::new(&connection_name(index), kind, sent, received, expected)
    }
}

/// The resident set size of process `pid` in KiB (`VmRSS` of `/proc/PID/status`), on Linux.
pub fn resident_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_of_an_empty_histogram_is_zero() {
        assert_eq!(Latency::of(&new_histogram()), Latency::default());
    }

    #[test]
    fn latency_quantiles_come_from_the_histogram() {
        let mut histogram = new_histogram();
        for micros in 1..=1000u64 {
            histogram.record(micros * 1000).unwrap();
        }
        let latency = Latency::of(&histogram);
        assert_eq!(latency.samples, 1000);
        let close = |d: Duration, micros: u64| d.as_micros().abs_diff(u128::from(micros)) <= 2;
        assert!(close(latency.p50, 500), "{latency:?}");
        assert!(close(latency.p99, 990), "{latency:?}");
        assert!(close(latency.max, 1000), "{latency:?}");
    }

    #[test]
    fn a_mismatch_carries_the_generated_bytes_as_evidence() {
        let mut echo = crate::generator::generate(64, 9);
        echo[10] ^= 0xff;
        let kind = mismatch(9, 0, 64, 10, &echo[10..]);
        let DivergenceKind::Mismatch {
            offset,
            expected,
            actual,
            ..
        } = kind
        else {
            panic!("not a mismatch: {kind:?}");
        };
        assert_eq!(offset, 10);
        assert_eq!(actual, expected ^ 0xff);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn reads_our_own_resident_set() {
        assert!(resident_kib(std::process::id()).is_some_and(|kib| kib > 0));
    }
}
