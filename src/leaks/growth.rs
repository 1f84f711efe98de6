//! Judging a process group's level across cases: waiting for it to settle after a case
//! ([`settle`]), one case alone ([`judge_alone`]), and lasting growth over a campaign
//! ([`GrowthWatch`]).

use std::time::Duration;

use tokio::time::Instant;

use super::{ResourceGrowth, ResourceLevel, ResourceProbe, GROWTH_CASES};
use crate::roundtrip::{Divergence, DivergenceKind, Outcome};

/// The first pause between two measurements; it doubles up to [`MAX_POLL`].
const FIRST_POLL: Duration = Duration::from_millis(1);
/// The longest pause between two measurements.
const MAX_POLL: Duration = Duration::from_millis(50);

impl ResourceGrowth {
    /// The divergence of this growth, found after a play that gave `outcome` of `expected`
    /// bytes, each case given `bound` to come back. It names the play's first connection.
    pub(crate) fn divergence(
        self,
        bound: Duration,
        expected: u64,
        outcome: &Outcome,
    ) -> Divergence {
        let name = outcome
            .connections
            .first()
            .map_or("c0", |c| c.name.as_str());
        let sent = outcome.connections.iter().map(|c| c.sent).sum();
        let kind = DivergenceKind::Leaked {
            growth: Box::new(self),
            waited: bound,
        };
        Divergence::new(name, kind, sent, outcome.bytes_verified(), expected)
    }
}

/// The level once it is back within `before`, or the last one measured when `bound` passes
/// first; `None` when the probe fails (the process is gone). Polls with growing pauses, so a
/// target that let go at once costs one measurement.
pub(crate) async fn settle(
    probe: &ResourceProbe,
    before: ResourceLevel,
    bound: Duration,
) -> Option<ResourceLevel> {
    let deadline = Instant::now() + bound;
    let mut pause = FIRST_POLL;
    loop {
        let level = probe()?;
        let now = Instant::now();
        if level.within(&before) || now >= deadline {
            return Some(level);
        }
        tokio::time::sleep(pause.min(deadline - now)).await;
        pause = (pause * 2).min(MAX_POLL);
    }
}

/// One case alone (a shrink candidate, a replay): what is still above `before` once the level
/// has had `bound` to settle.
pub(crate) async fn judge_alone(
    probe: &ResourceProbe,
    before: ResourceLevel,
    bound: Duration,
) -> Option<ResourceGrowth> {
    let after = settle(probe, before, bound).await?;
    let grew = |from: u64, to: u64| (to > from).then_some((from, to));
    let growth = ResourceGrowth {
        descriptors: grew(before.descriptors, after.descriptors),
        threads: grew(before.threads, after.threads),
        cases: 1,
    };
    (growth.descriptors.is_some() || growth.threads.is_some()).then_some(growth)
}

/// Lasting growth of one count: the run of cases in a row whose settled level went up.
#[derive(Debug, Clone, Copy)]
struct Run {
    /// The level the run started from, and the latest.
    from: u64,
    last: u64,
    /// Cases in the run.
    cases: u32,
}

impl Run {
    fn new(level: u64) -> Run {
        Run {
            from: level,
            last: level,
            cases: 0,
        }
    }

    fn next(&mut self, level: u64) {
        if level > self.last {
            self.last = level;
            self.cases += 1;
        } else {
            *self = Run::new(level);
        }
    }

    /// The growth, once it has lasted `cases` cases and amounts to at least as much.
    fn leak(&self, cases: u32) -> Option<(u64, u64)> {
        (self.cases >= cases && self.last - self.from >= u64::from(cases))
            .then_some((self.from, self.last))
    }
}

/// A campaign's judge of lasting growth: after each case, the level; a leak once a count has
/// grown in each of `cases` cases in a row, by at least `cases` in all. A pool that grows for a
/// few cases and then stays where it is passes; so does cleanup that comes late but within the
/// bound. The level after a case may be taken before it settled
/// ([`early_wait`](GrowthWatch::early_wait)), but not the one that completes a leak: cleanup
/// still under way then shows as a lower level in the next case, which ends the run, and the
/// level that completes it has had the whole bound.
#[derive(Debug, Clone)]
pub(crate) struct GrowthWatch {
    descriptors: Run,
    threads: Run,
    cases: u32,
    /// The latest settled level: the level before the next case.
    pub level: ResourceLevel,
}

impl GrowthWatch {
    /// A watch starting from `level` (measured before the first case).
    pub(crate) fn new(level: ResourceLevel) -> GrowthWatch {
        GrowthWatch::with_cases(level, GROWTH_CASES)
    }

