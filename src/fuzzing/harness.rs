//! [`Harness`]: what a fuzz target keeps for the life of the process — the server it fuzzes
//! (the built-in one, yours, your proxy, or one the environment names), a current-thread
//! runtime, the connection kept open across inputs, and `proxy_roundtrip`'s proxy — and the
//! public face of the target bodies for a server of yours.
//!
//! ```no_run
//! use std::sync::LazyLock;
//! use echo_harness::fuzzing::Harness;
//!
//! # mod my_server { pub async fn run(_: tokio::net::TcpListener, _: impl std::future::Future) {} }
//! static H: LazyLock<Harness> = LazyLock::new(|| Harness::tokio(my_server::run));
//! // In `fuzz/fuzz_targets/my_server.rs`:
//! // fuzz_target!(|data: &[u8]| -> Corpus { H.roundtrip(data).into() });
//! # let _ = H.roundtrip(b"");
//! ```

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use super::target_server::{self, built_in_server, TargetServer};
use super::{
    decode, proxy_input, report, scenario_round_trip, Connection, FuzzFailure, FuzzTarget,
    InputVerdict,
};
use crate::background::{BackgroundServer, ServeResult, Shutdown, StopFlag};
use crate::proxy::{Proxy, ProxyConfig, ProxyHandle};
use crate::roundtrip::Session;

/// A server under fuzzing and everything kept with it for the life of the process. Build it
/// once (a `static LazyLock`), then call a target body per input: [`roundtrip`],
/// [`roundtrip_lifecycle`] or [`raw_stream`], the same bodies, decoders, bounds and oracles as
/// this crate's own fuzz targets (see the [module docs](super)).
///
/// The constructors panic, with a message saying why, when the server cannot start: in a
/// fuzz target or a test that is the report wanted.
///
/// [`roundtrip`]: Harness::roundtrip
/// [`roundtrip_lifecycle`]: Harness::roundtrip_lifecycle
/// [`raw_stream`]: Harness::raw_stream
pub struct Harness {
    /// The client side's runtime: current-thread, so an input runs on the fuzzer's own thread
    /// with no hand-off to another.
    pub(super) runtime: tokio::runtime::Runtime,
    pub(super) target: TargetServer,
    /// The connection kept open across inputs (`None` before the first and after a failure).
    /// Locked for the whole of every input, which also keeps concurrent callers (tests) from
    /// disturbing each other's connection counts.
    session: Mutex<Option<Session>>,
    /// `proxy_roundtrip`'s proxy in front of the target, started on its first input.
    proxy: OnceLock<Arc<ProxyHandle>>,
}

impl std::fmt::Debug for Harness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Harness")
            .field("target", &self.target.describe())
            .finish_non_exhaustive()
    }
}

static ROUNDTRIP: OnceLock<Harness> = OnceLock::new();
static LIFECYCLE: OnceLock<Harness> = OnceLock::new();
static RAW_STREAM: OnceLock<Harness> = OnceLock::new();
static PROXY: OnceLock<Harness> = OnceLock::new();

impl Harness {
    /// Fuzzes this crate's built-in echo server, in process (with feature `fault-injection`,
    /// carrying its planted bug).
    pub fn built_in() -> Harness {
        started(built_in_server().map(TargetServer::BuiltIn))
    }

    /// Fuzzes your async server, in process, with coverage: `serve(listener, shutdown)` serves
    /// the bound listener until `shutdown` resolves (the mini-redis shape), on a runtime of its
    /// own ([`BackgroundServer::tokio`]).
    pub fn tokio<F, Fut>(serve: F) -> Harness
    where
        F: FnOnce(tokio::net::TcpListener, Shutdown) -> Fut + Send + 'static,
        Fut: Future,
        Fut::Output: ServeResult,
    {
        started(yours(BackgroundServer::tokio(serve)))
    }

