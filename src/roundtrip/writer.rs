//! A connection's writer: a future, polled beside the lanes, that takes `send` and
//! `shutdown write` commands in order and writes them by the write plan, so a big send never
//! deadlocks against an echo nobody reads yet. It never times out on its own: a writer stuck
//! because nobody reads is found by the step that waits on it.

use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::divergence::DivergenceKind;
use super::lockstep::Probe;
use super::progress::Progress;
use crate::case::{PauseScale, Payload, WritePlan};

/// Largest single write. A plan's larger chunk is written in pieces of this size back to back
/// (with no pause between them), which the kernel sees the same way.
pub(super) const IO_UNIT: usize = 64 * 1024;

/// What a connection's writer is asked to do, in order.
pub(super) enum Command<'a> {
    /// Write the payload (the script's own) this many times, each a send of its own for the
    /// write plan.
    Send(&'a Payload, u32),
    /// Half-close.
    Shutdown,
    /// Hand the write half back, so the connection can be closed without a half-close.
    Close(oneshot::Sender<OwnedWriteHalf>),
}

/// What the writer has done, published after every write.
#[derive(Debug, Clone, Default)]
pub(super) struct WriterState {
    /// Commands finished.
    pub done: u64,
    /// Bytes written.
    pub written: u64,
    /// Chunks written (one per cut of the write plan).
    pub writes: u64,
    /// Why the writer stopped, if it failed.
    pub failure: Option<DivergenceKind>,
}

/// Asks a writer for its write half at once, whatever it is doing: the `reset` step, which
/// must not wait for queued sends (a client that gives up does not finish them first).
pub(super) type ResetRequest = oneshot::Sender<oneshot::Sender<OwnedWriteHalf>>;

/// Writes what `queue` asks, in order, until the queue closes or a `Close` takes the half; a
/// request on `reset` takes the half at once, dropping what is being written.
#[allow(clippy::too_many_arguments)] // The parts of one writer, each used once.
pub(super) async fn write_side(
    mut writer: OwnedWriteHalf,
    plan: WritePlan,
    scale: PauseScale,
    queue: mpsc::UnboundedReceiver<Command<'_>>,
    state: watch::Sender<WriterState>,
    progress: Arc<Progress>,
    lockstep: Option<Probe>,
    reset: oneshot::Receiver<oneshot::Sender<OwnedWriteHalf>>,
) {
    let commands = run(&mut writer, plan, scale, queue, state, progress, lockstep);
    let back = tokio::select! {
        biased;
        Ok(back) = reset => Some(back),
        back = commands => back,
    };
    if let Some(back) = back {
        let _ = back.send(writer);
    }
}

/// Does the commands of `queue` in order; returns who asked for the half with `Close`, if
/// anyone did before the queue closed or a write failed.
async fn run(
    writer: &mut OwnedWriteHalf,
    plan: WritePlan,
    scale: PauseScale,
    mut queue: mpsc::UnboundedReceiver<Command<'_>>,
    state: watch::Sender<WriterState>,
    progress: Arc<Progress>,
    mut lockstep: Option<Probe>,
) -> Option<oneshot::Sender<OwnedWriteHalf>> {
    let mut buffer = vec![0u8; IO_UNIT];
    while let Some(command) = queue.recv().await {
        let result = match command {
            Command::Send(payload, repeat) => {
                let mut sink = Sink {
                    plan: &plan,
                    scale,
                    state: &state,
                    progress: &progress,
                    lockstep: &mut lockstep,
                };
                sink.send(writer, payload, repeat, &mut buffer).await
            }
            Command::Shutdown => writer
                .shutdown()
                .await
                .map_err(|e| DivergenceKind::from_io(&e, "half-closing")),
            Command::Close(back) => return Some(back),
        };
        match result {
            Ok(()) => state.send_modify(|s| s.done += 1),
            Err(kind) => {
                state.send_modify(|s| s.failure = Some(kind));
                return None;
            }
        }
    }
    None
}

/// Where a send's bytes go, and what it reports.
struct Sink<'a> {
    plan: &'a WritePlan,
    scale: PauseScale,
    state: &'a watch::Sender<WriterState>,
    progress: &'a Progress,
    lockstep: &'a mut Option<Probe>,
}

impl Sink<'_> {
    async fn send(
        &mut self,
        writer: &mut OwnedWriteHalf,
        payload: &Payload,
        repeat: u32,
        buffer: &mut [u8],
    ) -> Result<(), DivergenceKind> {
        for _ in 0..repeat {
            for cut in self.plan.cuts(payload.len()) {
                let mut at = cut.range.start;
                while at < cut.range.end {
                    let n = payload.fill_at(at, &mut buffer[..(cut.range.end - at).min(IO_UNIT)]);
                    self.write_all(writer, &buffer[..n]).await?;
                    at += n;
                }
                self.state.send_modify(|s| s.writes += 1);
                self.wait_until_read(writer).await;
                pause(self.scale.apply(cut.pause), self.progress).await;
            }
        }
        Ok(())
    }

    /// In lockstep, waits until the server has read every byte written so far. It spins on
    /// the probe (a few microseconds each) and yields between tries so the lanes read the echo
    /// meanwhile; after a while it sleeps a millisecond between tries instead. The wait is
    /// bounded by the step that waits on this writer, as every other wait of the writer.
    async fn wait_until_read(&mut self, writer: &OwnedWriteHalf) {
        let Some(probe) = self.lockstep.as_mut() else {
            return;
        };
        let sent = self.state.borrow().written;
        for attempt in 0u32.. {
            match probe.server_has_read(writer.as_ref(), sent) {
                Ok(true) => return,
                Ok(false) if attempt < 1000 => tokio::task::yield_now().await,
                Ok(false) => tokio::time::sleep(std::time::Duration::from_millis(1)).await,
                Err(e) => {
                    tracing::warn!("lockstep is off for this connection: {e}");
                    *self.lockstep = None;
                    return;
                }
            }
        }
    }

    async fn write_all(
        &self,
        writer: &mut OwnedWriteHalf,
        mut bytes: &[u8],
    ) -> Result<(), DivergenceKind> {
        while !bytes.is_empty() {
            let written = writer
                .write(bytes)
                .await
                .map_err(|e| DivergenceKind::from_io(&e, "writing"))?;
            if written == 0 {
                let e = std::io::Error::from(std::io::ErrorKind::WriteZero);
                return Err(DivergenceKind::from_io(&e, "writing"));
            }
            self.progress.touch();
            self.state.send_modify(|s| s.written += written as u64);
            bytes = &bytes[written..];
        }
        Ok(())
    }
}

/// Waits out a pause the plan asks for. It is not a stall, on either side of the connection:
/// the no-progress clock is held off for its whole length, even when it is longer than the
/// timeout.
pub(super) async fn pause(duration: std::time::Duration, progress: &Progress) {
    if !duration.is_zero() {
        let until = Instant::now() + duration;
        progress.touch_at(until);
        tokio::time::sleep_until(until).await;
    }
}
