//! Several cases at once ([`Check::jobs`]): the campaign's cases drawn in the seed's order and
//! played side by side, each on its own connections, with the verdict the one-at-a-time
//! campaign would give for a deterministic bug.
//!
//! - Case K is drawn by the one [`CaseSequence`] in index order, whatever plays beside it.
//! - The first case plays alone, as with one job, so that a target that cannot be reached is
//!   told from one that broke while other cases played.
//! - Results are committed in index order: a pass counts (and the progress hook hears of it)
//!   once every case before it has been committed.
//! - A failure is not judged while anything else is in flight: no new case starts, the cases
//!   already playing finish, and then the lowest failing index is played again alone, the way
//!   a one-at-a-time campaign plays it, and judged the same way (shrunk, then a timing-only
//!   failure confirmed at four times the timeouts). Only a failure that fails alone counts; one that passes alone was the doing of
//!   the cases beside it (load, or a bug between connections that this case alone does not
//!   show) and goes to [`Verdict::unconfirmed`], as a timing-only failure that passed slower
//!   does. So the failing index is the lowest one that fails alone, as with one job.
//! - Shrinking starts once nothing is in flight, and plays one candidate at a time.
//! - With a resource probe, a level measured while cases play is nobody's settled level: cases
//!   play in windows of at most `jobs` (and at most half of `GROWTH_CASES`, so that a leak in
//!   every case is called at the case one job calls it), and the process group is judged at
//!   the quiet point after each window (see [`Check::judge_window`]).

use std::collections::BTreeMap;
use std::time::Instant;

use futures_util::stream::{FuturesUnordered, StreamExt};
use proptest::strategy::ValueTree;

use super::seed::CaseSequence;
use super::{Check, Verdict};
use crate::case::Case;
use crate::roundtrip::{self, Divergence, Outcome, PlayOptions};

type Tree = Box<dyn ValueTree<Value = Case>>;

/// A case played, waiting for the cases before it to be committed.
struct Played {
    case: Case,
    result: Result<Outcome, Divergence>,
    /// Played with nothing else in flight: a failure is final.
    alone: bool,
}

impl Check {
    /// The number of cases to play at once, when more than one may: `None` plays them one at a
    /// time, exactly as before `jobs` existed. Through a proxy of ours it is always one: every
    /// play restarts the one proxy's accept order with that case's seed, so two plays at once
    /// would seed each other's connections.
    pub(super) fn concurrent_jobs(&self) -> Option<u32> {
        (self.jobs > 1 && self.through.is_none()).then_some(self.jobs)
    }

