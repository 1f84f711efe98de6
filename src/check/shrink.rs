//! Shrinking a failing case: the case-level steps of `simplify` first (big jumps: one
//! connection, one stream, a prefix cut where the first failure went wrong), then proptest's own
//! shrinking for at most a quarter of the time on what is left, then `simplify` again if
//! proptest found more; each candidate kept only when it fails with the same class of evidence
//! ([`SameClass`]). Bounded by the campaign's `shrink_time`. What it finds is confirmed in
//! `judge`, which may fall back along the [`Shrunk::trail`].

use std::time::{Duration, Instant};

use proptest::strategy::ValueTree;

use super::{simplify, Check};
use crate::case::Case;
use crate::roundtrip::{Divergence, DivergenceKind, Outcome, PlayOptions};

/// The no-progress timeout while shrinking a failure whose only evidence is time.
const SHRINK_TIMEOUT: Duration = Duration::from_millis(300);
/// How often a simpler candidate is played before it counts as passing.
pub(super) const CANDIDATE_TRIES: u32 = 3;
/// proptest's shrinking stops after this many candidates in a row bigger than the minimal case
/// so far: its tree, which starts from the original, is then still busy with parts the
/// case-level steps have cut already.
const MAX_UNPLAYED: u32 = 256;
/// How many of the cases a shrink went through are kept for [`Shrunk::trail`].
const TRAIL_LEN: usize = 32;

/// What makes a smaller case's failure the same failure as the original's.
pub(super) struct SameClass {
    timing_only: bool,
    /// Bytes seen crossing between connections are the strongest evidence there is; a smaller
    /// case that loses it (too few wrong bytes to attribute) is not the same failure.
    must_cross: bool,
    /// A stall while another connection was held open stays the same kind of wait: a stall on
    /// an echo is not to shrink into a missing EOF of a connection that sends nothing. A
    /// smaller case without such a witness may still count: the bug may not need the hold.
    must_hold: bool,
    /// What the failing connection waited for ([`waited_for`]).
    kind: &'static str,
}

/// What a connection that failed as `kind` waited for: its echo (a stream that stalled and a
/// round left unanswered are the same wait, the shape of the conversation aside), else the
/// kind itself (an EOF that never came is another).
fn waited_for(kind: &DivergenceKind) -> &'static str {
    match kind {
        DivergenceKind::Stalled { .. } | DivergenceKind::RoundUnanswered { .. } => "echo",
        other => other.name(),
    }
}

impl SameClass {
    pub(super) fn of(divergence: &Divergence) -> SameClass {
        SameClass {
            timing_only: divergence.kind.is_timing_only(),
            must_cross: crossed(divergence),
            must_hold: !divergence.held_open().is_empty(),
            kind: waited_for(&divergence.kind),
        }
    }

    fn held(&self, d: &Divergence) -> bool {
        !self.must_hold || d.held_open().is_empty() || waited_for(&d.kind) == self.kind
    }

    /// A shrink candidate's failure.
    fn candidate(&self, d: &Divergence) -> bool {
        (self.timing_only || !d.kind.is_timing_only())
            && (!self.must_cross || crossed(d))
            && self.held(d)
    }

    /// The minimal case's failure when it is confirmed: it may fail another way than during
    /// shrinking (a truncating server can stall a reader or close early, by timing); a
    /// confirmed failure is a failure.
    pub(super) fn confirmed(&self, d: &Divergence) -> bool {
        d.confirmed && (!self.must_cross || crossed(d)) && (!self.must_hold || self.held(d))
    }
}

fn crossed(d: &Divergence) -> bool {
    matches!(&d.kind, DivergenceKind::Mismatch { evidence, .. } if evidence.crossed_from.is_some())
}

/// Where a shrink got to.
pub(super) struct Shrunk {
    /// The smallest case that failed the same way, and how it failed.
    pub(super) minimal: (Case, Divergence),
    /// The cases the shrink kept before `minimal`, oldest first (the original, while fewer
    /// than [`TRAIL_LEN`] were kept): a case that failed once may not fail again (a
    /// simplification can leave a bug to the kernel's timing, as clearing the pause that kept
    /// two one-byte writes apart does), and the last one before it that does is the minimal
    /// case to report.
    pub(super) trail: Vec<(Case, Divergence)>,
    pub(super) steps: u32,
    pub(super) hit_bound: bool,
}

impl Shrunk {
    /// `found` failed the same way and is smaller than the minimal case so far.
    fn keep(&mut self, found: (Case, Divergence)) {
        let before = std::mem::replace(&mut self.minimal, found);
        if self.trail.len() == TRAIL_LEN {
            self.trail.remove(0);
        }
        self.trail.push(before);
    }
}

