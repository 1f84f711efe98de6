//! The bodies of the fuzz targets under `fuzz/`, as library functions, and the way back from a
//! crash file to something a person can run.
//!
//! Each target in `fuzz/fuzz_targets/` is one call into this module, as rustls and quinn do it.
//! Keeping the bodies here means they are built, linted and tested with the crate; the
//! command-line tool can replay an artifact without a fuzz build; and the replay cannot drift
//! from the target, because [`reproduce`] runs the very function the target ran.
//!
//! # Targets
//! - [`Target::Roundtrip`]: the input decodes through `arbitrary` (the same [`ConnectionCase`]
//!   decoder the property tests' types use) into payloads and plans, played as rounds on **one**
//!   connection, kept open across inputs, to an in-process echo server; every byte is checked.
//! - [`Target::RoundtripLifecycle`]: a whole [`Case`] — up to three connections at once,
//!   half-close, close — on fresh connections, through the player
//!   ([`crate::roundtrip::play`]). After each input the server must be healthy: every
//!   connection ended cleanly and the active count is back to what the target holds (none),
//!   within [`HEALTH_WAIT`].
//! - [`Target::RawStream`]: the input bytes are the payload, written in one go on the kept
//!   connection, echoed and compared. The simplest and fastest target.
//! - [`Target::ScenarioParse`]: the input as text into [`crate::scenario::parse`]: no panic, and
//!   what parses prints to text that reparses to the same scenario.
//! - [`Target::ProxyRoundtrip`]: a [`ToxicChain`] and a [`Case`] (both through `arbitrary`),
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

use std::fmt;
use std::io;
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use arbitrary::{Arbitrary, Unstructured};

use crate::case::{
    Case, CaseBounds, ConnectionCase, Conversation, PauseScale, Payload, DEFAULT_CHUNK_LEN,
};
use crate::proxy::{DurationRange, Proxy, ProxyConfig, ProxyHandle, Toxic, ToxicChain, ToxicKind};
use crate::roundtrip::{play, Divergence, PlayOptions, ProxyInFront, Session};
use crate::scenario::{self, ScenarioFile, Through};
use crate::script::Script;
use crate::server::{ConnectionEnd, EchoServer, ServerConfig, ServerHandle};

/// Longest input the structured targets take; longer ones are rejected unplayed. The largest
/// case of [`CaseBounds::fuzzing`] needs a few hundred bytes plus its literal payloads.
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

/// A fuzz target, by the name of its file under `fuzz/fuzz_targets/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// `roundtrip`: decoded rounds on one kept connection.
    Roundtrip,
    /// `roundtrip_lifecycle`: decoded cases on fresh connections, then a health check.
    RoundtripLifecycle,
    /// `raw_stream`: the input bytes, written in one go on the kept connection.
    RawStream,
    /// `scenario_parse`: the input as scenario text.
    ScenarioParse,
    /// `proxy_roundtrip`: a toxic chain and a case, played through the proxy.
    ProxyRoundtrip,
}

impl Target {
    /// Every target.
    pub const ALL: [Target; 5] = [
        Target::Roundtrip,
        Target::RoundtripLifecycle,
        Target::RawStream,
        Target::ScenarioParse,
        Target::ProxyRoundtrip,
    ];

    /// The target's name: its file under `fuzz/fuzz_targets/` and its `cargo fuzz` name.
    pub fn name(self) -> &'static str {
        match self {
            Target::Roundtrip => "roundtrip",
            Target::RoundtripLifecycle => "roundtrip_lifecycle",
            Target::RawStream => "raw_stream",
            Target::ScenarioParse => "scenario_parse",
            Target::ProxyRoundtrip => "proxy_roundtrip",
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is no fuzz target.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown fuzz target `{name}`: the targets are roundtrip, roundtrip_lifecycle, raw_stream, scenario_parse, proxy_roundtrip"
)]
pub struct UnknownTarget {
    /// The name given.
    pub name: String,
}

impl FromStr for Target {
    type Err = UnknownTarget;

    fn from_str(name: &str) -> Result<Target, UnknownTarget> {
        Target::ALL
            .into_iter()
            .find(|t| t.name() == name)
            .ok_or_else(|| UnknownTarget {
                name: name.to_string(),
            })
    }
}

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
    fuzz(Target::Roundtrip, data)
}

/// The `roundtrip_lifecycle` target's body; panics with a report when the input fails.
pub fn roundtrip_lifecycle(data: &[u8]) -> InputVerdict {
    fuzz(Target::RoundtripLifecycle, data)
}

/// The `raw_stream` target's body; panics with a report when the input fails.
pub fn raw_stream(data: &[u8]) -> InputVerdict {
    fuzz(Target::RawStream, data)
}

/// The `scenario_parse` target's body; panics with a report when the input fails.
pub fn scenario_parse(data: &[u8]) -> InputVerdict {
    fuzz(Target::ScenarioParse, data)
}

/// The `proxy_roundtrip` target's body; panics with a report when the input fails.
pub fn proxy_roundtrip(data: &[u8]) -> InputVerdict {
    fuzz(Target::ProxyRoundtrip, data)
}

/// Runs `data` through `target` on the process's kept state, as the fuzz target does, and
/// panics with a report (the crash libFuzzer records) if it fails.
///
/// Call it from synchronous code: it drives the harness's own runtime.
pub fn fuzz(target: Target, data: &[u8]) -> InputVerdict {
    match run(target, data, Connection::Kept) {
        Ok(verdict) => {
            count(target, verdict);
            verdict
        }
        Err(failure) => panic!("{}", crash_report(target, data, &failure)),
    }
}