    /// The campaign with up to `jobs` cases in flight (see the module docs).
    pub(super) async fn run_jobs(
        &self,
        seed: u64,
        max_cases: u32,
        started: Instant,
        options: &PlayOptions,
        jobs: u32,
    ) -> Verdict {
        let mut sequence = CaseSequence::new(seed, &self.bounds);
        let mut verdict = Verdict::new(seed, self.addr);
        let mut watch = self.start_window_watch(jobs);
        let windowed = watch.is_some();
        let jobs = if windowed { self.window(jobs) } else { jobs };
        verdict.jobs = jobs;
        let mut in_flight = FuturesUnordered::new();
        let mut trees: BTreeMap<u32, Tree> = BTreeMap::new();
        // Played cases by index (`None`: a draw the strategy rejected), committed in order.
        let mut played: BTreeMap<u32, Option<Played>> = BTreeMap::new();
        let (mut next, mut committed) = (0u32, 0u32);
        // With a resource probe: the last index of the window playing, and its size.
        let (mut window_last, mut window_cases) = (None, 0u32);
        loop {
            while let Some(slot) = played.get(&committed) {
                let failed = matches!(slot, Some(Played { result: Err(_), .. }));
                if failed && !in_flight.is_empty() {
                    break; // judged alone, once the cases beside it are done
                }
                let index = committed;
                committed += 1;
                let Some(Played {
                    case,
                    result,
                    alone,
                }) = played.remove(&index).flatten()
                else {
                    continue;
                };
                let replayed = match result {
                    Err(seen) if !alone => {
                        self.wait_for_quiet(&watch).await;
                        match self.play_alone(&case, options, false, false).await {
                            Ok(outcome) => {
                                verdict.unconfirmed.push(seen);
                                Ok(outcome)
                            }
                            failed => failed,
                        }
                    }
                    played => played,
                };
                // A failure (seen, or lasting growth judged at a window's end) is judged as one
                // job judges it; one that does not fail again counts as an unconfirmed pass.
                let failed = match replayed {
                    Err(failed) => self.blame_dead_server(failed).await,
                    Ok(outcome) => {
                        let growth = if windowed && window_last == Some(index) {
                            self.judge_window(&mut watch, window_cases, &case, &outcome)
                                .await
                        } else {
                            None
                        };
                        match growth {
                            Some(growth) => growth,
                            None => {
                                self.count_pass(&mut verdict, &outcome);
                                trees.remove(&index);
                                continue;
                            }
                        }
                    }
                };
                let tree = trees.get_mut(&index).expect("a played case has its tree");
                if self
                    .fail(&mut verdict, index, case, failed, tree, options)
                    .await
                {
                    return verdict;
                }
                trees.remove(&index);
            }
            let failing = played
                .values()
                .any(|p| matches!(p, Some(Played { result: Err(_), .. })));
            if !failing && (!windowed || in_flight.is_empty()) {
                // The first case plays alone, as with one job: a target that cannot be reached
                // is told from one that broke (or died) while other cases played.
                let room = if next == 0 { 1 } else { jobs as usize };
                // A window ends at a multiple of its size, the first one included.
                let end = if windowed {
                    (next / jobs + 1) * jobs
                } else {
                    u32::MAX
                };
                let more = |next: u32| {
                    next < max_cases.min(end) && self.duration.is_none_or(|d| started.elapsed() < d)
                };
                while in_flight.len() < room && more(next) {
                    let (index, alone) = (next, next == 0);
                    next += 1;
                    let Some(tree) = sequence.next_tree() else {
                        played.insert(index, None);
                        continue;
                    };
                    let case = tree.current();
                    trees.insert(index, tree);
                    in_flight.push(async move {
                        let result = if alone {
                            self.play_alone(&case, options, false, false).await
                        } else {
                            self.play_in_flight(&case, options).await
                        };
                        (
                            index,
                            Played {
                                case,
                                result,
                                alone,
                            },
                        )
                    });
                }
                // The window is complete once nothing more of it can start.
                if windowed && next > 0 && !more(next) {
                    let start = (next - 1) / jobs * jobs;
                    (window_last, window_cases) = (Some(next - 1), next - start);
                }
            }
            match in_flight.next().await {
                Some((index, played_case)) => {
                    played.insert(index, Some(played_case));
                }
                None if played.is_empty() => break,
                None => {}
            }
        }
        verdict
    }

    /// Plays one case while others may be in flight. A failure is not confirmed here: it is
    /// played again alone before it counts (see the module docs), so confirming it beside the
    /// other cases would only cost time.
    async fn play_in_flight(
        &self,
        case: &Case,
        options: &PlayOptions,
    ) -> Result<Outcome, Divergence> {
        roundtrip::play(case, self.addr, options).await
    }

    /// Judges the failure of the case at `index` as the one-at-a-time campaign does
    /// ([`judge`](Check::judge): shrunk, then confirmed): `Some` ends the campaign with it,
    /// `None` means it did not fail again and was recorded as unconfirmed.
    async fn fail(
        &self,
        verdict: &mut Verdict,
        index: u32,
        case: Case,
        divergence: Divergence,
        tree: &mut Tree,
        options: &PlayOptions,
    ) -> bool {
        match self.judge(index, case, divergence, tree, options).await {
            Ok(failure) => {
                verdict.cases += 1;
                verdict.failure = Some(Box::new(failure));
                true
            }
            Err(unconfirmed) => {
                self.count_pass(verdict, &unconfirmed);
                false
            }
        }
    }
}