    /// Fuzzes your blocking server, in process, with coverage: `serve(listener, stop)` serves
    /// the bound listener on a thread of its own ([`BackgroundServer::blocking`]).
    pub fn blocking<F, R>(serve: F) -> Harness
    where
        F: FnOnce(std::net::TcpListener, StopFlag) -> R + Send + 'static,
        R: ServeResult,
    {
        started(yours(BackgroundServer::blocking(serve)))
    }

    /// Fuzzes your async proxy, in process: the harness starts the built-in echo server and
    /// `serve(listener, upstream, shutdown)` forwards every connection of `listener` to
    /// `upstream`. Besides the echo, after every `roundtrip_lifecycle` case the echo server
    /// must count no open connection: a proxy that never closes its upstream side is caught.
    pub fn tokio_proxy<F, Fut>(serve: F) -> Harness
    where
        F: FnOnce(tokio::net::TcpListener, SocketAddr, Shutdown) -> Fut + Send + 'static,
        Fut: Future,
        Fut::Output: ServeResult,
    {
        started(built_in_server().and_then(|upstream| {
            let to = upstream.local_addr();
            let proxy =
                BackgroundServer::tokio(move |listener, shutdown| serve(listener, to, shutdown))
                    .map_err(|e| FuzzFailure::Start(format!("your proxy: {e}")))?;
            Ok(TargetServer::YourProxy { proxy, upstream })
        }))
    }

    /// Fuzzes the server listening at `addr`, out of process: no coverage of it, but the
    /// corpus, fork mode and minimisation work.
    pub fn address(addr: SocketAddr) -> Harness {
        started(Ok(TargetServer::Address(addr)))
    }

    /// Starts `command` once (as `check --spawn` does: `{addr}` or `{port}`, readiness from
    /// its output) and fuzzes it; it is killed with the fuzzer process.
    #[cfg(feature = "spawn")]
    pub fn spawn(command: &str) -> Harness {
        started(target_server::spawned(command))
    }

    /// The harness the environment asks for, if it asks: [`TARGET_ENV`] (an address) or
    /// [`SPAWN_ENV`] (a command). This crate's own fuzz targets use it, so they fuzz any
    /// server without a rebuild.
    ///
    /// [`TARGET_ENV`]: super::TARGET_ENV
    /// [`SPAWN_ENV`]: super::SPAWN_ENV
    pub fn from_env() -> Option<Harness> {
        match target_server::from_env() {
            Ok(target) => target.map(|t| started(Ok(t))),
            Err(failure) => panic!("echo-harness: {failure}"),
        }
    }

    /// The address inputs are played against.
    pub fn local_addr(&self) -> SocketAddr {
        self.target.addr()
    }

    /// The `roundtrip` body: decoded rounds on one connection kept open across inputs. Panics
    /// with a crash report when the input fails.
    pub fn roundtrip(&self, data: &[u8]) -> InputVerdict {
        self.fuzz(FuzzTarget::Roundtrip, data)
    }

    /// The `roundtrip_lifecycle` body: a decoded case on fresh connections, endings included,
    /// then the health checks the target allows (see [`tokio_proxy`](Harness::tokio_proxy)).
    pub fn roundtrip_lifecycle(&self, data: &[u8]) -> InputVerdict {
        self.fuzz(FuzzTarget::RoundtripLifecycle, data)
    }

    /// The `raw_stream` body: the input bytes, written in one go on the kept connection.
    pub fn raw_stream(&self, data: &[u8]) -> InputVerdict {
        self.fuzz(FuzzTarget::RawStream, data)
    }

    /// Runs `data` through `target`'s body and panics with a report (the crash libFuzzer
    /// records) if it fails.
    pub fn fuzz(&self, target: FuzzTarget, data: &[u8]) -> InputVerdict {
        match self.run(target, data, Connection::Kept) {
            Ok(verdict) => {
                report::count(target, verdict);
                verdict
            }
            Err(failure) => panic!("{}", report::crash_report(self, target, data, &failure)),
        }
    }

