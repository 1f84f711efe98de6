//! The player: plays a [`Script`](crate::script::Script) — or a
//! [`Case`](crate::case::Case), through its script — against an address over real sockets and
//! returns either measurements or a [`Divergence`].
//!
//! The timeout is a **no-progress** timeout: a step fails only when no byte moved in either
//! direction on its connection for that long. Pauses the plan asks for do not count. A failure
//! whose only evidence is time is played again at four times the timeout, with the same lanes
//! ([`play_script_confirmed`]).
//!
//! The files, one idea each:
//!
//! - `player.rs`: [`play_script`] and the other entry points, [`PlayOptions`], [`Outcome`],
//!   which of several failures is reported, and the one confirmation rule. The lanes and the
//!   writers are futures of the caller's task.
//! - `open.rs`: opening a connection as its write plan asks, through a proxy in accept order;
//!   and the built-in server's record of a connection.
//! - `lane/`: a lane of steps as a future (`mod.rs`); a connection's reading side (`conn.rs`);
//!   an `expect` step (`expect.rs`); how every wait is bounded (`wait.rs`); which connections
//!   are held open (`held.rs`).
//! - `writer.rs`: a connection's writer, a future of its own.
//! - `after_reset.rs`: after a script with a `reset`, a new connection must be served; a
//!   connection cut after another's reset says so.
//! - `lockstep.rs`: [`Lockstep`], waiting after each chunk until the server has read it, by
//!   the built-in server's counts or, for any server here, by asking the kernel.
//! - `progress.rs`: the no-progress clock of a connection.
//! - `sent.rs`: what the echo is checked against (what was sent, or exact bytes), and the
//!   mismatch with its hexdump windows. Shared with the session.
//! - `crossing.rs`: whether a mismatch's wrong bytes are another connection's.
//! - `session/`: [`Session`], the fuzz targets' blocking connection kept open across inputs,
//!   which plays a case with no runtime at all, and its lane of steps (`mod.rs`); one round's
//!   blocking writes and reads (`round.rs`); lockstep (`lockstep.rs`).
//! - `divergence/`: [`Divergence`] (`mod.rs`); its kinds, the one mapping from I/O errors to
//!   them, and mismatch evidence (`kind.rs`); the step that failed (`step.rs`); the report
//!   (`report.rs`).

mod after_reset;
mod crossing;
mod divergence;
mod lane;
pub(crate) mod lockstep;
mod open;
mod player;
mod progress;
pub(crate) mod sent;
mod session;
mod writer;

pub use divergence::{Divergence, DivergenceKind, FailedStep, MismatchEvidence, OpenSockets};
pub use lockstep::Lockstep;
pub(crate) use player::not_closed;
pub use player::{
    play, play_confirmed, play_script, play_script_confirmed, ConnectionOutcome, Outcome,
    PlayOptions, ProxyInFront,
};
pub use session::{RoundsOutcome, Session};

/// Runs an async play from synchronous code; see [`crate::runtime::block_on`].
pub use crate::runtime::block_on;
