//! [`Divergence`]: exactly what went wrong on which connection, with the evidence a person needs —
//! the first differing offset and a hexdump around it, how many bytes had come back intact, and
//! whether a failure whose only evidence is time was confirmed by a slower second run (or by
//! an earlier failure at the same address).
//!
//! - this file: [`Divergence`] itself, and how one is made.
//! - `kind`: [`DivergenceKind`], what went wrong, with its stable names, which kinds are
//!   timing only, and the one mapping from I/O errors; and [`MismatchEvidence`].
//! - `step`: [`FailedStep`], where in the script it went wrong.
//! - `report`: the one-line summary and the full report ([`Display`](std::fmt::Display)) with
//!   its hexdumps.

mod kind;
mod report;
mod step;
#[cfg(test)]
mod tests;

pub use kind::{DivergenceKind, MismatchEvidence, OpenSockets};
pub use step::FailedStep;

/// What went wrong on one connection of a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divergence {
    /// The connection's name in the case (`c0`, `c1`, ...).
    pub connection: String,
    /// What kind of failure, with its specifics.
    pub kind: DivergenceKind,
    /// Bytes this connection had written when it failed.
    pub sent: u64,
    /// Bytes that had come back intact, in order, before the failure.
    pub received: u64,
    /// Bytes the connection expected back in all.
    pub expected: u64,
    /// For a failure whose only evidence is time (see [`DivergenceKind::is_timing_only`]):
    /// `true` once the case failed again at four times the timeout. Always `true` otherwise.
    pub confirmed: bool,
    /// For a failure whose only evidence is time: `true` when it was not played again because
    /// a timing-only failure at the same address had been confirmed shortly before — the
    /// shortcut [`check::play_case`](crate::check::play_case) takes on proptest's shrink steps.
    /// `confirmed` is then `true` too, and the report says which it was.
    pub confirmed_earlier: bool,
    /// The step that failed, when one did (not when connecting failed).
    pub step: Option<Box<FailedStep>>,
}

impl Divergence {
    /// A failure of `kind` on `connection` after `sent` bytes went out and `received` came
    /// back intact, of `expected`. It counts as confirmed unless its only evidence is time; it
    /// names no step and no held connection.
    pub fn new(
        connection: &str,
        kind: DivergenceKind,
        sent: u64,
        received: u64,
        expected: u64,
    ) -> Divergence {
        Divergence {
            connection: connection.to_string(),
            confirmed: !kind.is_timing_only(),
            confirmed_earlier: false,
            kind,
            sent,
            received,
            expected,
            step: None,
        }
    }

    /// The connections held open while this one waited (see [`FailedStep::held_open`]).
    pub fn held_open(&self) -> &[String] {
        self.step.as_ref().map_or(&[], |s| s.held_open.as_slice())
    }

    /// A failure to open `connection` (refused, timed out, an I/O error): nothing was sent or
    /// received of the `expected` bytes.
    pub fn on_connect(connection: &str, kind: DivergenceKind, expected: u64) -> Divergence {
        Divergence::new(connection, kind, 0, 0, expected)
    }
}
