//! The campaign's side of the leak checks: the builder methods ([`Check::leak_bound`],
//! [`Check::no_leak_checks`], [`Check::resource_probe`]), and playing a case with the target's
//! process group watched — across the campaign for lasting growth, or one case alone while
//! shrinking. The sockets of each case are checked by the player itself
//! ([`PlayOptions::leak_bound`](crate::PlayOptions::leak_bound)); what is judged, and how, is
//! in [`crate::leaks`].

use std::time::Duration;

use super::Check;
use crate::case::Case;
use crate::leaks::{self, GrowthWatch, ResourceProbe};
use crate::roundtrip::{self, Divergence, Outcome, PlayOptions};

impl Check {
    /// How long the target may take to let go of what a case used (default
    /// [`DEFAULT_LEAK_BOUND`](leaks::DEFAULT_LEAK_BOUND)): to close its side of every
    /// connection the case closed, and, with a [`resource_probe`](Check::resource_probe), for
    /// its descriptors and threads to come back to their level from before the case.
    pub fn leak_bound(mut self, bound: Duration) -> Check {
        self.leak_bound = Some(bound);
        self
    }

    /// Turns the leak checks off: neither sockets left open nor growth is looked for.
    pub fn no_leak_checks(mut self) -> Check {
        self.leak_bound = None;
        self
    }

    /// Measures the target process group's descriptors and threads (the CLI's `--spawn` gives
    /// one made with [`process_group_level`](leaks::process_group_level)): after every case
    /// they must come back to their level within the leak bound, and lasting growth over
    /// [`GROWTH_CASES`](leaks::GROWTH_CASES) cases in a row is a
    /// [`DivergenceKind::Leaked`](crate::DivergenceKind::Leaked).
    pub fn resource_probe(mut self, probe: ResourceProbe) -> Check {
        self.resources = Some(probe);
        self
    }

    /// The probe and the bound, when the process group is to be watched.
    fn watched(&self) -> Option<(&ResourceProbe, Duration)> {
        Some((self.resources.as_ref()?, self.leak_bound?))
    }

    /// A campaign's watch, from the level measured now, before its first case.
    pub(super) fn start_watch(&self) -> Option<GrowthWatch> {
        let (probe, _) = self.watched()?;
        probe().map(GrowthWatch::new)
    }

    /// Plays a campaign's case, then judges the level of the process group against the cases
    /// before it. A timing-only failure is returned unconfirmed, for [`judge`](Check::judge)
    /// to shrink and then confirm, so that a stall is waited out at four times the timeout
    /// once, on the minimal case, not twice.
    pub(super) async fn play_watched_once(
        &self,
        case: &Case,
        options: &PlayOptions,
        watch: &mut Option<GrowthWatch>,
    ) -> Result<Outcome, Divergence> {
        let outcome = roundtrip::play(case, self.addr, options).await?;
        let (Some((probe, bound)), Some(w)) = (self.watched(), watch.as_mut()) else {
            return Ok(outcome);
        };
        // Growth is called a leak only after many cases in a row, so most cases need not wait
        // the whole bound: a level that has not settled after a short wait is taken as it is,
        // unless it would complete a leak; that case then waits the whole bound. Late cleanup
        // shows in a later case's level (lower again), which starts the count anew.
        let Some(early) = leaks::settle(probe, w.level, GrowthWatch::early_wait(bound)).await
        else {
            return Ok(outcome);
        };
        let settled = if w.would_leak(early) {
            match leaks::settle(probe, w.level, bound).await {
                Some(settled) => settled,
                None => return Ok(outcome),
            }
        } else {
            early
        };
        match w.record(settled) {
            Some(growth) => Err(growth.divergence(bound, case.total_len(), &outcome)),
            None => Ok(outcome),
        }
    }

    /// Before a failure seen beside other cases is played again alone: waits, up to the leak
    /// bound, for the target's process group to come back to its level from before them. What
    /// the server still does about the cases beside it must not reach the replay: a server
    /// that cuts every connection when one is reset (faulty_echo's `reset-cuts-all`) can cut
    /// the replay's connections for a reset that came before it. Without a probe there is
    /// nothing to wait on.
    pub(super) async fn wait_for_quiet(&self, watch: &Option<GrowthWatch>) {
        if let (Some((probe, bound)), Some(watch)) = (self.watched(), watch) {
            let _ = leaks::settle(probe, watch.level, bound).await;
        }
    }

