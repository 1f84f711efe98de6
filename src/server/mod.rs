//! The echo server: configuration, admission (the connection limit), graceful shutdown, and the
//! two ways to start it — [`EchoServer::spawn`] from any code, or [`EchoServer::run`] inside the
//! caller's runtime. The accept loop, with its back-off and bounded drain, is the one the proxy
//! uses too (the crate's `listener` module); each connection is served by `connection` (the
//! portable loop) or `fast` (the Linux fast path), which share `context`.
//!
//! Unlike the tutorial's server, it serves many clients at once, one task per connection, and
//! owns its limits: a connection limit (the next client past it is accepted and closed at once,
//! and counted as rejected), an idle timeout, and a bounded amount of memory per connection (see
//! [`connection`](self) for the promises each connection keeps).
//!
//! Shutdown is designed in and loses nothing: the listener closes at once (new clients are
//! refused), and every open connection is served on until its client ends it, its idle timeout
//! fires, or the grace period runs out; then the ones still open are cut, each after writing back
//! everything it has read (recorded as [`ConnectionEnd::ShutdownAborted`]). Being told to stop
//! now ([`EchoServer::stop_now`], a second signal to `serve`) ends everything at once. The drain
//! itself is the proxy's too (the crate's `listener` module).

mod connection;
mod context;
#[cfg(all(target_os = "linux", not(feature = "fault-injection")))]
mod fast;
mod pool;
mod stats;

pub use stats::{ConnectionEnd, ConnectionRecord, ServerStats, StatsSnapshot};

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

use crate::listener::background::{Background, StopError};
use crate::listener::{self, Drain, Say, StopNow};
use context::ConnectionContext;
use pool::BufferPool;

/// The tutorial's address, and the default of `echo-harness serve`.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::LOCALHOST,
    8080,
));

/// How a server is set up. Start from [`ServerConfig::default`] (the tutorial's `127.0.0.1:8080`)
/// or [`ServerConfig::ephemeral`] (`127.0.0.1:0`, what tests use) and change fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Where [`EchoServer::spawn`] binds. Port 0 picks a free port; IPv4 and IPv6 both work.
    pub listen: SocketAddr,
    /// The most connections served at once. The next client is accepted and closed at once (it
    /// reads EOF, or a reset if it had sent data) and counted in [`StatsSnapshot::rejected`].
    pub max_connections: usize,
    /// A connection on which no byte moved in either direction for this long is closed. A
    /// connection stalled because its client does not read counts as idle. `None` disables it.
    pub idle_timeout: Option<Duration>,
    /// How long open connections are served on after shutdown starts. The ones still open
    /// then are cut: each stops reading, writes back what it has read, and closes.
    pub shutdown_grace: Duration,
    /// Bytes per echo buffer. It is also the most a connection holds on the server's side: the
    /// server does not read again until it has written the previous read back.
    pub buffer_size: usize,
    /// Free buffers the pool keeps for reuse; more are freed when returned.
    pub pooled_buffers: usize,
    /// How many closed connections [`ServerStats`] remembers.
    pub closed_history: usize,
    /// The listen backlog passed to `listen(2)`.
    pub backlog: u32,
    /// Worker threads of the runtime that [`EchoServer::spawn`] starts: `None` means one per
    /// core, `Some(1)` a single-threaded runtime (cheapest for tests and fuzzing).
    pub worker_threads: Option<usize>,
    /// On Linux, serve connections on the fast path (default): readiness handled directly, no
    /// timer or channel work per message, streams echoed in whole TCP segments. Every promise
    /// stays the same. `false`, other systems, `-v` logging of echoed bytes and the test-only
    /// `fault-injection` feature take the portable path.
    pub fast_path: bool,
    /// On the fast path, echo streaming connections with splice(2) through pipes from a
    /// bounded pool, so their bytes never pass through user space. Off by default: it halves
    /// the server's CPU per byte, but over loopback the peer then pays more than that (see
    /// the README's benchmarks), so a stream is echoed about 10% slower than with buffers.
    pub splice: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: DEFAULT_LISTEN,
            max_connections: 10_000,
            idle_timeout: Some(Duration::from_secs(300)),
            shutdown_grace: Duration::from_secs(5),
            buffer_size: 64 * 1024,
            pooled_buffers: 256,
            closed_history: 1024,
            backlog: 1024,
            worker_threads: None,
            fast_path: true,
            splice: false,
        }
    }
}

