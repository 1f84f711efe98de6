//! The script interpreter: plays a version 2 [`Script`] against an address over real sockets
//! and returns the same [`Outcome`] as the round-trip engine, or a [`ScriptFailure`]: the
//! engine's [`Divergence`] plus the step that failed.
//!
//! Every connection is opened first, in declaration order, and held open together. Each gets a
//! writer task that takes `send` and `shutdown write` steps from a queue and writes them by the
//! write plan in the background, so a big send never deadlocks against an echo nobody reads
//! yet. The steps themselves run in order on the caller's task; an `expect` reads by the read
//! plan and checks every byte as it arrives (a generated payload is never materialised).
//!
//! Every wait is bounded. Without `within`, a step fails when no byte moved on its connection,
//! in either direction, for the no-progress timeout, counted from when the step began waiting
//! (time spent on other connections' steps or in a `sleep` is not the connection's fault).
//! With `within D` the step must be done D after it began. The writer itself never times out: a
//! writer stuck because nobody reads is found by the step that waits on it (an `expect`, a
//! `close`, or the end of the script, which waits until every queued send is written).
//!
//! Half-close, EOF and extra bytes mean what they mean to the engine: after `expect eof` the
//! server owes nothing more, and a byte that comes instead is reported as extra.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::script::{Expectation, Script, ScriptConnection, Step};
use super::{ScenarioBody, ScenarioFile};
use crate::case::{PauseScale, Payload, WritePlan};
use crate::proxy::ProxyError;
use crate::roundtrip::wire::{self, Progress};
use crate::roundtrip::{ConnectionOutcome, Divergence, DivergenceKind, Outcome, PlayOptions};

/// Largest single read or write, as in the engine.
const IO_UNIT: usize = 64 * 1024;
/// After a mismatch, how many wrong bytes to collect as evidence, and how long to wait for them.
const EVIDENCE_BYTES: usize = 32;
const EVIDENCE_WAIT: Duration = Duration::from_millis(50);

/// A failed script: what went wrong, and at which step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptFailure {
    /// The divergence, naming the connection.
    pub divergence: Divergence,
    /// The step that failed; `None` when connecting failed, or a queued send could not be
    /// written by the end of the script.
    /// (Boxed: it keeps `Result<_, ScriptFailure>` small.)
    pub step: Option<Box<FailedStep>>,
}

/// The step of a [`ScriptFailure`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedStep {
    /// Its index in [`Script::steps`], from 0.
    pub index: usize,
    /// The step as scenario text, e.g. `a expect bytes "hi" within 1s`.
    pub text: String,
}

impl fmt::Display for ScriptFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.divergence)?;
        match &self.step {
            Some(step) => write!(f, "\n  at step {}: `{}`", step.index + 1, step.text),
            None => Ok(()),
        }
    }
}

impl std::error::Error for ScriptFailure {}

/// Plays `script` against `addr` once.
pub async fn play_script(
    script: &Script,
    addr: SocketAddr,
    options: &PlayOptions,
) -> Result<Outcome, ScriptFailure> {
    let started = Instant::now();
    wire::restart_proxy(options);
    let mut conns = Vec::with_capacity(script.connections.len());
    for (index, decl) in script.connections.iter().enumerate() {
        let stream = wire::open(&decl.write, index, addr, options)
            .await
            .map_err(|kind| ScriptFailure {
                divergence: Divergence::on_connect(&decl.name, kind, script.sent_by(&decl.name)),
                step: None,
            })?;
        conns.push(Conn::start(decl, stream, script, started));
    }
    let mut player = Player {
        script,
        options,
        conns,
    };
    for (index, step) in script.steps.iter().enumerate() {
        player
            .step(step)
            .await
            .map_err(|(conn, kind)| player.failure(conn, kind, Some((index, step.to_string()))))?;
    }
    for i in 0..player.conns.len() {
        if player.conns[i].reader.is_some() {
            player
                .close(i)
                .await
                .map_err(|kind| player.failure(i, kind, None))?;
        }
    }
    Ok(Outcome {
        connections: player.conns.iter().map(Conn::outcome).collect(),
        elapsed: started.elapsed(),
        unconfirmed: None,
    })
}

