//! Closed-loop request/response: each connection sends one message, reads its whole reply,
//! checks every byte, and only then sends the next. Every round trip is timed into an HDR
//! histogram.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::{
    connect, connection_seed, diverged, io_failure, mismatch, new_histogram, BenchError, Latency,
    ProgressCounter,
};
use crate::generator::GeneratedStream;
use crate::{Divergence, DivergenceKind};

/// How a request/response benchmark runs.
#[derive(Debug, Clone)]
pub struct RrOptions {
    /// Connections, each in its own closed loop.
    pub connections: usize,
    /// Bytes per message (and per reply).
    pub size: usize,
    /// How long the measured part lasts.
    pub duration: Duration,
    /// Round trips before the measured part, not counted (connections warm, caches hot).
    pub warmup: Duration,
    /// A round trip that takes longer than this is a stall (a divergence).
    pub timeout: Duration,
    /// Connection `i` sends the generated stream of `seed + i`.
    pub seed: u64,
    /// Counts the measured round trips as they complete.
    pub progress: Option<ProgressCounter>,
}

impl Default for RrOptions {
    fn default() -> Self {
        RrOptions {
            connections: 1,
            size: 64,
            duration: Duration::from_secs(5),
            warmup: Duration::ZERO,
            timeout: Duration::from_secs(2),
            seed: 0,
            progress: None,
        }
    }
}

/// What a request/response benchmark measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RrReport {
    /// Connections that ran.
    pub connections: usize,
    /// Bytes per message.
    pub size: usize,
    /// Round trips completed in the measured part, every reply byte verified.
    pub messages: u64,
    /// Wall time of the measured part.
    pub elapsed: Duration,
    /// Round-trip latency of the measured messages.
    pub latency: Latency,
}

impl RrReport {
    /// Round trips per second.
    pub fn messages_per_sec(&self) -> f64 {
        self.messages as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Payload megabytes (10^6 bytes) per second, each byte counted once.
    pub fn megabytes_per_sec(&self) -> f64 {
        self.messages_per_sec() * self.size as f64 / 1e6
    }

    /// Reply bytes verified in the measured part.
    pub fn bytes_verified(&self) -> u64 {
        self.messages * self.size as u64
    }
}

/// Runs closed-loop request/response against `addr`. All connections are opened first; a
/// first connection that cannot be opened is [`BenchError::Unreachable`], anything that goes
/// wrong after that is [`BenchError::Diverged`].
pub async fn request_response(
    addr: SocketAddr,
    options: &RrOptions,
) -> Result<RrReport, BenchError> {
    if options.connections == 0 {
        return Err(BenchError::options("--connections must be at least 1"));
    }
    if options.size == 0 {
        return Err(BenchError::options("--size must be at least 1 byte"));
    }
    let mut streams = Vec::with_capacity(options.connections);
    for index in 0..options.connections {
        match connect(addr, options.timeout).await {
            Ok(stream) => streams.push(stream),
            Err(kind) if index == 0 => return Err(BenchError::Unreachable { addr, kind }),
            Err(kind) => {
                return Err(BenchError::Diverged(Box::new(diverged(
                    index, kind, 0, 0, 0,
                ))))
            }
        }
    }
    let measure_from = Instant::now() + options.warmup;
    let until = measure_from + options.duration;
    let mut tasks = tokio::task::JoinSet::new();
    for (index, stream) in streams.into_iter().enumerate() {
        let options = options.clone();
        tasks.spawn(async move {
            (
                index,
                run(stream, index, &options, measure_from, until).await,
            )
        });
    }
    let mut histogram = new_histogram();
    let mut messages = 0;
    let mut failures: Vec<(usize, Divergence)> = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((_, Ok((count, part)))) => {
                messages += count;
                histogram
                    .add(&part)
                    .expect("histograms of the same bounds add up");
            }
            Ok((index, Err(divergence))) => failures.push((index, divergence)),
            Err(panic) => std::panic::resume_unwind(panic.into_panic()),
        }
    }
    let elapsed = Instant::now().saturating_duration_since(measure_from);
    if let Some((_, divergence)) = failures.into_iter().min_by_key(|(index, _)| *index) {
        return Err(BenchError::Diverged(Box::new(divergence)));
    }
    Ok(RrReport {
        connections: options.connections,
        size: options.size,
        messages,
        elapsed,
        latency: Latency::of(&histogram),
    })
}

/// One connection's closed loop until `until`; counts and times the round trips that start at
/// or after `measure_from`.
async fn run(
    mut stream: TcpStream,
    index: usize,
    options: &RrOptions,
    measure_from: Instant,
    until: Instant,
) -> Result<(u64, Histogram<u64>), Divergence> {
    let seed = connection_seed(options.seed, index);
    let size = options.size as u64;
    let mut writer = GeneratedStream::new(seed);
    let mut checker = GeneratedStream::new(seed);
    let mut request = vec![0u8; options.size];
    let mut reply = vec![0u8; options.size.min(256 * 1024)];
    let mut histogram = new_histogram();
    let mut messages = 0u64;
    // Stream offsets: bytes sent, and bytes that came back verified.
    let (mut sent, mut received) = (0u64, 0u64);
    loop {
        let started = Instant::now();
        if started >= until {
            return Ok((messages, histogram));
        }
        writer.fill(&mut request);
        let message_start = sent;
        let message_end = sent + size;
        // One timer per round trip, not per read: a stall is a round trip that never ends.
        let round_trip = async {
            stream
                .write_all(&request)
                .await
                .map_err(|e| io_failure(&e, "writing"))?;
            sent = message_end;
            while received < message_end {
                let want = usize::try_from(message_end - received)
                    .unwrap_or(usize::MAX)
                    .min(reply.len());
                let n = stream
                    .read(&mut reply[..want])
                    .await
                    .map_err(|e| io_failure(&e, "reading"))?;
                if n == 0 {
                    return Err(DivergenceKind::EarlyEof);
                }
                if let Some(i) = checker.first_mismatch(&reply[..n]) {
                    let offset = received + i as u64;
                    received = offset;
                    return Err(mismatch(
                        seed,
                        message_start,
                        message_end,
                        offset,
                        &reply[i..n],
                    ));
                }
                received += n as u64;
            }
            Ok(())
        };
        let outcome = tokio::time::timeout(options.timeout, round_trip).await;
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(kind)) => return Err(diverged(index, kind, sent, received, message_end)),
            Err(_) => {
                let kind = DivergenceKind::Stalled {
                    waited: options.timeout,
                };
                return Err(diverged(index, kind, sent, received, message_end));
            }
        }
        if started >= measure_from {
            let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            histogram.saturating_record(nanos.max(1));
            messages += 1;
            if let Some(progress) = &options.progress {
                progress.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}
