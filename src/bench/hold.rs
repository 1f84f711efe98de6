//! Many connections held at once: open K connections, a verified round trip on each, keep them
//! all open, and say how many made it and how long it took. With `echo_bytes` of 64 KiB or more
//! every connection has pushed a full buffer through the server first, so a resident-set
//! figure taken afterwards counts whatever the server keeps per connection after a real echo.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::{
    connect, connection_seed, diverged, io_failure, mismatch, resident_kib, BenchError,
    ProgressCounter,
};
use crate::generator::GeneratedStream;
use crate::{Divergence, DivergenceKind};

/// How a held-connections benchmark runs.
#[derive(Debug, Clone)]
pub struct HoldOptions {
    /// Connections to open and hold.
    pub count: usize,
    /// Bytes each connection sends and reads back, verified, before it is held idle.
    pub echo_bytes: usize,
    /// Connections being opened at once (the rest wait their turn), so the listen backlog of
    /// the target is not what is measured.
    pub parallel: usize,
    /// How long all connections are held open together after the last one succeeded.
    pub hold: Duration,
    /// A connect or echo taking longer than this fails that connection.
    pub timeout: Duration,
    /// Connection `i` sends the generated stream of `seed + i`.
    pub seed: u64,
    /// When set, the resident set of this process (the server, on Linux) is read once every
    /// connection has echoed and gone idle.
    pub rss_pid: Option<u32>,
    /// Counts connections done (succeeded or failed).
    pub progress: Option<ProgressCounter>,
}

impl Default for HoldOptions {
    fn default() -> Self {
        HoldOptions {
            count: 1000,
            echo_bytes: 16,
            parallel: 128,
            hold: Duration::ZERO,
            timeout: Duration::from_secs(5),
            seed: 0,
            rss_pid: None,
            progress: None,
        }
    }
}

/// What a held-connections benchmark measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldReport {
    /// Connections asked for.
    pub requested: usize,
    /// Connections opened whose round trip came back intact, all held open together.
    pub succeeded: usize,
    /// Connections that could not be opened or whose round trip failed (not a wrong byte).
    pub failed: usize,
    /// What went wrong on the first failed connection.
    pub first_failure: Option<String>,
    /// From the first connect to the last round trip done.
    pub elapsed: Duration,
    /// The resident set of [`HoldOptions::rss_pid`] in KiB, read while every connection was
    /// open and idle.
    pub rss_kib: Option<u64>,
}

/// Opens and holds `options.count` connections to `addr`. A wrong byte on any of them is
/// [`BenchError::Diverged`]; other failures are counted in the report. When not one connection
/// could be opened the target is [`BenchError::Unreachable`].
pub async fn hold(addr: SocketAddr, options: &HoldOptions) -> Result<HoldReport, BenchError> {
    if options.count == 0 {
        return Err(BenchError::options("--count must be at least 1"));
    }
    let started = Instant::now();
    let slots = Arc::new(Semaphore::new(options.parallel.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..options.count {
        // Wait for a slot before spawning, so at most `parallel` tasks exist besides the held
        // connections themselves.
        let permit = Arc::clone(&slots)
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let options = options.clone();
        tasks.spawn(async move {
            let result = open_and_echo(addr, index, &options).await;
            drop(permit);
            if let Some(progress) = &options.progress {
                progress.fetch_add(1, Ordering::Relaxed);
            }
            (index, result)
        });
    }
    let mut held = Vec::with_capacity(options.count);
    let mut failed = 0;
    let mut first_failure: Option<(usize, Divergence)> = None;
    let mut wrong_bytes: Option<(usize, Divergence)> = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((_, Ok(stream))) => held.push(stream),
            Ok((index, Err(divergence))) => {
                failed += 1;
                let keep = |slot: &Option<(usize, Divergence)>| {
                    slot.as_ref().is_none_or(|(i, _)| index < *i)
                };
                let wrong = matches!(
                    divergence.kind,
                    DivergenceKind::Mismatch { .. }
                        | DivergenceKind::ExtraBytes { .. }
                        | DivergenceKind::EarlyEof
                );
                if wrong && keep(&wrong_bytes) {
                    wrong_bytes = Some((index, divergence));
                } else if !wrong && keep(&first_failure) {
                    first_failure = Some((index, divergence));
                }
            }
            Err(panic) => std::panic::resume_unwind(panic.into_panic()),
        }
    }
    let elapsed = started.elapsed();
    if let Some((_, divergence)) = wrong_bytes {
        return Err(BenchError::Diverged(Box::new(divergence)));
    }
    if held.is_empty() {
        if let Some((_, divergence)) = first_failure {
            return Err(BenchError::Unreachable {
                addr,
                kind: divergence.kind,
            });
        }
    }
    let rss_kib = options.rss_pid.and_then(resident_kib);
    if !options.hold.is_zero() {
        tokio::time::sleep(options.hold).await;
    }
    // Close with a reset rather than a FIN: thousands of client-side TIME_WAIT entries would
    // otherwise use up the ephemeral ports of the next run against the same target.
    for stream in &held {
        let _ = socket2::SockRef::from(stream).set_linger(Some(Duration::ZERO));
    }
    let succeeded = held.len();
    drop(held);
    Ok(HoldReport {
        requested: options.count,
        succeeded,
        failed,
        first_failure: first_failure.map(|(_, d)| d.summary()),
        elapsed,
        rss_kib,
    })
}