    pub(crate) fn with_cases(level: ResourceLevel, cases: u32) -> GrowthWatch {
        GrowthWatch {
            descriptors: Run::new(level.descriptors),
            threads: Run::new(level.threads),
            cases,
            level,
        }
    }

    /// How long a campaign's case waits for the level to settle before it is taken as it is:
    /// a tenth of the bound, so that a target that lets go at once, or within a few
    /// milliseconds, is seen settled. Only a level that would complete a leak waits the whole
    /// bound (see [`would_leak`](GrowthWatch::would_leak)).
    pub(crate) fn early_wait(bound: Duration) -> Duration {
        bound / 10
    }

    /// Whether [`record`](GrowthWatch::record)ing `level` would call a leak: the level after
    /// a case is then waited for until it settles, or the bound passes, before it is recorded.
    pub(crate) fn would_leak(&self, level: ResourceLevel) -> bool {
        self.clone().record(level).is_some()
    }

    /// Takes the settled level after a case; the growth, once it is a leak.
    pub(crate) fn record(&mut self, settled: ResourceLevel) -> Option<ResourceGrowth> {
        self.level = settled;
        self.descriptors.next(settled.descriptors);
        self.threads.next(settled.threads);
        let descriptors = self.descriptors.leak(self.cases);
        let threads = self.threads.leak(self.cases);
        let cases = match (descriptors, threads) {
            (None, None) => return None,
            (Some(_), None) => self.descriptors.cases,
            (None, Some(_)) => self.threads.cases,
            (Some(_), Some(_)) => self.descriptors.cases.max(self.threads.cases),
        };
        Some(ResourceGrowth {
            descriptors,
            threads,
            cases,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(descriptors: u64, threads: u64) -> ResourceLevel {
        ResourceLevel {
            descriptors,
            threads,
        }
    }

    fn feed(watch: &mut GrowthWatch, levels: &[(u64, u64)]) -> Vec<Option<ResourceGrowth>> {
        levels
            .iter()
            .map(|&(d, t)| watch.record(level(d, t)))
            .collect()
    }

    #[test]
    fn growth_in_every_case_is_a_leak_after_enough_cases() {
        let mut watch = GrowthWatch::with_cases(level(7, 2), 3);
        let seen = feed(&mut watch, &[(8, 2), (10, 2), (11, 2)]);
        assert_eq!(seen[..2], [None, None]);
        assert_eq!(
            seen[2],
            Some(ResourceGrowth {
                descriptors: Some((7, 11)),
                threads: None,
                cases: 3
            })
        );
    }

    #[test]
    fn a_pool_that_grows_then_plateaus_is_no_leak() {
        let mut watch = GrowthWatch::with_cases(level(7, 2), 3);
        let seen = feed(
            &mut watch,
            &[(8, 3), (9, 4), (9, 4), (10, 5), (11, 6), (11, 6), (11, 6)],
        );
        assert!(seen.iter().all(Option::is_none), "{seen:?}");
    }

    #[test]
    fn growth_smaller_than_the_case_count_is_no_leak() {
        // Three cases in a row, but fewer than three more threads: not called a leak yet.
        let mut watch = GrowthWatch::with_cases(level(7, 2), 3);
        let mut seen = feed(&mut watch, &[(8, 3), (9, 4)]);
        assert_eq!(seen, [None, None]);
        seen = feed(&mut watch, &[(10, 5)]);
        assert_eq!(seen[0].map(|g| g.threads), Some(Some((2, 5))));
        assert_eq!(seen[0].map(|g| g.descriptors), Some(Some((7, 10))));
    }

    #[test]
    fn would_leak_foretells_record_and_changes_nothing() {
        let mut watch = GrowthWatch::with_cases(level(7, 2), 3);
        feed(&mut watch, &[(8, 2), (9, 2)]);
        // The third rise would complete the leak; a level that did not rise would not.
        assert!(watch.would_leak(level(10, 2)));
        assert!(!watch.would_leak(level(9, 2)));
        assert_eq!(watch.level, level(9, 2), "asking records nothing");
        assert!(watch.record(level(10, 2)).is_some());
    }

    #[test]
    fn early_wait_is_a_tenth_of_the_bound() {
        assert_eq!(
            GrowthWatch::early_wait(Duration::from_secs(1)),
            Duration::from_millis(100)
        );
    }

    #[test]
    fn a_drop_starts_the_count_again() {
        let mut watch = GrowthWatch::with_cases(level(7, 2), 3);
        let seen = feed(&mut watch, &[(8, 2), (9, 2), (7, 2), (8, 2), (9, 2)]);
        assert!(seen.iter().all(Option::is_none), "{seen:?}");
        assert!(watch.record(level(10, 2)).is_some());
    }
}
