//! The fault-injection proxy: a TCP proxy between a client and an upstream server that passes
//! every byte through a chain of seeded toxics — slices, latency, bandwidth, limits, resets,
//! black holes, slow closes — so that the server receives the stream cut and delayed the way
//! real networks and middleboxes do it. Toxiproxy for TCP streams, in-process and seeded.
//!
//! This module owns the configuration, the seed and accept order, and the two ways to start it:
//! [`Proxy::spawn`] from any code, or [`Proxy::run`] in the caller's runtime (the accept loop
//! and the drain are the server's, in the crate's `listener` module). The chain grammar lives in
//! [`chain`](ToxicChain), the per-connection pumps (and the exact buffer bound) in
//! `connection`, the seed derivation in [`seed`], the counters in [`ProxyStats`], a chain with a
//! seed and a running proxy in front of a target in [`Through`] and [`ProxyInFront`].
//!
//! ```
//! use echo_harness::{EchoClient, EchoServer, Proxy, ProxyConfig, ServerConfig, ToxicChain};
//! use std::time::Duration;
//!
//! let server = EchoServer::spawn(ServerConfig::ephemeral())?;
//! let mut config = ProxyConfig::new(server.local_addr());
//! config.chain = ToxicChain::parse("up:slice=1..4")?;
//! let proxy = Proxy::spawn(config)?;
//! let mut client = EchoClient::connect(proxy.local_addr(), Duration::from_secs(2))?;
//! client.echo(b"cut into pieces of 1 to 4 bytes on the way in")?;
//! client.finish()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! **Half-close** passes both ways: a FIN from one side becomes a shutdown of the write side
//! on the other once every byte before it has been forwarded, and the other direction keeps
//! flowing. The connection closes when both directions have ended. A reset from either side
//! (or a failed write to it) resets the other, and a failed upstream connect resets the client.
//!
//! **Shutdown** loses nothing, as the server's: the listener closes at once, every open
//! connection is proxied on, both directions and half-closes included, until it ends, and only
//! those still open when the grace period runs out are cut, each after the bytes the proxy had
//! read from one side were written to the other ([`ProxyEnd::ShutdownAborted`]).

mod chain;
mod connection;
pub mod seed;
mod stats;
mod through;

pub use chain::{
    chain_strategy, ChainError, ChainErrorKind, Direction, DurationRange, Flow, ResetAfter,
    SizeRange, Toxic, ToxicChain, ToxicKind, MAX_DURATION, MAX_SIZE, MAX_TOXICS, TOXICITY_ALWAYS,
};
pub use stats::{
    FlowRecord, ProxyConnectionRecord, ProxyEnd, ProxySnapshot, ProxyStats, RECORDED_SLICES,
};
pub use through::{ProxyInFront, Through};

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};

use crate::listener::background::{Background, StopError};
use crate::listener::{self, Drain, Say, StopNow};
use crate::sync::lock;
use connection::ConnectionContext;

/// How a proxy is set up. Start from [`ProxyConfig::new`] and change fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyConfig {
    /// Where [`Proxy::spawn`] binds; default `127.0.0.1:0` (a free port).
    pub listen: SocketAddr,
    /// The server every connection is forwarded to.
    pub upstream: SocketAddr,
    /// The toxics; empty (the default) is a plain, correct proxy.
    pub chain: ToxicChain,
    /// The seed every connection's faults are drawn from (default 0); see [`seed`].
    pub seed: u64,
    /// The most bytes held per direction of a connection: read from one side and not yet
    /// written to the other or dropped, the latency delay line included (default 64 KiB).
    pub buffer_size: usize,
    /// How long connecting to the upstream may take (default 2 s). A failed connect resets the
    /// client's connection.
    pub connect_timeout: Duration,
    /// How long open connections are proxied on after shutdown starts (default 1 s). The ones
    /// still open then are cut: each stops reading, writes what it holds to the other side, and
    /// closes.
    pub shutdown_grace: Duration,
    /// How many closed connections [`ProxyStats`] remembers (default 1024).
    pub closed_history: usize,
    /// Worker threads of the runtime [`Proxy::spawn`] starts: `None` means one per core,
    /// `Some(1)` a single-threaded runtime (cheapest for tests).
    pub worker_threads: Option<usize>,
}