/// Connects, sends `echo_bytes` while reading them back (so any size works), verifies them,
/// and hands back the idle connection.
async fn open_and_echo(
    addr: SocketAddr,
    index: usize,
    options: &HoldOptions,
) -> Result<TcpStream, Divergence> {
    let len = options.echo_bytes as u64;
    let mut stream = connect(addr, options.timeout)
        .await
        .map_err(|kind| diverged(index, kind, 0, 0, len))?;
    let seed = connection_seed(options.seed, index);
    let mut received = 0u64;
    let echo = async {
        let (mut reader, mut writer) = stream.split();
        let write = async {
            let mut generator = GeneratedStream::new(seed);
            let mut buffer = vec![0u8; options.echo_bytes.min(64 * 1024)];
            let mut at = 0u64;
            while at < len {
                let n = usize::try_from(len - at)
                    .unwrap_or(usize::MAX)
                    .min(buffer.len());
                generator.fill(&mut buffer[..n]);
                writer
                    .write_all(&buffer[..n])
                    .await
                    .map_err(|e| io_failure(&e, "writing"))?;
                at += n as u64;
            }
            Ok::<(), DivergenceKind>(())
        };
        let read = async {
            let mut checker = GeneratedStream::new(seed);
            let mut buffer = vec![0u8; options.echo_bytes.clamp(1, 64 * 1024)];
            while received < len {
                let want = usize::try_from(len - received)
                    .unwrap_or(usize::MAX)
                    .min(buffer.len());
                let n = reader
                    .read(&mut buffer[..want])
                    .await
                    .map_err(|e| io_failure(&e, "reading"))?;
                if n == 0 {
                    return Err(DivergenceKind::EarlyEof);
                }
                if let Some(i) = checker.first_mismatch(&buffer[..n]) {
                    let offset = received + i as u64;
                    received = offset;
                    return Err(mismatch(seed, 0, len, offset, &buffer[i..n]));
                }
                received += n as u64;
            }
            Ok(())
        };
        tokio::try_join!(write, read).map(|_| ())
    };
    let outcome = tokio::time::timeout(options.timeout, echo).await;
    match outcome {
        Ok(Ok(())) => Ok(stream),
        Ok(Err(kind)) => Err(diverged(index, kind, len, received, len)),
        Err(_) => Err(diverged(
            index,
            DivergenceKind::Stalled {
                waited: options.timeout,
            },
            len,
            received,
            len,
        )),
    }
}