impl ServerConfig {
    /// The defaults, on `127.0.0.1:0`: the configuration tests and the harness start from.
    pub fn ephemeral() -> ServerConfig {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..ServerConfig::default()
        }
    }
}

/// Why a server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The address could not be bound (in use, not local, not permitted).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the operating system said.
        source: io::Error,
    },
    /// The runtime or the server thread could not be started.
    #[error("cannot start the server: {0}")]
    Start(#[source] io::Error),
    /// The server did not stop within its grace period (plus a margin) after being asked to.
    #[error("the server did not stop within {0:?}")]
    StopTimeout(Duration),
    /// The server stopped with an error.
    #[error("server failed: {0}")]
    Io(#[from] io::Error),
}

/// The most pipes the fast path keeps, lent or free (two file descriptors each). Enough for
/// every core to splice many streams at once, few enough that connections never run out of
/// descriptors because of them: a burst that finds none free takes a buffer.
#[cfg(all(target_os = "linux", not(feature = "fault-injection")))]
pub(crate) const MAX_PIPES: usize = 64;

/// Binds `addr` with the settings the echo server wants (SO_REUSEADDR except on Windows, IPv6
/// only for an IPv6 address, `backlog`), and returns a non-blocking std listener that either
/// runtime flavour can adopt.
///
/// [`EchoServer::spawn`], the proxy and the CLI all bind through it, so they report bind
/// errors the same way.
pub fn bind_listener(addr: SocketAddr, backlog: u32) -> Result<std::net::TcpListener, ServerError> {
    crate::listener::bind(addr, backlog).map_err(|source| ServerError::Bind { addr, source })
}

/// An echo server: its configuration and its counters.
///
/// ```
/// use echo_harness::{EchoClient, EchoServer, ServerConfig};
/// use std::time::Duration;
///
/// let server = EchoServer::spawn(ServerConfig::ephemeral())?;
/// let mut client = EchoClient::connect(server.local_addr(), Duration::from_secs(2))?;
/// client.echo(b"hello")?;
/// client.finish()?;
/// server.shutdown()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct EchoServer {
    config: ServerConfig,
    stats: Arc<ServerStats>,
    stop_now: StopNow,
    /// Where the drain's lines go (the CLI prints them); `None` logs them.
    say: Option<Say>,
}

impl EchoServer {
    /// A server with `config`, not yet running. `config.listen` is ignored by [`run`](Self::run),
    /// which takes a listener the caller bound.
    pub fn new(config: ServerConfig) -> EchoServer {
        let stats = Arc::new(ServerStats::new(config.closed_history));
        EchoServer {
            config,
            stats,
            stop_now: StopNow::new(),
            say: None,
        }
    }

    /// Sends the drain's lines (`draining N connections ...`) to `say` instead of the log.
    #[cfg(feature = "cli")]
    pub(crate) fn say_drain_to(&mut self, say: Say) {
        self.say = Some(say);
    }

    /// Stops the server at once: [`run`](Self::run) closes the listener, aborts every
    /// connection without waiting for the grace period, and returns (at once too if it has not
    /// started yet). The second Ctrl-C of `serve`. Connections it ends are recorded as
    /// [`ConnectionEnd::ShutdownAborted`].
    pub fn stop_now(&self) {
        self.stop_now.stop_now();
    }

    /// The counters, shared with the running server.
    pub fn stats(&self) -> Arc<ServerStats> {
        Arc::clone(&self.stats)
    }

