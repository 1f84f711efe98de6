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
//!
//! After every case the campaign checks that the target let go ([`crate::leaks`]): every
//! connection the case closed is closed by the target too within the leak bound (a client
//! socket left in FIN_WAIT2 is a [`NotClosed`](crate::DivergenceKind::NotClosed), timing
//! evidence confirmed at 4x the bound), and, given a [`resource_probe`](Check::resource_probe),
//! the target's descriptors and threads come back to their level; lasting growth is a
//! [`Leaked`](crate::DivergenceKind::Leaked). [`Check::leak_bound`] sets the bound,
//! [`Check::no_leak_checks`] turns them off.
//!
//! A failing [`Verdict`] saves its minimal case as a scenario file, the one `check --save`
//! writes ([`Verdict::save`]); copied under a regression folder, it is replayed by
//! [`scenario::play_path`](crate::scenario::play_path).
//!
//! # Inside a tokio runtime
//! [`Check::run`] and [`play_case`] block the calling thread. Inside a multi-thread runtime
//! that is fine, even with one worker: they run under `block_in_place`, so the worker's other
//! tasks (your server, if you spawned it there) move to another thread. Inside a
//! current-thread runtime (a plain `#[tokio::test]`) blocking would stop a server running on
//! it and report it as stalled, so they refuse instead, saying why ([`WouldBlockRuntime`]):
//! use [`Check::run_async`] there, or `#[tokio::test(flavor = "multi_thread")]`.
//!
//! # In your own `proptest!`
//! [`play_case`] (or [`play_case_with`], to set [`PlayOptions`]) plays one case drawn from
//! [`case_strategy`](crate::strategy::case_strategy); `?` turns its
//! [`Divergence`](crate::Divergence) into proptest's failure, with the whole report.
//!
//! proptest then shrinks the case, playing one simpler case per step, for at most
//! `max_shrink_iters` steps (`u32::MAX` by default, which proptest reads as four times the
//! case count: 1024 for the default 256 cases) and `max_shrink_time` milliseconds (0 by
//! default: no limit); both are fields of `ProptestConfig`, and `PROPTEST_MAX_SHRINK_ITERS`
//! and `PROPTEST_MAX_SHRINK_TIME` set them from the environment. It shrinks a payload a byte
//! at a time, and against a server that stops answering each failing step costs a timeout:
//! paid in full (2 s, then 8 s to confirm), a default run went on for many minutes. So
//! [`play_case`] confirms a timing-only failure only once per address, takes shorter timeouts
//! after that, and after [`DEFAULT_SHRINK_TIME`] lets further shrink steps pass unplayed (see
//! [`play_case_with`]): a default run against such a server ends in well under a minute.
//! [`proptest_config`] bounds `max_shrink_time` to the same 30 s in proptest itself:
//!
//! ```
//! use echo_harness::{case::CaseBounds, check, strategy::case_strategy};
//! use echo_harness::{EchoServer, ServerConfig};
//! use proptest::prelude::*;
//!
//! let server = EchoServer::spawn(ServerConfig::ephemeral()).unwrap(); // yours here
//! let addr = server.local_addr();
//! let bounds = CaseBounds::default().max_payload_len(4096);
//! proptest!(check::proptest_config(16), |(case in case_strategy(&bounds))| {
//!     check::play_case(&case, addr)?;
//! });
//! ```

mod campaign;
mod jobs;
mod judge;
mod leaks;
mod liveness;
mod play_case;
mod save;
mod seed;
mod shortcut;
mod shrink;
mod simplify;
mod verdict;

// Only `run` and `replay` (the CLI) share it with `check`.
#[cfg(feature = "cli")]
pub(crate) use liveness::blame_dying_server;
pub use liveness::{blame_dead_server, Liveness};
pub use play_case::{play_case, play_case_with, proptest_config};
pub use seed::CaseSequence;
pub use verdict::{CheckFailure, Verdict};

pub use crate::roundtrip::PlayOptions;
pub use crate::runtime::WouldBlockRuntime;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::case::CaseBounds;
use crate::proxy::Through;
use crate::proxy::{ProxyHandle, ToxicChain};
use crate::roundtrip::ProxyInFront;
use crate::server::ServerStats;

