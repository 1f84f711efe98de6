//! Bulk streams: each connection's writer sends its share of the bytes as fast as the socket
//! takes them, then half-closes, while its reader, concurrently, checks every byte against the
//! generator as it arrives and expects EOF right after the last one.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::time::Instant;

use super::{
    connect, connection_seed, diverged, io_failure, mismatch, BenchError, ProgressCounter,
};
use crate::generator::GeneratedStream;
use crate::{Divergence, DivergenceKind};

/// Bytes per write and per read: large enough that the syscalls are not what is measured.
const CHUNK: usize = 256 * 1024;

/// How a stream benchmark runs.
#[derive(Debug, Clone)]
pub struct StreamOptions {
    /// Payload bytes in all, shared out between the connections.
    pub bytes: u64,
    /// Connections streaming at once.
    pub connections: usize,
    /// Before the measured streams, stream for this long on one connection, not counted.
    pub warmup: Duration,
    /// No byte moving for this long, in one direction of a connection, is a stall.
    pub timeout: Duration,
    /// Connection `i` sends the generated stream of `seed + i`.
    pub seed: u64,
    /// Counts the payload bytes verified so far.
    pub progress: Option<ProgressCounter>,
}

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions {
            bytes: 256 << 20,
            connections: 1,
            warmup: Duration::ZERO,
            timeout: Duration::from_secs(2),
            seed: 0,
            progress: None,
        }
    }
}

/// What a stream benchmark measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamReport {
    /// Payload bytes sent, echoed and verified (each counted once).
    pub bytes: u64,
    /// Connections that streamed.
    pub connections: usize,
    /// From the first byte written to the last EOF read.
    pub elapsed: Duration,
}

impl StreamReport {
    /// Payload megabytes (10^6 bytes) per second, each byte counted once.
    pub fn megabytes_per_sec(&self) -> f64 {
        self.bytes as f64 / self.elapsed.as_secs_f64().max(1e-9) / 1e6
    }
}

/// How much a connection sends.
#[derive(Debug, Clone, Copy)]
enum Limit {
    Bytes(u64),
    Until(Instant),
}

/// Streams `options.bytes` through `addr`, verified. The first connection that cannot be
/// opened is [`BenchError::Unreachable`]; anything wrong after that is [`BenchError::Diverged`].
pub async fn stream(addr: SocketAddr, options: &StreamOptions) -> Result<StreamReport, BenchError> {
    if options.connections == 0 {
        return Err(BenchError::options("--connections must be at least 1"));
    }
    if !options.warmup.is_zero() {
        let warmup = StreamOptions {
            progress: None,
            ..options.clone()
        };
        let stream = connect(addr, options.timeout)
            .await
            .map_err(|kind| BenchError::Unreachable { addr, kind })?;
        let until = Limit::Until(Instant::now() + options.warmup);
        // The warm-up connection is named after the last measured one plus one (its seed too),
        // so its bytes are never mistaken for measured ones.
        play(stream, options.connections, &warmup, until)
            .await
            .map_err(|d| BenchError::Diverged(Box::new(d)))?;
    }
    let mut streams = Vec::with_capacity(options.connections);
    for index in 0..options.connections {
        match connect(addr, options.timeout).await {
            Ok(stream) => streams.push(stream),
            Err(kind) if index == 0 && options.warmup.is_zero() => {
                return Err(BenchError::Unreachable { addr, kind })
            }
            Err(kind) => {
                return Err(BenchError::Diverged(Box::new(diverged(
                    index, kind, 0, 0, 0,
                ))))
            }
        }
    }
    let share = options.bytes / options.connections as u64;
    let extra = options.bytes % options.connections as u64;
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (index, stream) in streams.into_iter().enumerate() {
        let options = options.clone();
        let bytes = share + u64::from((index as u64) < extra);
        tasks.spawn(async move { play(stream, index, &options, Limit::Bytes(bytes)).await });
    }
    let mut failures = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(_)) => {}
            Ok(Err(divergence)) => failures.push(divergence),
            Err(panic) => std::panic::resume_unwind(panic.into_panic()),
        }
    }
    let elapsed = started.elapsed();
    if let Some(divergence) = failures
        .into_iter()
        .min_by(|a, b| a.connection.cmp(&b.connection))
    {
        return Err(BenchError::Diverged(Box::new(divergence)));
    }
    Ok(StreamReport {
        bytes: options.bytes,
        connections: options.connections,
        elapsed,
    })
}

