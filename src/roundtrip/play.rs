//! Playing a case: connect every connection, then run each one's writer and reader at once,
//! comparing every byte as it arrives, and turn whatever goes wrong into a [`Divergence`].

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;

use super::divergence::{Divergence, DivergenceKind};
use super::wire::{self, Progress};
use crate::case::{Case, ConnectionCase, Conversation, ConversationKind, PauseScale, Payload};
use crate::proxy::ProxyHandle;
use crate::server::ServerStats;

/// Largest single read or write the engine issues. A plan's larger chunk is written in pieces
/// of this size back to back (with no pause between them), which the kernel sees the same way.
const IO_UNIT: usize = 64 * 1024;

/// After a mismatch, how many wrong bytes to collect as evidence, and how long to wait for them.
const EVIDENCE_BYTES: usize = 32;
const EVIDENCE_WAIT: Duration = Duration::from_millis(50);

/// How a case is played.
#[derive(Debug, Clone)]
pub struct PlayOptions {
    /// The no-progress timeout: a connection fails only when no byte moved in either direction
    /// on it for this long. Pauses asked for by the plans do not count.
    pub timeout: Duration,
    /// How long connecting may take.
    pub connect_timeout: Duration,
    /// The counters of the built-in server, when that is the target: each connection's outcome
    /// then says how many reads the server needed for its bytes.
    pub server_stats: Option<Arc<ServerStats>>,
    /// The proxy between this client and the target, when there is one: every play restarts
    /// its accept order with the seed given here, and opens the case's connections one at a
    /// time, each only once the proxy has accepted the one before, so the same seed gives the
    /// same faults on the same connections.
    pub through: Option<ProxyInFront>,
}

impl Default for PlayOptions {
    fn default() -> Self {
        PlayOptions {
            timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(2),
            server_stats: None,
            through: None,
        }
    }
}

impl PlayOptions {
    /// The same options with both timeouts four times longer: the second play of a failure
    /// whose only evidence is time.
    pub(crate) fn slower(&self) -> PlayOptions {
        PlayOptions {
            timeout: self.timeout * 4,
            connect_timeout: self.connect_timeout * 4,
            ..self.clone()
        }
    }
}

/// A proxy in front of the target (see [`PlayOptions::through`]), and the seed the next play
/// restarts it with.
#[derive(Debug, Clone)]
pub struct ProxyInFront {
    /// The running proxy; the case's address is its listening address.
    pub proxy: Arc<ProxyHandle>,
    /// The seed of its generators for the case being played.
    pub seed: u64,
}

/// What a passing case measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// One entry per connection, in the case's order.
    pub connections: Vec<ConnectionOutcome>,
    /// Wall time of the whole case.
    pub elapsed: Duration,
    /// A failure whose only evidence was time, which did not happen again when the case was
    /// played at four times the timeout ([`play_confirmed`]); `None` if the first run passed.
    pub unconfirmed: Option<Divergence>,
}

impl Outcome {
    /// Bytes verified: every byte that came back, over all connections.
    pub fn bytes_verified(&self) -> u64 {
        self.connections.iter().map(|c| c.received).sum()
    }
}

/// What one connection measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionOutcome {
    /// The connection's name in the case.
    pub name: String,
    /// The client side's address (the key of the built-in server's records).
    pub local_addr: SocketAddr,
    /// Bytes written.
    pub sent: u64,
    /// Bytes that came back, all checked.
    pub received: u64,
    /// Chunks written (one per cut of the write plan).
    pub writes: u64,
    /// Reads that returned data.
    pub reads: u64,
    /// Reads the built-in server needed for this connection's bytes, when known.
    pub server_reads: Option<u64>,
    /// From the start of the case until this connection's last check.
    pub elapsed: Duration,
}

