//! The bodies of the fuzz targets under `fuzz/`, as library functions, and the way back from a
//! crash file to something a person can run.
//!
//! Each target in `fuzz/fuzz_targets/` is one call into this module, as rustls and quinn do it.
//! Keeping the bodies here means they are built, linted and tested with the crate; the
//! command-line tool can replay an artifact without a fuzz build; and the replay cannot drift
//! from the target, because [`reproduce`] runs the very function the target ran.
//!
//! # Targets
//! - [`FuzzTarget::Roundtrip`]: the input decodes through `arbitrary` (the same [`ConnectionCase`]
//!   decoder the property tests' types use) into payloads and plans, played as rounds on **one**
//!   connection, kept open across inputs, to an in-process echo server; every byte is checked.
//! - [`FuzzTarget::RoundtripLifecycle`]: a whole [`Case`] — up to three connections at once,
//!   half-close, close — on fresh connections, through the player
//!   ([`crate::roundtrip::play`]). After each input the server must be healthy: every
//!   connection ended cleanly and the active count is back to what the target holds (none),
//!   within [`HEALTH_WAIT`].
//! - [`FuzzTarget::RawStream`]: the input bytes are the payload, written in one go on the kept
//!   connection, echoed and compared. The simplest and fastest target.
//! - [`FuzzTarget::ScenarioParse`]: the input as text into [`crate::scenario::parse`]: no panic, and
//!   what parses prints to text that reparses to the same scenario.
//! - [`FuzzTarget::ProxyRoundtrip`]: a [`ToxicChain`] and a [`Case`] (both through `arbitrary`),
//!   played through an in-process [`Proxy`] with that chain in front of
//!   the server. A chain without destructive toxics must round-trip exactly; one with `limit`
//!   or `reset` may fail the case, but never the proxy or the server: afterwards neither holds
//!   a connection (no leak, no hang), within [`HEALTH_WAIT`]. `blackhole` toxics are dropped
//!   from decoded chains: they keep connections open by design.
//!
//! # Speed
//! A fuzzer that sleeps or spawns finds nothing. Each target's server (one worker thread) and,
//! for `roundtrip_lifecycle`, a current-thread runtime for the player are started once per
//! process, in a `OnceLock`. An input runs on the fuzzer's own thread and spawns no thread or task
//! of its own (the server spawns one task per accepted connection, which only
//! `roundtrip_lifecycle` pays for). `roundtrip` and `raw_stream` play on a blocking
//! [`Session`]: no runtime, no wakeups, no timer. Pauses in decoded plans carry the
//! [`CaseBounds::fuzzing`] scale of 1/100, stored in the case, so a replay sleeps what the fuzzer
//! slept. `roundtrip_lifecycle` scales them to zero: the player's timer cannot sleep less than a
//! millisecond, and that target is about endings, not pauses.
//!
//! # Bounds
//! Every input ends within [`ITERATION_LIMIT`] ([`LIFECYCLE_LIMIT`] for `roundtrip_lifecycle`):
//! a stall is a failure, not a hang. Inputs longer than [`MAX_INPUT_LEN`] ([`MAX_RAW_LEN`] for
//! `raw_stream`), and the empty `raw_stream` input, are rejected before anything runs.
//!
//! # From a crash to a regression
//! [`reproduce`] runs an artifact through its target again, on a fresh connection, in lockstep
//! with the server so that the plan's fragmentation shows every time. The fuzzer's crash report
//! says whether it failed again there. [`artifact_to_scenario`] decodes an artifact
//! into the [`Case`] its target played, as a scenario file for `tests/regressions/`.
//!
//! # Where things are
//! This file holds the public face: the bounds above as constants, what becomes of an input
//! ([`InputVerdict`], [`FuzzFailure`]), the targets' bodies and the replay. Beside it:
//! `target.rs` names the targets; `decoders.rs` and `proxy_input.rs` turn input bytes into
//! cases; `scenario_oracle.rs` is `scenario_parse`'s check; `harness.rs` is the state each
//! target keeps for the life of the process; `report.rs` is what the fuzzer prints; `seeds/`
//! makes the curated seed corpus.
//!
//! [`ConnectionCase`]: crate::case::ConnectionCase
//! [`Case`]: crate::case::Case
//! [`ToxicChain`]: crate::proxy::ToxicChain
//! [`Proxy`]: crate::proxy::Proxy
//! [`Session`]: crate::roundtrip::Session
//! [`CaseBounds::fuzzing`]: crate::case::CaseBounds::fuzzing

use std::io;
use std::time::Duration;

use crate::roundtrip::Divergence;
use crate::scenario::ScenarioFile;