/// Runs one artifact through the code its target runs, on a fresh connection, and says how it
/// went: `Err` is the failure the fuzzer saw, if it reproduces.
///
/// `roundtrip` and `raw_stream` replay in lockstep with the server
/// ([`Session::lockstep`](crate::roundtrip::Session::lockstep)): each write chunk is read by the
/// server on its own before the next is written. The fuzzer's chunks may have joined on the way,
/// or not, by timing; in lockstep a fragmentation bug the fuzzer met by chance shows every time.
///
/// Callable from anywhere, inside a tokio runtime too. With feature `fault-injection` the server
/// carries the planted bug; without it, an artifact found with the bug passes.
pub fn reproduce(target: Target, data: &[u8]) -> Result<InputVerdict, FuzzFailure> {
    if tokio::runtime::Handle::try_current().is_ok() {
        // The harness drives its own runtime, which cannot be entered from inside another.
        return std::thread::scope(|scope| {
            match scope.spawn(|| run(target, data, Connection::Fresh)).join() {
                Ok(result) => result,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        });
    }
    run(target, data, Connection::Fresh)
}

/// The case `target` plays for `data`: `None` for `scenario_parse` (its input is text, not a
/// case) and for an input the target rejects.
///
/// For `roundtrip` it is one connection whose messages are the decoded payloads, played as
/// interactive rounds, with OS-default socket buffers (a kept connection cannot change them).
/// For `raw_stream` it is the input as one message written in one chunk.
pub fn decode(target: Target, data: &[u8]) -> Option<Case> {
    match target {
        Target::Roundtrip if data.len() <= MAX_INPUT_LEN => rounds_case(data),
        Target::RoundtripLifecycle if data.len() <= MAX_INPUT_LEN => lifecycle_case(data),
        Target::RawStream if !data.is_empty() && data.len() <= MAX_RAW_LEN => Some(raw_case(data)),
        Target::ProxyRoundtrip => proxy_input(data).map(|(case, _)| case),
        _ => None,
    }
}

/// The case `target` played for the artifact `data`, as a scenario file to save under
/// `tests/regressions/` (`None` where [`decode`] has none). Its header says where it came from.
///
/// Played by the player (`replay`), a `roundtrip` or `raw_stream` case ends with a half-close
/// and EOF, which the fuzzer's kept connection did not play; everything before is the same.
pub fn artifact_to_scenario(target: Target, data: &[u8]) -> Option<ScenarioFile> {
    let (case, through) = match target {
        Target::ProxyRoundtrip => {
            let (case, through) = proxy_input(data)?;
            (case, Some(through))
        }
        _ => (decode(target, data)?, None),
    };
    let how = match target {
        Target::RoundtripLifecycle => "played as it is, on fresh connections",
        Target::ProxyRoundtrip => "played it on fresh connections through the proxy",
        _ => "played as rounds on one connection kept open across inputs",
    };
    let file = ScenarioFile::from_case(&case)
        .with_comment(format!(
            "from a fuzz artifact of target {target} ({} bytes)",
            data.len()
        ))
        .with_comment(format!("the fuzzer {how}"));
    Some(ScenarioFile { through, ..file })
}

/// Whether an input runs on the connection the process keeps open or on one of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Connection {
    Kept,
    Fresh,
}

/// The one function every target and every replay goes through.
fn run(target: Target, data: &[u8], connection: Connection) -> Result<InputVerdict, FuzzFailure> {
    if target == Target::ScenarioParse {
        return scenario_round_trip(data);
    }
    if target == Target::ProxyRoundtrip {
        // The chain comes with the case: decoded once, both together.
        let Some((case, through)) = proxy_input(data) else {
            return Ok(InputVerdict::Rejected);
        };
        Harness::of(target)?.through_proxy(&case, through)?;
        return Ok(InputVerdict::Passed);
    }
    let Some(case) = decode(target, data) else {
        return Ok(InputVerdict::Rejected);
    };
    let harness = Harness::of(target)?;
    match target {
        Target::RoundtripLifecycle => harness.lifecycle(&case)?,
        _ => harness.rounds(case, connection)?,
    }
    Ok(InputVerdict::Passed)
}

/// The bounds of `proxy_roundtrip`'s cases: `roundtrip_lifecycle`'s, with at most two
/// connections (the proxy doubles every connection's sockets and tasks) and payloads of at most
/// 8 KiB (a `slice` toxic sleeps between slices, at least a millisecond each on tokio's timer).
pub fn proxy_bounds() -> CaseBounds {
    lifecycle_bounds()
        .max_connections(2)
        .max_payload_len(8 * 1024)
}

/// How `proxy_roundtrip` reads an input: the first byte is the length of the chain's bytes,
/// which follow it (decoded by [`ToxicChain`]'s `arbitrary`), and the rest is the case. The
/// proxy's seed is 0: the input decides everything, so a replay meets the same faults.
fn proxy_input(data: &[u8]) -> Option<(Case, Through)> {
    let (&len, rest) = data.split_first()?;
    if data.len() > MAX_INPUT_LEN {
        return None;
    }
    let (chain_bytes, case_bytes) = rest.split_at(usize::from(len).min(rest.len()));
    let chain = ToxicChain::arbitrary(&mut Unstructured::new(chain_bytes)).ok()?;
    // A blackhole keeps its connection open by design (it never passes the FIN on, and the
    // proxy cannot tell a client's close from its half-close), and the harness has no way to
    // close it: every such input would leak a connection. It is left out of the chain.
    // Delays are scaled by PROXY_DELAY_SCALE, the way plans' pauses are, in the decoded
    // chain itself: a saved artifact waits what the fuzzer waited.
    let kept = chain
        .toxics()
        .iter()
        .filter(|t| !matches!(t.kind, ToxicKind::Blackhole { .. }))
        .map(|t| Toxic {
            kind: scaled_delays(t.kind),
            ..*t
        })
        .collect();
    let chain = ToxicChain::new(kept)?;
    let case = Case::arbitrary_with(&mut Unstructured::new(case_bytes), &proxy_bounds()).ok()?;
    Some((case, Through { seed: 0, chain }))
}

/// How much of a decoded toxic's delays `proxy_roundtrip` keeps: a slice toxic waits after
/// every slice, and at full length an 8 KiB case in small slices would wait for a tenth of a
/// second.
const PROXY_DELAY_SCALE: u32 = 100;

/// `kind` with its delays (slice delays, latency and jitter, slow-close) divided by
/// [`PROXY_DELAY_SCALE`].
fn scaled_delays(kind: ToxicKind) -> ToxicKind {
    let scale = |d: Duration| d / PROXY_DELAY_SCALE;
    match kind {
        ToxicKind::Slice { size, delay } => ToxicKind::Slice {
            size,
            delay: DurationRange {
                min: scale(delay.min),
                max: scale(delay.max),
            },
        },
        ToxicKind::Latency { latency, jitter } => ToxicKind::Latency {
            latency: scale(latency),
            jitter: scale(jitter),
        },
        ToxicKind::SlowClose { delay } => ToxicKind::SlowClose {
            delay: scale(delay),
        },
        other => other,
    }
}

/// The bytes `proxy_roundtrip` decodes into `chain_bytes`' chain and `case`.
pub fn encode_proxy_input(chain_bytes: &[u8], case: &Case) -> Vec<u8> {
    let len = u8::try_from(chain_bytes.len()).expect("chain bytes fit in one length byte");
    let mut out = vec![len];
    out.extend_from_slice(chain_bytes);
    out.extend_from_slice(&encode_case(case, &proxy_bounds()));
    out
}

/// The bounds of `roundtrip`: the fuzzing preset with payloads up to 4 KiB and at most 64
/// operations a side, so an input costs a few dozen system calls. Fragmentation bugs show in a
/// few bytes; larger payloads are `roundtrip_lifecycle`'s.
pub fn roundtrip_bounds() -> CaseBounds {
    CaseBounds::fuzzing().max_payload_len(4096).max_ops(64)
}

fn rounds_case(data: &[u8]) -> Option<Case> {
    let bounds = roundtrip_bounds();
    let mut conn =
        ConnectionCase::arbitrary_with(&mut Unstructured::new(data), &bounds, "c0").ok()?;
    // A kept connection plays neither socket buffers nor endings: every payload is a round.
    conn.write.send_buffer = None;
    conn.write.recv_buffer = None;
    let messages = match conn.conversation {
        Conversation::Stream { payload } | Conversation::Close { payload } => vec![payload],
        Conversation::Interactive { messages } => messages,
    };
    conn.conversation = Conversation::Interactive { messages };
    Some(Case {
        connections: vec![conn],
        pause_scale: bounds.pause_scale,
        hold: None,
    })
}

