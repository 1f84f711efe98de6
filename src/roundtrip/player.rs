//! The one player: plays a [`Script`] over real sockets and returns what it measured, or a
//! [`Divergence`] naming the connection, the step and (for a timing failure) the other
//! connections held open meanwhile.
//!
//! Every connection is opened first, in order (through a proxy, each only once the proxy has
//! accepted the one before), and held open together. Then the script's lanes play at the same
//! time, each a future that runs its steps in order, and each connection's writer is a future
//! that writes what the lanes hand it, by the write plan, in the background. All of them are
//! polled by the caller's task: no task or thread is spawned per play or per connection.
//!
//! A lane that fails stops; the others play on to their end or their own failure, as every
//! wait is bounded. Of several failures the one with the most telling evidence is reported.
//! [`play_script_confirmed`] holds the one confirmation rule: a failure whose only evidence is
//! time is played again, the same script with the same lanes and cross-connection order, at
//! four times the timeouts, and counts only if it fails again.
//!
//! A script that resets a connection is checked for one thing more (`after_reset`): a new
//! connection must still be served afterwards, and a connection cut after another's reset is
//! reported as such.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use tokio::time::Instant;

use super::divergence::{Divergence, DivergenceKind, OpenSockets};
use super::lane::{self, Conn, HeldOpen, LaneFailure, Resets};
use super::lockstep::Lockstep;
use super::{after_reset, crossing, open};
use crate::case::Case;
pub use crate::proxy::ProxyInFront;
use crate::script::{LaneId, Script};
use crate::server::ServerStats;

/// How a script is played.
#[derive(Debug, Clone)]
pub struct PlayOptions {
    /// The no-progress timeout: a step fails only when no byte moved in either direction on
    /// its connection for this long. Pauses asked for by the plans do not count.
    pub timeout: Duration,
    /// How long connecting may take.
    pub connect_timeout: Duration,
    /// The counters of the built-in server, when that is the target: each connection's outcome
    /// then says how many reads the server needed for its bytes.
    pub server_stats: Option<Arc<ServerStats>>,
    /// The proxy between this client and the target, when there is one: every play restarts
    /// its accept order with the seed given here, and opens the script's connections one at a
    /// time, each only once the proxy has accepted the one before, so the same seed gives the
    /// same faults on the same connections.
    pub through: Option<ProxyInFront>,
    /// Lockstep: after each chunk, every writer waits until the server has read all it sent,
    /// so the server's reads are the plan's chunks (see [`Lockstep`]). Where the kernel cannot
    /// be asked (not Linux), [`Lockstep::Kernel`] plays without it and logs a warning.
    pub lockstep: Option<Lockstep>,
    /// How long the target may take to close its side of each connection once the play has
    /// closed it: after a passing play against a loopback address (on Linux, not through a
    /// proxy), a client socket still in FIN_WAIT1/2 after this long is a
    /// [`DivergenceKind::NotClosed`], whose only evidence is time. `None`: not checked.
    /// Default [`DEFAULT_LEAK_BOUND`](crate::leaks::DEFAULT_LEAK_BOUND).
    pub leak_bound: Option<Duration>,
}

impl Default for PlayOptions {
    fn default() -> Self {
        PlayOptions {
            timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(2),
            server_stats: None,
            through: None,
            lockstep: None,
            leak_bound: Some(crate::leaks::DEFAULT_LEAK_BOUND),
        }
    }
}

impl PlayOptions {
    /// The same options with both timeouts and the leak bound four times longer: the second
    /// play of a failure whose only evidence is time.
    pub(crate) fn slower(&self) -> PlayOptions {
        PlayOptions {
            timeout: self.timeout * 4,
            connect_timeout: self.connect_timeout * 4,
            leak_bound: self.leak_bound.map(|bound| bound * 4),
            ..self.clone()
        }
    }
}

/// What a passing play measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// One entry per connection, in the script's order.
    pub connections: Vec<ConnectionOutcome>,
    /// Wall time of the whole play.
    pub elapsed: Duration,
    /// A failure whose only evidence was time, which did not happen again when the script was
    /// played at four times the timeout; `None` if the first play passed.
    pub unconfirmed: Option<Divergence>,
}

