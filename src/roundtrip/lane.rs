//! A lane being played: its steps in order, on the connections it owns. A `send` or
//! `shutdown write` is handed to the connection's writer ([`super::writer`]); an `expect` reads
//! by the read plan and checks every byte as it arrives (a generated payload is never
//! materialised); `close` waits until the writer has written everything, then closes.
//!
//! Every wait is bounded. Without `within`, a step fails when no byte moved on its connection,
//! in either direction, for the no-progress timeout, counted from when the step began waiting
//! (time spent on other connections' steps or in a `sleep` is not the connection's fault).
//! With `within D` the step must be done D after it began.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::divergence::{DivergenceKind, FailedStep};
use super::player::{ConnectionOutcome, PlayOptions};
use super::wire::{self, Expected, Progress, SentLog};
use super::writer::{self, Command, WriterState, IO_UNIT};
use crate::case::{PauseScale, Payload, ReadPlan};
use crate::script::{Expectation, LaneId, Script, ScriptConnection, Step};

/// After a mismatch, how many wrong bytes to collect as evidence, and how long to wait for them.
const EVIDENCE_BYTES: usize = 32;
const EVIDENCE_WAIT: Duration = Duration::from_millis(50);

/// Why a lane stopped: the connection (its index in the script), what happened, at which step,
/// and which other connections were held open meanwhile.
pub(super) struct LaneFailure {
    pub conn: usize,
    pub kind: DivergenceKind,
    pub step: Option<FailedStep>,
    pub held_open: Vec<usize>,
}

/// A connection being played, on the reading side; its writer runs as a future of its own.
pub(super) struct Conn<'a> {
    /// Its index in the script.
    pub index: usize,
    pub name: String,
    local_addr: SocketAddr,
    /// The read half; `None` once the connection is closed.
    reader: Option<OwnedReadHalf>,
    /// The writer's queue; the writer ends when this is dropped or on `Close`.
    commands: mpsc::UnboundedSender<Command<'a>>,
    /// What the writer has done, for the steps that wait on it.
    state: watch::Receiver<WriterState>,
    /// Shared with the writer, which touches it on every write.
    progress: Arc<Progress>,
    /// Whether each connection of the play is held open ([`Conn::held_open`]), by index,
    /// shared by all of them: a failing step names the others that are.
    held: Arc<[AtomicBool]>,
    /// Commands queued so far.
    issued: u64,
    /// `shutdown write` queued.
    shut: bool,
    /// Everything handed to the writer, in stream order.
    sent: SentLog<'a>,
    /// Bytes of the echo read and checked.
    pub received: u64,
    reads: u64,
    read_plan: ReadPlan,
    /// Sends on this connection in the whole script, for round numbers.
    total_sends: usize,
    server_reads: Option<u64>,
    started: Instant,
    elapsed: Duration,
    buffer: Vec<u8>,
}

impl<'a> Conn<'a> {
    /// The connection `decl` (the `index`th of `script`) on `stream`, and its writer.
    pub(super) fn start(
        index: usize,
        decl: &ScriptConnection,
        stream: TcpStream,
        script: &Script,
        started: Instant,
        held: Arc<[AtomicBool]>,
    ) -> (Conn<'a>, impl Future<Output = ()> + 'a) {
        let local_addr = stream
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let (reader, write_half) = stream.into_split();
        let progress = Arc::new(Progress::new());
        let (commands, queue) = mpsc::unbounded_channel();
        let (state_tx, state) = watch::channel(WriterState::default());
        let writer = writer::write_side(
            write_half,
            decl.write.clone(),
            script.pause_scale,
            queue,
            state_tx,
            progress.clone(),
        );
        let total_sends = script
            .steps_of(&decl.name)
            .filter(|s| matches!(s, Step::Send { .. }))
            .count();
        let conn = Conn {
            index,
            name: decl.name.clone(),
            local_addr,
            reader: Some(reader),
            commands,
            state,
            progress,
            held,
            issued: 0,
            shut: false,
            sent: SentLog::default(),
            received: 0,
            reads: 0,
            read_plan: decl.read.clone(),
            total_sends,
            server_reads: None,
            started,
            elapsed: Duration::ZERO,
            buffer: vec![0; IO_UNIT],
        };
        conn.publish();
        (conn, writer)
    }