/// The bounds of `roundtrip_lifecycle`: the fuzzing preset with payloads up to 16 KiB, socket
/// buffers from 4 KiB, and pauses scaled to nothing. Tiny buffers under large payloads make
/// Nagle's algorithm wait for delayed acknowledgements, tens of milliseconds a window: slow, and
/// no bug.
pub fn lifecycle_bounds() -> CaseBounds {
    CaseBounds::fuzzing()
        .max_payload_len(16 * 1024)
        .socket_buffers(4096..=64 * 1024)
        .pause_scale(PauseScale::new(0, 1).unwrap_or(PauseScale::ONE))
}

fn lifecycle_case(data: &[u8]) -> Option<Case> {
    Case::arbitrary_with(&mut Unstructured::new(data), &lifecycle_bounds()).ok()
}

fn raw_case(data: &[u8]) -> Case {
    let mut conn = ConnectionCase::new(
        "c0",
        Conversation::Interactive {
            messages: vec![Payload::Literal(data.to_vec())],
        },
    );
    conn.write.chunks = vec![data.len().max(1)];
    conn.read.sizes = vec![DEFAULT_CHUNK_LEN];
    Case {
        connections: vec![conn],
        pause_scale: PauseScale::ONE,
        hold: None,
    }
}

fn scenario_round_trip(data: &[u8]) -> Result<InputVerdict, FuzzFailure> {
    if data.len() > MAX_INPUT_LEN {
        return Ok(InputVerdict::Rejected);
    }
    // Lossy rather than rejected: the parser takes text, and a mutation that breaks UTF-8
    // somewhere still says something about the rest.
    let text = String::from_utf8_lossy(data);
    let file = match scenario::parse(&text) {
        Ok(file) => file,
        Err(error) => {
            // Rendering an error must not panic either, wherever its span points.
            let _ = error.render();
            return Ok(InputVerdict::Passed);
        }
    };
    let printed = scenario::print(&file);
    let reprint = |problem: String| FuzzFailure::Reprint {
        problem,
        printed: printed.clone(),
    };
    match scenario::parse(&printed) {
        Ok(again) if again == file => {
            if scenario::print(&again) != printed {
                return Err(reprint(
                    "printing the reparsed scenario gives other text".into(),
                ));
            }
            Ok(InputVerdict::Passed)
        }
        Ok(again) => Err(reprint(format!(
            "it reparses to a different scenario:\n{}",
            scenario::print(&again)
        ))),
        Err(error) => Err(reprint(format!(
            "the printed text does not parse:\n{}",
            error.render()
        ))),
    }
}

/// What a target keeps for the life of the process.
struct Harness {
    /// The client side's runtime: current-thread, so an input runs on the fuzzer's own thread
    /// with no hand-off to another.
    runtime: tokio::runtime::Runtime,
    /// The in-process echo server, on its own thread with one worker.
    server: ServerHandle,
    /// The connection kept open across inputs (`None` before the first and after a failure).
    /// Locked for the whole of every input, which also keeps concurrent callers (tests) from
    /// disturbing each other's connection counts.
    session: Mutex<Option<Session>>,
    /// `proxy_roundtrip`'s proxy in front of the server, on its own thread with one worker;
    /// each input restarts it with the input's chain.
    proxy: Option<Arc<ProxyHandle>>,
}

static ROUNDTRIP: OnceLock<Harness> = OnceLock::new();
static LIFECYCLE: OnceLock<Harness> = OnceLock::new();
static RAW_STREAM: OnceLock<Harness> = OnceLock::new();
static PROXY: OnceLock<Harness> = OnceLock::new();