/// Plays `case` against `addr` once.
pub async fn play(
    case: &Case,
    addr: SocketAddr,
    options: &PlayOptions,
) -> Result<Outcome, Divergence> {
    let started = Instant::now();
    wire::restart_proxy(options);
    // Open every connection first, in order, so they are all held open together.
    let mut streams = Vec::with_capacity(case.connections.len());
    for (index, conn) in case.connections.iter().enumerate() {
        streams.push(connect(conn, index, addr, options).await?);
    }
    let plays =
        case.connections.iter().zip(streams).map(|(conn, stream)| {
            play_connection(conn, stream, case.pause_scale, options, started)
        });
    let results = futures_util::future::join_all(plays).await;
    let mut connections = Vec::with_capacity(results.len());
    let mut failures = Vec::new();
    for result in results {
        match result {
            Ok(outcome) => connections.push(outcome),
            Err(mut divergence) => {
                wire::explain_crossing(&mut divergence, sent_bytes(case));
                failures.push(divergence);
            }
        }
    }
    // Several connections may fail at once (bytes that left one arrive at another); report the
    // one with the most telling evidence, the first in the case's order among equals.
    if let Some(best) = failures.into_iter().min_by_key(evidence_rank) {
        return Err(best);
    }
    Ok(Outcome {
        connections,
        elapsed: started.elapsed(),
        unconfirmed: None,
    })
}

/// Plays `case`; a failure whose only evidence is time is played once more at four times the
/// timeouts, and reported (as confirmed) only if it fails again.
pub async fn play_confirmed(
    case: &Case,
    addr: SocketAddr,
    options: &PlayOptions,
) -> Result<Outcome, Divergence> {
    match play(case, addr, options).await {
        Err(first) if first.kind.is_timing_only() => {
            match play(case, addr, &options.slower()).await {
                Ok(mut outcome) => {
                    outcome.unconfirmed = Some(first);
                    Ok(outcome)
                }
                Err(mut again) => {
                    again.confirmed = true;
                    Err(again)
                }
            }
        }
        other => other,
    }
}

async fn connect(
    conn: &ConnectionCase,
    index: usize,
    addr: SocketAddr,
    options: &PlayOptions,
) -> Result<TcpStream, Divergence> {
    wire::open(&conn.write, index, addr, options)
        .await
        .map_err(|kind| Divergence::on_connect(&conn.name, kind, conn.conversation.total_len()))
}

/// What a connection's writer and reader share.
struct Shared {
    progress: Progress,
    sent: AtomicU64,
    received: AtomicU64,
}

/// A failure on one side of a connection, before it is dressed as a [`Divergence`].
struct Failure {
    kind: DivergenceKind,
}

impl Failure {
    fn io(error: std::io::Error, during: &'static str) -> Failure {
        let kind = match error.kind() {
            std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::BrokenPipe => DivergenceKind::Reset { during },
            kind => DivergenceKind::Io {
                kind,
                message: error.to_string(),
            },
        };
        Failure { kind }
    }
}

async fn play_connection(
    conn: &ConnectionCase,
    mut stream: TcpStream,
    scale: PauseScale,
    options: &PlayOptions,
    started: Instant,
) -> Result<ConnectionOutcome, Divergence> {
    let local_addr = stream
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let shared = Shared {
        progress: Progress::new(),
        sent: AtomicU64::new(0),
        received: AtomicU64::new(0),
    };
    let (echoed_tx, echoed_rx) = watch::channel(0u64);
    let (mut reader, mut writer) = stream.split();
    let write = write_side(
        &mut writer,
        conn,
        scale,
        &shared,
        options.timeout,
        echoed_rx,
    );
    let read = read_side(
        &mut reader,
        conn,
        scale,
        &shared,
        options.timeout,
        echoed_tx,
    );
    tokio::pin!(write, read);
    let (mut writes, mut reads) = (None, None);
    // Whichever side fails first decides; the other is dropped rather than left to time out.
    let failure = loop {
        tokio::select! {
            w = &mut write, if writes.is_none() => match w {
                Ok(n) => writes = Some(n),
                Err(failure) => break Some(failure),
            },
            r = &mut read, if reads.is_none() => match r {
                Ok(n) => reads = Some(n),
                Err(failure) => break Some(failure),
            },
        }
        if writes.is_some() && reads.is_some() {
            break None;
        }
    };
    let sent = shared.sent.load(Ordering::Relaxed);
    let received = shared.received.load(Ordering::Relaxed);
    if let Some(failure) = failure {
        let confirmed = !failure.kind.is_timing_only();
        return Err(Divergence {
            connection: conn.name.clone(),
            kind: failure.kind,
            sent,
            received,
            expected: conn.conversation.total_len(),
            confirmed,
        });
    }
    // Every byte the server read has been echoed and checked, so its read count is final.
    let server_reads = wire::server_reads(options, local_addr);
    Ok(ConnectionOutcome {
        name: conn.name.clone(),
        local_addr,
        sent,
        received,
        writes: writes.unwrap_or(0),
        reads: reads.unwrap_or(0),
        server_reads,
        elapsed: started.elapsed(),
    })
}