    /// Plays one case, confirming a timing-only failure when `confirmed`; when `alone`, the
    /// process group's level after it, settled within the options' leak bound, is judged
    /// against its level before: a shrink step of a leak.
    ///
    /// A case that resets a connection waits, after it and up to the timeout, for the level
    /// to come back: the server may still be acting on the reset when the play ends, and one
    /// that cuts every client for one client's reset (faulty_echo's `reset-cuts-all`) would
    /// cut the next play's connections too. Shrink candidates and confirmations are played
    /// back to back, so a case with a reset at its end "failed again" for its own previous
    /// play, and the shrink took cases without the cause for smaller ones.
    pub(super) async fn play_alone(
        &self,
        case: &Case,
        options: &PlayOptions,
        alone: bool,
        confirmed: bool,
    ) -> Result<Outcome, Divergence> {
        let resets = case.resets();
        let watched = self.watched().filter(|_| alone || resets);
        let before = watched.and_then(|(probe, _)| probe());
        let played = if confirmed {
            roundtrip::play_confirmed(case, self.addr, options).await
        } else {
            roundtrip::play(case, self.addr, options).await
        };
        let (Some((probe, bound)), Some(before)) = (watched, before) else {
            return played;
        };
        match played {
            Ok(outcome) if alone => {
                // The options' bound: shorter for a shrink candidate, longer for a confirmation.
                let bound = options.leak_bound.unwrap_or(bound);
                match leaks::judge_alone(probe, before, bound).await {
                    Some(growth) => Err(growth.divergence(bound, case.total_len(), &outcome)),
                    None => Ok(outcome),
                }
            }
            played if resets => {
                let _ = leaks::settle(probe, before, bound.min(options.timeout)).await;
                played
            }
            played => played,
        }
    }
}

impl Check {
    /// The watch of a campaign playing `jobs` cases at a time in windows ([`Check::jobs`]):
    /// each record is the settled level after a window, so a leak is growth in each of enough
    /// windows in a row to cover [`GROWTH_CASES`](leaks::GROWTH_CASES) cases, and at least two
    /// (a pool that grows to the window's concurrency in one window and then stays is no leak);
    /// [`judge_window`](Check::judge_window) asks for the same growth in all as one job does.
    pub(super) fn start_window_watch(&self, jobs: u32) -> Option<GrowthWatch> {
        let (probe, _) = self.watched()?;
        let windows = leaks::GROWTH_CASES.div_ceil(self.window(jobs)).max(2);
        probe().map(|level| GrowthWatch::with_cases(level, windows))
    }

    /// The cases of one window for `jobs`: at most half of [`GROWTH_CASES`](leaks::GROWTH_CASES),
    /// so that two windows cover the cases one job needs, and a leak in every case is called
    /// at the same case as with one job.
    pub(super) fn window(&self, jobs: u32) -> u32 {
        jobs.clamp(1, leaks::GROWTH_CASES / 2)
    }

    /// At the quiet point after a window of `cases` cases, nothing in flight: the process
    /// group's settled level against the windows before it; lasting growth of at least
    /// [`GROWTH_CASES`](leaks::GROWTH_CASES) in all is a leak, reported on the window's last
    /// case (`case`, which gave `outcome`).
    pub(super) async fn judge_window(
        &self,
        watch: &mut Option<GrowthWatch>,
        cases: u32,
        case: &Case,
        outcome: &Outcome,
    ) -> Option<Divergence> {
        let (Some((probe, bound)), Some(w)) = (self.watched(), watch.as_mut()) else {
            return None;
        };
        let settled = leaks::settle(probe, w.level, bound).await?;
        let mut growth = w.record(settled)?;
        let amount = |grew: Option<(u64, u64)>| grew.map_or(0, |(from, to)| to - from);
        let most = amount(growth.descriptors).max(amount(growth.threads));
        if most < u64::from(leaks::GROWTH_CASES) {
            return None;
        }
        // The watch counts windows; the report counts cases.
        growth.cases = growth.cases.saturating_mul(cases);
        let divergence = growth.divergence(bound, case.total_len(), outcome);
        Some(self.blame_dead_server(divergence).await)
    }
}