    /// Runs a crash file through `target`'s body again, on a fresh connection, in lockstep
    /// with the server, and says how it went: `Err` is the failure, if it reproduces. Call it
    /// from a `#[test]` to keep a crash as a regression test. Callable from anywhere, inside a
    /// tokio runtime too.
    pub fn reproduce(&self, target: FuzzTarget, data: &[u8]) -> Result<InputVerdict, FuzzFailure> {
        if tokio::runtime::Handle::try_current().is_ok() {
            // The harness drives its own runtime, which cannot be entered from inside another.
            return std::thread::scope(|scope| {
                match scope
                    .spawn(|| self.run(target, data, Connection::Fresh))
                    .join()
                {
                    Ok(result) => result,
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            });
        }
        self.run(target, data, Connection::Fresh)
    }

    /// The harness this crate's own target keeps: the environment's target, or the built-in
    /// server.
    pub(super) fn of(target: FuzzTarget) -> &'static Harness {
        let cell = match target {
            FuzzTarget::RoundtripLifecycle => &LIFECYCLE,
            FuzzTarget::RawStream => &RAW_STREAM,
            FuzzTarget::ProxyRoundtrip => &PROXY,
            _ => &ROUNDTRIP,
        };
        cell.get_or_init(|| Harness::from_env().unwrap_or_else(Harness::built_in))
    }

    /// The one function every body and every replay goes through.
    fn run(
        &self,
        target: FuzzTarget,
        data: &[u8],
        connection: Connection,
    ) -> Result<InputVerdict, FuzzFailure> {
        if target == FuzzTarget::ScenarioParse {
            return scenario_round_trip(data);
        }
        if target == FuzzTarget::ProxyRoundtrip {
            // The chain comes with the case: decoded once, both together.
            let Some((case, through)) = proxy_input(data) else {
                return Ok(InputVerdict::Rejected);
            };
            self.through_proxy(&case, through)?;
            return Ok(InputVerdict::Passed);
        }
        let Some(case) = decode(target, data) else {
            return Ok(InputVerdict::Rejected);
        };
        match target {
            FuzzTarget::RoundtripLifecycle => self.lifecycle(&case)?,
            _ => self.rounds(case, connection)?,
        }
        Ok(InputVerdict::Passed)
    }

    pub(super) fn session(&self) -> MutexGuard<'_, Option<Session>> {
        // A panic (a crash being reported) while an input held the lock leaves nothing
        // half-done that the next input could trip over: the session is replaced on failure.
        crate::sync::lock(&self.session)
    }

    /// `proxy_roundtrip`'s proxy in front of the target, on its own thread with one worker.
    pub(super) fn proxy(&self) -> Result<&Arc<ProxyHandle>, FuzzFailure> {
        if let Some(proxy) = self.proxy.get() {
            return Ok(proxy);
        }
        let proxy = Proxy::spawn(ProxyConfig {
            worker_threads: Some(1),
            closed_history: 16,
            ..ProxyConfig::new(self.target.addr())
        })
        .map_err(|e| FuzzFailure::Start(format!("the proxy: {e}")))?;
        Ok(self.proxy.get_or_init(|| Arc::new(proxy)))
    }
}

fn yours(server: std::io::Result<BackgroundServer>) -> Result<TargetServer, FuzzFailure> {
    server
        .map(TargetServer::Yours)
        .map_err(|e| FuzzFailure::Start(format!("your server: {e}")))
}

/// The harness around `target`, or a panic that says why there is none.
fn started(target: Result<TargetServer, FuzzFailure>) -> Harness {
    let built = target.and_then(|target| {
        let runtime = crate::runtime::build(Some(1))
            .map_err(|e| FuzzFailure::Start(format!("the client runtime: {e}")))?;
        Ok(Harness {
            runtime,
            target,
            session: Mutex::new(None),
            proxy: OnceLock::new(),
        })
    });
    match built {
        Ok(harness) => {
            #[cfg(fuzzing)]
            eprintln!("INFO: echo-harness: fuzzing {}", harness.target.describe());
            harness
        }
        Err(failure) => panic!("echo-harness: {failure}"),
    }
}
