//! A lane being played: its steps in order, on the connections it owns. A `send` or
//! `shutdown write` is handed to the connection's writer ([`super::writer`]); an `expect` reads
//! by the read plan and checks every byte as it arrives (a generated payload is never
//! materialised); `close` waits until the writer has written everything, then closes; `reset`
//! resets at once.
//!
//! Every wait is bounded (see [`wait`]): a step fails when no byte moved on its connection for
//! the no-progress timeout, or, with `within D`, when it is not done D after it began.
//!
//! - this file: a lane as a future ([`play`]), running its steps in order, and why it stopped.
//! - [`conn`]: a connection on its reading side, and closing it.
//! - [`expect`]: an `expect` step: reading, checking, and what a failure says.
//! - [`wait`]: how every wait of a step is bounded.
//! - [`held`]: which connections the client holds open, shared by all of them.
//! - [`reset`]: the `reset` step, and the play's record of its resets.

mod conn;
mod expect;
mod held;
mod reset;
mod wait;

pub(super) use conn::Conn;
pub(super) use held::HeldOpen;
pub(super) use reset::Resets;

use tokio::time::Instant;

use super::divergence::{DivergenceKind, FailedStep};
use super::player::PlayOptions;
use super::writer::Command;
use crate::case::PauseScale;
use crate::script::{LaneId, Step};

/// Why a lane stopped: the connection (its index in the script), what happened, at which step,
/// and which other connections were held open meanwhile.
pub(super) struct LaneFailure {
    pub conn: usize,
    pub kind: DivergenceKind,
    pub step: Option<FailedStep>,
    pub held_open: Vec<usize>,
    /// When it failed: a failure after another connection's reset may be the server's answer
    /// to that reset.
    pub when: Instant,
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
                .is_some_and(|s| matches!(s, Step::Close { .. } | Step::Reset { .. }));
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
            when: Instant::now(),
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
            Step::Reset { .. } => c.reset(self.options).await?,
            Step::Expect {
                expectation,
                within,
                ..
            } => {
                let deadline = within.map(|d| (Instant::now() + d, d));
                let timeout = self.options.timeout;
                expect::expect(c, expectation, deadline, timeout, self.scale, closes_next).await?;
                c.elapsed = c.started.elapsed();
            }
            Step::Sleep(_) => {}
        }
        Ok(())
    }
}
