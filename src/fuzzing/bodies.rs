//! The ways a [`Harness`] plays a decoded case: as rounds on one connection, as a whole case
//! through the player with the health checks the target allows, or through the proxy.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::harness::Harness;
use super::{
    Connection, FuzzFailure, DESTRUCTIVE_NO_PROGRESS_TIMEOUT, HEALTH_WAIT, ITERATION_LIMIT,
    LIFECYCLE_LIMIT, NO_PROGRESS_TIMEOUT,
};
use crate::case::Case;
use crate::proxy::Through;
use crate::roundtrip::{
    not_closed, play_script, Divergence, Lockstep, PlayOptions, ProxyInFront, Session,
};
use crate::script::Script;
use crate::server::ConnectionEnd;

impl Harness {
    /// Plays the one connection of `case` as rounds, on the kept connection or a fresh one.
    pub(super) fn rounds(&self, case: Case, connection: Connection) -> Result<(), FuzzFailure> {
        let mut kept = self.session();
        let reuse = match connection {
            Connection::Kept => kept.take(),
            Connection::Fresh => None,
        };
        let mut session = match reuse {
            Some(session) => session,
            None => Session::connect(self.target.addr(), ITERATION_LIMIT)
                .map_err(FuzzFailure::Connect)?,
        };
        if connection == Connection::Fresh {
            // A replay cuts the stream the finest way the plan allows, every time; the fuzzer's
            // chunks may have joined on the way, by chance (see `Session::lockstep`). Where
            // the kernel cannot be asked (not Linux), it plays as the fuzzer did.
            let how = Lockstep::preferring(self.target.own_stats());
            if let Err(e) = session.lockstep(how) {
                tracing::warn!("{e}; replaying without lockstep");
            }
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

    /// Plays `case` on fresh connections through the player, then checks the server's health
    /// as far as the harness can see it.
    pub(super) fn lifecycle(&self, case: &Case) -> Result<(), FuzzFailure> {
        let _serialized = self.session();
        let addr = self.target.addr();
        let mut options = PlayOptions {
            timeout: NO_PROGRESS_TIMEOUT,
            connect_timeout: NO_PROGRESS_TIMEOUT,
            ..PlayOptions::default()
        };
        // The player's check that the target closed every connection (sock_diag) runs last,
        // once the server's own records say it has: asked right after the client's close,
        // before the server's thread has run, it found the socket still closing and slept a
        // poll interval, a millisecond at the timer's resolution, on most inputs.
        let leak_bound = options.leak_bound.take();
        let script = Script::from_case(case);
        let outcome = self.play_bounded(case, &script, addr, &options)?;
        if let Some(stats) = self.target.own_stats() {
            for (conn, played) in case.connections.iter().zip(&outcome.connections) {
                let record = stats
                    .wait_closed(played.local_addr, HEALTH_WAIT)
                    .ok_or_else(|| FuzzFailure::NotClosed {
                        connection: conn.name.clone(),
                        waited: HEALTH_WAIT,
                    })?;
                let clean = match record.end {
                    Some(ConnectionEnd::ClientClosed) => true,
                    // A client that closes with unread bytes in flight may see its close become
                    // a reset on the way; one that aborts resets on purpose.
                    Some(ConnectionEnd::Reset) => matches!(
                        conn.conversation.kind(),
                        crate::case::ConversationKind::Close | crate::case::ConversationKind::Abort
                    ),
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
        }
        self.server_settles()?;
        // Where `play_script` would have checked it: on loopback (and never through a proxy,
        // which this play is not).
        match leak_bound {
            Some(bound) if addr.ip().is_loopback() => self
                .runtime
                .block_on(not_closed(&script, addr, outcome, bound))
                .map(drop)
                .map_err(|d| FuzzFailure::Divergence(Box::new(d))),
            _ => Ok(()),
        }
    }

    /// Plays `script`, the script of `case`, within [`LIFECYCLE_LIMIT`]; running over it is
    /// a stall.
    fn play_bounded(
        &self,
        case: &Case,
        script: &Script,
        addr: std::net::SocketAddr,
        options: &PlayOptions,
    ) -> Result<crate::roundtrip::Outcome, FuzzFailure> {
        let played = self.runtime.block_on(async {
            tokio::time::timeout(LIFECYCLE_LIMIT, play_script(script, addr, options)).await
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

    /// Waits, at most [`HEALTH_WAIT`], until a built-in server at the end of the path counts no
    /// open connection: the target holds none of it between inputs. Of a server it cannot see
    /// into, it checks nothing.
    fn server_settles(&self) -> Result<(), FuzzFailure> {
        let Some(stats) = self.target.end_stats() else {
            return Ok(());
        };
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
        let proxy = self.proxy()?;
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
        match self.play_bounded(case, &Script::from_case(case), proxy.local_addr(), &options) {
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