impl Check {
    /// Searches for a smaller case that fails the same way, bounded by `shrink_time`.
    pub(super) async fn minimise(
        &self,
        original: &Case,
        divergence: &Divergence,
        tree: &mut impl ValueTree<Value = Case>,
        options: &PlayOptions,
        started: Instant,
    ) -> Shrunk {
        let class = SameClass::of(divergence);
        let mut shrunk = Shrunk {
            minimal: (original.clone(), divergence.clone()),
            trail: Vec::new(),
            steps: 0,
            hit_bound: false,
        };
        // A dead server cannot tell us anything more; a shrink needs a live one.
        if matches!(divergence.kind, DivergenceKind::ServerDied { .. }) {
            return shrunk;
        }
        // A candidate that stalls costs a whole timeout; shrink with a short one. A spurious
        // stall only rejects a candidate (or, for a timing-only failure, is caught when the
        // minimal case is confirmed with four times the full timeout at the end).
        // The leak checks only for a leak: with a short bound a loaded machine closes late,
        // and a stall that "shrank" into a socket closed late is no longer the same bug, and
        // does not confirm.
        let leak = matches!(
            divergence.kind,
            DivergenceKind::NotClosed { .. } | DivergenceKind::Leaked { .. }
        );
        let shrink_options = PlayOptions {
            timeout: options.timeout.min(SHRINK_TIMEOUT),
            leak_bound: options
                .leak_bound
                .filter(|_| leak)
                .map(|b| b.min(SHRINK_TIMEOUT)),
            ..options.clone()
        };
        // Lasting growth was judged over many cases; a candidate is judged alone, its level
        // after against its level before.
        let alone = matches!(divergence.kind, DivergenceKind::Leaked { .. });
        let play = |candidate: Case| {
            let shrink_options = &shrink_options;
            async move {
                let result = self
                    .play_alone(&candidate, shrink_options, alone, false)
                    .await;
                (candidate, result)
            }
        };
        if class.must_cross {
            // Bytes that cross between connections: proptest's steps first, which shrink every
            // connection a little at a time, where the case-level steps cut one connection at
            // a time and each cut of another connection may lose the crossing. (A stall with
            // a connection held open shrinks well either way, and each of proptest's many
            // failing steps costs it a timeout.)
            self.proptest_phase(&mut shrunk, &class, &play, tree, false, started)
                .await;
            self.simplify_phase("case-level steps", &mut shrunk, &class, &play, started)
                .await;
        } else {
            // The case-level steps first: they cut a case to its failing connection and a
            // prefix in a few plays, where proptest's steps take one element or one halving at
            // a time.
            self.simplify_phase("case-level steps", &mut shrunk, &class, &play, started)
                .await;
            if self
                .proptest_phase(&mut shrunk, &class, &play, tree, true, started)
                .await
            {
                self.simplify_phase(
                    "case-level steps again",
                    &mut shrunk,
                    &class,
                    &play,
                    started,
                )
                .await;
            }
        }
        shrunk
    }

    /// proptest's shrinking, for a quarter of `shrink_time` at most; whether it found a
    /// smaller failing case. Its tree starts from the original: `after_simplify`, a candidate
    /// bigger than the minimal case so far is not played, and the phase ends after
    /// [`MAX_UNPLAYED`] such in a row.
    async fn proptest_phase<F, Fut>(
        &self,
        shrunk: &mut Shrunk,
        class: &SameClass,
        play: &F,
        tree: &mut impl ValueTree<Value = Case>,
        after_simplify: bool,
        started: Instant,
    ) -> bool
    where
        F: Fn(Case) -> Fut,
        Fut: std::future::Future<Output = (Case, Result<Outcome, Divergence>)>,
    {
        let phase = Instant::now();
        let steps = shrunk.steps;
        let end = phase + self.shrink_time / 4;
        let mut improved = false;
        let mut unplayed = 0u32;
        if !shrunk.hit_bound && tree.simplify() {
            loop {
                if started.elapsed() >= self.shrink_time {
                    shrunk.hit_bound = true;
                    break;
                }
                if Instant::now() >= end {
                    break;
                }
                let candidate = tree.current();
                let failed = if !after_simplify || size(&candidate) <= size(&shrunk.minimal.0) {
                    unplayed = 0;
                    shrunk.steps += 1;
                    match play(candidate).await {
                        (candidate, Err(d)) if class.candidate(&d) => Some((candidate, d)),
                        _ => None,
                    }
                } else if unplayed >= MAX_UNPLAYED {
                    break;
                } else {
                    unplayed += 1;
                    None
                };
                let more = match failed {
                    Some(found) => {
                        if found.0 != shrunk.minimal.0 {
                            improved = true;
                            shrunk.keep(found);
                        }
                        tree.simplify()
                    }
                    None => tree.complicate(),
                };
                if !more {
                    break;
                }
            }
        }
        phase_done("proptest's steps", shrunk.steps - steps, phase);
        improved
    }