/// Cases a campaign plays when neither `cases` nor `duration` is given.
pub const DEFAULT_CASES: u32 = 100;
/// How long shrinking may take at most: a campaign's default
/// ([`Check::shrink_time`]), the `max_shrink_time` of [`proptest_config`], and the budget
/// [`play_case`] gives proptest's shrinking.
pub const DEFAULT_SHRINK_TIME: Duration = Duration::from_secs(30);

/// Cases `check` plays at once by default (`--jobs`); [`Check`] itself plays one at a time
/// unless [`Check::jobs`] says otherwise. A default case spends nearly all its time waiting (on
/// its planned pauses, the kernel, the server), so cases played side by side cost little more
/// than one: 8 played a default 100-case run against the built-in server about 3.7 times as
/// fast as one at a time on a 2-core machine (over 20 cases a second), with no false alarm in
/// 20 runs under load (a failure seen beside other cases is played again alone before it
/// counts). More gained little: the longest case of a run, seconds of sub-millisecond pauses,
/// then sets its length.
pub const DEFAULT_JOBS: u32 = 8;

/// Called after every case that counts as passed, in the order of the sequence.
pub type ProgressHook = Arc<dyn Fn(&Progress) + Send + Sync>;

/// What a [`ProgressHook`] hears after a case passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// Cases counted so far, this one included.
    pub cases: u32,
    /// Bytes verified so far, over all passing cases.
    pub bytes_verified: u64,
    /// Wall time of this case's play. With [`Check::jobs`] cases overlap, so these times add up
    /// to more than the campaign's.
    pub case_elapsed: Duration,
}

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
    /// How long the target may take to let go of a case's sockets (and, with `resources`,
    /// descriptors and threads); `None`: the leak checks are off.
    leak_bound: Option<Duration>,
    /// Measures the target process group's descriptors and threads.
    resources: Option<crate::leaks::ResourceProbe>,
    progress: Option<ProgressHook>,
    /// Cases played at once (at least 1).
    jobs: u32,
    /// The proxy and its chain; the seed in it is unused, since every case plays with its own
    /// ([`ProxyInFront::with_seed`] of `proxy_seed(seed, index)`).
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
            .field("leak_bound", &self.leak_bound)
            .field("jobs", &self.jobs)
            .finish_non_exhaustive()
    }
}

impl Check {
    /// A campaign against `addr` with the defaults: a random seed, [`DEFAULT_CASES`] cases,
    /// [`CaseBounds::default`], a 2 s no-progress timeout, 30 s of shrinking at most, leak
    /// checks with a bound of [`DEFAULT_LEAK_BOUND`](crate::leaks::DEFAULT_LEAK_BOUND).
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
            leak_bound: Some(crate::leaks::DEFAULT_LEAK_BOUND),
            resources: None,
            progress: None,
            jobs: 1,
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
    /// [`DivergenceKind::ServerDied`](crate::roundtrip::DivergenceKind::ServerDied).
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

    /// Plays up to `jobs` cases at once, each on its own connections (default 1; 0 counts as
    /// 1). The sequence stays the seed's: case K is the same case whatever plays beside it, and
    /// the verdict is the one of the lowest failing index. A failure seen while other cases were
    /// in flight counts only once it fails again played alone (a timing-only one confirmed at
    /// four times the timeouts, as always), so concurrency raises no false alarm of its own.
    /// With a [`resource_probe`](Check::resource_probe), cases play in windows of `jobs` (4 at
    /// most) and the process group is judged at the quiet point after each window. Through a proxy
    /// ([`Check::through`]) cases play one at a time: the proxy's accept-order seeding is one
    /// per play. See [`DEFAULT_JOBS`] for the CLI's default.
    pub fn jobs(mut self, jobs: u32) -> Check {
        self.jobs = jobs.max(1);
        self
    }

    /// A hook called after every passing case.
    pub fn progress(mut self, hook: ProgressHook) -> Check {
        self.progress = Some(hook);
        self
    }

    /// The seed this campaign will use: the given one, or a random one drawn now.
    pub fn resolve_seed(&mut self) -> u64 {
        *self.seed.get_or_insert_with(seed::random_seed)
    }
}