/// Plays a whole scenario file against `addr`: its case (on the round-trip engine) or its
/// script, confirming a failure whose only evidence is time, through an in-process proxy
/// built from its `through` line when it has one (started for this play, stopped after it).
/// `Err` only when that proxy cannot start; a version 1 failure names no step.
pub async fn play_file(
    file: &ScenarioFile,
    addr: SocketAddr,
    options: &PlayOptions,
) -> Result<Result<Outcome, ScriptFailure>, ProxyError> {
    let mut options = options.clone();
    let mut addr = addr;
    if let Some(through) = &file.through {
        let in_front = through.start(addr)?;
        addr = in_front.proxy.local_addr();
        options.through = Some(in_front);
    }
    Ok(match file.body() {
        ScenarioBody::Case(case) => crate::roundtrip::play_confirmed(case, addr, &options)
            .await
            .map_err(|divergence| ScriptFailure {
                divergence,
                step: None,
            }),
        ScenarioBody::Script(script) => play_script_confirmed(script, addr, &options).await,
    })
}

/// Plays `script`; a failure whose only evidence is time is played once more at four times the
/// no-progress and connect timeouts, and reported (as confirmed) only if it fails again. A
/// step's `within` is the script's own deadline and is not stretched.
pub async fn play_script_confirmed(
    script: &Script,
    addr: SocketAddr,
    options: &PlayOptions,
) -> Result<Outcome, ScriptFailure> {
    match play_script(script, addr, options).await {
        Err(first) if first.divergence.kind.is_timing_only() => {
            let slower = options.slower();
            match play_script(script, addr, &slower).await {
                Ok(mut outcome) => {
                    outcome.unconfirmed = Some(first.divergence);
                    Ok(outcome)
                }
                Err(mut again) => {
                    again.divergence.confirmed = true;
                    Err(again)
                }
            }
        }
        other => other,
    }
}

/// What a connection's writer task is asked to do, in order.
enum Command {
    /// Write the payload this many times, each a send of its own for the write plan.
    Send(Payload, u32),
    /// Half-close.
    Shutdown,
    /// Hand the write half back, so the connection can be closed without a half-close.
    Close(oneshot::Sender<OwnedWriteHalf>),
}

/// What the writer task has done, published after every write.
#[derive(Debug, Clone, Default)]
struct WriterState {
    /// Commands finished.
    done: u64,
    /// Bytes written.
    written: u64,
    /// Chunks written (one per cut of the write plan).
    writes: u64,
    /// Why the writer stopped, if it failed.
    failure: Option<DivergenceKind>,
}

/// Aborts the writer task when the play ends, however it ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One `send`'s place in the connection's outgoing stream.
struct Segment {
    start: u64,
    payload: Payload,
    repeat: u32,
}

/// A connection being played.
struct Conn {
    name: String,
    local_addr: SocketAddr,
    /// The read half; `None` once the connection is closed.
    reader: Option<OwnedReadHalf>,
    /// The writer task's queue; the task ends when this is dropped or on `Close`.
    commands: mpsc::UnboundedSender<Command>,
    /// What the writer task has done, for the steps that wait on it.
    state: watch::Receiver<WriterState>,
    /// Shared with the writer task, which touches it on every write.
    progress: Arc<Progress>,
    _writer: AbortOnDrop,
    /// Commands queued so far.
    issued: u64,
    /// Every send so far, in stream order.
    segments: Vec<Segment>,
    /// Bytes handed to the writer.
    planned: u64,
    /// Bytes of the echo read and checked.
    received: u64,
    reads: u64,
    read_plan: crate::case::ReadPlan,
    /// Sends in the whole script, for round numbers.
    total_sends: usize,
    server_reads: Option<u64>,
    started: Instant,
    elapsed: Duration,
    buffer: Vec<u8>,
}

