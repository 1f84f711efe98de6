//! Your own server, run on a thread of its own for the length of a test or a fuzzing process:
//! [`BackgroundServer`]. It binds a loopback port, hands the listener to your server, gives
//! you the address, and stops the server when dropped.
//!
//! Servers are written in two shapes, and both are taken as they are:
//! - **async, on tokio** (the mini-redis shape): `async fn run(listener: TcpListener, shutdown:
//!   impl Future)` serves until `shutdown` resolves. [`BackgroundServer::tokio`] runs it on a
//!   runtime of its own, so the caller's runtime (a `#[tokio::test]` of either flavour, or
//!   none) is never blocked by it and never blocks it.
//! - **blocking**, on a `std::net::TcpListener`: [`BackgroundServer::blocking`] runs it on a
//!   plain thread. Stopping sets the [`StopFlag`] it was given and wakes its `accept` with one
//!   connection; a server that never looks at the flag is left running detached, since a thread
//!   cannot be killed (the test process ends it).
//!
//! ```
//! use echo_harness::background::BackgroundServer;
//! use tokio::io::AsyncWriteExt;
//!
//! // Your server; this one echoes until `shutdown` resolves.
//! async fn run(listener: tokio::net::TcpListener, shutdown: impl std::future::Future) {
//!     tokio::select! {
//!         _ = async {
//!             while let Ok((mut socket, _)) = listener.accept().await {
//!                 tokio::spawn(async move {
//!                     let (mut r, mut w) = socket.split();
//!                     let _ = tokio::io::copy(&mut r, &mut w).await;
//!                     let _ = w.shutdown().await;
//!                 });
//!             }
//!         } => {}
//!         _ = shutdown => {}
//!     }
//! }
//!
//! let server = BackgroundServer::tokio(run)?;
//! echo_harness::Check::new(server.local_addr()).seed(1).cases(5).run().assert_passed();
//! # Ok::<(), std::io::Error>(())
//! ```

use std::fmt;
use std::future::Future;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll};
use std::thread;
use std::time::Duration;

use crate::listener::background::{Background, StopFuture};

/// How long a stopped server may take to return before the stop gives up waiting.
pub const STOP_GRACE: Duration = Duration::from_secs(2);

/// The future a tokio server is handed: it resolves when the server is asked to stop (by
/// [`BackgroundServer::shutdown`] or a drop).
pub struct Shutdown(StopFuture);

impl Future for Shutdown {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.as_mut().poll(cx)
    }
}

impl fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Shutdown")
    }
}

/// What a blocking server is handed: [`is_set`](StopFlag::is_set) turns true when it is asked
/// to stop. Check it after every `accept`: the stop wakes a blocked `accept` with a connection
/// of its own.
#[derive(Debug, Clone)]
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    /// Whether the server should stop now.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// What a server function may return: nothing, or a `Result` whose error is reported when the
/// server is stopped (and logged when it is dropped).
pub trait ServeResult {
    /// The server's error, as text.
    fn into_result(self) -> Result<(), String>;
}

impl ServeResult for () {
    fn into_result(self) -> Result<(), String> {
        Ok(())
    }
}

impl<E: fmt::Display> ServeResult for Result<(), E> {
    fn into_result(self) -> Result<(), String> {
        self.map_err(|e| e.to_string())
    }
}

/// A server of yours, serving a loopback port on a thread of its own until dropped.
#[derive(Debug)]
pub struct BackgroundServer {
    addr: SocketAddr,
    running: Running,
}

#[derive(Debug)]
enum Running {
    Tokio(Background),
    Blocking {
        stop: StopFlag,
        /// In a mutex so the handle is `Sync`, for a `static` shared by tests and fuzz targets.
        done: Mutex<mpsc::Receiver<Result<(), String>>>,
        thread: Option<thread::JoinHandle<()>>,
    },
    Stopped,
}

impl BackgroundServer {
    /// Runs the async server `serve` on `127.0.0.1`, a free port, on a current-thread runtime
    /// of its own: `serve(listener, shutdown)` must serve until `shutdown` resolves.
    pub fn tokio<F, Fut>(serve: F) -> io::Result<BackgroundServer>
    where
        F: FnOnce(tokio::net::TcpListener, Shutdown) -> Fut + Send + 'static,
        Fut: Future,
        Fut::Output: ServeResult,
    {
        BackgroundServer::tokio_on(loopback(), serve)
    }

    /// [`tokio`](BackgroundServer::tokio) on the address given (port 0 picks a free one).
    pub fn tokio_on<F, Fut>(addr: SocketAddr, serve: F) -> io::Result<BackgroundServer>
    where
        F: FnOnce(tokio::net::TcpListener, Shutdown) -> Fut + Send + 'static,
        Fut: Future,
        Fut::Output: ServeResult,
    {
        let listener = crate::listener::bind(addr, 1024)?;
        let addr = listener.local_addr()?;
        let background = Background::start(
            format!("server-under-test {addr}"),
            Some(1),
            STOP_GRACE,
            listener,
            move |listener, stop| async move {
                serve(listener, Shutdown(stop))
                    .await
                    .into_result()
                    .map_err(io::Error::other)
            },
        )?;
        Ok(BackgroundServer {
            addr,
            running: Running::Tokio(background),
        })
    }