mod bodies;
mod decoders;
mod harness;
mod kept_crashes;
mod proxy_input;
mod report;
mod scenario_oracle;
mod seeds;
mod target;
mod target_server;
#[cfg(test)]
mod tests;

pub use decoders::{decode, lifecycle_bounds, roundtrip_bounds};
pub use harness::Harness;
pub use kept_crashes::KeptCrashes;
pub use proxy_input::{encode_proxy_input, proxy_bounds};
pub use seeds::{encode_case, encode_connection, seeds, Seed};
pub use target::{FuzzTarget, UnknownTarget};
pub use target_server::{SPAWN_ENV, TARGET_ENV};

use proxy_input::proxy_input;
use scenario_oracle::scenario_round_trip;

/// Longest input the structured targets take; longer ones are rejected unplayed. The largest
/// case of [`CaseBounds::fuzzing`] needs a few hundred bytes plus its literal payloads.
///
/// [`CaseBounds::fuzzing`]: crate::case::CaseBounds::fuzzing
pub const MAX_INPUT_LEN: usize = 64 * 1024;

/// Longest `raw_stream` input. Up to this size a single write reaches the server as a single
/// segment on loopback and is read at once, so the target keeps its meaning: one message, no
/// fragmentation.
pub const MAX_RAW_LEN: usize = 16 * 1024;

/// The most one `roundtrip` or `raw_stream` input may take, all its rounds together.
pub const ITERATION_LIMIT: Duration = Duration::from_secs(2);

/// The most one `roundtrip_lifecycle` case may take; within it, the player's
/// [`NO_PROGRESS_TIMEOUT`] catches a connection on which nothing moves.
pub const LIFECYCLE_LIMIT: Duration = Duration::from_secs(10);

/// The player's no-progress timeout for `roundtrip_lifecycle`.
pub const NO_PROGRESS_TIMEOUT: Duration = Duration::from_secs(1);

/// The no-progress timeout of `proxy_roundtrip` under a destructive chain: a blackhole stalls
/// by design, and how the case fails is not the question there.
pub const DESTRUCTIVE_NO_PROGRESS_TIMEOUT: Duration = Duration::from_millis(50);

/// How long the server may take to close and count a connection after a case.
pub const HEALTH_WAIT: Duration = Duration::from_secs(1);

/// Whether this build plants the server bug of feature `fault-injection`.
pub const FAULT_INJECTION: bool = cfg!(feature = "fault-injection");

/// What became of an input that did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputVerdict {
    /// It was played (or parsed) and every check passed.
    Passed,
    /// It was not played: too long, or nothing to send. The target tells libFuzzer to leave it
    /// out of the corpus (`Corpus::Reject`).
    Rejected,
}

impl InputVerdict {
    /// Whether the input belongs in the corpus.
    pub fn keep(self) -> bool {
        self == InputVerdict::Passed
    }
}

/// A verdict as libFuzzer's corpus decision: a rejected input stays out of the corpus.
#[cfg(feature = "libfuzzer")]
impl From<InputVerdict> for libfuzzer_sys::Corpus {
    fn from(verdict: InputVerdict) -> libfuzzer_sys::Corpus {
        if verdict.keep() {
            libfuzzer_sys::Corpus::Keep
        } else {
            libfuzzer_sys::Corpus::Reject
        }
    }
}

/// Why an input failed: what the fuzzer reports as a crash.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FuzzFailure {
    /// The echo went wrong: wrong bytes, missing bytes, a stall, a reset.
    #[error("{0}")]
    Divergence(Box<Divergence>),
    /// The harness could not reach its server.
    #[error("cannot connect to the in-process echo server: {0}")]
    Connect(#[source] io::Error),
    /// The harness could not start its server or runtime.
    #[error("cannot start the fuzz harness: {0}")]
    Start(String),
    /// A connection of the case was not closed on the server's side in time.
    #[error("the server had not closed connection {connection} {waited:?} after the case ended")]
    NotClosed {
        /// The connection's name in the case.
        connection: String,
        /// How long the harness waited.
        waited: Duration,
    },
    /// A connection of the case ended badly on the server's side.
    #[error("the server ended connection {connection} with `{end}`, not with the client's close")]
    BadEnd {
        /// The connection's name in the case.
        connection: String,
        /// How the server says it ended.
        end: String,
    },
    /// After the case, the server counts more (or fewer) open connections than the target holds.
    #[error("the server counts {active} open connections {waited:?} after the case; the target holds {held}")]
    Leaked {
        /// Active connections as the server counts them.
        active: u64,
        /// Connections the target itself holds open.
        held: u64,
        /// How long the harness waited for the count to settle.
        waited: Duration,
    },
    /// After a case through the proxy, the proxy still counts open connections.
    #[error(
        "the proxy counts {active} open connections {waited:?} after the case; none should be"
    )]
    ProxyLeaked {
        /// Active connections as the proxy counts them.
        active: u64,
        /// How long the harness waited for the count to settle.
        waited: Duration,
    },
    /// Scenario text that parses printed to text that does not reparse to the same scenario.
    #[error("scenario print-parse round trip broken: {problem}\n--- printed ---\n{printed}")]
    Reprint {
        /// What went wrong.
        problem: String,
        /// The printed text.
        printed: String,
    },
}