impl ProxyConfig {
    /// A plain proxy on `127.0.0.1:0` in front of `upstream`, with the defaults above.
    pub fn new(upstream: SocketAddr) -> ProxyConfig {
        ProxyConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            upstream,
            chain: ToxicChain::default(),
            seed: 0,
            buffer_size: 64 * 1024,
            connect_timeout: Duration::from_secs(2),
            shutdown_grace: Duration::from_secs(1),
            closed_history: 1024,
            worker_threads: None,
        }
    }
}

/// Why a proxy could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the operating system said.
        source: io::Error,
    },
    /// The runtime or the proxy thread could not be started.
    #[error("cannot start the proxy: {0}")]
    Start(#[source] io::Error),
    /// The proxy did not stop within its grace period (plus a margin) after being asked to.
    #[error("the proxy did not stop within {0:?}")]
    StopTimeout(Duration),
    /// The proxy stopped with an error.
    #[error("proxy failed: {0}")]
    Io(#[from] io::Error),
}

/// The seed and the accept order, changed together by [`ProxyHandle::restart`].
#[derive(Debug)]
struct Order {
    seed: u64,
    /// The toxics of connections accepted from now on: the configuration's, until
    /// [`Proxy::restart_with`] gives others.
    chain: Arc<ToxicChain>,
    /// Restarts so far.
    generation: u64,
    /// Connections accepted since the last restart: the next one's accept index.
    next_index: u64,
}

/// What the accept loop and the handles share.
#[derive(Debug)]
struct Shared {
    stats: Arc<ProxyStats>,
    /// Locked for each accept, so an accept belongs wholly to one side of a restart.
    order: Mutex<Order>,
    /// `order.next_index`, readable without the lock.
    accepted: AtomicU64,
    /// Woken on every accept, for [`ProxyHandle::wait_accepted`].
    accept_changed: Notify,
}

/// A fault-injection proxy: its configuration, its counters, and its seed and accept order.
#[derive(Debug)]
pub struct Proxy {
    config: ProxyConfig,
    shared: Arc<Shared>,
    stop_now: StopNow,
    /// Where the drain's lines go (the CLI prints them); `None` logs them.
    say: Option<Say>,
    /// The pipes that directions without toxics splice through (`None`: they copy).
    #[cfg(target_os = "linux")]
    pipes: Option<Arc<crate::listener::pipes::PipePool>>,
}

impl Proxy {
    /// A proxy with `config`, not yet running. [`run`](Self::run) ignores `config.listen` and
    /// serves the listener it is given.
    pub fn new(config: ProxyConfig) -> Proxy {
        let shared = Arc::new(Shared {
            stats: Arc::new(ProxyStats::new(config.closed_history)),
            order: Mutex::new(Order {
                seed: config.seed,
                chain: Arc::new(config.chain.clone()),
                generation: 0,
                next_index: 0,
            }),
            accepted: AtomicU64::new(0),
            accept_changed: Notify::new(),
        });
        Proxy {
            #[cfg(target_os = "linux")]
            pipes: Some(ConnectionContext::pipe_pool(config.buffer_size)),
            config,
            shared,
            stop_now: StopNow::new(),
            say: None,
        }
    }

    /// Sends the drain's lines (`draining N proxied connections ...`) to `say`, not the log.
    #[cfg(feature = "cli")]
    pub(crate) fn say_drain_to(&mut self, say: Say) {
        self.say = Some(say);
    }

    /// Stops the proxy at once: [`run`](Self::run) closes the listener, aborts every
    /// connection without waiting for the grace period, and returns (at once too if it has not
    /// started yet). The second Ctrl-C of `proxy`. Connections it ends are recorded as
    /// [`ProxyEnd::ShutdownAborted`].
    pub fn stop_now(&self) {
        self.stop_now.stop_now();
    }

    /// The counters, shared with the running proxy.
    pub fn stats(&self) -> Arc<ProxyStats> {
        Arc::clone(&self.shared.stats)
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &ProxyConfig {
        &self.config
    }

    /// Uses `seed` from now on, and counts the accept order from 0 again for connections
    /// accepted after this call. Open connections keep their faults.
    pub fn restart(&self, seed: u64) {
        let chain = ToxicChain::clone(&lock(&self.shared.order).chain);
        self.restart_with(seed, chain);
    }

    /// Like [`restart`](Self::restart), and connections accepted from now on get the toxics of
    /// `chain` instead: one proxy serves a sequence of chains (a fuzz target's inputs) without
    /// a restart of its thread and runtime.
    pub fn restart_with(&self, seed: u64, chain: ToxicChain) {
        let mut order = lock(&self.shared.order);
        order.chain = Arc::new(chain);
        order.seed = seed;
        order.generation += 1;
        order.next_index = 0;
        self.shared.accepted.store(0, Ordering::Release);
    }

    /// Connections accepted since the last restart (or the start).
    pub fn accepted(&self) -> u64 {
        self.shared.accepted.load(Ordering::Acquire)
    }

    /// Binds `config.listen` and proxies on a thread of its own, with a runtime of its own
    /// (the same machinery as [`EchoServer::spawn`](crate::EchoServer::spawn)), so it works from
    /// plain code and from inside a tokio runtime of either flavour. Bind errors are returned
    /// here, before anything runs.
    pub fn spawn(config: ProxyConfig) -> Result<ProxyHandle, ProxyError> {
        Proxy::new(config).start()
    }

    /// [`spawn`](Self::spawn) for a proxy already made (tests give it other pipes).
    fn start(self) -> Result<ProxyHandle, ProxyError> {
        let addr = self.config.listen;
        let listener =
            listener::bind(addr, 1024).map_err(|source| ProxyError::Bind { addr, source })?;
        let local_addr = listener.local_addr()?;
        let (workers, grace) = (self.config.worker_threads, self.config.shutdown_grace);
        let proxy = Arc::new(self);
        let running = Arc::clone(&proxy);
        let background = Background::start(
            format!("echo-proxy {local_addr}"),
            workers,
            grace,
            listener,
            move |listener, stop| async move { running.run(listener, stop).await },
        )
        .map_err(ProxyError::Start)?;
        Ok(ProxyHandle {
            local_addr,
            proxy,
            background,
        })
    }

    /// Proxies connections from `listener` until `shutdown` completes, then drains: the
    /// listener is closed at once, open connections are proxied on until they end or
    /// [`ProxyConfig::shutdown_grace`] runs out, and the ones still open then are cut, each
    /// after what the proxy read from one side was written to the other (a peer that does not
    /// read it within half a second more is aborted). [`stop_now`](Self::stop_now) ends it all
    /// at once.
    ///
    /// Runs in the caller's runtime (current-thread or multi-thread), one task per connection.
    /// Run it at most once at a time per `Proxy`; [`restart`](Self::restart) and
    /// [`stats`](Self::stats) work while it runs.
    pub async fn run(&self, listener: TcpListener, shutdown: impl Future) -> io::Result<()> {
        let (cut_tx, cut_rx) = watch::channel(false);
        let ctx = Arc::new(ConnectionContext {
            upstream: self.config.upstream,
            buffer_size: self.config.buffer_size,
            connect_timeout: self.config.connect_timeout,
            cut: cut_rx,
            #[cfg(target_os = "linux")]
            pipes: self.pipes.clone(),
        });
        let drain = Drain {
            grace: self.config.shutdown_grace,
            what: "proxied connection",
            say: self.say,
            stop_now: self.stop_now.stopped(),
            cut: move || {
                let _ = cut_tx.send(true);
            },
        };
        let admit = |stream, peer| {
            let (plans, tally) = self.admit(peer);
            Some(connection::serve(stream, Arc::clone(&ctx), plans, tally))
        };
        listener::serve(listener, shutdown, drain, admit).await
    }

    /// Gives an accepted connection its index and its faults, and opens its books.
    fn admit(&self, peer: SocketAddr) -> ([chain::FlowPlan; 2], stats::ConnectionTally) {
        let (seed, generation, index, chain) = {
            let mut order = lock(&self.shared.order);
            let index = order.next_index;
            order.next_index += 1;
            self.shared
                .accepted
                .store(order.next_index, Ordering::Release);
            (
                order.seed,
                order.generation,
                index,
                Arc::clone(&order.chain),
            )
        };
        let chain = &*chain;
        let up = chain::plan(chain, seed, index, Flow::Up);
        let down = chain::plan(chain, seed, index, Flow::Down);
        if !chain.is_empty() {
            tracing::debug!(
                "connection #{index} from {peer} (seed {seed}): up [{}], down [{}]",
                describe(chain, &up.toxics(), Flow::Up),
                describe(chain, &down.toxics(), Flow::Down),
            );
        } else {
            tracing::debug!("connection #{index} from {peer}");
        }
        let tally =
            self.shared
                .stats
                .open(generation, index, seed, peer, [up.toxics(), down.toxics()]);
        self.shared.accept_changed.notify_waiters();
        ([up, down], tally)
    }
}

/// `slice=1..16 on, latency=5ms off`: each toxic of `chain` acting on `flow`, and whether the
/// toxicity decision let it act.
fn describe(chain: &ToxicChain, active: &[Toxic], flow: Flow) -> String {
    let mut active = active.iter().peekable();
    let mut parts = Vec::new();
    for toxic in chain.toxics().iter().filter(|t| t.direction.covers(flow)) {
        let on = active.peek() == Some(&toxic);
        if on {
            active.next();
        }
        let mut shown = *toxic;
        shown.direction = Direction::Both;
        parts.push(format!("{shown} {}", if on { "on" } else { "off" }));
    }
    parts.join(", ")
}

/// A proxy running on its own thread. Stop it with [`shutdown`](Self::shutdown) (the drain) or
/// [`stop_now`](Self::stop_now); dropping the handle drains it too, waiting at most the grace
/// period plus a second.
#[derive(Debug)]
pub struct ProxyHandle {
    local_addr: SocketAddr,
    proxy: Arc<Proxy>,
    /// The runtime thread; stopping it is the graceful shutdown.
    background: Background,
}

impl ProxyHandle {
    /// The address the proxy listens on (the real port when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The proxy's counters.
    pub fn stats(&self) -> Arc<ProxyStats> {
        self.proxy.stats()
    }

    /// Uses `seed` from now on; the accept order counts from 0 again for connections accepted
    /// after this call.
    pub fn restart(&self, seed: u64) {
        self.proxy.restart(seed);
    }

    /// Restarts with `seed` and, for connections accepted from now on, `chain`; see
    /// [`Proxy::restart_with`].
    pub fn restart_with(&self, seed: u64, chain: ToxicChain) {
        self.proxy.restart_with(seed, chain);
    }

    /// Connections accepted since the last restart (or the start).
    pub fn accepted(&self) -> u64 {
        self.proxy.accepted()
    }

    /// Waits until [`accepted`](Self::accepted) is at least `n`, at most `timeout`; `true` if
    /// it got there. Await it inside a tokio runtime with the time driver enabled (any runtime:
    /// the proxy runs on its own).
    pub async fn wait_accepted(&self, n: u64, timeout: Duration) -> bool {
        let shared = &self.proxy.shared;
        tokio::time::timeout(timeout, async {
            loop {
                let changed = shared.accept_changed.notified();
                tokio::pin!(changed);
                changed.as_mut().enable();
                if self.accepted() >= n {
                    return;
                }
                changed.await;
            }
        })
        .await
        .is_ok()
    }

    /// Stops the proxy gracefully and waits for it, at most the grace period plus a second.
    /// It blocks the calling thread but needs nothing from the caller's runtime.
    pub fn shutdown(mut self) -> Result<(), ProxyError> {
        Ok(self.background.stop_and_wait()?)
    }

    /// Stops the proxy at once ([`Proxy::stop_now`]) and waits for it.
    pub fn stop_now(mut self) -> Result<(), ProxyError> {
        self.proxy.stop_now();
        Ok(self.background.stop_and_wait()?)
    }
}

impl From<StopError> for ProxyError {
    fn from(e: StopError) -> Self {
        match e {
            StopError::Timeout(bound) => ProxyError::StopTimeout(bound),
            StopError::Io(e) => ProxyError::Io(e),
        }
    }
}