    /// Runs the blocking server `serve` on `127.0.0.1`, a free port, on a thread of its own.
    /// The listener is in blocking mode.
    pub fn blocking<F, R>(serve: F) -> io::Result<BackgroundServer>
    where
        F: FnOnce(std::net::TcpListener, StopFlag) -> R + Send + 'static,
        R: ServeResult,
    {
        let listener = crate::listener::bind(loopback(), 1024)?;
        listener.set_nonblocking(false)?;
        let addr = listener.local_addr()?;
        let stop = StopFlag(Arc::new(AtomicBool::new(false)));
        let (done_tx, done) = mpsc::channel();
        let flag = stop.clone();
        let thread = thread::Builder::new()
            .name(format!("server-under-test {addr}"))
            .spawn(move || {
                let _ = done_tx.send(serve(listener, flag).into_result());
            })?;
        Ok(BackgroundServer {
            addr,
            running: Running::Blocking {
                stop,
                done: Mutex::new(done),
                thread: Some(thread),
            },
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the server and waits for it, at most [`STOP_GRACE`] and a second; says what went
    /// wrong if it returned an error or did not stop in time.
    pub fn shutdown(mut self) -> io::Result<()> {
        self.stop()
    }

    fn stop(&mut self) -> io::Result<()> {
        match std::mem::replace(&mut self.running, Running::Stopped) {
            Running::Stopped => Ok(()),
            Running::Tokio(mut background) => background
                .stop_and_wait()
                .map_err(|e| io::Error::other(format!("the server on {}: {e}", self.addr))),
            Running::Blocking { stop, done, thread } => {
                stop.0.store(true, Ordering::Release);
                // Wake an `accept` blocked in the kernel; what it does with this connection
                // does not matter, it is closed at once.
                let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
                let bound = STOP_GRACE + Duration::from_secs(1);
                let done = done.into_inner().unwrap_or_else(|p| p.into_inner());
                match done.recv_timeout(bound) {
                    Ok(result) => {
                        if let Some(thread) = thread {
                            let _ = thread.join();
                        }
                        result.map_err(|e| {
                            io::Error::other(format!("the server on {} failed: {e}", self.addr))
                        })
                    }
                    // It panicked: the panic message is on stderr already.
                    Err(mpsc::RecvTimeoutError::Disconnected) => Err(io::Error::other(format!(
                        "the server on {} panicked",
                        self.addr
                    ))),
                    Err(mpsc::RecvTimeoutError::Timeout) => Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "the server on {} did not return within {bound:?} of being \
                             stopped (does it check its StopFlag after accept?); its thread is \
                             left running",
                            self.addr
                        ),
                    )),
                }
            }
        }
    }
}

impl Drop for BackgroundServer {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            tracing::warn!("{e}");
        }
    }
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn echo_once(addr: SocketAddr) -> Vec<u8> {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        stream.write_all(b"ping").unwrap();
        stream.shutdown(std::net::Shutdown::Write).unwrap();
        let mut back = Vec::new();
        stream.read_to_end(&mut back).unwrap();
        back
    }

    async fn tokio_echo(listener: tokio::net::TcpListener, shutdown: Shutdown) {
        use tokio::io::AsyncWriteExt;
        tokio::select! {
            _ = async {
                while let Ok((mut socket, _)) = listener.accept().await {
                    tokio::spawn(async move {
                        let (mut r, mut w) = socket.split();
                        let _ = tokio::io::copy(&mut r, &mut w).await;
                        let _ = w.shutdown().await;
                    });
                }
            } => {}
            _ = shutdown => {}
        }
    }

    fn blocking_echo(listener: std::net::TcpListener, stop: StopFlag) -> io::Result<()> {
        for stream in listener.incoming() {
            if stop.is_set() {
                return Ok(());
            }
            let mut stream = stream?;
            let mut copy = stream.try_clone()?;
            io::copy(&mut stream, &mut copy)?;
        }
        Ok(())
    }

    #[test]
    fn a_tokio_server_serves_and_stops() {
        let server = BackgroundServer::tokio(tokio_echo).unwrap();
        assert_eq!(echo_once(server.local_addr()), b"ping");
        let addr = server.local_addr();
        server.shutdown().unwrap();
        assert!(TcpStream::connect(addr).is_err(), "still listening");
    }

    #[test]
    fn a_blocking_server_serves_and_stops() {
        let server = BackgroundServer::blocking(blocking_echo).unwrap();
        assert_eq!(echo_once(server.local_addr()), b"ping");
        server.shutdown().unwrap();
    }

    #[test]
    fn a_server_error_is_reported_on_shutdown() {
        let server = BackgroundServer::tokio(|_listener, _shutdown| async {
            Err::<(), _>("cannot load config")
        })
        .unwrap();
        let err = server.shutdown().unwrap_err().to_string();
        assert!(err.contains("cannot load config"), "{err}");
    }

    #[test]
    fn a_tokio_server_runs_beside_a_current_thread_runtime() {
        // The caller's runtime is not the server's: blocking it does not stall the server.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let server = BackgroundServer::tokio(tokio_echo).unwrap();
            assert_eq!(echo_once(server.local_addr()), b"ping");
        });
    }
}