impl Conn {
    fn start(
        decl: &ScriptConnection,
        stream: TcpStream,
        script: &Script,
        started: Instant,
    ) -> Conn {
        let local_addr = stream
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let (reader, writer) = stream.into_split();
        let progress = Arc::new(Progress::new());
        let (commands, queue) = mpsc::unbounded_channel();
        let (state_tx, state) = watch::channel(WriterState::default());
        let task = tokio::spawn(write_side(
            writer,
            decl.write.clone(),
            script.pause_scale,
            queue,
            state_tx,
            progress.clone(),
        ));
        let total_sends = script
            .steps
            .iter()
            .filter(|s| matches!(s, Step::Send { connection, .. } if *connection == decl.name))
            .count();
        Conn {
            name: decl.name.clone(),
            local_addr,
            reader: Some(reader),
            commands,
            state,
            progress,
            _writer: AbortOnDrop(task),
            issued: 0,
            segments: Vec::new(),
            planned: 0,
            received: 0,
            reads: 0,
            read_plan: decl.read.clone(),
            total_sends,
            server_reads: None,
            started,
            elapsed: Duration::ZERO,
            buffer: vec![0; IO_UNIT],
        }
    }

    fn queue(&mut self, command: Command) {
        self.issued += 1;
        // A writer that failed has stopped reading its queue; the failure is reported by the
        // next step that waits on this connection.
        let _ = self.commands.send(command);
    }

    fn outcome(&self) -> ConnectionOutcome {
        let state = self.state.borrow();
        ConnectionOutcome {
            name: self.name.clone(),
            local_addr: self.local_addr,
            sent: state.written,
            received: self.received,
            writes: state.writes,
            reads: self.reads,
            server_reads: self.server_reads,
            elapsed: self.elapsed,
        }
    }

    /// The bytes the outgoing stream holds from `offset` on, as many as fit in `out`.
    fn fill_sent(&self, mut offset: u64, out: &mut [u8]) {
        let mut filled = 0;
        let mut i = self
            .segments
            .partition_point(|s| s.start <= offset)
            .saturating_sub(1);
        while filled < out.len() {
            let Some(seg) = self.segments.get(i) else {
                break;
            };
            let len = seg.payload.len() as u64;
            let end = seg.start + len * u64::from(seg.repeat);
            if len == 0 || offset >= end {
                i += 1;
                continue;
            }
            let at = ((offset - seg.start) % len) as usize;
            let n = seg.payload.fill_at(at, &mut out[filled..]);
            filled += n;
            offset += n as u64;
        }
    }
}

/// How a wait ended, when it did not complete.
enum Interrupted {
    /// The deadline passed; the wait was this long.
    TimedOut(Duration),
    /// The writer task failed.
    Writer(DivergenceKind),
}

/// Where the bytes an expectation checks come from.
#[derive(Clone, Copy)]
enum Source<'a> {
    /// The connection's own sends: an echo.
    Sent,
    /// These bytes, starting at stream offset `base`.
    Bytes(&'a Payload, u64),
}

struct Player<'a> {
    script: &'a Script,
    options: &'a PlayOptions,
    conns: Vec<Conn>,
}

type StepError = (usize, DivergenceKind);

