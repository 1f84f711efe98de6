//! [`FailedStep`]: where in the script a [`Divergence`](super::Divergence) happened.

use crate::script::LaneId;

/// The step of a [`Divergence`](super::Divergence): where in the script it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedStep {
    /// The lane that holds it.
    pub lane: LaneId,
    /// Its index in the lane, from 0.
    pub index: usize,
    /// The step as scenario text, e.g. `a expect bytes "hi" within 1s`.
    pub text: String,
    /// Its line in the file it was read from, when known.
    pub line: Option<usize>,
    /// For a failure whose only evidence is time: the other connections of the play that the
    /// client held open meanwhile (not half-closed, or with an echo not yet read). A server
    /// that cannot serve two connections at once is stuck on one of these.
    pub held_open: Vec<String>,
}