    /// Bytes the writer has written.
    pub(super) fn written(&self) -> u64 {
        self.state.borrow().written
    }

    /// What this connection sent: `(name, stream offset, payload)` per send.
    pub(super) fn sent_segments(&self) -> Vec<(&str, u64, &Payload)> {
        self.sent
            .segments()
            .map(|(start, payload)| (self.name.as_str(), start, payload))
            .collect()
    }

    pub(super) fn outcome(&self) -> ConnectionOutcome {
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

    fn queue(&mut self, command: Command<'a>) {
        self.issued += 1;
        // A writer that failed has stopped reading its queue; the failure is reported by the
        // next step that waits on this connection.
        let _ = self.commands.send(command);
    }

    /// Reads at most `want` bytes into the buffer, bounded as every wait of a step is (see
    /// [`guard`]); `None` once the connection is closed.
    async fn read(
        &mut self,
        want: usize,
        timeout: Duration,
        within: Option<(Instant, Duration)>,
    ) -> Result<Option<std::io::Result<usize>>, Interrupted> {
        let Some(reader) = self.reader.as_mut() else {
            return Ok(None);
        };
        let read = reader.read(&mut self.buffer[..want]);
        guard(&self.progress, timeout, within, &self.state, read)
            .await
            .map(Some)
    }

    /// Held open by the client: not closed, and either not half-closed (a server that serves
    /// it waits for more) or with bytes sent whose echo is not yet read.
    fn held_open(&self) -> bool {
        self.reader.is_some() && (!self.shut || self.sent.total() > self.received)
    }

    /// Tells the other connections whether this one is held open now.
    fn publish(&self) {
        if let Some(flag) = self.held.get(self.index) {
            flag.store(self.held_open(), Ordering::Relaxed);
        }
    }

    /// The other connections held open now.
    fn others_held_open(&self) -> Vec<usize> {
        (0..self.held.len())
            .filter(|&k| k != self.index && self.held[k].load(Ordering::Relaxed))
            .collect()
    }

    /// Waits until the writer has done everything queued, then closes without a half-close.
    /// Closing a closed connection does nothing.
    pub(super) async fn close(&mut self, options: &PlayOptions) -> Result<(), DivergenceKind> {
        let Some(reader) = self.reader.take() else {
            return Ok(());
        };
        self.publish();
        let timeout = options.timeout;
        self.progress.touch();
        let mut state = self.state.clone();
        let issued = self.issued;
        let flushed = guard(&self.progress, timeout, None, &self.state, async move {
            let _ = state
                .wait_for(|s| s.done >= issued || s.failure.is_some())
                .await;
        })
        .await;
        match flushed {
            Ok(()) => {}
            Err(Interrupted::Writer(kind)) => return Err(kind),
            Err(Interrupted::TimedOut(waited)) => return Err(DivergenceKind::Stalled { waited }),
        }
        // Every byte the server read has been echoed and checked, so its read count is final;
        // it is read while the connection is open, before the server files it away.
        self.server_reads = wire::server_reads(options, self.local_addr);
        let (back, half) = oneshot::channel();
        self.queue(Command::Close(back));
        // The writer is idle, so the half comes back at once; without it, dropping the read
        // half alone closes nothing, so wait for it a bounded time.
        if let Ok(Ok(writer)) = tokio::time::timeout(timeout, half).await {
            drop(reader.reunite(writer));
        }
        self.elapsed = self.started.elapsed();
        Ok(())
    }
}

/// Plays the steps of lane `id` on `conns`, in order, then closes them; hands them back.
pub(super) async fn play<'a>(
    id: LaneId,
    steps: &'a [Step],
    mut conns: Vec<Conn<'a>>,
    scale: PauseScale,
    options: &PlayOptions,
) -> (Vec<Conn<'a>>, Option<LaneFailure>) {
    let mut lane = Lane {
        conns: &mut conns,
        scale,
        options,
    };
    let failure = lane.run(id, steps).await;
    (conns, failure)
}