impl Player<'_> {
    fn failure(
        &self,
        conn: usize,
        kind: DivergenceKind,
        step: Option<(usize, String)>,
    ) -> ScriptFailure {
        let c = &self.conns[conn];
        let confirmed = !kind.is_timing_only();
        let mut divergence = Divergence {
            connection: c.name.clone(),
            kind,
            sent: c.state.borrow().written,
            received: c.received,
            expected: self.script.sent_by(&c.name),
            confirmed,
        };
        let sent = self.conns.iter().flat_map(|other| {
            other
                .segments
                .iter()
                .map(move |seg| (other.name.as_str(), seg.start, &seg.payload))
        });
        wire::explain_crossing(&mut divergence, sent);
        ScriptFailure {
            divergence,
            step: step.map(|(index, text)| Box::new(FailedStep { index, text })),
        }
    }

    fn index(&self, name: &str) -> Result<usize, StepError> {
        self.conns.iter().position(|c| c.name == name).ok_or((
            0,
            DivergenceKind::Io {
                kind: std::io::ErrorKind::InvalidInput,
                message: format!("the script has no connection named {name:?}"),
            },
        ))
    }

    async fn step(&mut self, step: &Step) -> Result<(), StepError> {
        let Some(name) = step.connection() else {
            if let Step::Sleep(d) = step {
                tokio::time::sleep(self.script.pause_scale.apply(*d)).await;
            }
            return Ok(());
        };
        let i = self.index(name)?;
        let closed = self.conns[i].reader.is_none();
        if closed {
            return Err((
                i,
                DivergenceKind::Io {
                    kind: std::io::ErrorKind::NotConnected,
                    message: "a step on a closed connection".into(),
                },
            ));
        }
        match step {
            Step::Send {
                payload, repeat, ..
            } => {
                let c = &mut self.conns[i];
                c.segments.push(Segment {
                    start: c.planned,
                    payload: payload.clone(),
                    repeat: *repeat,
                });
                c.planned += payload.len() as u64 * u64::from(*repeat);
                c.queue(Command::Send(payload.clone(), *repeat));
            }
            Step::ShutdownWrite { .. } => self.conns[i].queue(Command::Shutdown),
            Step::Close { .. } => self.close(i).await.map_err(|k| (i, k))?,
            Step::Expect {
                expectation,
                within,
                ..
            } => {
                self.expect(i, expectation, *within)
                    .await
                    .map_err(|k| (i, k))?;
                let c = &mut self.conns[i];
                c.elapsed = c.started.elapsed();
            }
            Step::Sleep(_) => {}
        }
        Ok(())
    }

    /// Waits until the writer has done everything queued, then closes without a half-close.
    async fn close(&mut self, i: usize) -> Result<(), DivergenceKind> {
        let timeout = self.options.timeout;
        let c = &mut self.conns[i];
        c.progress.touch();
        let mut state = c.state.clone();
        let flushed = guard(
            &c.progress,
            timeout,
            None,
            &c.state,
            state_wait(&mut state, c.issued),
        )
        .await;
        match flushed {
            Ok(()) => {}
            Err(Interrupted::Writer(kind)) => return Err(kind),
            Err(Interrupted::TimedOut(waited)) => return Err(DivergenceKind::Stalled { waited }),
        }
        let (back, half) = oneshot::channel();
        c.queue(Command::Close(back));
        if let Some(reader) = c.reader.take() {
            // The writer is idle, so the half comes back at once; without it, dropping the
            // read half alone closes nothing, so wait for it a bounded time.
            if let Ok(Ok(writer)) = tokio::time::timeout(timeout, half).await {
                if let Ok(stream) = reader.reunite(writer) {
                    drop(stream);
                }
            }
        }
        c.server_reads = wire::server_reads(self.options, c.local_addr);
        c.elapsed = c.started.elapsed();
        Ok(())
    }

    async fn expect(
        &mut self,
        i: usize,
        expectation: &Expectation,
        within: Option<Duration>,
    ) -> Result<(), DivergenceKind> {
        let timeout = self.options.timeout;
        let scale = self.script.pause_scale;
        let deadline = within.map(|d| Instant::now() + d);
        let c = &mut self.conns[i];
        c.progress.touch();
        if let Some(kind) = c.state.borrow().failure.clone() {
            return Err(kind);
        }
        let start = c.received;
        let (end, source) = match expectation {
            // The parser made sure that everything before the last send was expected, so
            // `expect last` reads to the same end as `expect echo`.
            Expectation::Echo | Expectation::Last => (c.planned, Source::Sent),
            Expectation::Bytes(p) => (start + p.len() as u64, Source::Bytes(p, start)),
            Expectation::Eof => return expect_eof(c, timeout, deadline.zip(within)).await,
        };
        let len = usize::try_from(end.saturating_sub(start)).unwrap_or(usize::MAX);
        let cuts: Vec<_> = c.read_plan.cuts(len).collect::<Vec<_>>();
        let mut expected = vec![0u8; IO_UNIT];
        for cut in cuts {
            let mut at = cut.range.start;
            while at < cut.range.end {
                let want = (cut.range.end - at).min(IO_UNIT);
                let progress = c.progress.clone();
                let Some(reader) = c.reader.as_mut() else {
                    return Ok(());
                };
                let read = guard(
                    &progress,
                    timeout,
                    deadline.zip(within),
                    &c.state,
                    reader.read(&mut c.buffer[..want]),
                )
                .await;
                let n = match read {
                    Ok(result) => result.map_err(|e| io_kind(e, "reading"))?,
                    Err(Interrupted::Writer(kind)) => return Err(kind),
                    Err(Interrupted::TimedOut(waited)) => {
                        return Err(self_timeout(c, expectation, start, end, waited));
                    }
                };
                if n == 0 {
                    return Err(DivergenceKind::EarlyEof);
                }
                c.reads += 1;
                c.progress.touch();
                let offset = start + at as u64;
                fill(c, source, offset, &mut expected[..n]);
                if let Some(bad) = (0..n).find(|&k| c.buffer[k] != expected[k]) {
                    let mut wrong = c.buffer[bad..n.min(bad + EVIDENCE_BYTES)].to_vec();
                    if let Some(reader) = c.reader.as_mut() {
                        collect_evidence(reader, &mut wrong).await;
                    }
                    c.received = offset + bad as u64;
                    return Err(mismatch(c, source, start, end, c.received, &wrong));
                }
                at += n;
                c.received = start + at as u64;
            }
            if !cut.pause.is_zero() {
                tokio::time::sleep(scale.apply(cut.pause)).await;
                // A pause the plan asked for is not a stall.
                c.progress.touch();
            }
        }
        Ok(())
    }
}