    /// The configuration the server runs with.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Binds `config.listen` and serves on a thread of its own, with a runtime of its own.
    ///
    /// Callable from anywhere — a plain `#[test]`, a fuzz target, or inside a tokio runtime of
    /// either flavour — because it never touches the caller's runtime. Bind errors are returned
    /// here, before anything runs.
    pub fn spawn(config: ServerConfig) -> Result<ServerHandle, ServerError> {
        let listener = bind_listener(config.listen, config.backlog)?;
        let local_addr = listener.local_addr()?;
        let (workers, grace) = (config.worker_threads, config.shutdown_grace);
        let server = Arc::new(EchoServer::new(config));
        let running = Arc::clone(&server);
        let background = Background::start(
            format!("echo-server {local_addr}"),
            workers,
            grace,
            listener,
            move |listener, stop| async move { running.run(listener, stop).await },
        )
        .map_err(ServerError::Start)?;
        Ok(ServerHandle {
            local_addr,
            server,
            background,
        })
    }

    /// Serves connections from `listener` until `shutdown` completes, then drains without
    /// losing a byte: the listener is closed at once (new clients are refused), and every open
    /// connection is served as before until its client ends it, its idle timeout fires, or
    /// [`ServerConfig::shutdown_grace`] runs out. The ones still open then are cut: each stops
    /// reading, writes back everything it has read, and closes (a client that does not read
    /// what it is owed within half a second more is aborted). [`stop_now`](Self::stop_now)
    /// ends it all at once.
    ///
    /// Runs in the caller's runtime (current-thread or multi-thread); connection tasks are
    /// spawned onto it.
    pub async fn run(&self, listener: TcpListener, shutdown: impl Future) -> io::Result<()> {
        let (cut_tx, cut_rx) = watch::channel(false);
        let limit = Arc::new(Semaphore::new(self.config.max_connections));
        let ctx = ConnectionContext {
            pool: Arc::new(BufferPool::new(
                self.config.buffer_size,
                self.config.pooled_buffers,
                self.stats(),
            )),
            idle_timeout: self.config.idle_timeout,
            cut: cut_rx,
            fast_path: self.config.fast_path,
            splice: self.config.splice,
            #[cfg(all(target_os = "linux", not(feature = "fault-injection")))]
            pipes: Arc::new(crate::listener::pipes::PipePool::new(
                MAX_PIPES,
                self.config.buffer_size,
                self.stats(),
            )),
        };
        let drain = Drain {
            grace: self.config.shutdown_grace,
            what: "connection",
            say: self.say,
            stop_now: self.stop_now.stopped(),
            cut: move || {
                let _ = cut_tx.send(true);
            },
        };
        let admit = |stream, peer| {
            let Ok(permit) = Arc::clone(&limit).try_acquire_owned() else {
                tracing::debug!(%peer, "connection limit reached, rejecting");
                self.stats.reject(peer);
                return None;
            };
            let tally = self.stats.open(peer);
            let ctx = ctx.clone();
            Some(async move {
                connection::serve(stream, tally, ctx).await;
                drop(permit);
            })
        };
        listener::serve(listener, shutdown, drain, admit).await
    }
}

/// A server running on its own thread. Stop it with [`shutdown`](Self::shutdown) (the drain)
/// or [`stop_now`](Self::stop_now); dropping the handle drains it too, waiting at most the
/// grace period plus a second.
#[derive(Debug)]
pub struct ServerHandle {
    local_addr: SocketAddr,
    server: Arc<EchoServer>,
    /// The runtime thread; stopping it is the graceful shutdown.
    background: Background,
}

impl ServerHandle {
    /// The address the server actually listens on (the real port when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The server's counters.
    pub fn stats(&self) -> Arc<ServerStats> {
        self.server.stats()
    }

    /// Stops the server gracefully and waits for it, at most the grace period plus a second:
    /// the drain of [`EchoServer::run`], which lets open connections finish.
    ///
    /// It blocks the calling thread but needs nothing from the caller's runtime, so it does not
    /// deadlock when called from inside one.
    pub fn shutdown(mut self) -> Result<(), ServerError> {
        Ok(self.background.stop_and_wait()?)
    }

    /// Stops the server at once ([`EchoServer::stop_now`]) and waits for it.
    pub fn stop_now(mut self) -> Result<(), ServerError> {
        self.server.stop_now();
        Ok(self.background.stop_and_wait()?)
    }
}

impl From<StopError> for ServerError {
    fn from(e: StopError) -> Self {
        match e {
            StopError::Timeout(bound) => ServerError::StopTimeout(bound),
            StopError::Io(e) => ServerError::Io(e),
        }
    }
}
