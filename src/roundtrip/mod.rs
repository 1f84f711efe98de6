//! The player: plays a [`Script`](crate::script::Script) — or a
//! [`Case`](crate::case::Case), through its script — against an address over real sockets and
//! returns either measurements or a [`Divergence`].
//!
//! - [`player`](play_script): opens the connections, plays the lanes and the writers as
//!   futures of the caller's task, ranks failures, and holds the one confirmation rule.
//! - `lane`: the steps of one lane; `writer`: a connection's writer.
//! - `wire`: opening a socket as a plan asks, the no-progress clock, mismatch evidence.
//! - [`Session`]: the fuzz targets' blocking connection, kept open across inputs, which plays
//!   the rounds of a case with no runtime at all.
//! - [`Divergence`]: what went wrong, and the one mapping from I/O errors to its kinds.
//!
//! The timeout is a **no-progress** timeout: a step fails only when no byte moved in either
//! direction on its connection for that long. Pauses the plan asks for do not count. A failure
//! whose only evidence is time is played again at four times the timeout, with the same lanes
//! ([`play_script_confirmed`]).

mod divergence;
mod lane;
mod player;
mod session;
pub(crate) mod wire;
mod writer;

pub use divergence::{Divergence, DivergenceKind, FailedStep, MismatchEvidence};
pub use player::{
    play, play_confirmed, play_script, play_script_confirmed, ConnectionOutcome, Outcome,
    PlayOptions, ProxyInFront,
};
pub use session::{RoundsOutcome, Session};

/// Runs an async play from synchronous code; see [`crate::runtime::block_on`].
pub use crate::runtime::block_on;
