//! A seeded, randomized campaign against any echo server: [`Check`].
//!
//! The campaign draws cases from the crate's proptest strategy with a `TestRng` seeded from the
//! campaign's seed, so the same seed always gives the same sequence of cases (`duration` only
//! decides where the sequence stops). Each case is played over real sockets by the one player,
//! as its script. On the first failure, proptest's own shrinking (`ValueTree::simplify` and
//! `complicate`) minimises the case, bounded in time. A shrunk case counts as failing when it
//! fails with the same class of evidence: wrong or missing bytes for a failure that had bytes as
//! evidence, any failure for one whose only evidence was time. (One bug shows as several kinds:
//! a server that truncates at NUL gives a mismatch when more bytes follow and an early EOF when
//! none do; insisting on the kind would stop shrinking at such a boundary.)
//!
//! ```
//! use echo_harness::{Check, EchoServer, ServerConfig};
//!
//! // Your server here; the built-in one stands in for it.
//! let server = EchoServer::spawn(ServerConfig::ephemeral())?;
//! Check::new(server.local_addr()).seed(7).cases(20).run().assert_passed();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod simplify;
mod verdict;

pub use verdict::{CheckFailure, Verdict};

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use crate::case::{Case, CaseBounds};
use crate::proxy::Through;
use crate::proxy::{ProxyHandle, ToxicChain};
use crate::roundtrip::{self, Divergence, DivergenceKind, Outcome, PlayOptions, ProxyInFront};
use crate::server::ServerStats;
use crate::strategy::case_strategy;

/// Cases a campaign plays when neither `cases` nor `duration` is given.
pub const DEFAULT_CASES: u32 = 100;
/// The no-progress timeout while shrinking a failure whose only evidence is time.
const SHRINK_TIMEOUT: Duration = Duration::from_millis(300);
/// How often a simpler candidate is played before it counts as passing.
const CANDIDATE_TRIES: u32 = 3;
/// Generated payloads of a minimal case up to this size are saved as their literal bytes.
const LITERAL_LIMIT: usize = 256;
/// How long shrinking may take at most.
pub const DEFAULT_SHRINK_TIME: Duration = Duration::from_secs(30);

/// Tells whether the server under test is still alive: `Some(status)` once it has died.
pub type Liveness = Arc<dyn Fn() -> Option<String> + Send + Sync>;

/// Called after every case with the number of cases played and bytes verified so far.
pub type ProgressHook = Arc<dyn Fn(u32, u64) + Send + Sync>;

/// A campaign against the echo server at an address. Build it, then [`run`](Check::run) (or
/// [`run_async`](Check::run_async)) it; the [`Verdict`] says what happened.
#[derive(Clone)]
pub struct Check {
    addr: SocketAddr,
    seed: Option<u64>,
    cases: Option<u32>,
    duration: Option<Duration>,
    bounds: CaseBounds,
    timeout: Duration,
    shrink_time: Duration,
    server_stats: Option<Arc<ServerStats>>,
    liveness: Option<Liveness>,
    progress: Option<ProgressHook>,
    through: Option<ProxyInFront>,
}

impl std::fmt::Debug for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Check")
            .field("addr", &self.addr)
            .field("seed", &self.seed)
            .field("cases", &self.cases)
            .field("duration", &self.duration)
            .field("bounds", &self.bounds)
            .field("timeout", &self.timeout)
            .field("shrink_time", &self.shrink_time)
            .finish_non_exhaustive()
    }
}

impl Check {
    /// A campaign against `addr` with the defaults: a random seed, [`DEFAULT_CASES`] cases,
    /// [`CaseBounds::default`], a 2 s no-progress timeout, 30 s of shrinking at most.
    pub fn new(addr: SocketAddr) -> Check {
        Check {
            addr,
            seed: None,
            cases: None,
            duration: None,
            bounds: CaseBounds::default(),
            timeout: Duration::from_secs(2),
            shrink_time: DEFAULT_SHRINK_TIME,
            server_stats: None,
            liveness: None,
            progress: None,
            through: None,
        }
    }

    /// The seed of the case sequence. Without it a random one is drawn (and reported).
    pub fn seed(mut self, seed: u64) -> Check {
        self.seed = Some(seed);
        self
    }

    /// The most cases to play.
    pub fn cases(mut self, cases: u32) -> Check {
        self.cases = Some(cases);
        self
    }

    /// Stop starting new cases after this long. With `cases` too, whichever comes first.
    pub fn duration(mut self, duration: Duration) -> Check {
        self.duration = Some(duration);
        self
    }

    /// What cases may contain.
    pub fn bounds(mut self, bounds: CaseBounds) -> Check {
        self.bounds = bounds;
        self
    }

    /// The no-progress timeout of every connection.
    pub fn timeout(mut self, timeout: Duration) -> Check {
        self.timeout = timeout;
        self
    }

    /// How long shrinking a failure may take.
    pub fn shrink_time(mut self, shrink_time: Duration) -> Check {
        self.shrink_time = shrink_time;
        self
    }

    /// The built-in server's counters, when it is the target: outcomes then include the reads
    /// the server saw.
    pub fn server_stats(mut self, stats: Arc<ServerStats>) -> Check {
        self.server_stats = Some(stats);
        self
    }

