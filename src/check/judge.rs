//! The verdict on one failure: shrink it ([`Check::minimise`]), then confirm what the shrink
//! found the way the campaign judges any case, before it is reported and saved.
//!
//! A failure whose only evidence is time need not be confirmed before shrinking: the shrink
//! plays candidates with a short timeout anyway, and only the minimal case is then played at
//! four times the timeouts (the original, if the minimal one does not fail again). So a stall
//! costs one long wait, not two.
//!
//! A case the shrink kept failed once; it may not fail again. A simplification can leave the
//! bug to the kernel's timing: a server that echoes only its first `read` shows it on two
//! one-byte writes only when they arrive apart, which a pause between them ensured and its
//! removal leaves to chance. So the minimal case to report is the last one of the shrink's
//! trail that fails again, walked back from the smallest.

use std::time::{Duration, Instant};

use proptest::strategy::ValueTree;

use super::shrink::{phase_done, SameClass, Shrunk, CANDIDATE_TRIES};
use super::{simplify, Check, CheckFailure};
use crate::case::Case;
use crate::roundtrip::{Divergence, DivergenceKind, Outcome, PlayOptions};

/// Generated payloads of a minimal case up to this size are saved as their literal bytes.
const LITERAL_LIMIT: usize = 256;
/// How long the walk back along the trail may go on after the minimal case did not fail
/// again. Cases whose failure was more than time fail or pass within milliseconds; a case that
/// failed by time only is confirmed only as the minimal one, each try costing a long timeout.
const WALK_BACK_TIME: Duration = Duration::from_secs(5);

impl Check {
    /// The verdict on a failure the campaign played once ([`Check::play_watched_once`]):
    /// shrinks it, then confirms it. A failure whose only evidence is time counts only once
    /// the minimal case (or, failing that, the original) fails again at four times the
    /// timeouts; when neither does, `Err` gives the original's outcome of that slower play, its
    /// first failure as [`Outcome::unconfirmed`], for the campaign to record as a pass.
    pub(super) async fn judge(
        &self,
        index: u32,
        original: Case,
        divergence: Divergence,
        tree: &mut impl ValueTree<Value = Case>,
        options: &PlayOptions,
    ) -> Result<CheckFailure, Outcome> {
        let started = Instant::now();
        let shrunk = self
            .minimise(&original, &divergence, tree, options, started)
            .await;
        let phase = Instant::now();
        let (confirmed, plays) = self
            .confirm_minimal(&original, &divergence, &shrunk, options)
            .await;
        phase_done("confirming the minimal case", plays, phase);
        let (mut minimal, found) = match confirmed {
            Some(found) => found,
            None if divergence.confirmed => (original.clone(), divergence.clone()),
            None => {
                let phase = Instant::now();
                let again = self.confirm_slower(&original, &divergence, options).await;
                phase_done("confirming the original", 1, phase);
                match again {
                    Ok(mut outcome) => {
                        outcome.unconfirmed = Some(divergence);
                        return Err(outcome);
                    }
                    Err(again) => (original.clone(), self.blame_dead_server(again).await),
                }
            }
        };
        if minimal != original {
            simplify::literalize(&mut minimal, LITERAL_LIMIT);
        }
        let mut failure = Self::failure(index, original, divergence, &shrunk, started);
        (failure.minimal, failure.divergence) = (minimal, found);
        failure.through = options.through.as_ref().map(|f| f.through.clone());
        Ok(failure)
    }

    /// The failure of `original`, its minimal case yet to be filled in.
    fn failure(
        index: u32,
        original: Case,
        divergence: Divergence,
        shrunk: &Shrunk,
        started: Instant,
    ) -> CheckFailure {
        CheckFailure {
            case_index: index,
            minimal: original.clone(),
            divergence: divergence.clone(),
            original,
            original_divergence: divergence,
            shrink_steps: shrunk.steps,
            shrink_elapsed: started.elapsed(),
            shrink_hit_bound: shrunk.hit_bound,
            through: None,
        }
    }

    /// The smallest case of the shrink that fails again, confirmed the way the campaign judges
    /// any case, and how it failed: the minimal case, else the cases before it, walked back
    /// while [`WALK_BACK_TIME`] lasts and they failed by more than time. `None` when the shrink
    /// found nothing smaller than the original or none of it fails again; also says how many
    /// plays that took.
    async fn confirm_minimal(
        &self,
        original: &Case,
        divergence: &Divergence,
        shrunk: &Shrunk,
        options: &PlayOptions,
    ) -> (Option<(Case, Divergence)>, u32) {
        let class = SameClass::of(divergence);
        let alone = matches!(divergence.kind, DivergenceKind::Leaked { .. });
        let smallest_first = std::iter::once(&shrunk.minimal).chain(shrunk.trail.iter().rev());
        let mut walk_until = None;
        let mut plays = 0;
        for (case, shrunk_as) in smallest_first {
            if case == original {
                break;
            }
            let walking = walk_until.is_some();
            if walking && !shrunk_as.confirmed {
                break;
            }
            if walk_until.is_some_and(|until| Instant::now() >= until) {
                break;
            }
            // A bug that needs the server to see separate reads may not show in one play, as
            // when shrinking: each case gets as many tries. Each failure counts only as the
            // campaign would count it, so a try that fails is a confirmed failure.
            for _ in 0..CANDIDATE_TRIES {
                plays += 1;
                let again = if shrunk_as.confirmed {
                    // Its evidence is more than time: played as the campaign plays a case
                    // (which confirms it at 4x should it now fail by time only).
                    self.play_alone(case, options, alone, true).await
                } else {
                    // It failed by time at the short shrink timeout already; the slower play
                    // is the confirmation.
                    self.confirm_slower(case, shrunk_as, options).await
                };
                match again {
                    Err(d) if class.confirmed(&d) => {
                        let found = self.blame_dead_server(d).await;
                        return (Some((case.clone(), found)), plays);
                    }
                    // Another failure than the shrink's: not this case's to report.
                    Err(_) => break,
                    Ok(_) => {}
                }
            }
            walk_until.get_or_insert_with(|| Instant::now() + WALK_BACK_TIME);
        }
        (None, plays)
    }

    /// `case`, which failed by time only as `first`, played once more at four times the
    /// timeouts: `Err` (confirmed) when it fails again.
    async fn confirm_slower(
        &self,
        case: &Case,
        first: &Divergence,
        options: &PlayOptions,
    ) -> Result<Outcome, Divergence> {
        let alone = matches!(first.kind, DivergenceKind::Leaked { .. });
        self.play_alone(case, &options.slower(), alone, false)
            .await
            .map_err(|mut again| {
                again.confirmed = true;
                again
            })
    }
}

#[cfg(test)]
mod tests;
