//! Shrinking a failing case: proptest's own shrinking for a quarter of the time, then the
//! case-level steps of `simplify`, each candidate kept only when it fails with
//! the same class of evidence; bounded by the campaign's `shrink_time`, and confirmed at the end
//! the way the campaign judges any case.

use std::time::{Duration, Instant};

use proptest::strategy::ValueTree;

use super::{simplify, Check, CheckFailure};
use crate::case::Case;
use crate::roundtrip::{Divergence, DivergenceKind, PlayOptions};

/// The no-progress timeout while shrinking a failure whose only evidence is time.
const SHRINK_TIMEOUT: Duration = Duration::from_millis(300);
/// How often a simpler candidate is played before it counts as passing.
const CANDIDATE_TRIES: u32 = 3;
/// Generated payloads of a minimal case up to this size are saved as their literal bytes.
const LITERAL_LIMIT: usize = 256;

impl Check {
    /// Minimises a failing case with proptest's shrinking, bounded by `shrink_time`.
    pub(super) async fn shrink(
        &self,
        index: u32,
        original: Case,
        divergence: Divergence,
        tree: &mut impl ValueTree<Value = Case>,
        options: &PlayOptions,
    ) -> CheckFailure {
        let started = Instant::now();
        let timing_only = divergence.kind.is_timing_only();
        // Bytes seen crossing between connections are the strongest evidence there is; a
        // smaller case that loses it (too few wrong bytes to attribute) is not the same failure.
        let crossed = |d: &Divergence| matches!(&d.kind, DivergenceKind::Mismatch { evidence, .. } if evidence.crossed_from.is_some());
        let must_cross = crossed(&divergence);
        // A stall while another connection was held open stays the same kind of wait: a stall
        // on an echo is not to shrink into a missing EOF of a connection that sends nothing. A
        // smaller case without such a witness may still count: the bug may not need the hold.
        let must_hold = !divergence.held_open().is_empty();
        let held = |d: &Divergence| {
            !must_hold || d.held_open().is_empty() || d.kind.name() == divergence.kind.name()
        };
        let same_class = |d: &Divergence| {
            (timing_only || !d.kind.is_timing_only()) && (!must_cross || crossed(d)) && held(d)
        };
        // A candidate that stalls costs a whole timeout; shrink with a short one. A spurious
        // stall only rejects a candidate (or, for a timing-only failure, is caught when the
        // minimal case is confirmed with the full timeout, and 4x, at the end).
        let shrink_options = PlayOptions {
            timeout: options.timeout.min(SHRINK_TIMEOUT),
            leak_bound: options.leak_bound.map(|b| b.min(SHRINK_TIMEOUT)),
            ..options.clone()
        };
        // Lasting growth was judged over many cases; a candidate is judged alone, its level
        // after against its level before.
        let alone = matches!(divergence.kind, DivergenceKind::Leaked { .. });
        let mut minimal = (original.clone(), divergence.clone());
        let mut steps = 0u32;
        let mut hit_bound = false;
        // A dead server cannot tell us anything more; a shrink needs a live one.
        let shrinkable = !matches!(divergence.kind, DivergenceKind::ServerDied { .. });
        // proptest's shrinking first, for a quarter of the time; then the case-level steps,
        // which measured more effective on real server bugs (see `simplify`).
        let proptest_time = self.shrink_time / 4;
        if shrinkable && tree.simplify() {
            loop {
                if started.elapsed() >= proptest_time {
                    break;
                }
                steps += 1;
                let candidate = tree.current();
                let failed = match self
                    .play_alone(&candidate, &shrink_options, alone, false)
                    .await
                {
                    Err(d) if same_class(&d) => Some(d),
                    _ => None,
                };
                let more = match failed {
                    Some(d) => {
                        minimal = (candidate, d);
                        tree.simplify()
                    }
                    None => tree.complicate(),
                };
                if !more {
                    break;
                }
            }
        }
        let mut improved = shrinkable;
        while improved {
            improved = false;
            'candidates: for candidate in simplify::candidates(&minimal.0, &minimal.1.connection) {
                // A bug that needs the server to see separate reads shows only when the kernel
                // does not join the pieces, which a loaded machine often does: a candidate gets
                // a few tries before it counts as passing.
                for _ in 0..CANDIDATE_TRIES {
                    if started.elapsed() >= self.shrink_time {
                        hit_bound = true;
                        break 'candidates;
                    }
                    steps += 1;
                    match self
                        .play_alone(&candidate, &shrink_options, alone, false)
                        .await
                    {
                        Err(d) if same_class(&d) => {
                            minimal = (candidate, d);
                            improved = true;
                            break 'candidates;
                        }
                        Err(_) => break,
                        Ok(_) => {}
                    }
                }
            }
        }
        simplify::literalize(&mut minimal.0, LITERAL_LIMIT);
        // Confirm the minimal case the way the campaign judges any case.
        if minimal.0 != original {
            match self.play_alone(&minimal.0, options, alone, true).await {
                // It may fail another way than during shrinking (a truncating server can stall
                // a reader or close early, by timing); a confirmed failure is a failure.
                Err(d)
                    if d.confirmed && (!must_cross || crossed(&d)) && (!must_hold || held(&d)) =>
                {
                    minimal.1 = self.blame_dead_server(d)
                }
                // Flaky at the minimum: report the original, which failed confirmed.
                _ => minimal = (original.clone(), divergence.clone()),
            }
        }
        CheckFailure {
            case_index: index,
            original,
            original_divergence: divergence,
            minimal: minimal.0,
            divergence: minimal.1,
            shrink_steps: steps,
            shrink_elapsed: started.elapsed(),
            shrink_hit_bound: hit_bound,
            through: options.through.as_ref().map(|f| f.through.clone()),
        }
    }
}
