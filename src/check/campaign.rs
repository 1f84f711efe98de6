//! The campaign loop: draw the seed's cases in order, play each (confirming a timing-only
//! failure), stop at the case count or the duration, and on the first failure blame a dead
//! server and shrink the case.

use std::time::Instant;

use super::seed::{proxy_seed, CaseSequence};
use super::{Check, Verdict, DEFAULT_CASES};
use crate::roundtrip::{self, PlayOptions};

impl Check {
    /// Runs the campaign, blocking the calling thread. Safe inside a runtime too: it then runs
    /// on a thread of its own.
    pub fn run(self) -> Verdict {
        roundtrip::block_on(move || self.run_async())
    }

    /// Runs the campaign in the caller's runtime.
    pub async fn run_async(mut self) -> Verdict {
        let seed = self.resolve_seed();
        let started = Instant::now();
        let max_cases = match (self.cases, self.duration) {
            (Some(cases), _) => cases,
            (None, Some(_)) => u32::MAX,
            (None, None) => DEFAULT_CASES,
        };
        let mut options = PlayOptions {
            timeout: self.timeout,
            connect_timeout: self.timeout,
            server_stats: self.server_stats.clone(),
            ..PlayOptions::default()
        };
        let mut sequence = CaseSequence::new(seed, &self.bounds);
        let mut verdict = Verdict::new(seed, self.addr);
        for index in 0..max_cases {
            if self.duration.is_some_and(|d| started.elapsed() >= d) {
                break;
            }
            let Some(mut tree) = sequence.next_tree() else {
                continue;
            };
            let case = tree.current();
            if let Some(in_front) = &self.through {
                options.through = Some(in_front.with_seed(proxy_seed(seed, index)));
            }
            match roundtrip::play_confirmed(&case, self.addr, &options).await {
                Ok(outcome) => {
                    verdict.record_pass(&outcome);
                    if let Some(hook) = &self.progress {
                        hook(verdict.cases, verdict.bytes_verified);
                    }
                }
                Err(divergence) => {
                    let divergence = self.blame_dead_server(divergence);
                    let failure = self
                        .shrink(index, case, divergence, &mut tree, &options)
                        .await;
                    verdict.cases += 1;
                    verdict.failure = Some(Box::new(failure));
                    break;
                }
            }
        }
        verdict.elapsed = started.elapsed();
        verdict
    }
}