fn messages(conversation: &Conversation) -> &[Payload] {
    conversation.payloads()
}

/// Sends the conversation by the write plan; returns the number of chunks written.
async fn write_side(
    writer: &mut WriteHalf<'_>,
    conn: &ConnectionCase,
    scale: PauseScale,
    shared: &Shared,
    timeout: Duration,
    mut echoed: watch::Receiver<u64>,
) -> Result<u64, Failure> {
    let kind = conn.conversation.kind();
    let mut buffer = vec![0u8; IO_UNIT];
    let mut writes = 0u64;
    let mut cumulative = 0u64;
    for payload in messages(&conn.conversation) {
        for cut in conn.write.cuts(payload.len()) {
            let mut at = cut.range.start;
            while at < cut.range.end {
                let n = payload.fill_at(at, &mut buffer[..(cut.range.end - at).min(IO_UNIT)]);
                write_all(writer, &buffer[..n], shared, timeout).await?;
                at += n;
            }
            writes += 1;
            pause(scale.apply(cut.pause), &shared.progress).await;
        }
        cumulative += payload.len() as u64;
        if kind == ConversationKind::Interactive {
            // Wait for this round's whole echo before sending the next. The reader enforces
            // the timeout and names the unanswered round; this side only waits.
            let _ = echoed.wait_for(|&n| n >= cumulative).await;
        }
    }
    if kind != ConversationKind::Close {
        shared
            .progress
            .guard(timeout, writer.shutdown())
            .await
            .ok_or(Failure {
                kind: DivergenceKind::Stalled { waited: timeout },
            })?
            .map_err(|e| Failure::io(e, "half-closing"))?;
    }
    Ok(writes)
}

async fn write_all(
    writer: &mut WriteHalf<'_>,
    mut bytes: &[u8],
    shared: &Shared,
    timeout: Duration,
) -> Result<(), Failure> {
    while !bytes.is_empty() {
        let written = shared
            .progress
            .guard(timeout, writer.write(bytes))
            .await
            .ok_or(Failure {
                kind: DivergenceKind::Stalled { waited: timeout },
            })?
            .map_err(|e| Failure::io(e, "writing"))?;
        if written == 0 {
            return Err(Failure::io(std::io::ErrorKind::WriteZero.into(), "writing"));
        }
        shared.sent.fetch_add(written as u64, Ordering::Relaxed);
        shared.progress.touch();
        bytes = &bytes[written..];
    }
    Ok(())
}

async fn pause(duration: Duration, progress: &Progress) {
    if !duration.is_zero() {
        // A pause the plan asks for is not a stall, on either side of the connection.
        let until = Instant::now() + duration;
        progress.touch_at(until);
        tokio::time::sleep_until(until).await;
    }
}