/// One connection: writer and reader at once, on tasks of their own so they may run on
/// different cores. Returns the bytes verified.
async fn play(
    stream: tokio::net::TcpStream,
    index: usize,
    options: &StreamOptions,
    limit: Limit,
) -> Result<u64, Divergence> {
    let seed = connection_seed(options.seed, index);
    let (reader, writer) = stream.into_split();
    let sent = Arc::new(AtomicU64::new(0));
    let timeout = options.timeout;
    let write = tokio::spawn(write_side(writer, seed, limit, timeout, Arc::clone(&sent)));
    let read = read_side(reader, seed, limit, options, &sent).await;
    let sent_total = sent.load(Ordering::Relaxed);
    let name_index = index;
    let fail = |kind, received| {
        let expected = match limit {
            Limit::Bytes(n) => n,
            Limit::Until(_) => sent_total,
        };
        diverged(
            name_index,
            kind,
            sent.load(Ordering::Relaxed),
            received,
            expected,
        )
    };
    match read {
        Err((kind, received)) => {
            write.abort();
            Err(fail(kind, received))
        }
        Ok(received) => match write.await {
            Ok(Ok(())) => Ok(received),
            Ok(Err(kind)) => Err(fail(kind, received)),
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        },
    }
}

async fn write_side(
    mut writer: OwnedWriteHalf,
    seed: u64,
    limit: Limit,
    timeout: Duration,
    sent: Arc<AtomicU64>,
) -> Result<(), DivergenceKind> {
    let mut generator = GeneratedStream::new(seed);
    let mut buffer = vec![0u8; CHUNK];
    let mut at = 0u64;
    loop {
        let n = match limit {
            Limit::Bytes(total) => usize::try_from(total - at).unwrap_or(CHUNK).min(CHUNK),
            Limit::Until(deadline) if Instant::now() < deadline => CHUNK,
            Limit::Until(_) => 0,
        };
        if n == 0 {
            break;
        }
        generator.fill(&mut buffer[..n]);
        match tokio::time::timeout(timeout, writer.write_all(&buffer[..n])).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(io_failure(&e, "writing")),
            Err(_) => return Err(DivergenceKind::Stalled { waited: timeout }),
        }
        at += n as u64;
        sent.store(at, Ordering::Relaxed);
    }
    match tokio::time::timeout(timeout, writer.shutdown()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(io_failure(&e, "half-closing")),
        Err(_) => Err(DivergenceKind::Stalled { waited: timeout }),
    }
}

/// Reads and verifies until EOF; the error carries the bytes verified before it.
async fn read_side(
    mut reader: OwnedReadHalf,
    seed: u64,
    limit: Limit,
    options: &StreamOptions,
    sent: &AtomicU64,
) -> Result<u64, (DivergenceKind, u64)> {
    let mut checker = GeneratedStream::new(seed);
    let mut buffer = vec![0u8; CHUNK];
    let mut received = 0u64;
    let mut unreported = 0u64;
    let expected = |sent: &AtomicU64| match limit {
        Limit::Bytes(n) => n,
        Limit::Until(_) => sent.load(Ordering::Relaxed),
    };
    loop {
        let n = match tokio::time::timeout(options.timeout, reader.read(&mut buffer)).await {
            Ok(Ok(n)) => n,
            Ok(Err(e)) => return Err((io_failure(&e, "reading"), received)),
            Err(_) => {
                let waited = options.timeout;
                let kind = if received == expected(sent) && received == sent.load(Ordering::Relaxed)
                {
                    DivergenceKind::NoEof { waited }
                } else {
                    DivergenceKind::Stalled { waited }
                };
                return Err((kind, received));
            }
        };
        if n == 0 {
            // EOF: right after the last byte, or early. With a time limit the writer may not
            // be done yet, but the server may only close after our half-close, so it is.
            return if received < expected(sent) {
                Err((DivergenceKind::EarlyEof, received))
            } else {
                Ok(received)
            };
        }
        let bytes = &buffer[..n];
        let within = match limit {
            Limit::Bytes(total) => usize::try_from(total - received).unwrap_or(n).min(n),
            Limit::Until(_) => n,
        };
        if let Some(i) = checker.first_mismatch(&bytes[..within]) {
            let offset = received + i as u64;
            let end = expected(sent).max(offset + 1);
            let start = offset.saturating_sub(64);
            return Err((
                mismatch(seed, start, end, offset, &bytes[i..]),
                received + i as u64,
            ));
        }
        received += within as u64;
        if within < n {
            let extra = bytes[within..].iter().take(64).copied().collect();
            return Err((DivergenceKind::ExtraBytes { bytes: extra }, received));
        }
        if let Some(progress) = &options.progress {
            unreported += n as u64;
            if unreported >= 4 << 20 {
                progress.fetch_add(unreported, Ordering::Relaxed);
                unreported = 0;
            }
        }
    }
}