impl Outcome {
    /// Bytes verified: every byte that came back, over all connections.
    pub fn bytes_verified(&self) -> u64 {
        self.connections.iter().map(|c| c.received).sum()
    }
}

/// What one connection measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionOutcome {
    /// The connection's name.
    pub name: String,
    /// The client side's address (the key of the built-in server's records).
    pub local_addr: SocketAddr,
    /// Bytes written.
    pub sent: u64,
    /// Bytes that came back, all checked.
    pub received: u64,
    /// Chunks written (one per cut of the write plan).
    pub writes: u64,
    /// Reads that returned data.
    pub reads: u64,
    /// Reads the built-in server needed for this connection's bytes, when known.
    pub server_reads: Option<u64>,
    /// From the start of the play until this connection's last step.
    pub elapsed: Duration,
}

/// Plays `case` once: its script ([`Script::from_case`]).
pub async fn play(
    case: &Case,
    addr: SocketAddr,
    options: &PlayOptions,
) -> Result<Outcome, Divergence> {
    play_script(&Script::from_case(case), addr, options).await
}

/// Plays `case`, confirming a failure whose only evidence is time (see
/// [`play_script_confirmed`]).
pub async fn play_confirmed(
    case: &Case,
    addr: SocketAddr,
    options: &PlayOptions,
) -> Result<Outcome, Divergence> {
    play_script_confirmed(&Script::from_case(case), addr, options).await
}

/// Plays `script`; a failure whose only evidence is time is played once more, with the same
/// lanes and so the same order across connections, at four times the no-progress and connect
/// timeouts, and reported (as confirmed) only if it fails again. A step's `within` is the
/// script's own deadline and is not stretched.
pub async fn play_script_confirmed(
    script: &Script,
    addr: SocketAddr,
    options: &PlayOptions,
) -> Result<Outcome, Divergence> {
    match play_script(script, addr, options).await {
        Err(first) if first.kind.is_timing_only() => {
            match play_script(script, addr, &options.slower()).await {
                Ok(mut outcome) => {
                    outcome.unconfirmed = Some(first);
                    Ok(outcome)
                }
                Err(mut again) => {
                    again.confirmed = true;
                    Err(again)
                }
            }
        }
        other => other,
    }
}

/// Plays `script` against `addr` once; after a passing play, checks that the target closed
/// every connection within [`PlayOptions::leak_bound`].
pub async fn play_script(
    script: &Script,
    addr: SocketAddr,
    options: &PlayOptions,
) -> Result<Outcome, Divergence> {
    // Every socket of the play is closed (dropped) by the time `play_sockets` returns.
    let outcome = play_sockets(script, addr, options).await?;
    match options.leak_bound {
        // Through a proxy the sockets are the proxy's, not the target's; off loopback the
        // target's side is another machine's.
        Some(bound) if options.through.is_none() && addr.ip().is_loopback() => {
            not_closed(script, addr, outcome, bound).await
        }
        _ => Ok(outcome),
    }
}

/// `outcome`, unless the target left one of its connections open for longer than `bound`.
pub(crate) async fn not_closed(
    script: &Script,
    addr: SocketAddr,
    outcome: Outcome,
    bound: Duration,
) -> Result<Outcome, Divergence> {
    let clients: Vec<SocketAddr> = outcome.connections.iter().map(|c| c.local_addr).collect();
    let Some(open) = crate::leaks::sockets::await_closed(&clients, addr, bound).await else {
        return Ok(outcome);
    };
    let conn = &outcome.connections[open.index];
    let kind = DivergenceKind::NotClosed {
        sockets: Box::new(OpenSockets {
            client: open.client,
            client_state: open.client_state.name(),
            server: open.server,
            server_state: open.server_state.map(|s| s.name()),
        }),
        waited: bound,
    };
    Err(Divergence::new(
        &conn.name,
        kind,
        conn.sent,
        conn.received,
        script.sent_by(&conn.name),
    ))
}

