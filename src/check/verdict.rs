//! [`Verdict`]: what a campaign found — figures when everything passed, the original and
//! minimised failing case with its divergence when something did not, or why it never ran.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use crate::case::Case;
use crate::proxy::Through;
use crate::roundtrip::{Divergence, Outcome};
use crate::runtime::WouldBlockRuntime;

/// The result of a campaign.
#[must_use = "a verdict that is not checked hides failures: call assert_passed() or passed()"]
#[derive(Debug, Clone)]
pub struct Verdict {
    /// The seed of the case sequence; the same seed replays the same cases.
    pub seed: u64,
    /// The address tested.
    pub target: SocketAddr,
    /// Cases played, the failing one included.
    pub cases: u32,
    /// Bytes that came back and were checked, over all passing cases.
    pub bytes_verified: u64,
    /// Connections opened by passing cases.
    pub connections: u64,
    /// Wall time of the campaign, shrinking included.
    pub elapsed: Duration,
    /// How many cases the campaign let play at once: [`Check::jobs`](super::Check::jobs), or
    /// fewer where it allows fewer (one through a proxy, windows with a resource probe).
    pub jobs: u32,
    /// Failures that did not count: whose only evidence was time and that passed when played
    /// again slower, or (with [`Check::jobs`](super::Check::jobs)) that were seen while other
    /// cases played and passed when played again alone.
    pub unconfirmed: Vec<Divergence>,
    /// Multi-chunk connections of passing cases on which the built-in server saw more than one
    /// read, out of all multi-chunk connections with a known server read count.
    pub fragmented: (u64, u64),
    /// The first failure, minimised.
    pub failure: Option<Box<CheckFailure>>,
    /// Set when the campaign refused to run, and so played nothing: [`Check::run`] called
    /// inside a current-thread tokio runtime. Such a verdict does not pass.
    ///
    /// [`Check::run`]: super::Check::run
    pub not_run: Option<WouldBlockRuntime>,
}

/// A failing case: as first found, and as small as shrinking made it.
#[derive(Debug, Clone)]
pub struct CheckFailure {
    /// Index of the failing case in the sequence (from 0).
    pub case_index: u32,
    /// The case as generated.
    pub original: Case,
    /// How the original failed.
    pub original_divergence: Divergence,
    /// The minimised case; equal to `original` when nothing smaller failed the same way.
    pub minimal: Case,
    /// How the minimised case fails.
    pub divergence: Divergence,
    /// Shrink attempts played.
    pub shrink_steps: u32,
    /// Time spent shrinking.
    pub shrink_elapsed: Duration,
    /// True when shrinking stopped at its time bound rather than at a minimum.
    pub shrink_hit_bound: bool,
    /// The proxy the case was played through (chain and seed), for a `check` through one.
    pub through: Option<Through>,
}

impl Verdict {
    pub(crate) fn new(seed: u64, target: SocketAddr) -> Verdict {
        Verdict {
            seed,
            target,
            cases: 0,
            bytes_verified: 0,
            connections: 0,
            elapsed: Duration::ZERO,
            jobs: 1,
            unconfirmed: Vec::new(),
            fragmented: (0, 0),
            failure: None,
            not_run: None,
        }
    }

    /// The verdict of a campaign that refused to run.
    pub(crate) fn refused(seed: u64, target: SocketAddr, why: WouldBlockRuntime) -> Verdict {
        Verdict {
            not_run: Some(why),
            ..Verdict::new(seed, target)
        }
    }

    pub(crate) fn record_pass(&mut self, outcome: &Outcome) {
        self.cases += 1;
        self.bytes_verified += outcome.bytes_verified();
        self.connections += outcome.connections.len() as u64;
        for connection in &outcome.connections {
            if let (true, Some(reads)) = (connection.writes > 1, connection.server_reads) {
                self.fragmented.1 += 1;
                if reads > 1 {
                    self.fragmented.0 += 1;
                }
            }
        }
        if let Some(unconfirmed) = &outcome.unconfirmed {
            self.unconfirmed.push(unconfirmed.clone());
        }
    }

    /// True when the campaign ran and every case passed.
    pub fn passed(&self) -> bool {
        self.failure.is_none() && self.not_run.is_none()
    }

    /// Panics with the full report unless the campaign ran and every case passed.
    #[track_caller]
    pub fn assert_passed(&self) {
        if !self.passed() {
            panic!("echo check failed\n{self}");
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(why) = &self.not_run {
            return write!(
                f,
                "NOT RUN against {} (seed {}): {why}",
                self.target, self.seed
            );
        }
        match &self.failure {
            None => write!(
                f,
                "passed: {} cases, {} connections, {} bytes verified in {:.2?} against {} (seed {})",
                self.cases,
                self.connections,
                self.bytes_verified,
                self.elapsed,
                self.target,
                self.seed
            ),
            Some(failure) => {
                writeln!(
                    f,
                    "FAILED against {} (seed {}) at case {} of the sequence, after {} passing cases",
                    self.target,
                    self.seed,
                    failure.case_index + 1,
                    self.cases.saturating_sub(1)
                )?;
                writeln!(f, "{}", failure.divergence)?;
                writeln!(
                    f,
                    "shrinking: {} steps in {:.2?}{}",
                    failure.shrink_steps,
                    failure.shrink_elapsed,
                    if failure.shrink_hit_bound {
                        " (stopped at the time bound; the case may not be minimal)"
                    } else {
                        ""
                    }
                )?;
                if failure.minimal != failure.original {
                    writeln!(f, "first seen as: {}", failure.original_divergence.summary())?;
                }
                if let Some(through) = &failure.through {
                    writeln!(f, "through a proxy: {through}")?;
                }
                write!(f, "minimal case:\n{}", failure.minimal)
            }
        }
    }
}