/// The timeout of an expectation, as the engine would name it.
fn self_timeout(
    c: &Conn,
    expectation: &Expectation,
    start: u64,
    end: u64,
    waited: Duration,
) -> DivergenceKind {
    let sent = c.state.borrow().written;
    match expectation {
        Expectation::Last if sent >= end => DivergenceKind::RoundUnanswered {
            round: c.segments.len().saturating_sub(1),
            rounds: c.total_sends,
            round_received: c.received - start,
            round_len: end - start,
            waited,
        },
        _ => DivergenceKind::Stalled { waited },
    }
}

async fn expect_eof(
    c: &mut Conn,
    timeout: Duration,
    within: Option<(Instant, Duration)>,
) -> Result<(), DivergenceKind> {
    let progress = c.progress.clone();
    let Some(reader) = c.reader.as_mut() else {
        return Ok(());
    };
    let read = guard(
        &progress,
        timeout,
        within,
        &c.state,
        reader.read(&mut c.buffer[..EVIDENCE_BYTES * 2]),
    )
    .await;
    match read {
        Ok(Ok(0)) => Ok(()),
        Ok(Ok(n)) => Err(DivergenceKind::ExtraBytes {
            bytes: c.buffer[..n].to_vec(),
        }),
        Ok(Err(e)) => Err(io_kind(e, "waiting for EOF")),
        Err(Interrupted::Writer(kind)) => Err(kind),
        Err(Interrupted::TimedOut(waited)) => Err(DivergenceKind::NoEof { waited }),
    }
}

/// Waits until the writer has finished `issued` commands (or failed).
async fn state_wait(state: &mut watch::Receiver<WriterState>, issued: u64) {
    let _ = state
        .wait_for(|s| s.done >= issued || s.failure.is_some())
        .await;
}