/// Plays `script` against `addr` once, every socket closed when it returns.
async fn play_sockets(
    script: &Script,
    addr: SocketAddr,
    options: &PlayOptions,
) -> Result<Outcome, Divergence> {
    let started = Instant::now();
    open::restart_proxy(options);
    let mut conns = Vec::with_capacity(script.connections.len());
    let mut writers = Vec::with_capacity(script.connections.len());
    let held = HeldOpen::new(script.connections.len());
    let resets = Resets::default();
    for (index, decl) in script.connections.iter().enumerate() {
        let stream = open::open(&decl.write, index, addr, options)
            .await
            .map_err(|kind| Divergence::on_connect(&decl.name, kind, script.sent_by(&decl.name)))?;
        let (conn, writer) = Conn::start(
            index,
            decl,
            stream,
            script,
            started,
            (held.clone(), resets.clone()),
            options,
        );
        conns.push(Some(conn));
        writers.push(writer);
    }
    // Each lane takes the connections it names; the rest are only held open.
    let mut lanes = Vec::new();
    for (id, steps) in script.lanes() {
        let mine: Vec<Conn> = match id {
            LaneId::Own(i) => conns[i].take().into_iter().collect(),
            LaneId::Shared => conns
                .iter_mut()
                .filter(|c| {
                    c.as_ref()
                        .is_some_and(|c| steps.iter().any(|s| s.connection() == Some(&c.name)))
                })
                .filter_map(Option::take)
                .collect(),
        };
        lanes.push(lane::play(id, steps, mine, script.pause_scale, options));
    }
    let mut idle: Vec<Conn> = conns.into_iter().flatten().collect();
    let lanes = join_all(lanes);
    let writers = join_all(writers);
    tokio::pin!(lanes, writers);
    let mut writers_done = false;
    let results = loop {
        tokio::select! {
            results = &mut lanes => break results,
            _ = &mut writers, if !writers_done => writers_done = true,
        }
    };
    // A connection without steps is held open to the end, then closed like the others, while
    // its writer is still polled to hand its half back.
    {
        let closing = async {
            for conn in &mut idle {
                let _ = conn.close(options).await;
            }
        };
        tokio::pin!(closing);
        loop {
            tokio::select! {
                () = &mut closing => break,
                _ = &mut writers, if !writers_done => writers_done = true,
            }
        }
    }
    let mut failures = Vec::new();
    let mut all = idle;
    for (played, failure) in results {
        all.extend(played);
        failures.extend(failure);
    }
    all.sort_by_key(|c| c.index);
    if !failures.is_empty() {
        let sent: Vec<_> = all.iter().flat_map(Conn::sent_segments).collect();
        let best = failures
            .into_iter()
            .map(|mut f| {
                let name = &all[f.conn].name;
                after_reset::blame_reset(&mut f, name, &resets);
                divergence(script, &all, f, &sent)
            })
            .min_by_key(evidence_rank);
        if let Some(best) = best {
            return Err(best);
        }
    }
    after_reset::check_served(script, &all, &resets, addr, options).await?;
    Ok(Outcome {
        connections: all.iter().map(Conn::outcome).collect(),
        elapsed: started.elapsed(),
        unconfirmed: None,
    })
}

/// Dresses a lane's failure as a [`Divergence`]: the connection's counts, the step, the
/// connections held open, and whether the wrong bytes are another connection's.
fn divergence(
    script: &Script,
    all: &[Conn],
    failure: LaneFailure,
    sent: &[(&str, u64, &crate::case::Payload)],
) -> Divergence {
    let conn = &all[failure.conn];
    let mut divergence = Divergence::new(
        &conn.name,
        failure.kind,
        conn.written(),
        conn.received,
        script.sent_by(&conn.name),
    );
    divergence.step = failure.step.map(|mut step| {
        if divergence.kind.is_timing_only() {
            step.held_open = failure
                .held_open
                .iter()
                .map(|&i| all[i].name.clone())
                .collect();
        }
        Box::new(step)
    });
    crossing::explain_crossing(&mut divergence, sent.iter().copied());
    divergence
}

/// How telling a divergence is, lowest first: bytes seen to cross between connections, then
/// wrong bytes, extra bytes, missing bytes, and last what only time or the socket says.
fn evidence_rank(divergence: &Divergence) -> u8 {
    match &divergence.kind {
        DivergenceKind::Mismatch { evidence, .. } if evidence.crossed_from.is_some() => 0,
        DivergenceKind::Mismatch { .. } => 1,
        DivergenceKind::ExtraBytes { .. } => 2,
        DivergenceKind::EarlyEof => 3,
        _ => 4,
    }
}
