//! The one accept loop, shared by the echo server and the proxy: accept until asked to stop,
//! hand each connection to a task, back off when accepting fails for the listener as a whole,
//! and then close the listener and drain ([`drain`](super::drain)).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use super::drain::Drain;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// The first wait after a failed accept; it doubles on each failure in a row, up to
/// [`MAX_BACKOFF`], and starts again after the next accepted connection.
const FIRST_BACKOFF: Duration = Duration::from_millis(5);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Accepts from `listener` until `shutdown` completes. `admit` turns each accepted connection
/// into the task that serves it (`None` turns it away: it is dropped, so the peer sees a close).
/// Then closes the listener at once, so new clients are refused, and drains the connections
/// ([`Drain::run`]). Told to stop now before that, it closes the listener and stops everything.
///
/// Tasks are spawned on the caller's runtime and kept in one set, reaped as they finish, so the
/// set holds only live ones however long the listener serves.
pub(crate) async fn serve<A, T>(
    listener: TcpListener,
    shutdown: impl Future,
    mut drain: Drain<'_, impl FnOnce()>,
    mut admit: A,
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
            () = &mut drain.stop_now => {
                drop(listener);
                drain.stop_at_once(connections).await;
                return Ok(());
            }
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
    // Connections the kernel completed before the stop but nobody accepted yet are open
    // connections to their clients, who may have sent already: closing the listener would
    // reset them. Take them into the drain first.
    for (stream, peer) in accept_backlog(listener) {
        if let Some(task) = admit(stream, peer) {
            connections.spawn(task);
        }
    }
    drain.run(connections).await;
    Ok(())
}

/// The most connections taken from the backlog at the stop: the kernel's own bound on a backlog
/// (`net.core.somaxconn`'s default since Linux 5.4), so the loop ends even if clients keep coming.
const MAX_BACKLOG: usize = 4096;

/// Accepts, without waiting, every connection already in `listener`'s backlog (asking the
/// socket itself, not the runtime's record of its readiness, which may lag), then closes the
/// listening socket: new clients see a refused connection rather than one accepted into a
/// backlog nobody serves.
fn accept_backlog(listener: TcpListener) -> Vec<(TcpStream, SocketAddr)> {
    let mut accepted = Vec::new();
    // `into_std` keeps the socket non-blocking, so `accept` says WouldBlock on an empty backlog.
    let Ok(listener) = listener.into_std() else {
        return accepted;
    };
    for _ in 0..MAX_BACKLOG {
        match listener.accept() {
            Ok((stream, peer)) => {
                let registered = stream
                    .set_nonblocking(true)
                    .and_then(|()| TcpStream::from_std(stream));
                match registered {
                    Ok(stream) => accepted.push((stream, peer)),
                    Err(e) => tracing::warn!("cannot serve a connection from {peer}: {e}"),
                }
            }
            Err(e) if is_per_connection_error(&e) => {}
            // WouldBlock: the backlog is empty. Anything else: the listener is done for.
            Err(_) => break,
        }
    }
    accepted
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
