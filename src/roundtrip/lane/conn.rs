//! A connection being played, on its reading side ([`Conn`]): what it has sent and received,
//! its writer's queue and state, its bounded reads, its outcome, and closing it.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::held::HeldOpen;
use super::reset::Resets;
use super::wait::{guard, Interrupted};
use crate::case::{Payload, ReadPlan};
use crate::roundtrip::divergence::DivergenceKind;
use crate::roundtrip::open;
use crate::roundtrip::player::{ConnectionOutcome, PlayOptions};
use crate::roundtrip::progress::Progress;
use crate::roundtrip::sent::SentLog;
use crate::roundtrip::writer::{self, Command, ResetRequest, WriterState, IO_UNIT};
use crate::script::{Script, ScriptConnection, Step};

/// A connection being played, on the reading side; its writer runs as a future of its own.
pub(crate) struct Conn<'a> {
    /// Its index in the script.
    pub index: usize,
    pub name: String,
    local_addr: SocketAddr,
    /// The read half; `None` once the connection is closed.
    pub(super) reader: Option<OwnedReadHalf>,
    /// The writer's queue; the writer ends when this is dropped or on `Close`.
    commands: mpsc::UnboundedSender<Command<'a>>,
    /// What the writer has done, for the steps that wait on it.
    pub(super) state: watch::Receiver<WriterState>,
    /// Shared with the writer, which touches it on every write.
    pub(super) progress: Arc<Progress>,
    /// Whether each connection of the play is held open, shared by all of them: a failing
    /// step names the others that are.
    pub(super) held: HeldOpen,
    /// Takes the writer's half at once, for a `reset`; `None` once used.
    pub(super) reset_writer: Option<ResetRequest>,
    /// The play's resets, shared by all of its connections.
    pub(super) resets: Resets,
    /// Commands queued so far.
    issued: u64,
    /// `shutdown write` queued.
    pub(super) shut: bool,
    /// Everything handed to the writer, in stream order.
    pub(super) sent: SentLog<'a>,
    /// Bytes of the echo read and checked.
    pub received: u64,
    pub(super) reads: u64,
    pub(super) read_plan: ReadPlan,
    /// Sends on this connection in the whole script, for round numbers.
    pub(super) total_sends: usize,
    server_reads: Option<u64>,
    pub(super) started: Instant,
    pub(super) elapsed: Duration,
    pub(super) buffer: Vec<u8>,
}

impl<'a> Conn<'a> {
    /// The connection `decl` (the `index`th of `script`) on `stream`, and its writer; `shared`
    /// is what all connections of the play share.
    pub(crate) fn start(
        index: usize,
        decl: &ScriptConnection,
        stream: TcpStream,
        script: &Script,
        started: Instant,
        shared: (HeldOpen, Resets),
        options: &PlayOptions,
    ) -> (Conn<'a>, impl Future<Output = ()> + 'a) {
        let (held, resets) = shared;
        let local_addr = stream
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let lockstep = options.lockstep.as_ref().and_then(|how| {
            let peer = stream.peer_addr().ok()?;
            how.probe(&stream, local_addr, peer, 0)
                .map_err(|e| tracing::warn!("{e}; playing without lockstep"))
                .ok()
        });
        let (reader, write_half) = stream.into_split();
        let progress = Arc::new(Progress::new());
        let (commands, queue) = mpsc::unbounded_channel();
        let (state_tx, state) = watch::channel(WriterState::default());
        let (reset_writer, reset_asked) = oneshot::channel();
        let writer = writer::write_side(
            write_half,
            decl.write.clone(),
            script.pause_scale,
            queue,
            state_tx,
            progress.clone(),
            lockstep,
            reset_asked,
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
            reset_writer: Some(reset_writer),
            resets,
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
    pub(crate) fn written(&self) -> u64 {
        self.state.borrow().written
    }

    /// What this connection sent: `(name, stream offset, payload)` per send.
    pub(crate) fn sent_segments(&self) -> Vec<(&str, u64, &Payload)> {
        self.sent
            .segments()
            .map(|(start, payload)| (self.name.as_str(), start, payload))
            .collect()
    }

    pub(crate) fn outcome(&self) -> ConnectionOutcome {
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

    pub(super) fn queue(&mut self, command: Command<'a>) {
        self.issued += 1;
        // A writer that failed has stopped reading its queue; the failure is reported by the
        // next step that waits on this connection.
        let _ = self.commands.send(command);
    }

    /// Reads at most `want` bytes into the buffer, bounded as every wait of a step is (see
    /// [`guard`]); `None` once the connection is closed.
    pub(super) async fn read(
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

    /// Waits until the writer has done everything queued, then closes without a half-close.
    /// Closing a closed connection does nothing.
    pub(crate) async fn close(&mut self, options: &PlayOptions) -> Result<(), DivergenceKind> {
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
        self.server_reads = open::server_reads(options, self.local_addr);
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
