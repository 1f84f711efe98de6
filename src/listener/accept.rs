//! The one accept loop, shared by the echo server and the proxy: accept until asked to stop,
//! hand each connection to a task, back off when accepting fails for the listener as a whole,
//! and then drain with a bound.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// The first wait after a failed accept; it doubles on each failure in a row, up to
/// [`MAX_BACKOFF`], and starts again after the next accepted connection.
const FIRST_BACKOFF: Duration = Duration::from_millis(5);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// How a served listener stops: the grace period its connections get, and what to call them
/// in the warning when some are still open at its end.
pub(crate) struct Drain<'a> {
    pub(crate) grace: Duration,
    /// `connections`, `proxied connections`.
    pub(crate) what: &'a str,
}

/// Accepts from `listener` until `shutdown` completes. `admit` turns each accepted connection
/// into the task that serves it (`None` turns it away: it is dropped, so the peer sees a close).
/// Then closes the listener, calls `stopped` (to tell open connections), waits up to the
/// drain's grace period for the tasks to end, and aborts the rest.
///
/// Tasks are spawned on the caller's runtime and kept in one set, reaped as they finish, so the
/// set holds only live ones however long the listener serves.
pub(crate) async fn serve<A, T>(
    listener: TcpListener,
    shutdown: impl Future,
    drain: Drain<'_>,
    mut admit: A,
    stopped: impl FnOnce(),
) -> io::Result<()>
where
    A: FnMut(TcpStream, SocketAddr) -> Option<T>,
    T: Future<Output = ()> + Send + 'static,
{
    let mut connections = JoinSet::new();
    let mut backoff = FIRST_BACKOFF;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            // Reap finished connection tasks so the set holds only live ones.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    backoff = FIRST_BACKOFF;
                    if let Some(task) = admit(stream, peer) {
                        connections.spawn(task);
                    }
                }
                Err(e) if is_per_connection_error(&e) => {}
                Err(e) => {
                    // Out of file descriptors or similar: wait and try again rather than
                    // spin or give up; the condition usually clears as connections close.
                    tracing::warn!("accept failed: {e}; retrying in {backoff:?}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            },
        }
    }
    drop(listener);
    stopped();
    let drained = tokio::time::timeout(drain.grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            "{} {} still open after the {:?} grace period; aborting them",
            connections.len(),
            drain.what,
            drain.grace
        );
        connections.shutdown().await;
    }
    Ok(())
}

/// Errors of `accept` that concern only the connection being accepted, not the listener.
pub(crate) fn is_per_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
    )
}