/// Reads the echo by the read plan and checks every byte; returns the number of reads.
async fn read_side(
    reader: &mut ReadHalf<'_>,
    conn: &ConnectionCase,
    scale: PauseScale,
    shared: &Shared,
    timeout: Duration,
    echoed: watch::Sender<u64>,
) -> Result<u64, Failure> {
    let kind = conn.conversation.kind();
    let payloads = messages(&conn.conversation);
    let mut buffer = vec![0u8; IO_UNIT];
    let mut reads = 0u64;
    let mut stream_offset = 0u64;
    for (round, payload) in payloads.iter().enumerate() {
        let round_start = stream_offset;
        for cut in conn.read.cuts(payload.len()) {
            let mut at = cut.range.start;
            while at < cut.range.end {
                let want = (cut.range.end - at).min(IO_UNIT);
                let Some(result) = shared
                    .progress
                    .guard(timeout, reader.read(&mut buffer[..want]))
                    .await
                else {
                    let sent = shared.sent.load(Ordering::Relaxed);
                    let round_end = round_start + payload.len() as u64;
                    let kind = if kind == ConversationKind::Interactive && sent >= round_end {
                        DivergenceKind::RoundUnanswered {
                            round,
                            rounds: payloads.len(),
                            round_received: stream_offset - round_start,
                            round_len: payload.len() as u64,
                            waited: timeout,
                        }
                    } else {
                        DivergenceKind::Stalled { waited: timeout }
                    };
                    return Err(Failure { kind });
                };
                let n = result.map_err(|e| Failure::io(e, "reading"))?;
                if n == 0 {
                    return Err(Failure {
                        kind: DivergenceKind::EarlyEof,
                    });
                }
                reads += 1;
                shared.progress.touch();
                if let Some(i) = payload.first_mismatch(at, &buffer[..n]) {
                    let evidence = collect_evidence(reader, &buffer[i..n]).await;
                    return Err(mismatch(payload, at + i, round_start, &evidence));
                }
                at += n;
                stream_offset += n as u64;
                shared.received.store(stream_offset, Ordering::Relaxed);
                let _ = echoed.send(stream_offset);
            }
            pause(scale.apply(cut.pause), &shared.progress).await;
        }
    }
    if kind == ConversationKind::Close {
        return Ok(reads);
    }
    // After the half-close the server owes EOF and nothing else.
    match shared
        .progress
        .guard(timeout, reader.read(&mut buffer[..EVIDENCE_BYTES * 2]))
        .await
    {
        None => Err(Failure {
            kind: DivergenceKind::NoEof { waited: timeout },
        }),
        Some(Ok(0)) => Ok(reads),
        Some(Ok(n)) => Err(Failure {
            kind: DivergenceKind::ExtraBytes {
                bytes: buffer[..n].to_vec(),
            },
        }),
        Some(Err(e)) => Err(Failure::io(e, "waiting for EOF")),
    }
}

/// The wrong bytes in hand, topped up by a short read so the report has something to show and
/// a crossing between connections can be recognised.
async fn collect_evidence(reader: &mut ReadHalf<'_>, wrong: &[u8]) -> Vec<u8> {
    let mut evidence = wrong[..wrong.len().min(EVIDENCE_BYTES)].to_vec();
    let deadline = Instant::now() + EVIDENCE_WAIT;
    let mut more = [0u8; EVIDENCE_BYTES];
    while evidence.len() < EVIDENCE_BYTES {
        let want = EVIDENCE_BYTES - evidence.len();
        match tokio::time::timeout_at(deadline, reader.read(&mut more[..want])).await {
            Ok(Ok(n)) if n > 0 => evidence.extend_from_slice(&more[..n]),
            _ => break,
        }
    }
    evidence
}

/// A mismatch at `offset` of `payload` (whose round starts at `round_start` in the stream),
/// with `wrong` the received bytes from the offset on.
fn mismatch(payload: &Payload, offset: usize, round_start: u64, wrong: &[u8]) -> Failure {
    let bytes = |from: u64, to: u64| {
        let range = (from - round_start) as usize..(to - round_start) as usize;
        payload.chunk(range).into_owned()
    };
    let end = round_start + payload.len() as u64;
    Failure {
        kind: wire::mismatch(bytes, round_start, end, round_start + offset as u64, wrong),
    }
}

/// What every connection of `case` sends: `(name, stream offset, payload)`.
fn sent_bytes(case: &Case) -> impl Iterator<Item = (&str, u64, &Payload)> {
    case.connections.iter().flat_map(|conn| {
        let mut start = 0u64;
        conn.conversation.payloads().iter().map(move |payload| {
            let at = start;
            start += payload.len() as u64;
            (conn.name.as_str(), at, payload)
        })
    })
}

/// How telling a divergence is, lowest first: bytes seen to cross between connections, then
/// wrong bytes, extra bytes, missing bytes, and last what only time or the socket says.
fn evidence_rank(divergence: &Divergence) -> u8 {
    match &divergence.kind {
        DivergenceKind::Mismatch { evidence, .. } if evidence.crossed_from.is_some() => 0,
        DivergenceKind::Mismatch { .. } => 1,
        DivergenceKind::ExtraBytes { .. } => 2,
        DivergenceKind::EarlyEof => 3,
        _ => 4,
    }
}