/// Runs `operation` until it completes, the writer fails, or the deadline passes: `within`'s
/// `(instant, duration)` when given, else no progress for `timeout`.
async fn guard<T>(
    progress: &Progress,
    timeout: Duration,
    within: Option<(Instant, Duration)>,
    state: &watch::Receiver<WriterState>,
    operation: impl std::future::Future<Output = T>,
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

fn fill(c: &Conn, source: Source<'_>, offset: u64, out: &mut [u8]) {
    match source {
        Source::Sent => c.fill_sent(offset, out),
        Source::Bytes(p, base) => {
            p.fill_at((offset - base) as usize, out);
        }
    }
}

/// The bytes of `source` in the stream range `range`.
fn source_bytes(c: &Conn, source: Source<'_>, from: u64, to: u64) -> Vec<u8> {
    let mut out = vec![0u8; usize::try_from(to.saturating_sub(from)).unwrap_or(0)];
    fill(c, source, from, &mut out);
    out
}

/// A mismatch at stream offset `offset` of the expectation covering `start..end`, with `wrong`
/// the received bytes from the offset on.
fn mismatch(
    c: &Conn,
    source: Source<'_>,
    start: u64,
    end: u64,
    offset: u64,
    wrong: &[u8],
) -> DivergenceKind {
    wire::mismatch(
        |from, to| source_bytes(c, source, from, to),
        start,
        end,
        offset,
        wrong,
    )
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

fn io_kind(error: std::io::Error, during: &'static str) -> DivergenceKind {
    match error.kind() {
        std::io::ErrorKind::ConnectionReset
        | std::io::ErrorKind::ConnectionAborted
        | std::io::ErrorKind::BrokenPipe => DivergenceKind::Reset { during },
        kind => DivergenceKind::Io {
            kind,
            message: error.to_string(),
        },
    }
}

/// The writer task: takes commands in order and writes by the plan. It never times out on its
/// own; the steps that wait on it do.
async fn write_side(
    mut writer: OwnedWriteHalf,
    plan: WritePlan,
    scale: PauseScale,
    mut queue: mpsc::UnboundedReceiver<Command>,
    state: watch::Sender<WriterState>,
    progress: Arc<Progress>,
) {
    let mut buffer = vec![0u8; IO_UNIT];
    while let Some(command) = queue.recv().await {
        let result = match command {
            Command::Send(payload, repeat) => {
                send(
                    &mut writer,
                    &plan,
                    scale,
                    &payload,
                    repeat,
                    &mut buffer,
                    &state,
                    &progress,
                )
                .await
            }
            Command::Shutdown => writer
                .shutdown()
                .await
                .map_err(|e| io_kind(e, "half-closing")),
            Command::Close(back) => {
                let _ = back.send(writer);
                return;
            }
        };
        match result {
            Ok(()) => state.send_modify(|s| s.done += 1),
            Err(kind) => {
                state.send_modify(|s| s.failure = Some(kind));
                return;
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn send(
    writer: &mut OwnedWriteHalf,
    plan: &WritePlan,
    scale: PauseScale,
    payload: &Payload,
    repeat: u32,
    buffer: &mut [u8],
    state: &watch::Sender<WriterState>,
    progress: &Progress,
) -> Result<(), DivergenceKind> {
    for _ in 0..repeat {
        for cut in plan.cuts(payload.len()) {
            let mut at = cut.range.start;
            while at < cut.range.end {
                let n = payload.fill_at(at, &mut buffer[..(cut.range.end - at).min(IO_UNIT)]);
                let mut bytes = &buffer[..n];
                while !bytes.is_empty() {
                    let written = writer
                        .write(bytes)
                        .await
                        .map_err(|e| io_kind(e, "writing"))?;
                    if written == 0 {
                        return Err(io_kind(std::io::ErrorKind::WriteZero.into(), "writing"));
                    }
                    progress.touch();
                    state.send_modify(|s| s.written += written as u64);
                    bytes = &bytes[written..];
                }
                at += n;
            }
            state.send_modify(|s| s.writes += 1);
            if !cut.pause.is_zero() {
                tokio::time::sleep(scale.apply(cut.pause)).await;
                progress.touch();
            }
        }
    }
    Ok(())
}
