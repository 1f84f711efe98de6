//! The lossless drain, the same for the echo server and the proxy (HAProxy's soft stop, Envoy's
//! drain): once asked to stop, the listener is closed at once (new clients are refused) and
//! every open connection is served on, untouched, until its client ends it, its idle timeout
//! fires, or the grace period runs out. Only then are the connections still open **cut**: each
//! stops reading, writes back everything it has read, closes its write side and lingers (reads
//! and discards) until its client closes too or [`CUT_MARGIN`] ends. What is still running
//! then is aborted. Being told to [stop now](StopNow) ends all of it at once.
//!
//! A byte-stream protocol has no "between requests": the connection is the transaction, so a
//! connection waiting for data is not a connection that may be closed.

use std::fmt;
use std::io;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::background::StopFuture;

/// How long connections cut at the end of the grace period get to write back what they owe
/// and see their client close, before they are aborted. Within the one second that a dropped
/// handle adds to the grace period ([`Background`](super::background::Background)), with room
/// for the runtime to stop.
pub(crate) const CUT_MARGIN: Duration = Duration::from_millis(500);

/// How long a cut connection reads and discards after its FIN, waiting for its client to close
/// (within [`CUT_MARGIN`], leaving time to write what was owed first).
pub(crate) const LINGER: Duration = Duration::from_millis(300);

/// How a served listener drains: the grace period, what to call its connections in the log,
/// where the log lines go, the signal to stop at once, and how to tell connections they are cut.
pub(crate) struct Drain<'a, C> {
    pub(crate) grace: Duration,
    /// `connection`, `proxied connection` (an `s` is added for any count but one).
    pub(crate) what: &'a str,
    /// Where the drain's lines go: the CLI prints them; the library logs them.
    pub(crate) say: Option<Say>,
    /// Completes when the server is told to stop now ([`StopNow::stopped`]).
    pub(crate) stop_now: StopFuture,
    /// Called once when the grace period runs out: connections still open must stop reading,
    /// write back what they read, and close.
    pub(crate) cut: C,
}

/// A sink for the drain's lines (`draining 3 connections ...`).
pub(crate) type Say = fn(fmt::Arguments<'_>);

impl<C: FnOnce()> Drain<'_, C> {
    /// Stops every connection at once (the listener is closed already).
    pub(crate) async fn stop_at_once<T: 'static>(self, connections: JoinSet<T>) {
        stop_at_once(self.say, self.what, connections).await;
    }

    /// Drains `connections`, once the listener has been closed.
    pub(crate) async fn run<T: 'static>(self, mut connections: JoinSet<T>) {
        let Drain {
            grace,
            what,
            say,
            mut stop_now,
            cut,
        } = self;
        let open = connections.len();
        tell(
            say,
            false,
            format_args!(
                "draining {} (signal again to stop now)",
                counted(open, what)
            ),
        );
        tokio::select! {
            ended = tokio::time::timeout(grace, join_all(&mut connections)) => if ended.is_ok() {
                let line = format_args!("drained: {} ended; 0 cut by the grace period", counted(open, what));
                return tell(say, false, line);
            },
            () = &mut stop_now => return stop_at_once(say, what, connections).await,
        }
        let left = connections.len();
        cut();
        tokio::select! {
            flushed = tokio::time::timeout(CUT_MARGIN, join_all(&mut connections)) => {
                let aborted = connections.len();
                connections.shutdown().await;
                let how = if flushed.is_ok() {
                    "each after writing back what it owed".to_string()
                } else {
                    format!("{aborted} of them aborted before writing back what they owed")
                };
                tell(say, true, format_args!("{} cut by the {grace:?} grace period; {how}", counted(left, what)));
            }
            () = &mut stop_now => stop_at_once(say, what, connections).await,
        }
    }
}

/// Says `line` through `say`, or logs it; in the log, a line about cut connections is a warning.
fn tell(say: Option<Say>, cut_some: bool, line: fmt::Arguments<'_>) {
    match say {
        Some(say) => say(line),
        None if cut_some => tracing::warn!("{line}"),
        None => tracing::info!("{line}"),
    }
}

/// `1 connection`, `3 connections`.
fn counted(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

async fn stop_at_once<T: 'static>(say: Option<Say>, what: &str, mut connections: JoinSet<T>) {
    let cut = connections.len();
    connections.shutdown().await;
    tell(
        say,
        cut > 0,
        format_args!("stopped at once: {} cut", counted(cut, what)),
    );
}

async fn join_all<T: 'static>(connections: &mut JoinSet<T>) {
    while connections.join_next().await.is_some() {}
}

/// The "stop now" of a server or proxy: sticky, so a call before the drain starts counts too.
#[derive(Debug)]
pub(crate) struct StopNow(watch::Sender<bool>);

impl StopNow {
    pub(crate) fn new() -> StopNow {
        StopNow(watch::Sender::new(false))
    }

    /// Asks the running (or next) serve to stop at once.
    pub(crate) fn stop_now(&self) {
        self.0.send_replace(true);
    }

    /// Completes once [`stop_now`](Self::stop_now) was called.
    pub(crate) fn stopped(&self) -> StopFuture {
        let mut now = self.0.subscribe();
        Box::pin(async move {
            // The sender lives as long as the server; a closed channel cannot stop anything.
            if now.wait_for(|now| *now).await.is_err() {
                std::future::pending::<()>().await;
            }
        })
    }
}

/// After a cut: reads and discards until the client closes (EOF or reset) or [`LINGER`] ends.
///
/// Closing a socket that still has unread bytes makes the kernel send a reset, which throws
/// away what was still queued for the client: the bytes it was owed. Lingering lets the client
/// read them, see the FIN, and close first, as web servers' "lingering close" does.
pub(crate) async fn linger(stream: &TcpStream) {
    let _ = tokio::time::timeout(LINGER, async {
        loop {
            if stream.readable().await.is_err() {
                return;
            }
            match discard(|scratch| stream.try_read(scratch)) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                    ) => {}
                Err(_) => return,
            }
        }
    })
    .await;
}

/// One read of a lingering socket by `read`, into a buffer thrown away: on this plain
/// function's stack, never in the future of the task that lingers. A buffer declared in an
/// `async fn` lives in its future, so in the task of every connection whose future may reach
/// the linger, whether or not it ever does: 4 KiB for each of 10,000 idle connections were most
/// of the server's memory (issue 12).
pub(crate) fn discard(read: impl FnOnce(&mut [u8]) -> io::Result<usize>) -> io::Result<usize> {
    let mut scratch = [0u8; 4096];
    read(&mut scratch)
}
