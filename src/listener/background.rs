//! A listener served on a thread of its own, with a runtime of its own, and stopped with a
//! bound: what [`EchoServer::spawn`](crate::EchoServer::spawn) and
//! [`Proxy::spawn`](crate::Proxy::spawn) share.
//!
//! Because the runtime is private to the thread, starting and stopping never touch the caller's
//! runtime: a plain `#[test]`, a fuzz target and code inside a tokio runtime of either flavour
//! can all start one and stop it without deadlocking.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{mpsc, Mutex};
use std::thread;
use std::time::Duration;

use tokio::net::TcpListener;

/// The future a served listener runs until: it completes when the handle asks it to stop (or
/// is dropped).
pub(crate) type StopFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A runtime thread serving one listener.
#[derive(Debug)]
pub(crate) struct Background {
    /// Sending (or dropping) it starts the graceful shutdown.
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    /// Receives the result when the thread is done, so stopping can wait with a bound (a
    /// `JoinHandle` cannot be joined with a timeout). In a mutex so the handle is `Sync` and can
    /// live in a `static` shared by tests.
    done: Mutex<mpsc::Receiver<io::Result<()>>>,
    thread: Option<thread::JoinHandle<()>>,
    /// How long the served future may take to drain after being asked to stop.
    grace: Duration,
    /// The thread's name, for the warning of a stop on drop that went wrong.
    name: String,
}

/// Why [`Background::stop_and_wait`] did not end cleanly. The handles turn it into their own
/// error type (`From`).
#[derive(Debug, thiserror::Error)]
pub(crate) enum StopError {
    /// The thread did not report within the grace period plus a second.
    #[error("did not stop within {0:?}")]
    Timeout(Duration),
    /// The served future returned an error.
    #[error("failed: {0}")]
    Io(io::Error),
}

impl Background {
    /// Starts a thread named `name` with a runtime of `worker_threads` that adopts `listener`
    /// and runs `serve(listener, stop)` on it.
    pub(crate) fn start<F, Fut>(
        name: String,
        worker_threads: Option<usize>,
        grace: Duration,
        listener: std::net::TcpListener,
        serve: F,
    ) -> io::Result<Background>
    where
        F: FnOnce(TcpListener, StopFuture) -> Fut + Send + 'static,
        Fut: Future<Output = io::Result<()>>,
    {
        let runtime = crate::runtime::build(worker_threads)?;
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (done_tx, done_rx) = mpsc::channel();
        let thread = thread::Builder::new().name(name.clone()).spawn(move || {
            let result = runtime.block_on(async move {
                let listener = TcpListener::from_std(listener)?;
                // A dropped handle drops the sender, which also ends the wait: stop then too.
                let stop: StopFuture = Box::pin(async move {
                    let _ = stop_rx.await;
                });
                serve(listener, stop).await
            });
            // Tasks still alive were aborted by the served future; do not wait on stragglers.
            runtime.shutdown_timeout(Duration::from_millis(100));
            let _ = done_tx.send(result);
        })?;
        Ok(Background {
            stop: Some(stop_tx),
            done: Mutex::new(done_rx),
            thread: Some(thread),
            grace,
            name,
        })
    }

    /// Asks the served future to stop and waits for the thread, at most the grace period plus a
    /// second. A second call returns `Ok(())` at once.
    pub(crate) fn stop_and_wait(&mut self) -> Result<(), StopError> {
        let Some(stop) = self.stop.take() else {
            return Ok(());
        };
        let _ = stop.send(());
        let bound = self.grace + Duration::from_secs(1);
        let done = self
            .done
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let result = match done.recv_timeout(bound) {
            Ok(result) => result.map_err(StopError::Io),
            Err(mpsc::RecvTimeoutError::Timeout) => return Err(StopError::Timeout(bound)),
            // The thread ended without reporting: it panicked. Its runtime is gone either way.
            Err(mpsc::RecvTimeoutError::Disconnected) => Ok(()),
        };
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        result
    }
}

/// Dropping the handle of a server or proxy stops it, with the same bound as
/// [`stop_and_wait`](Background::stop_and_wait); an explicit `shutdown` has stopped it already.
impl Drop for Background {
    fn drop(&mut self) {
        if let Err(e) = self.stop_and_wait() {
            tracing::warn!("{}: {e}", self.name);
        }
    }
}
