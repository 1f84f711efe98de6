//! The built-in server and the client on one thread: the server runs as tasks on the
//! harness's own current-thread runtime ([`host_built_in`], the library's real
//! [`EchoServer::run`]), and the client drives that runtime whenever it waits
//! ([`RuntimeDriver`] for a [`Session`], `block_on` for the player). An input then costs
//! system calls but no thread wake-up; and since the server runs only while the client waits
//! for it, a session in lockstep makes the server read each chunk on its own, every time.
//!
//! The catch: between inputs the server does not run at all. Every wait of the harness for the
//! server must therefore drive the runtime ([`Harness::drive_until`]); nothing may block the
//! thread waiting for the server to act.
//!
//! [`Session`]: crate::roundtrip::Session
//! [`Harness::drive_until`]: super::Harness::drive_until

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::Interest;
use tokio::runtime::Runtime;

use super::FuzzFailure;
use crate::roundtrip::Drive;
use crate::server::{EchoServer, ServerConfig, ServerStats};

/// Turns of the loop (each a non-blocking poll for events, then the tasks it woke) before a
/// wait starts sleeping instead: enough for the server to act on anything the client did,
/// few enough that a wait on a timer does not spin for long.
const SPINS: u32 = 64;

/// The built-in server, running on the harness's runtime; it stops with the runtime.
pub(super) struct Hosted {
    addr: SocketAddr,
    stats: Arc<ServerStats>,
}

impl Hosted {
    pub(super) fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub(super) fn stats(&self) -> Arc<ServerStats> {
        Arc::clone(&self.stats)
    }
}

/// Starts the built-in server with `config` as a task on `runtime`.
pub(super) fn host_built_in(
    runtime: &Runtime,
    config: ServerConfig,
) -> Result<Hosted, FuzzFailure> {
    let failed = |e: io::Error| FuzzFailure::Start(format!("the built-in echo server: {e}"));
    let listener = crate::server::bind_listener(config.listen, config.backlog)
        .map_err(|e| FuzzFailure::Start(format!("the built-in echo server: {e}")))?;
    let addr = listener.local_addr().map_err(failed)?;
    let listener = {
        let _context = runtime.enter();
        tokio::net::TcpListener::from_std(listener).map_err(failed)?
    };
    let server = EchoServer::new(config);
    let stats = server.stats();
    runtime.spawn(async move {
        if let Err(e) = server.run(listener, std::future::pending::<()>()).await {
            tracing::error!("the in-process echo server stopped: {e}");
        }
    });
    Ok(Hosted { addr, stats })
}

/// Runs `done` between turns of `runtime`'s loop until it holds (`Ok(true)`) or `deadline`
/// passes (`Ok(false)`), asking it first after `first` turns (a turn polls for events without
/// sleeping, then runs the tasks they woke). After [`SPINS`] turns each turn sleeps up to a
/// millisecond (the timer's resolution), so a long wait does not spin.
pub(super) fn drive_until(
    runtime: &Runtime,
    first: u32,
    done: &mut dyn FnMut() -> io::Result<bool>,
    deadline: Instant,
) -> io::Result<bool> {
    if first == 0 && done()? {
        return Ok(true);
    }
    runtime.block_on(async {
        let mut turns = 0;
        loop {
            if turns < SPINS {
                tokio::task::yield_now().await;
                turns += 1;
            } else {
                tokio::time::sleep(Duration::from_micros(100)).await;
            }
            if turns < first {
                continue;
            }
            if done()? {
                return Ok(true);
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
        }
    })
}

/// A [`Session`](crate::roundtrip::Session)'s waits, run as turns of the harness's runtime
/// with the session's socket registered on it.
#[derive(Debug)]
pub(super) struct RuntimeDriver {
    /// The session's socket as the runtime's reactor sees it: readiness only, the session
    /// does the reads and writes. Declared first: it deregisters before the runtime can go.
    #[cfg(unix)]
    socket: tokio::io::unix::AsyncFd<SocketFd>,
    runtime: Arc<Runtime>,
}

/// A socket the session owns, borrowed for its registration: the session drops the driver
/// before the socket.
#[cfg(unix)]
#[derive(Debug)]
struct SocketFd(std::os::fd::RawFd);

#[cfg(unix)]
impl std::os::fd::AsRawFd for SocketFd {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.0
    }
}

impl RuntimeDriver {
    /// Registers `socket` (the session's, which outlives the driver) with `runtime`.
    #[cfg(unix)]
    pub(super) fn new(
        runtime: &Arc<Runtime>,
        socket: &impl std::os::fd::AsRawFd,
    ) -> io::Result<RuntimeDriver> {
        let _context = runtime.enter();
        // SAFETY: the session owns the socket and drops its driver, and with it this
        // registration, before the socket: the descriptor is neither closed nor replaced while
        // registered.
        let socket = unsafe {
            tokio::io::unix::AsyncFd::register_with_interest(
                SocketFd(socket.as_raw_fd()),
                Interest::READABLE | Interest::WRITABLE,
            )
        }
        .map_err(|e| e.into_parts().1)?;
        Ok(RuntimeDriver {
            socket,
            runtime: Arc::clone(runtime),
        })
    }

    /// Elsewhere the socket is not registered: a wait for it turns the loop once, and the
    /// session tries again.
    #[cfg(not(unix))]
    pub(super) fn new<S>(runtime: &Arc<Runtime>, _socket: &S) -> io::Result<RuntimeDriver> {
        Ok(RuntimeDriver {
            runtime: Arc::clone(runtime),
        })
    }
}

impl Drive for RuntimeDriver {
    #[cfg(not(unix))]
    fn ready(&mut self, _interest: Interest, deadline: Instant) -> io::Result<bool> {
        self.runtime.block_on(tokio::task::yield_now());
        Ok(Instant::now() < deadline)
    }

    #[cfg(unix)]
    fn ready(&mut self, interest: Interest, deadline: Instant) -> io::Result<bool> {
        // The try that found the socket not ready came after every event seen so far, so a
        // readiness already recorded is stale: clear it, and wait for a new one.
        use std::task::{Context, Poll, Waker};
        let mut cx = Context::from_waker(Waker::noop());
        let stale = if interest.is_readable() {
            self.socket.poll_read_ready(&mut cx)
        } else {
            self.socket.poll_write_ready(&mut cx)
        };
        if let Poll::Ready(Ok(mut guard)) = stale {
            guard.clear_ready();
        }
        let socket = &self.socket;
        self.runtime.block_on(async {
            let deadline = tokio::time::Instant::from_std(deadline);
            match tokio::time::timeout_at(deadline, socket.ready(interest)).await {
                Ok(ready) => ready.map(|_| true),
                Err(_) => Ok(false),
            }
        })
    }

    fn until(
        &mut self,
        done: &mut dyn FnMut() -> io::Result<bool>,
        deadline: Instant,
    ) -> io::Result<bool> {
        // What the session waits for follows from what it just did (a write), which the
        // server sees only from the loop's second turn: the first polls for the event, the
        // second runs the task it woke.
        drive_until(&self.runtime, 2, done, deadline)
    }

    fn pause(&mut self, duration: Duration) {
        let until = Instant::now() + duration;
        self.runtime.block_on(async {
            // As the blocking session does: a pause under the timer's millisecond is spun
            // (here, turns of the loop), a longer one slept.
            if duration >= Duration::from_millis(1) {
                tokio::time::sleep_until(until.into()).await;
            }
            while Instant::now() < until {
                tokio::task::yield_now().await;
            }
        });
    }
}