struct Lane<'c, 'a> {
    conns: &'c mut [Conn<'a>],
    scale: PauseScale,
    options: &'c PlayOptions,
}

impl<'a> Lane<'_, 'a> {
    async fn run(&mut self, id: LaneId, steps: &'a [Step]) -> Option<LaneFailure> {
        for (index, step) in steps.iter().enumerate() {
            let Some(name) = step.connection() else {
                if let Step::Sleep(d) = step {
                    tokio::time::sleep(self.scale.apply(*d)).await;
                }
                continue;
            };
            // The lane was given every connection its steps name.
            let i = self.conns.iter().position(|c| c.name == name)?;
            let closes_next = steps[index + 1..]
                .iter()
                .find(|s| s.connection() == Some(name))
                .is_some_and(|s| matches!(s, Step::Close { .. }));
            let result = self.step(i, step, closes_next).await;
            self.conns[i].publish();
            if let Err(kind) = result {
                return Some(self.failure(i, kind, Some((id, index, step))));
            }
        }
        for i in 0..self.conns.len() {
            if let Err(kind) = self.conns[i].close(self.options).await {
                return Some(self.failure(i, kind, None));
            }
        }
        None
    }

    /// The failure of connection `i`, at step `index` of `lane` when a step failed; `None` at
    /// the lane's end, which waits for every queued send.
    fn failure(
        &self,
        i: usize,
        kind: DivergenceKind,
        at: Option<(LaneId, usize, &Step)>,
    ) -> LaneFailure {
        LaneFailure {
            conn: self.conns[i].index,
            kind,
            step: at.map(|(lane, index, step)| FailedStep {
                lane,
                index,
                text: step.to_string(),
                line: None,
                held_open: Vec::new(),
            }),
            held_open: self.conns[i].others_held_open(),
        }
    }

    async fn step(
        &mut self,
        i: usize,
        step: &'a Step,
        closes_next: bool,
    ) -> Result<(), DivergenceKind> {
        let c = &mut self.conns[i];
        if c.reader.is_none() {
            return Err(DivergenceKind::Io {
                kind: std::io::ErrorKind::NotConnected,
                message: "a step on a closed connection".into(),
            });
        }
        match step {
            Step::Send {
                payload, repeat, ..
            } => {
                c.sent.push(payload, *repeat);
                c.queue(Command::Send(payload, *repeat));
            }
            Step::ShutdownWrite { .. } => {
                c.shut = true;
                c.queue(Command::Shutdown);
            }
            Step::Close { .. } => c.close(self.options).await?,
            Step::Expect {
                expectation,
                within,
                ..
            } => {
                let deadline = within.map(|d| (Instant::now() + d, d));
                let timeout = self.options.timeout;
                expect(c, expectation, deadline, timeout, self.scale, closes_next).await?;
                c.elapsed = c.started.elapsed();
            }
            Step::Sleep(_) => {}
        }
        Ok(())
    }
}

async fn expect(
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
                return Err(wire::mismatch(
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

/// How a wait ended, when it did not complete.
enum Interrupted {
    /// The deadline passed; the wait was this long.
    TimedOut(Duration),
    /// The writer failed.
    Writer(DivergenceKind),
}

/// Runs `operation` until it completes, the writer fails, or the deadline passes: `within`'s
/// `(instant, duration)` when given, else no progress for `timeout`.
async fn guard<T>(
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
