//! The server's counters: totals for the whole server, live counters per open connection, and a
//! bounded ring of recently closed connections.
//!
//! The harness holds the client side of a socket and wants to know what the server saw on the
//! other side: how many reads the input arrived in, how many bytes went each way and how the
//! connection ended. So per-connection figures are keyed by the peer address, the one thing both
//! ends agree on. Closed connections are kept in a ring of fixed capacity, so a long-running
//! server never grows without bound; a harness asks soon after closing, while its record is still
//! there.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::sync::{lock, ClosedRing};
use std::time::{Duration, Instant};

/// Totals for a whole server, as read at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatsSnapshot {
    /// Connections accepted and served (rejected ones are not counted here).
    pub accepted: u64,
    /// Connections accepted and closed at once because the connection limit was reached.
    pub rejected: u64,
    /// Connections open now.
    pub active: u64,
    /// Bytes read from clients.
    pub bytes_in: u64,
    /// Bytes written back to clients.
    pub bytes_out: u64,
    /// Echo buffers lent out to connections that are moving data right now.
    pub buffers_in_use: u64,
}

/// How a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionEnd {
    /// The client shut down its write side (or closed); the server echoed everything it had
    /// read, then shut down its own write side.
    ClientClosed,
    /// No byte moved in either direction for the idle timeout (a connection stalled because its
    /// client does not read counts as idle too).
    IdleTimeout,
    /// No longer produced: a shutdown used to close a connection that was waiting for data.
    /// Since the drain became lossless, a connection is served on until its client ends it, and
    /// one that is still open when the grace period runs out is
    /// [`ShutdownAborted`](Self::ShutdownAborted). Kept so that matches on it still compile.
    ServerShutdown,
    /// Cut by the shutdown: its client had not ended it when the grace period ran out. The
    /// server stopped reading, wrote back everything it had read, and closed it (or, when even
    /// that could not finish within half a second, aborted it). Also every connection open when
    /// the server was told to stop now.
    ShutdownAborted,
    /// The connection limit was reached; the connection was accepted and closed at once.
    Rejected,
    /// The client reset the connection (or vanished while the server was writing).
    Reset,
    /// Any other I/O error, by kind.
    Error(std::io::ErrorKind),
}

impl fmt::Display for ConnectionEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectionEnd::ClientClosed => f.write_str("client closed"),
            ConnectionEnd::IdleTimeout => f.write_str("idle timeout"),
            ConnectionEnd::ServerShutdown => f.write_str("server shutdown"),
            ConnectionEnd::ShutdownAborted => f.write_str("cut by the shutdown"),
            ConnectionEnd::Rejected => f.write_str("rejected: connection limit reached"),
            ConnectionEnd::Reset => f.write_str("reset by peer"),
            ConnectionEnd::Error(kind) => write!(f, "i/o error: {kind}"),
        }
    }
}

/// What the server saw on one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionRecord {
    /// The client's address, as the server saw it (the client's `local_addr()`).
    pub peer: SocketAddr,
    /// How many reads returned data: how fragmented the input arrived at the server.
    pub reads: u64,
    /// Bytes read from the client.
    pub bytes_in: u64,
    /// Bytes written back.
    pub bytes_out: u64,
    /// How long the connection was open (so far, for a live one).
    pub duration: Duration,
    /// How it ended; `None` while it is still open.
    pub end: Option<ConnectionEnd>,
}

/// Counters of one open connection, updated by its task without a lock.
#[derive(Debug)]
pub(crate) struct LiveCounters {
    peer: SocketAddr,
    opened: Instant,
    reads: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
}

impl LiveCounters {
    fn record(&self, end: Option<ConnectionEnd>) -> ConnectionRecord {
        ConnectionRecord {
            peer: self.peer,
            reads: self.reads.load(Ordering::Relaxed),
            bytes_in: self.bytes_in.load(Ordering::Relaxed),
            bytes_out: self.bytes_out.load(Ordering::Relaxed),
            duration: self.opened.elapsed(),
            end,
        }
    }
}

/// All counters of one server. Shared between the server's tasks and any number of readers.
#[derive(Debug)]
pub struct ServerStats {
    accepted: AtomicU64,
    rejected: AtomicU64,
    active: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    buffers_in_use: AtomicU64,
    /// Open connections by peer. Entries are added on accept and removed on close, so the map
    /// never holds more than the connection limit.
    live: Mutex<HashMap<SocketAddr, Arc<LiveCounters>>>,
    /// Recently closed connections, oldest first, at most `closed_capacity` of them.
    closed: ClosedRing<ConnectionRecord>,
}

impl ServerStats {
    pub(crate) fn new(closed_capacity: usize) -> ServerStats {
        ServerStats {
            accepted: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            active: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            buffers_in_use: AtomicU64::new(0),
            live: Mutex::new(HashMap::new()),
            closed: ClosedRing::new(closed_capacity),
        }
    }