    /// The case-level steps of `simplify`, to a fixed point or the time bound.
    async fn simplify_phase<F, Fut>(
        &self,
        name: &str,
        shrunk: &mut Shrunk,
        class: &SameClass,
        play: &F,
        started: Instant,
    ) where
        F: Fn(Case) -> Fut,
        Fut: std::future::Future<Output = (Case, Result<Outcome, Divergence>)>,
    {
        let phase = Instant::now();
        let steps = shrunk.steps;
        let mut improved = true;
        'phase: while improved {
            improved = false;
            let (case, found) = &shrunk.minimal;
            let mut candidates = simplify::candidates(case, &found.connection, found.received);
            if class.kind == "echo" {
                // A connection that sends nothing waits for no echo: such a candidate cannot
                // fail the same way through it (it stalls on an EOF instead, a timeout spent
                // for a rejection after every step kept), so it is tried last.
                candidates.sort_by_key(|c| {
                    c.connection(&found.connection)
                        .is_some_and(|c| c.conversation.total_len() == 0)
                });
            }
            'candidates: for candidate in candidates {
                // A bug that needs the server to see separate reads shows only when the kernel
                // does not join the pieces, which a loaded machine often does: a candidate gets
                // a few tries before it counts as passing.
                for _ in 0..CANDIDATE_TRIES {
                    if started.elapsed() >= self.shrink_time {
                        shrunk.hit_bound = true;
                        break 'phase;
                    }
                    shrunk.steps += 1;
                    match play(candidate.clone()).await {
                        (candidate, Err(d)) if class.candidate(&d) => {
                            shrunk.keep((candidate, d));
                            improved = true;
                            break 'candidates;
                        }
                        (_, Err(_)) => break,
                        (_, Ok(_)) => {}
                    }
                }
            }
        }
        phase_done(name, shrunk.steps - steps, phase);
    }
}

/// A case's size as shrinking compares it: connections, then bytes.
fn size(case: &Case) -> (usize, u64) {
    (case.connections.len(), case.total_len())
}

/// Says how long a phase of the shrink took: a `tracing` event, and a line on stderr when
/// `ECHO_HARNESS_SHRINK_TIMES` is set (`scripts/verdict-times.sh` sets it, to say where the
/// time to a verdict goes).
pub(super) fn phase_done(phase: &str, steps: u32, started: Instant) {
    let elapsed = started.elapsed();
    tracing::debug!(steps, ?elapsed, "shrink: {phase}");
    if std::env::var_os("ECHO_HARNESS_SHRINK_TIMES").is_some() {
        eprintln!(
            "echo-harness: shrink: {phase}: {steps} plays in {} ms",
            elapsed.as_millis()
        );
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::roundtrip::FailedStep;
    use crate::script::LaneId;

    /// A timing-only failure of `c1` as `kind`, with `c0` held open meanwhile.
    fn held(kind: DivergenceKind) -> Divergence {
        let mut d = Divergence::new("c1", kind, 1, 0, 1);
        d.step = Some(Box::new(FailedStep {
            lane: LaneId::Own(1),
            index: 2,
            text: "c1 expect echo".into(),
            line: None,
            held_open: vec!["c0".into()],
        }));
        d
    }

    /// A stream that stalls and a round left unanswered behind a held connection are one wait
    /// for an echo; an EOF that never came is another.
    #[test]
    fn a_held_stall_shrinks_across_conversation_shapes_but_not_into_a_missing_eof() {
        let waited = Duration::from_millis(300);
        let round = held(DivergenceKind::RoundUnanswered {
            round: 0,
            rounds: 2,
            round_received: 0,
            round_len: 1,
            waited,
        });
        let stalled = held(DivergenceKind::Stalled { waited });
        let no_eof = held(DivergenceKind::NoEof { waited });
        let class = SameClass::of(&round);
        assert!(class.candidate(&stalled));
        assert!(class.candidate(&round));
        assert!(!class.candidate(&no_eof));
        assert!(SameClass::of(&stalled).candidate(&round));
        // Without a held connection, any timing-only failure may do.
        let mut alone = no_eof.clone();
        alone.step = None;
        assert!(class.candidate(&alone));
    }
}