/// The `roundtrip` target's body; panics with a report when the input fails.
pub fn roundtrip(data: &[u8]) -> InputVerdict {
    fuzz(FuzzTarget::Roundtrip, data)
}

/// The `roundtrip_lifecycle` target's body; panics with a report when the input fails.
pub fn roundtrip_lifecycle(data: &[u8]) -> InputVerdict {
    fuzz(FuzzTarget::RoundtripLifecycle, data)
}

/// The `raw_stream` target's body; panics with a report when the input fails.
pub fn raw_stream(data: &[u8]) -> InputVerdict {
    fuzz(FuzzTarget::RawStream, data)
}

/// The `scenario_parse` target's body; panics with a report when the input fails.
pub fn scenario_parse(data: &[u8]) -> InputVerdict {
    fuzz(FuzzTarget::ScenarioParse, data)
}

/// The `proxy_roundtrip` target's body; panics with a report when the input fails.
pub fn proxy_roundtrip(data: &[u8]) -> InputVerdict {
    fuzz(FuzzTarget::ProxyRoundtrip, data)
}

/// Runs `data` through `target` on the process's kept [`Harness`] (the built-in server, or
/// the one [`TARGET_ENV`] or [`SPAWN_ENV`] names), as the fuzz target does, and panics with a
/// report (the crash libFuzzer records) if it fails.
///
/// Call it from synchronous code: it drives the harness's own runtime.
pub fn fuzz(target: FuzzTarget, data: &[u8]) -> InputVerdict {
    Harness::of(target).fuzz(target, data)
}

/// Runs one artifact through the code its target runs, on the process's kept [`Harness`], on
/// a fresh connection, and says how it went: `Err` is the failure the fuzzer saw, if it
/// reproduces.
///
/// `roundtrip` and `raw_stream` replay in lockstep with the server
/// ([`Session::lockstep`](crate::roundtrip::Session::lockstep)): each write chunk is read by the
/// server on its own before the next is written. The fuzzer's chunks may have joined on the way,
/// or not, by timing; in lockstep a fragmentation bug the fuzzer met by chance shows every time.
///
/// Callable from anywhere, inside a tokio runtime too. With feature `fault-injection` the server
/// carries the planted bug; without it, an artifact found with the bug passes.
pub fn reproduce(target: FuzzTarget, data: &[u8]) -> Result<InputVerdict, FuzzFailure> {
    Harness::of(target).reproduce(target, data)
}

/// The case `target` played for the artifact `data`, as a scenario file to save under
/// `tests/regressions/` (`None` where [`decode`] has none). Its header says where it came from.
///
/// Played by the player (`replay`), a `roundtrip` or `raw_stream` case ends with a half-close
/// and EOF, which the fuzzer's kept connection did not play; everything before is the same.
pub fn artifact_to_scenario(target: FuzzTarget, data: &[u8]) -> Option<ScenarioFile> {
    let (case, through) = match target {
        FuzzTarget::ProxyRoundtrip => {
            let (case, through) = proxy_input(data)?;
            (case, Some(through))
        }
        _ => (decode(target, data)?, None),
    };
    let how = match target {
        FuzzTarget::RoundtripLifecycle => "played as it is, on fresh connections",
        FuzzTarget::ProxyRoundtrip => "played it on fresh connections through the proxy",
        _ => "played as rounds on one connection kept open across inputs",
    };
    let file = ScenarioFile::from_case(&case)
        .with_comment(format!(
            "from a fuzz artifact of target {target} ({} bytes)",
            data.len()
        ))
        .with_comment(format!("the fuzzer {how}"));
    // The replay forces the fuzzer's fragmentation, whatever the server.
    let lockstep = matches!(target, FuzzTarget::Roundtrip | FuzzTarget::RawStream);
    Some(ScenarioFile {
        through,
        lockstep,
        ..file
    })
}

/// Whether an input runs on the connection the process keeps open or on one of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Connection {
    Kept,
    Fresh,
}
