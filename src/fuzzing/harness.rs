//! What each target keeps for the life of the process — its in-process echo server, a
//! current-thread runtime, the connection kept open across inputs, `proxy_roundtrip`'s proxy —
//! started once, on first use ([`Harness::of`]), and the ways it plays a case: as rounds on one
//! connection, as a whole case through the player with a health check after, or through the
//! proxy.

use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use super::{
    Connection, FuzzFailure, FuzzTarget, DESTRUCTIVE_NO_PROGRESS_TIMEOUT, HEALTH_WAIT,
    ITERATION_LIMIT, LIFECYCLE_LIMIT, NO_PROGRESS_TIMEOUT,
};
use crate::case::Case;
use crate::proxy::Through;
use crate::proxy::{Proxy, ProxyConfig, ProxyHandle};
use crate::roundtrip::{play, Divergence, PlayOptions, ProxyInFront, Session};
use crate::script::Script;
use crate::server::{ConnectionEnd, EchoServer, ServerConfig, ServerHandle};

/// What a target keeps for the life of the process.
pub(super) struct Harness {
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
    pub(super) fn of(target: FuzzTarget) -> Result<&'static Harness, FuzzFailure> {
        let cell = match target {
            FuzzTarget::RoundtripLifecycle => &LIFECYCLE,
            FuzzTarget::RawStream => &RAW_STREAM,
            FuzzTarget::ProxyRoundtrip => &PROXY,
            _ => &ROUNDTRIP,
        };
        if let Some(harness) = cell.get() {
            return Ok(harness);
        }
        let harness = Harness::start(target)?;
        // Should another thread have won the race, its harness is used and this one dropped.
        Ok(cell.get_or_init(|| harness))
    }

    fn start(target: FuzzTarget) -> Result<Harness, FuzzFailure> {
        let runtime =
            crate::runtime::build(Some(1)).map_err(|e| FuzzFailure::Start(e.to_string()))?;
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
            if super::FAULT_INJECTION { "ON" } else { "off" }
        );
        #[cfg(not(fuzzing))]
        let _ = target;
        let proxy = if target == FuzzTarget::ProxyRoundtrip {
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

    fn session(&self) -> MutexGuard<'_, Option<Session>> {
        // A panic (a crash being reported) while an input held the lock leaves nothing
        // half-done that the next input could trip over: the session is replaced on failure.
        crate::sync::lock(&self.session)
    }

    /// Plays the one connection of `case` as rounds, on the kept connection or a fresh one.
    pub(super) fn rounds(&self, case: Case, connection: Connection) -> Result<(), FuzzFailure> {
        let mut kept = self.session();
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
    pub(super) fn lifecycle(&self, case: &Case) -> Result<(), FuzzFailure> {
        let _serialized = self.session();
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
    pub(super) fn through_proxy(&self, case: &Case, through: Through) -> Result<(), FuzzFailure> {
        let _serialized = self.session();
        let proxy = self
            .proxy
            .as_ref()
            .ok_or_else(|| FuzzFailure::Start("no proxy in this harness".to_string()))?;
        let destructive = through.chain.is_destructive();
        proxy.restart_with(through.seed, through.chain.clone());
        let options = PlayOptions {
            timeout: if destructive {
                DESTRUCTIVE_NO_PROGRESS_TIMEOUT
            } else {
                NO_PROGRESS_TIMEOUT
            },
            connect_timeout: NO_PROGRESS_TIMEOUT,
            through: Some(ProxyInFront {
                proxy: Arc::clone(proxy),
                through,
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
