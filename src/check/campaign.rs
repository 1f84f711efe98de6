//! The campaign loop: draw the seed's cases in order, play each (watching the target's process
//! group for lasting growth), stop at the case count or the duration, and on the first failure
//! blame a dead server, then shrink and confirm it (`judge`): a failure whose only evidence is
//! time and that does not fail again at four times the timeouts is recorded as unconfirmed,
//! and the campaign plays on. Several cases at once (`Check::jobs`) are scheduled in `jobs`;
//! one at a time plays here.

use std::time::Instant;

use super::seed::{proxy_seed, CaseSequence};
use super::{Check, Progress, Verdict, DEFAULT_CASES};
use crate::roundtrip::{Outcome, PlayOptions};
use crate::runtime;

impl Check {
    /// Runs the campaign, blocking the calling thread: from a plain `#[test]`, or inside a
    /// multi-thread tokio runtime (even with one worker: the worker's other tasks, such as a
    /// server spawned on that runtime, move to another thread meanwhile).
    ///
    /// Inside a current-thread runtime (a plain `#[tokio::test]`) it plays nothing and
    /// returns a failing verdict whose [`not_run`](Verdict::not_run) says why: blocking there
    /// would stop a server running on that runtime, and the campaign would report it as
    /// stalled. Use [`run_async`](Check::run_async) there.
    ///
    /// ```
    /// use echo_harness::{Check, EchoServer, ServerConfig};
    ///
    /// #[tokio::main(flavor = "current_thread")]
    /// async fn main() {
    ///     let server = EchoServer::spawn(ServerConfig::ephemeral()).unwrap();
    ///     let verdict = Check::new(server.local_addr()).cases(5).run();
    ///     assert!(!verdict.passed());
    ///     assert!(verdict.to_string().contains("Use `.run_async().await`"));
    ///     // What to do instead:
    ///     Check::new(server.local_addr()).cases(5).run_async().await.assert_passed();
    /// }
    /// ```
    pub fn run(mut self) -> Verdict {
        let (seed, addr) = (self.resolve_seed(), self.addr);
        runtime::try_block_on("Check::run()", "`.run_async().await`", move || {
            self.run_async()
        })
        .unwrap_or_else(|refused| Verdict::refused(seed, addr, refused))
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
            leak_bound: self.leak_bound,
            ..PlayOptions::default()
        };
        if let Some(jobs) = self.concurrent_jobs() {
            let mut verdict = self
                .run_jobs(seed, max_cases, started, &options, jobs)
                .await;
            verdict.elapsed = started.elapsed();
            return verdict;
        }
        let mut watch = self.start_watch();
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
            match self.play_watched_once(&case, &options, &mut watch).await {
                Ok(outcome) => self.count_pass(&mut verdict, &outcome),
                Err(divergence) => {
                    let divergence = self.blame_dead_server(divergence).await;
                    match self
                        .judge(index, case, divergence, &mut tree, &options)
                        .await
                    {
                        Ok(failure) => {
                            verdict.cases += 1;
                            verdict.failure = Some(Box::new(failure));
                            break;
                        }
                        Err(unconfirmed) => self.count_pass(&mut verdict, &unconfirmed),
                    }
                }
            }
        }
        verdict.elapsed = started.elapsed();
        verdict
    }

    /// Counts a passing case (or one whose failure did not happen again) in the verdict, and
    /// tells the progress hook: one place for the serial campaign and for jobs.
    pub(super) fn count_pass(&self, verdict: &mut Verdict, outcome: &Outcome) {
        verdict.record_pass(outcome);
        if let Some(hook) = &self.progress {
            hook(&Progress {
                cases: verdict.cases,
                bytes_verified: verdict.bytes_verified,
                case_elapsed: outcome.elapsed,
            });
        }
    }
}