    /// The totals, read now.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            accepted: self.accepted.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            active: self.active.load(Ordering::Relaxed),
            bytes_in: self.bytes_in.load(Ordering::Relaxed),
            bytes_out: self.bytes_out.load(Ordering::Relaxed),
            buffers_in_use: self.buffers_in_use.load(Ordering::Relaxed),
        }
    }

    /// What the server sees, or saw, on the connection from `peer`: the open connection if there
    /// is one, else the most recent closed one still in the ring.
    pub fn connection(&self, peer: SocketAddr) -> Option<ConnectionRecord> {
        if let Some(live) = lock(&self.live).get(&peer) {
            return Some(live.record(None));
        }
        self.closed_connection(peer)
    }

    /// The most recent closed connection from `peer` still in the ring.
    pub fn closed_connection(&self, peer: SocketAddr) -> Option<ConnectionRecord> {
        self.closed.newest(|r| r.peer == peer)
    }

    /// Waits, at most `timeout`, until the connection from `peer` is closed on the server's side,
    /// and returns its record. `None` if it did not close in time.
    ///
    /// This blocks the calling thread; the server runs on its own tasks, so calling it from a
    /// test while the server runs elsewhere is fine.
    pub fn wait_closed(&self, peer: SocketAddr, timeout: Duration) -> Option<ConnectionRecord> {
        self.closed.wait_newest(timeout, |r| r.peer == peer)
    }

    /// The closed connections still in the ring, oldest first.
    pub fn recently_closed(&self) -> Vec<ConnectionRecord> {
        self.closed.to_vec()
    }

    /// Registers a newly accepted connection and returns the counters its task updates.
    pub(crate) fn open(self: &Arc<Self>, peer: SocketAddr) -> ConnectionTally {
        self.accepted.fetch_add(1, Ordering::Relaxed);
        self.active.fetch_add(1, Ordering::Relaxed);
        let live = Arc::new(LiveCounters {
            peer,
            opened: Instant::now(),
            reads: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
        });
        lock(&self.live).insert(peer, Arc::clone(&live));
        ConnectionTally {
            stats: Arc::clone(self),
            live,
            end: ConnectionEnd::ShutdownAborted,
        }
    }

    /// Records a connection that was turned away at the limit.
    pub(crate) fn reject(&self, peer: SocketAddr) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
        self.push_closed(ConnectionRecord {
            peer,
            reads: 0,
            bytes_in: 0,
            bytes_out: 0,
            duration: Duration::ZERO,
            end: Some(ConnectionEnd::Rejected),
        });
    }

    pub(crate) fn buffer_taken(&self) {
        self.buffers_in_use.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn buffer_returned(&self) {
        self.buffers_in_use.fetch_sub(1, Ordering::Relaxed);
    }

    fn push_closed(&self, record: ConnectionRecord) {
        self.closed.push(record);
    }
}

/// The counters of one connection, held by its task. Dropping it closes the books: the
/// connection leaves the live map and enters the ring with its end.
///
/// Because the record is written on drop, a connection task that is aborted (a cut connection
/// that could not write back what it owed in time, or a stop now) is still recorded, as
/// [`ConnectionEnd::ShutdownAborted`].
#[derive(Debug)]
pub(crate) struct ConnectionTally {
    stats: Arc<ServerStats>,
    live: Arc<LiveCounters>,
    /// How the connection ended; set by the task before it returns.
    pub(crate) end: ConnectionEnd,
}

impl ConnectionTally {
    pub(crate) fn read(&self, n: usize) {
        let n = n as u64;
        self.live.reads.fetch_add(1, Ordering::Relaxed);
        self.live.bytes_in.fetch_add(n, Ordering::Relaxed);
        self.stats.bytes_in.fetch_add(n, Ordering::Relaxed);
    }

    /// The client's address, as accepted.
    pub(crate) fn peer(&self) -> SocketAddr {
        self.live.peer
    }

    pub(crate) fn wrote(&self, n: usize) {
        let n = n as u64;
        self.live.bytes_out.fetch_add(n, Ordering::Relaxed);
        self.stats.bytes_out.fetch_add(n, Ordering::Relaxed);
    }
}

impl Drop for ConnectionTally {
    fn drop(&mut self) {
        // Filed as closed before it leaves the live table, so that a reader looking for this
        // peer always finds one of the two.
        let record = self.live.record(Some(self.end.clone()));
        self.stats.push_closed(record);
        lock(&self.stats.live).remove(&self.live.peer);
        self.stats.active.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn ring_keeps_only_the_newest_records() {
        let stats = Arc::new(ServerStats::new(2));
        for port in 1..=3 {
            let mut tally = stats.open(addr(port));
            tally.read(5);
            tally.end = ConnectionEnd::ClientClosed;
        }
        let closed = stats.recently_closed();
        let peers: Vec<u16> = closed.iter().map(|r| r.peer.port()).collect();
        assert_eq!(peers, vec![2, 3]);
        assert!(stats.closed_connection(addr(1)).is_none());
        assert_eq!(stats.snapshot().accepted, 3);
        assert_eq!(stats.snapshot().active, 0);
        assert_eq!(stats.snapshot().bytes_in, 15);
    }

    #[test]
    fn live_connection_is_found_by_peer_and_then_closed() {
        let stats = Arc::new(ServerStats::new(8));
        let mut tally = stats.open(addr(9));
        tally.read(3);
        tally.read(4);
        tally.wrote(7);
        let live = stats.connection(addr(9)).expect("live record");
        assert_eq!((live.reads, live.bytes_in, live.bytes_out), (2, 7, 7));
        assert_eq!(live.end, None);
        tally.end = ConnectionEnd::Reset;
        drop(tally);
        let closed = stats
            .wait_closed(addr(9), Duration::from_secs(1))
            .expect("closed record");
        assert_eq!(closed.end, Some(ConnectionEnd::Reset));
        assert!(stats
            .wait_closed(addr(10), Duration::from_millis(10))
            .is_none());
    }

    #[test]
    fn an_abandoned_tally_is_recorded_as_aborted() {
        let stats = Arc::new(ServerStats::new(8));
        drop(stats.open(addr(1)));
        assert_eq!(
            stats.closed_connection(addr(1)).unwrap().end,
            Some(ConnectionEnd::ShutdownAborted)
        );
    }
}