    /// A probe of the server process: a divergence while it is dead is reported as
    /// [`DivergenceKind::ServerDied`].
    pub fn liveness(mut self, liveness: Liveness) -> Check {
        self.liveness = Some(liveness);
        self
    }

    /// Plays every case through `proxy` (a [`Proxy`](crate::proxy::Proxy) in front of the
    /// server under test, running `chain`) instead of at the address given to [`Check::new`].
    /// Each case restarts the proxy's accept order with a seed of its own, drawn from the
    /// campaign's seed and the case's index, and a failure names that seed and the chain
    /// ([`CheckFailure::through`]), so that it replays with the same faults.
    pub fn through(mut self, proxy: Arc<ProxyHandle>, chain: ToxicChain) -> Check {
        self.addr = proxy.local_addr();
        self.through = Some(ProxyInFront {
            proxy,
            through: Through { seed: 0, chain },
        });
        self
    }

    /// A hook called after every passing case.
    pub fn progress(mut self, hook: ProgressHook) -> Check {
        self.progress = Some(hook);
        self
    }

    /// The seed this campaign will use: the given one, or a random one drawn now.
    pub fn resolve_seed(&mut self) -> u64 {
        *self.seed.get_or_insert_with(random_seed)
    }

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
            through: None,
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

    /// Minimises a failing case with proptest's shrinking, bounded by `shrink_time`.
    async fn shrink(
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
            ..options.clone()
        };
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
                let failed = match roundtrip::play(&candidate, self.addr, &shrink_options).await {
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
                    match roundtrip::play(&candidate, self.addr, &shrink_options).await {
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
            match roundtrip::play_confirmed(&minimal.0, self.addr, options).await {
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

    fn blame_dead_server(&self, divergence: Divergence) -> Divergence {
        blame_dead_server(self.liveness.as_ref(), divergence)
    }
}

/// A divergence seen while the server process is dead is that death, whatever the socket said.
pub fn blame_dead_server(liveness: Option<&Liveness>, mut divergence: Divergence) -> Divergence {
    if let Some(status) = liveness.and_then(|alive| alive()) {
        divergence.kind = DivergenceKind::ServerDied { status };
        divergence.confirmed = true;
    }
    divergence
}

/// The sequence of cases a seed stands for: what `check --seed N` plays, in order.
///
/// ```
/// use echo_harness::{case::CaseBounds, check::CaseSequence};
/// let first: Vec<_> = CaseSequence::new(7, &CaseBounds::default()).take(3).collect();
/// let again: Vec<_> = CaseSequence::new(7, &CaseBounds::default()).take(3).collect();
/// assert_eq!(first, again);
/// ```
pub struct CaseSequence {
    strategy: proptest::strategy::BoxedStrategy<Case>,
    runner: TestRunner,
}

impl CaseSequence {
    /// The cases of `seed` within `bounds`.
    pub fn new(seed: u64, bounds: &CaseBounds) -> CaseSequence {
        CaseSequence {
            strategy: case_strategy(bounds),
            runner: seeded_runner(seed),
        }
    }

    /// The next case as a proptest value tree, which can shrink it.
    pub fn next_tree(&mut self) -> Option<Box<dyn ValueTree<Value = Case>>> {
        // The strategy rejects nothing; should it ever, that draw is skipped.
        self.strategy.new_tree(&mut self.runner).ok()
    }
}

impl Iterator for CaseSequence {
    type Item = Case;

    fn next(&mut self) -> Option<Case> {
        // Draws until one succeeds; the strategy never rejects, so this is one draw.
        (0..1000)
            .find_map(|_| self.next_tree())
            .map(|tree| tree.current())
    }
}

/// The proxy's seed for the case at `index` of the campaign with `seed`: a splitmix64 step of
/// both, so neighbouring cases get unrelated faults.
fn proxy_seed(seed: u64, index: u32) -> u64 {
    let mut z = seed ^ u64::from(index).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A runner whose random generator is fully determined by `seed`.
fn seeded_runner(seed: u64) -> TestRunner {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = Config {
        // The campaign persists failures as scenario files, not proptest's regression files.
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
}

/// A seed from the clock and the process, for campaigns without `--seed`.
fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    hasher.write_u32(std::process::id());
    hasher.finish()
}

/// Plays one case against `addr` with the default options, blocking: the entry point for a
/// user's own `proptest!` block.
///
/// ```
/// use echo_harness::{case::CaseBounds, check::play_case, strategy::case_strategy};
/// use echo_harness::{EchoServer, ServerConfig};
/// use proptest::prelude::*;
///
/// let server = EchoServer::spawn(ServerConfig::ephemeral()).unwrap(); // your server here
/// let addr = server.local_addr();
/// let bounds = CaseBounds::default().max_payload_len(4096).max_connections(2);
/// proptest!(ProptestConfig::with_cases(8), |(case in case_strategy(&bounds))| {
///     play_case(&case, addr).map_err(|d| TestCaseError::fail(d.to_string()))?;
/// });
/// ```
pub fn play_case(case: &Case, addr: SocketAddr) -> Result<Outcome, Divergence> {
    let options = PlayOptions::default();
    roundtrip::block_on(|| async move { roundtrip::play_confirmed(case, addr, &options).await })
}