impl Harness {
    /// The harness of `target`, started on first use.
    fn of(target: Target) -> Result<&'static Harness, FuzzFailure> {
        let cell = match target {
            Target::RoundtripLifecycle => &LIFECYCLE,
            Target::RawStream => &RAW_STREAM,
            Target::ProxyRoundtrip => &PROXY,
            _ => &ROUNDTRIP,
        };
        if let Some(harness) = cell.get() {
            return Ok(harness);
        }
        let harness = Harness::start(target)?;
        // Should another thread have won the race, its harness is used and this one dropped.
        Ok(cell.get_or_init(|| harness))
    }

    fn start(target: Target) -> Result<Harness, FuzzFailure> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| FuzzFailure::Start(e.to_string()))?;
        let server = EchoServer::spawn(ServerConfig {
            worker_threads: Some(1),
            // The kept connection idles between inputs and while libFuzzer merges or reduces;
            // the server must never close it for that.
            idle_timeout: None,
            // The health check asks right after each case, so a short history suffices; a short
            // one also keeps a reused client port from matching a stale record.
            closed_history: 16,
            pooled_buffers: 8,
            ..ServerConfig::ephemeral()
        })
        .map_err(|e| FuzzFailure::Start(e.to_string()))?;
        #[cfg(fuzzing)]
        eprintln!(
            "INFO: echo-harness {target}: in-process echo server on {}, fault injection {}",
            server.local_addr(),
            if FAULT_INJECTION { "ON" } else { "off" }
        );
        #[cfg(not(fuzzing))]
        let _ = target;
        let proxy = if target == Target::ProxyRoundtrip {
            let proxy = Proxy::spawn(ProxyConfig {
                worker_threads: Some(1),
                closed_history: 16,
                ..ProxyConfig::new(server.local_addr())
            })
            .map_err(|e| FuzzFailure::Start(e.to_string()))?;
            Some(Arc::new(proxy))
        } else {
            None
        };
        Ok(Harness {
            runtime,
            server,
            session: Mutex::new(None),
            proxy,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Option<Session>> {
        // A panic (a crash being reported) while an input held the lock leaves nothing
        // half-done that the next input could trip over: the session is replaced on failure.
        self.session
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Plays the one connection of `case` as rounds, on the kept connection or a fresh one.
    fn rounds(&self, case: Case, connection: Connection) -> Result<(), FuzzFailure> {
        let mut kept = self.lock();
        let reuse = match connection {
            Connection::Kept => kept.take(),
            Connection::Fresh => None,
        };
        let mut session = match reuse {
            Some(session) => session,
            None => Session::connect(self.server.local_addr(), ITERATION_LIMIT)
                .map_err(FuzzFailure::Connect)?,
        };
        if connection == Connection::Fresh {
            // A replay cuts the stream the finest way the plan allows, every time; the fuzzer's
            // chunks may have joined on the way, by chance (see `Session::lockstep`).
            session = session.lockstep(self.server.stats());
        }
        // The same steps the player plays; the session plays them on the kept connection.
        let script = Script::from(case);
        session
            .play_lane(&script.connections[0], script.pause_scale, ITERATION_LIMIT)
            .map_err(|d| FuzzFailure::Divergence(Box::new(d)))?;
        // Only a connection whose every round passed is clean enough to keep.
        if connection == Connection::Kept {
            *kept = Some(session);
        }
        Ok(())
    }

    /// Plays `case` on fresh connections through the player, then checks the server's health.
    fn lifecycle(&self, case: &Case) -> Result<(), FuzzFailure> {
        let _serialized = self.lock();
        let options = PlayOptions {
            timeout: NO_PROGRESS_TIMEOUT,
            connect_timeout: NO_PROGRESS_TIMEOUT,
            ..PlayOptions::default()
        };
        let outcome = self.play_bounded(case, self.server.local_addr(), &options)?;
        let stats = self.server.stats();
        for (conn, played) in case.connections.iter().zip(&outcome.connections) {
            let record = stats
                .wait_closed(played.local_addr, HEALTH_WAIT)
                .ok_or_else(|| FuzzFailure::NotClosed {
                    connection: conn.name.clone(),
                    waited: HEALTH_WAIT,
                })?;
            let clean = match record.end {
                Some(ConnectionEnd::ClientClosed) => true,
                // A client that closes with unread bytes in flight may see its close become a
                // reset on the way.
                Some(ConnectionEnd::Reset) => {
                    conn.conversation.kind() == crate::case::ConversationKind::Close
                }
                _ => false,
            };
            if !clean {
                return Err(FuzzFailure::BadEnd {
                    connection: conn.name.clone(),
                    end: record
                        .end
                        .map_or_else(|| "still open".to_string(), |end| end.to_string()),
                });
            }
        }
        self.server_settles()
    }

    /// Plays `case` within [`LIFECYCLE_LIMIT`]; running over it is a stall.
    fn play_bounded(
        &self,
        case: &Case,
        addr: std::net::SocketAddr,
        options: &PlayOptions,
    ) -> Result<crate::roundtrip::Outcome, FuzzFailure> {
        let played = self.runtime.block_on(async {
            tokio::time::timeout(LIFECYCLE_LIMIT, play(case, addr, options)).await
        });
        match played {
            Ok(Ok(outcome)) => Ok(outcome),
            Ok(Err(divergence)) => Err(FuzzFailure::Divergence(Box::new(divergence))),
            Err(_) => Err(FuzzFailure::Divergence(Box::new(Divergence {
                // The fuzzer does not replay at a longer timeout: the bound is the bound.
                confirmed: true,
                ..Divergence::new(
                    &case.connections[0].name,
                    crate::DivergenceKind::Stalled {
                        waited: LIFECYCLE_LIMIT,
                    },
                    0,
                    0,
                    case.total_len(),
                )
            }))),
        }
    }

    /// Waits, at most [`HEALTH_WAIT`], until the server counts no open connection: the target
    /// holds none of it between inputs.
    fn server_settles(&self) -> Result<(), FuzzFailure> {
        let stats = self.server.stats();
        let held = 0;
        settles(|| stats.snapshot().active == held).map_err(|()| FuzzFailure::Leaked {
            active: stats.snapshot().active,
            held,
            waited: HEALTH_WAIT,
        })
    }

    /// Plays `case` through the proxy with `through`'s chain. A data-preserving chain must
    /// round-trip exactly; with a destructive one the case may fail (with a short no-progress
    /// timeout, since a blackhole stalls by design), but afterwards the proxy and the server
    /// must both be back to no open connection.
    fn through_proxy(&self, case: &Case, through: Through) -> Result<(), FuzzFailure> {
        let _serialized = self.lock();
        let proxy = self
            .proxy
            .as_ref()
            .ok_or_else(|| FuzzFailure::Start("no proxy in this harness".to_string()))?;
        let destructive = through.chain.is_destructive();
        proxy.restart_with(through.seed, through.chain);
        let options = PlayOptions {
            timeout: if destructive {
                DESTRUCTIVE_NO_PROGRESS_TIMEOUT
            } else {
                NO_PROGRESS_TIMEOUT
            },
            connect_timeout: NO_PROGRESS_TIMEOUT,
            through: Some(ProxyInFront {
                proxy: Arc::clone(proxy),
                seed: through.seed,
            }),
            ..PlayOptions::default()
        };
        match self.play_bounded(case, proxy.local_addr(), &options) {
            Ok(_) => {}
            Err(FuzzFailure::Divergence(_)) if destructive => {}
            Err(failure) => return Err(failure),
        }
        let stats = proxy.stats();
        settles(|| stats.snapshot().active == 0).map_err(|()| FuzzFailure::ProxyLeaked {
            active: stats.snapshot().active,
            waited: HEALTH_WAIT,
        })?;
        self.server_settles()
    }
}

/// Polls `settled` until it holds, at most [`HEALTH_WAIT`].
fn settles(settled: impl Fn() -> bool) -> Result<(), ()> {
    let started = Instant::now();
    while !settled() {
        if started.elapsed() >= HEALTH_WAIT {
            return Err(());
        }
        std::thread::sleep(Duration::from_micros(50));
    }
    Ok(())
}

/// The crash report: the failure, whether it fails again on a fresh connection, the case it
/// played as scenario text, and how to replay it.
fn crash_report(target: Target, data: &[u8], failure: &FuzzFailure) -> String {
    let mut report = format!("echo-harness fuzz target {target} failed: {failure}\n");
    if matches!(target, Target::Roundtrip | Target::RawStream) {
        report.push_str(match reproduce(target, data) {
            Err(_) => "It fails again on a fresh connection.\n",
            Ok(_) => {
                "It PASSED when played again on a fresh connection, in lockstep: it depends on timing, or on \
                 what an earlier input left on the kept connection.\n"
            }
        });
    }
    if let Some(file) = artifact_to_scenario(target, data) {
        report.push_str("The case it played, as scenario text:\n");
        report.push_str(&scenario::print(&file));
    }
    report.push_str(&format!(
        "Replay it: echo-harness replay --artifact {target} CRASH_FILE (add --print for the \
         scenario); see fuzz/README.md.\n"
    ));
    report
}

/// Counts inputs and rejections; fuzz builds report the reject share now and then on stderr,
/// since libFuzzer's own statistics do not know about rejections.
fn count(target: Target, verdict: InputVerdict) {
    #[cfg(fuzzing)]
    {
        use std::sync::atomic::{AtomicU64, Ordering};
        static INPUTS: AtomicU64 = AtomicU64::new(0);
        static REJECTED: AtomicU64 = AtomicU64::new(0);
        let inputs = INPUTS.fetch_add(1, Ordering::Relaxed) + 1;
        if verdict == InputVerdict::Rejected {
            REJECTED.fetch_add(1, Ordering::Relaxed);
        }
        if inputs >= 1024 && inputs.is_power_of_two() {
            let rejected = REJECTED.load(Ordering::Relaxed);
            eprintln!(
                "INFO: echo-harness {target}: {inputs} inputs, {rejected} rejected ({:.2}%)",
                rejected as f64 * 100.0 / inputs as f64
            );
        }
    }
    #[cfg(not(fuzzing))]
    let _ = (target, verdict);
}

pub use seeds::{encode_case, encode_connection, seeds, Seed};

/// The curated seed corpus: meaningful cases, encoded into the bytes their target decodes back
/// to them. `fuzz/seeds/make-seeds.sh` writes them under `fuzz/seeds/`.
mod seeds {
    use std::time::Duration;

    use super::{lifecycle_bounds, roundtrip_bounds, Target};
    use crate::case::bounds::{
        LenClass, SizeClass, BUFFER_WEIGHTS, CONVERSATION_WEIGHTS, LEN_CLASSES, SIZE_CLASSES,
    };
    use crate::case::{
        Case, CaseBounds, ConnectionCase, Conversation, PauseScale, Payload, ReadPlan, WritePlan,
    };
    use crate::scenario::{self, ScenarioFile};

    /// One seed file: its name under `fuzz/seeds/TARGET/` and its bytes.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Seed {
        /// The file name.
        pub name: &'static str,
        /// The file's bytes.
        pub bytes: Vec<u8>,
    }

    /// Writes the bytes that `arbitrary` decodes into given values: each method mirrors one read
    /// of the decoders in `crate::case`, in the same order.
    struct Encoder<'b> {
        out: Vec<u8>,
        bounds: &'b CaseBounds,
    }

    impl Encoder<'_> {
        /// `value` for `Unstructured::int_in_range(lo..=hi)`: the offset from `lo`, big-endian, in
        /// as many bytes as the range needs.
        fn int(&mut self, lo: u64, hi: u64, value: u64) {
            assert!(lo <= value && value <= hi, "{value} outside {lo}..={hi}");
            let delta = hi - lo;
            let width = (0..8).take_while(|&k| delta >> (8 * k) > 0).count();
            let offset = (value - lo).to_be_bytes();
            self.out.extend_from_slice(&offset[8 - width..]);
        }

        /// The roll that makes a weight table pick `value`.
        fn pick<T: PartialEq>(&mut self, table: &[(u32, T)], value: &T) {
            let at = table
                .iter()
                .position(|(_, v)| v == value)
                .expect("in the table");
            let roll: u32 = table[..at].iter().map(|(w, _)| w).sum();
            self.int(0, 99, u64::from(roll));
        }

        fn payload(&mut self, payload: &Payload, max_len: usize) {
            let b = self.bounds;
            let max_len = max_len.min(b.max_payload_len);
            match payload {
                Payload::Literal(bytes) => {
                    let class = if bytes.len() <= 16 {
                        LenClass::Tiny
                    } else {
                        LenClass::Literal
                    };
                    self.pick(&LEN_CLASSES, &class);
                    let (_, range) = class.range(max_len, b);
                    self.int(
                        *range.start() as u64,
                        *range.end() as u64,
                        bytes.len() as u64,
                    );
                    self.out.extend_from_slice(bytes);
                }
                Payload::Generated { len, seed } => {
                    let class = if *len <= 64 * 1024 {
                        LenClass::Medium
                    } else {
                        LenClass::Large
                    };
                    self.pick(&LEN_CLASSES, &class);
                    let (_, range) = class.range(max_len, b);
                    self.int(*range.start() as u64, *range.end() as u64, *len as u64);
                    self.out.extend_from_slice(&seed.to_le_bytes());
                }
            }
        }

        fn conversation(&mut self, conversation: &Conversation) {
            let b = self.bounds;
            self.pick(&CONVERSATION_WEIGHTS, &conversation.kind());
            match conversation {
                Conversation::Stream { payload } | Conversation::Close { payload } => {
                    self.payload(payload, b.max_payload_len);
                }
                Conversation::Interactive { messages } => {
                    self.int(1, b.max_rounds as u64, messages.len() as u64);
                    for m in messages {
                        self.payload(m, b.max_payload_len / b.max_rounds);
                    }
                }
            }
        }

        fn sizes(&mut self, sizes: &[usize]) {
            let b = self.bounds;
            self.int(1, b.max_plan_len as u64, sizes.len() as u64);
            for &s in sizes {
                let class = if s == b.max_chunk_len {
                    SizeClass::Max
                } else if s <= 16 {
                    SizeClass::Small
                } else {
                    SizeClass::Any
                };
                self.pick(&SIZE_CLASSES, &class);
                let range = class.range(b);
                self.int(*range.start() as u64, *range.end() as u64, s as u64);
            }
        }

        fn pauses(&mut self, pauses: &[Duration]) {
            let b = self.bounds;
            if pauses.is_empty() {
                self.int(0, 99, 0);
                return;
            }
            self.int(0, 99, 99);
            self.int(1, b.max_plan_len as u64, pauses.len() as u64);
            let max_us = b.max_pause.as_micros() as u64;
            for p in pauses {
                self.int(0, max_us, p.as_micros() as u64);
            }
        }

        fn buffer(&mut self, size: Option<u32>) {
            let b = self.bounds;
            let table = [
                (BUFFER_WEIGHTS[0], 0),
                (BUFFER_WEIGHTS[1], 1),
                (BUFFER_WEIGHTS[2], 2),
            ];
            match size {
                None => self.pick(&table, &0),
                Some(s) if s == b.min_socket_buffer => self.pick(&table, &1),
                Some(s) => {
                    self.pick(&table, &2);
                    let (lo, hi) = (b.min_socket_buffer, b.max_socket_buffer);
                    self.int(u64::from(lo), u64::from(hi), u64::from(s));
                }
            }
        }

        fn write_plan(&mut self, plan: &WritePlan) {
            self.sizes(&plan.chunks);
            self.pauses(&plan.pauses);
            self.out.push(u8::from(plan.nodelay));
            self.buffer(plan.send_buffer);
            self.buffer(plan.recv_buffer);
        }

        fn read_plan(&mut self, plan: &ReadPlan) {
            self.sizes(&plan.sizes);
            self.pauses(&plan.pauses);
        }

        fn connection(&mut self, conn: &ConnectionCase) {
            self.conversation(&conn.conversation);
            self.write_plan(&conn.write);
            self.read_plan(&conn.read);
        }
    }

    /// The bytes that `ConnectionCase::arbitrary_with(u, bounds, name)` decodes into `conn`
    /// (name aside), when `conn` lies within `bounds` and its pauses are whole microseconds.
    pub fn encode_connection(conn: &ConnectionCase, bounds: &CaseBounds) -> Vec<u8> {
        let bounds = bounds.normalized();
        let mut e = Encoder {
            out: Vec::new(),
            bounds: &bounds,
        };
        e.connection(conn);
        e.out
    }

    /// The bytes that `Case::arbitrary_with(u, bounds)` decodes into `case`, under the same
    /// conditions as [`encode_connection`], with connections named `c0`, `c1`, ….
    pub fn encode_case(case: &Case, bounds: &CaseBounds) -> Vec<u8> {
        let bounds = bounds.normalized();
        let mut e = Encoder {
            out: Vec::new(),
            bounds: &bounds,
        };
        e.int(
            1,
            bounds.max_connections as u64,
            case.connections.len() as u64,
        );
        for conn in &case.connections {
            e.connection(conn);
        }
        e.out
    }

    fn literal(bytes: &[u8]) -> Payload {
        Payload::Literal(bytes.to_vec())
    }

    fn us(n: u64) -> Duration {
        Duration::from_micros(n)
    }

    fn conn(name: &str, conversation: Conversation) -> ConnectionCase {
        let b = CaseBounds::fuzzing();
        let mut c = ConnectionCase::new(name, conversation);
        c.write.chunks = vec![b.max_chunk_len];
        c.read.sizes = vec![b.max_chunk_len];
        c
    }

    /// The cases behind the `roundtrip` seeds: each decodes, as its target plays it, to itself.
    pub(super) fn roundtrip_cases() -> Vec<(&'static str, ConnectionCase)> {
        let mut hello = conn(
            "c0",
            Conversation::Interactive {
                messages: vec![literal(b"hello, world\n")],
            },
        );
        hello.write.nodelay = false;

        let mut one_byte = conn(
            "c0",
            Conversation::Interactive {
                messages: vec![
                    literal(b"GET / HTTP/1.0\r\n\r\n"),
                    literal(b"a second message"),
                ],
            },
        );
        one_byte.write.chunks = vec![1];
        one_byte.write.nodelay = true;
        one_byte.read.sizes = vec![1];

        let mut large = conn(
            "c0",
            Conversation::Interactive {
                messages: vec![Payload::generated(600, 7), literal(b"tail")],
            },
        );
        large.write.chunks = vec![256, 3];
        large.read.sizes = vec![100, 1];

        let mut paused = conn(
            "c0",
            Conversation::Interactive {
                messages: vec![literal(b"ping"), literal(b"pong"), literal(b"0123456789")],
            },
        );
        paused.write.chunks = vec![2, 5];
        paused.write.pauses = vec![us(500), us(0)];
        paused.write.nodelay = true;
        paused.read.sizes = vec![3];
        paused.read.pauses = vec![us(250)];

        let empty = conn(
            "c0",
            Conversation::Interactive {
                messages: vec![literal(b""), literal(b"x"), literal(b"")],
            },
        );

        let mut binary = conn(
            "c0",
            Conversation::Interactive {
                messages: vec![Payload::Literal((0..=255).collect())],
            },
        );
        binary.write.chunks = vec![3, 16];
        binary.read.sizes = vec![16, 5];
        vec![
            ("hello", hello),
            ("one-byte-chunks", one_byte),
            ("generated-then-tail", large),
            ("paused-rounds", paused),
            ("empty-rounds", empty),
            ("all-byte-values", binary),
        ]
    }

    /// The cases behind the `roundtrip_lifecycle` seeds.
    pub(super) fn lifecycle_cases() -> Vec<(&'static str, Case)> {
        let case = |connections: Vec<ConnectionCase>| Case {
            connections,
            pause_scale: lifecycle_bounds().pause_scale,
            hold: None,
        };
        let stream = conn(
            "c0",
            Conversation::Stream {
                payload: literal(b"hello, world\n"),
            },
        );
        let empty_stream = conn(
            "c0",
            Conversation::Stream {
                payload: literal(b""),
            },
        );
        let mut close = conn(
            "c1",
            Conversation::Close {
                payload: Payload::generated(8_000, 3),
            },
        );
        close.write.chunks = vec![1000];
        let mut rounds = conn(
            "c0",
            Conversation::Interactive {
                messages: vec![literal(b"one"), literal(b"two"), literal(b"three")],
            },
        );
        rounds.write.chunks = vec![1];
        rounds.write.nodelay = true;
        rounds.write.send_buffer = Some(4096);
        rounds.write.recv_buffer = Some(8192);
        let mut small_buffers = conn(
            "c2",
            Conversation::Stream {
                payload: Payload::generated(12_000, 11),
            },
        );
        small_buffers.write.send_buffer = Some(4096);
        small_buffers.read.sizes = vec![1000];
        let mut c1 = stream.clone();
        c1.name = "c1".into();
        vec![
            ("stream", case(vec![stream])),
            ("empty-stream", case(vec![empty_stream])),
            (
                "stream-and-close",
                case(vec![conn_named(c1.clone(), "c0"), close]),
            ),
            ("three-at-once", case(vec![rounds, c1, small_buffers])),
        ]
    }

    fn conn_named(mut c: ConnectionCase, name: &str) -> ConnectionCase {
        c.name = name.into();
        c
    }

    /// The curated seeds of `target`.
    pub fn seeds(target: Target) -> Vec<Seed> {
        match target {
            Target::Roundtrip => roundtrip_cases()
                .into_iter()
                .map(|(name, c)| Seed {
                    name,
                    bytes: encode_connection(&c, &roundtrip_bounds()),
                })
                .collect(),
            Target::RoundtripLifecycle => lifecycle_cases()
                .into_iter()
                .map(|(name, c)| Seed {
                    name,
                    bytes: encode_case(&c, &lifecycle_bounds()),
                })
                .collect(),
            Target::RawStream => vec![
                Seed {
                    name: "hello",
                    bytes: b"hello, world\n".to_vec(),
                },
                Seed {
                    name: "http-request",
                    bytes: b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec(),
                },
                Seed {
                    name: "all-byte-values",
                    bytes: (0..=255).collect(),
                },
                Seed {
                    name: "one-byte",
                    bytes: vec![0],
                },
            ],
            Target::ScenarioParse => {
                let mut seeds: Vec<Seed> = lifecycle_cases()
                    .into_iter()
                    .map(|(name, c)| Seed {
                        name,
                        bytes: scenario::print_case(&c).into_bytes(),
                    })
                    .collect();
                let mut paused = Case {
                    connections: vec![roundtrip_cases().swap_remove(3).1],
                    pause_scale: PauseScale::new(1, 100).unwrap_or(PauseScale::ONE),
                    hold: None,
                };
                paused.connections[0].write.recv_buffer = Some(65536);
                let file = ScenarioFile::from_case(&paused)
                    .with_seed(42)
                    .with_target("127.0.0.1:7000")
                    .with_divergence("connection c0: first difference at offset 17\nsecond line")
                    .with_comment("pins down: a 1-byte chunk after a large one");
                seeds.push(Seed {
                    name: "header-and-pauses",
                    bytes: scenario::print(&file).into_bytes(),
                });
                seeds.push(Seed {
                    name: "escapes",
                    bytes: concat!(
                        "# echo-harness scenario v1\n",
                        "connection c0\r\n",
                        "  send \"tab\\there \\\"quoted\\\" \\x00\\xff \\u{1F600} # not a comment\"\n",
                        "  expect echo   # a trailing comment\n",
                        "  send hex 00ff 10 20\n",
                        "  expect echo\n",
                        "  shutdown write\n",
                        "  expect eof\n",
                    )
                    .as_bytes()
                    .to_vec(),
                });
                seeds.push(Seed {
                    name: "error-unknown-directive",
                    bytes: b"# echo-harness scenario v1\nconnection c0\n  sned \"x\"\n".to_vec(),
                });
                seeds.push(Seed {
                    name: "through-slices",
                    bytes: concat!(
                        "# echo-harness scenario v2\n",
                        "through seed 7 up:slice=1..16,delay=0..1ms down:latency=1ms@0.5\n",
                        "connection a\n",
                        "a send \"hi\"\n",
                        "a expect echo\n",
                        "a close\n",
                    )
                    .as_bytes()
                    .to_vec(),
                });
                seeds
            }
            Target::ProxyRoundtrip => {
                let cases = lifecycle_cases();
                let case = |name: &str| {
                    cases
                        .iter()
                        .find(|(n, _)| *n == name)
                        .map(|(_, c)| c.clone())
                        .expect("a lifecycle case")
                };
                proxy_chains()
                    .into_iter()
                    .flat_map(|(chain_name, chain_bytes)| {
                        ["stream", "stream-and-close"].map(|case_name| Seed {
                            name: proxy_seed_name(chain_name, case_name),
                            bytes: super::encode_proxy_input(&chain_bytes, &case(case_name)),
                        })
                    })
                    .collect()
            }
        }
    }

    /// A seed file name from a chain's and a case's (leaked: seed names are `&'static`, and
    /// there are a dozen of them).
    fn proxy_seed_name(chain: &str, case: &str) -> &'static str {
        Box::leak(format!("{chain}--{case}").into_boxed_str())
    }

    /// One chain of each kind of toxic, as the bytes `arbitrary` decodes it from: found by
    /// searching the crate's frozen generator, so they are the same on every machine and in
    /// every version that keeps the decoder.
    pub(super) fn proxy_chains() -> Vec<(&'static str, Vec<u8>)> {
        use arbitrary::{Arbitrary, Unstructured};

        use crate::proxy::{Direction, ResetAfter, ToxicChain, ToxicKind, TOXICITY_ALWAYS};
        type Wanted = fn(&ToxicKind) -> bool;
        // The destructive ones act within the first bytes of the seeds' cases, so that the
        // fuzzer starts from faults that bite.
        let wanted: [(&'static str, Wanted); 6] = [
            ("slice", |k| matches!(k, ToxicKind::Slice { .. })),
            ("latency", |k| matches!(k, ToxicKind::Latency { .. })),
            ("bandwidth", |k| matches!(k, ToxicKind::Bandwidth { .. })),
            ("slow-close", |k| matches!(k, ToxicKind::SlowClose { .. })),
            (
                "limit",
                |k| matches!(k, ToxicKind::Limit { bytes } if *bytes < 8),
            ),
            (
                "reset",
                |k| matches!(k, ToxicKind::Reset(ResetAfter::Bytes(bytes)) if *bytes < 8),
            ),
        ];
        let mut chains = vec![("no-toxics", Vec::new())];
        for (name, is_wanted) in wanted {
            // The first generated input, shortest first, that decodes to exactly one such
            // toxic, acting both ways on every connection. (A short input runs out early and
            // `arbitrary` reads zeros after its end: that is what makes the small limits.)
            let found = (4..=24usize)
                .flat_map(|len| {
                    (0..20_000u64).map(move |seed| crate::generator::generate(len, seed))
                })
                .find(|bytes| {
                    ToxicChain::arbitrary(&mut Unstructured::new(bytes)).is_ok_and(|chain| {
                        matches!(chain.toxics(), [t] if is_wanted(&t.kind)
                            && t.direction == Direction::Both
                            && t.toxicity == TOXICITY_ALWAYS)
                    })
                })
                .expect("the generator makes every kind of toxic");
            chains.push((name, found));
        }
        chains
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where the committed seeds live, beside the fuzz targets.
    fn seeds_dir() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds")
    }

    /// Writes the seed corpus: `fuzz/seeds/make-seeds.sh` runs this, with the folder to write
    /// in `ECHO_HARNESS_SEEDS_DIR`.
    #[test]
    #[ignore = "writes files; run by fuzz/seeds/make-seeds.sh"]
    fn write_seed_corpus() {
        let dir = std::env::var_os("ECHO_HARNESS_SEEDS_DIR")
            .map_or_else(seeds_dir, std::path::PathBuf::from);
        for target in Target::ALL {
            let folder = dir.join(target.name());
            std::fs::create_dir_all(&folder).unwrap();
            for seed in seeds(target) {
                std::fs::write(folder.join(seed.name), &seed.bytes).unwrap();
            }
        }
    }

    #[test]
    fn the_committed_seeds_are_the_ones_the_code_makes() {
        let dir = seeds_dir();
        if !dir.is_dir() {
            return; // a packaged crate has no fuzz/ folder
        }
        for target in Target::ALL {
            for seed in seeds(target) {
                let path = dir.join(target.name()).join(seed.name);
                let committed = std::fs::read(&path).unwrap_or_default();
                assert!(
                    committed == seed.bytes,
                    "{} is stale: run fuzz/seeds/make-seeds.sh",
                    path.display()
                );
            }
        }
    }

    #[test]
    fn target_names_parse_and_unknown_ones_are_named() {
        for target in Target::ALL {
            assert_eq!(target.name().parse::<Target>(), Ok(target));
        }
        let err = "roundtrip2".parse::<Target>().unwrap_err();
        assert!(err.to_string().contains("`roundtrip2`"), "{err}");
    }

    #[test]
    fn the_seeds_decode_to_the_cases_they_were_made_from() {
        for (name, conn) in seeds::roundtrip_cases() {
            let bytes = encode_connection(&conn, &roundtrip_bounds());
            let case = decode(Target::Roundtrip, &bytes).expect(name);
            assert_eq!(case.connections, vec![conn], "{name}");
            assert_eq!(case.pause_scale, roundtrip_bounds().pause_scale);
        }
        for (name, case) in seeds::lifecycle_cases() {
            let bytes = encode_case(&case, &lifecycle_bounds());
            assert_eq!(
                decode(Target::RoundtripLifecycle, &bytes),
                Some(case),
                "{name}"
            );
        }
    }

    #[cfg(not(feature = "fault-injection"))]
    #[test]
    fn every_seed_passes_its_target() {
        for target in Target::ALL {
            for seed in seeds(target) {
                assert_eq!(
                    fuzz(target, &seed.bytes),
                    InputVerdict::Passed,
                    "{target} {}",
                    seed.name
                );
            }
        }
    }

    #[test]
    fn oversized_and_empty_inputs_are_rejected_unplayed() {
        assert_eq!(raw_stream(&[]), InputVerdict::Rejected);
        assert_eq!(
            raw_stream(&vec![1; MAX_RAW_LEN + 1]),
            InputVerdict::Rejected
        );
        let long = vec![0; MAX_INPUT_LEN + 1];
        for target in [
            Target::Roundtrip,
            Target::RoundtripLifecycle,
            Target::ScenarioParse,
            Target::ProxyRoundtrip,
        ] {
            assert_eq!(fuzz(target, &long), InputVerdict::Rejected, "{target}");
            assert!(artifact_to_scenario(target, &long).is_none());
        }
    }

    #[cfg(not(feature = "fault-injection"))]
    #[test]
    fn arbitrary_inputs_pass_on_the_kept_connection() {
        // A sweep of made-up inputs through the kept connection, as the fuzzer would send them.
        for len in [0usize, 1, 7, 30, 100, 400] {
            for fill in [0u8, 0x5a, 0xff] {
                let input: Vec<u8> = (0..len)
                    .map(|i| fill.wrapping_add((i as u8).wrapping_mul(37)))
                    .collect();
                assert_eq!(roundtrip(&input), InputVerdict::Passed);
                assert_eq!(roundtrip_lifecycle(&input), InputVerdict::Passed);
                assert_eq!(scenario_parse(&input), InputVerdict::Passed);
            }
        }
    }

    #[cfg(not(feature = "fault-injection"))]
    #[test]
    fn an_artifact_replays_on_a_fresh_connection_and_as_a_scenario() {
        // What `replay --artifact roundtrip FILE` and `--print` do with a crash file.
        let (_, conn) = seeds::roundtrip_cases().swap_remove(1);
        let artifact = encode_connection(&conn, &roundtrip_bounds());
        assert_eq!(roundtrip(&artifact), InputVerdict::Passed);
        assert_eq!(
            reproduce(Target::Roundtrip, &artifact).unwrap(),
            InputVerdict::Passed
        );
        let file = artifact_to_scenario(Target::Roundtrip, &artifact).unwrap();
        assert!(file.comments[0].contains("target roundtrip"));
        let text = scenario::print(&file);
        let case = scenario::parse_case(&text).unwrap();
        assert_eq!(case, decode(Target::Roundtrip, &artifact).unwrap());
        // The player plays it on a connection of its own, ending and all.
        let server = EchoServer::spawn(ServerConfig::ephemeral()).unwrap();
        let addr = server.local_addr();
        let played = &case;
        let outcome = crate::roundtrip::block_on(|| async move {
            play(played, addr, &PlayOptions::default()).await
        })
        .unwrap();
        assert_eq!(outcome.bytes_verified(), case.total_len());
        // Inside a runtime, reproduce still works.
        let again = crate::roundtrip::block_on(|| async {
            reproduce(Target::Roundtrip, &artifact).map_err(|e| e.to_string())
        });
        assert_eq!(again, Ok(InputVerdict::Passed));
    }

    /// `proxy_roundtrip` reads its chain from the front of the input; a destructive chain may
    /// fail the case but not the target, and its artifact becomes a scenario with the chain in
    /// a `through` line, which `run` plays through a proxy again.
    #[cfg(not(feature = "fault-injection"))]
    #[test]
    fn proxy_roundtrip_decodes_its_chain_and_tolerates_destruction() {
        let chains = seeds::proxy_chains();
        let (_, case) = seeds::lifecycle_cases().swap_remove(0);
        for (name, chain_bytes) in &chains {
            let input = encode_proxy_input(chain_bytes, &case);
            let (decoded, through) = proxy_input(&input).expect(name);
            assert_eq!(decoded, case, "{name}");
            let kinds: Vec<&str> = through
                .chain
                .toxics()
                .iter()
                .map(|t| t.kind.name())
                .collect();
            match *name {
                "no-toxics" => assert!(kinds.is_empty()),
                kind => assert_eq!(kinds, [kind]),
            }
            assert_eq!(proxy_roundtrip(&input), InputVerdict::Passed, "{name}");
            let file = artifact_to_scenario(Target::ProxyRoundtrip, &input).unwrap();
            assert_eq!(file.through.as_ref(), Some(&through));
            let reparsed = scenario::parse(&scenario::print(&file)).unwrap();
            assert_eq!(reparsed, file, "{name}");
        }
    }

    #[test]
    fn scenario_parse_round_trips_and_survives_garbage() {
        for text in [
            "",
            "# echo-harness scenario v1\n",
            "# echo-harness scenario v1\nconnection c0\n  send \"\\x",
            "# echo-harness scenario v2\n",
            "\u{feff}# echo-harness scenario v1\r\n",
        ] {
            assert_eq!(
                scenario_parse(text.as_bytes()),
                InputVerdict::Passed,
                "{text:?}"
            );
        }
        assert_eq!(scenario_parse(&[0xff, 0xfe, b'#']), InputVerdict::Passed);
    }

    /// A crash file `roundtrip` found from an empty corpus with the planted bug (`-seed=1`):
    /// six bytes `fa fa fa fa fa 4a` written in chunks of 2 then 4, with Nagle on.
    const FOUND_BY_THE_FUZZER: &[u8] = &[
        0x50, 0x00, 0x4a, 0xfa, 0xfa, 0xfa, 0xfa, 0xfa, 0x4a, 0xff, 0x26, 0x51, 0x00, 0x51,
    ];

    /// The planted bug (feature `fault-injection`) needs fragmentation: the fuzzer's artifact
    /// and a message written in short pieces fail on a fresh connection every time; the same
    /// bytes, or short messages, written in one go never do.
    #[cfg(feature = "fault-injection")]
    #[test]
    fn the_planted_fault_is_found_by_fragmented_rounds_only() {
        let message: Vec<u8> = (0..12u8).collect();
        let mut conn = ConnectionCase::new(
            "c0",
            Conversation::Interactive {
                messages: vec![Payload::Literal(message.clone())],
            },
        );
        conn.write.chunks = vec![1, 5];
        conn.read.sizes = vec![CaseBounds::fuzzing().max_chunk_len];
        let pieces = encode_connection(&conn, &roundtrip_bounds());
        for artifact in [FOUND_BY_THE_FUZZER, &pieces] {
            for _ in 0..10 {
                let failure = reproduce(Target::Roundtrip, artifact).unwrap_err();
                assert!(
                    matches!(&failure, FuzzFailure::Divergence(d) if d.kind.name() == "mismatch"),
                    "{failure}"
                );
            }
        }
        for len in [1, 3, 7, 8, 12] {
            for _ in 0..3 {
                assert_eq!(
                    reproduce(Target::RawStream, &message[..len]).unwrap(),
                    InputVerdict::Passed
                );
            }
        }
    }

    #[cfg(not(feature = "fault-injection"))]
    #[test]
    fn the_fuzzers_artifact_passes_without_the_planted_bug() {
        let file = artifact_to_scenario(Target::Roundtrip, FOUND_BY_THE_FUZZER).unwrap();
        let case = file.to_case().unwrap();
        let conn = &case.connections[0];
        assert_eq!(conn.write.chunks, [2, 16384, 1, 16384]);
        assert_eq!(conn.conversation.total_len(), 6);
        assert_eq!(
            reproduce(Target::Roundtrip, FOUND_BY_THE_FUZZER).unwrap(),
            InputVerdict::Passed
        );
    }
}
