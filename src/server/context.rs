//! What every connection task of the server shares, whichever path serves it (the portable
//! loop in [`connection`](super::connection) or the Linux fast path): its context, and how an
//! I/O error ends it. Both paths depend on this module, and neither on the other.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::pool::BufferPool;
use super::stats::ConnectionEnd;

/// What a connection task needs besides its socket.
#[derive(Debug, Clone)]
pub(crate) struct ConnectionContext {
    pub(crate) pool: Arc<BufferPool>,
    pub(crate) idle_timeout: Option<Duration>,
    /// Flips to `true` when the shutdown grace period runs out (not when shutdown starts: a
    /// draining server serves its open connections as before). A connection still open then
    /// is cut: it reads no more, writes back what it has read, closes its write side and
    /// lingers ([`listener::drain`](crate::listener::drain)).
    pub(crate) cut: watch::Receiver<bool>,
    /// [`ServerConfig::fast_path`](super::ServerConfig::fast_path).
    // Read only by the Linux fast path.
    #[cfg_attr(
        any(not(target_os = "linux"), feature = "fault-injection"),
        allow(dead_code)
    )]
    pub(crate) fast_path: bool,
    /// [`ServerConfig::splice`](super::ServerConfig::splice).
    // Read only by the Linux fast path.
    #[cfg_attr(
        any(not(target_os = "linux"), feature = "fault-injection"),
        allow(dead_code)
    )]
    pub(crate) splice: bool,
    /// The pipes splice bursts borrow on the fast path; bounded like the buffers.
    #[cfg(all(target_os = "linux", not(feature = "fault-injection")))]
    pub(crate) pipes: Arc<crate::listener::pipes::PipePool>,
}

/// How an I/O error ends a connection: a reset by the peer, or an error of its kind.
pub(crate) fn end_of(error: &io::Error) -> ConnectionEnd {
    match error.kind() {
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => ConnectionEnd::Reset,
        kind => ConnectionEnd::Error(kind),
    }
}
