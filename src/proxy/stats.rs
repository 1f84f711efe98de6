//! The proxy's counters: totals, live counters per open connection, and a bounded ring of
//! recently closed connections (the same [`ClosedRing`] the server's stats keep).
//!
//! A connection is known by its accept index since the last restart (what the seed derivation
//! uses, so what a test or `check --through` reasons about) and by its client's address; its
//! record also holds the proxy's own address on the upstream side, which is the peer the
//! upstream server sees, so a test can find the server's record of the same connection.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::chain::{Flow, Toxic};
use crate::sync::{lock, ClosedRing};

/// How many drawn slice sizes a direction's record keeps (the first ones).
pub const RECORDED_SLICES: usize = 64;

/// Totals for the whole proxy, read at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProxySnapshot {
    /// Connections accepted since the proxy started (restarts do not reset it).
    pub accepted: u64,
    /// Connections open now.
    pub active: u64,
    /// Connections whose upstream could not be reached.
    pub upstream_failures: u64,
    /// Bytes read from clients, on connections that have closed.
    pub bytes_up: u64,
    /// Bytes read from upstreams, on connections that have closed.
    pub bytes_down: u64,
}

/// How a proxied connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyEnd {
    /// Both directions ended (each with its FIN passed on, or cut by `limit`).
    Closed,
    /// The client reset the connection (or vanished while the proxy wrote to it); the
    /// upstream socket was reset too.
    ClientReset,
    /// The upstream reset the connection (or vanished); the client socket was reset too.
    UpstreamReset,
    /// A `reset` toxic fired: both sockets were reset.
    ResetToxic,
    /// The upstream could not be reached; the client socket was reset at once.
    UpstreamUnreachable(std::io::ErrorKind),
    /// Cut by the shutdown: it was still open when the grace period ran out. The proxy stopped
    /// reading both sides, wrote what it had read from each to the other, passed the FINs on,
    /// and closed it (or, when even that could not finish within half a second, aborted it).
    /// Also every connection open when the proxy was told to stop now.
    ShutdownAborted,
    /// Any other I/O error, by kind; both sockets were reset.
    Error(std::io::ErrorKind),
}

impl fmt::Display for ProxyEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxyEnd::Closed => f.write_str("closed"),
            ProxyEnd::ClientReset => f.write_str("reset by the client"),
            ProxyEnd::UpstreamReset => f.write_str("reset by the upstream"),
            ProxyEnd::ResetToxic => f.write_str("reset by a `reset` toxic"),
            ProxyEnd::UpstreamUnreachable(kind) => write!(f, "upstream unreachable: {kind}"),
            ProxyEnd::ShutdownAborted => f.write_str("cut by the shutdown"),
            ProxyEnd::Error(kind) => write!(f, "i/o error: {kind}"),
        }
    }
}

/// What one direction of a connection saw.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FlowRecord {
    /// The toxics acting on this direction (the chain's, after the toxicity decisions).
    pub toxics: Vec<Toxic>,
    /// Bytes read from the source side.
    pub bytes_in: u64,
    /// Bytes written to the other side.
    pub bytes_out: u64,
    /// Writes to the other side: with `slice`, each slice (or the part of one that had arrived)
    /// is one write.
    pub writes: u64,
    /// The first [`RECORDED_SLICES`] slice sizes drawn, in stream order.
    pub slices: Vec<u64>,
    /// The most bytes ever held (read and not yet written or dropped); at most
    /// [`ProxyConfig::buffer_size`](super::ProxyConfig::buffer_size).
    pub max_held: u64,
}

/// What the proxy saw on one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyConnectionRecord {
    /// How many times the proxy had been restarted when it accepted the connection.
    pub generation: u64,
    /// The accept index since the last restart (0 for the first connection).
    pub index: u64,
    /// The seed its faults were drawn from.
    pub seed: u64,
    /// The client's address.
    pub client: SocketAddr,
    /// The proxy's own address on the upstream connection: the peer the upstream sees.
    pub upstream_local: Option<SocketAddr>,
    /// Client to server.
    pub up: FlowRecord,
    /// Server to client.
    pub down: FlowRecord,
    /// How long it was open (so far, for a live one).
    pub duration: Duration,
    /// How it ended; `None` while it is open.
    pub end: Option<ProxyEnd>,
}

impl ProxyConnectionRecord {
    /// The record of one direction.
    pub fn flow(&self, flow: Flow) -> &FlowRecord {
        match flow {
            Flow::Up => &self.up,
            Flow::Down => &self.down,
        }
    }
}

/// Counters of one direction, updated by its task without a lock.
#[derive(Debug, Default)]
pub(crate) struct LiveFlow {
    toxics: Vec<Toxic>,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    writes: AtomicU64,
    held: AtomicU64,
    max_held: AtomicU64,
    slices: Mutex<Vec<u64>>,
}

impl LiveFlow {
    pub(crate) fn read(&self, n: usize) {
        let n = n as u64;
        self.bytes_in.fetch_add(n, Ordering::Relaxed);
        let held = self.held.fetch_add(n, Ordering::Relaxed) + n;
        self.max_held.fetch_max(held, Ordering::Relaxed);
    }

    /// `n` held bytes left: written (`wrote`) or dropped.
    pub(crate) fn released(&self, n: usize, wrote: bool) {
        let n = n as u64;
        self.held.fetch_sub(n, Ordering::Relaxed);
        if wrote {
            self.bytes_out.fetch_add(n, Ordering::Relaxed);
            self.writes.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn slice_drawn(&self, size: u64) {
        let mut slices = lock(&self.slices);
        if slices.len() < RECORDED_SLICES {
            slices.push(size);
        }
    }

    fn record(&self) -> FlowRecord {
        FlowRecord {
            toxics: self.toxics.clone(),
            bytes_in: self.bytes_in.load(Ordering::Relaxed),
            bytes_out: self.bytes_out.load(Ordering::Relaxed),
            writes: self.writes.load(Ordering::Relaxed),
            slices: lock(&self.slices).clone(),
            max_held: self.max_held.load(Ordering::Relaxed),
        }
    }
}

/// Counters of one open connection.
#[derive(Debug)]
pub(crate) struct LiveConnection {
    generation: u64,
    index: u64,
    seed: u64,
    client: SocketAddr,
    opened: Instant,
    upstream_local: Mutex<Option<SocketAddr>>,
    pub(crate) up: LiveFlow,
    pub(crate) down: LiveFlow,
}

impl LiveConnection {
    fn record(&self, end: Option<ProxyEnd>) -> ProxyConnectionRecord {
        ProxyConnectionRecord {
            generation: self.generation,
            index: self.index,
            seed: self.seed,
            client: self.client,
            upstream_local: *lock(&self.upstream_local),
            up: self.up.record(),
            down: self.down.record(),
            duration: self.opened.elapsed(),
            end,
        }
    }
}

/// All counters of one proxy, shared between its tasks and any number of readers.
#[derive(Debug)]
pub struct ProxyStats {
    accepted: AtomicU64,
    active: AtomicU64,
    upstream_failures: AtomicU64,
    bytes_up: AtomicU64,
    bytes_down: AtomicU64,
    /// Open connections by (generation, accept index); entries leave on close.
    live: Mutex<HashMap<(u64, u64), Arc<LiveConnection>>>,
    /// Recently closed connections, oldest first.
    closed: ClosedRing<ProxyConnectionRecord>,
}

impl ProxyStats {
    pub(crate) fn new(closed_capacity: usize) -> ProxyStats {
        ProxyStats {
            accepted: AtomicU64::new(0),
            active: AtomicU64::new(0),
            upstream_failures: AtomicU64::new(0),
            bytes_up: AtomicU64::new(0),
            bytes_down: AtomicU64::new(0),
            live: Mutex::new(HashMap::new()),
            closed: ClosedRing::new(closed_capacity),
        }
    }

    /// The totals, read now.
    pub fn snapshot(&self) -> ProxySnapshot {
        ProxySnapshot {
            accepted: self.accepted.load(Ordering::Relaxed),
            active: self.active.load(Ordering::Relaxed),
            upstream_failures: self.upstream_failures.load(Ordering::Relaxed),
            bytes_up: self.bytes_up.load(Ordering::Relaxed),
            bytes_down: self.bytes_down.load(Ordering::Relaxed),
        }
    }

    /// The connection with accept `index` in the newest generation that has one: the open one
    /// if there is one, else the newest closed one still in the ring.
    pub fn connection(&self, index: u64) -> Option<ProxyConnectionRecord> {
        let live = lock(&self.live)
            .values()
            .filter(|c| c.index == index)
            .max_by_key(|c| c.generation)
            .map(|c| c.record(None));
        live.or_else(|| self.closed.newest(|r| r.index == index))
    }

    /// The connection from `client`, open or recently closed.
    pub fn connection_from(&self, client: SocketAddr) -> Option<ProxyConnectionRecord> {
        let live = lock(&self.live)
            .values()
            .find(|c| c.client == client)
            .map(|c| c.record(None));
        live.or_else(|| self.closed.newest(|r| r.client == client))
    }

    /// Open connections, in no particular order.
    pub fn open_connections(&self) -> Vec<ProxyConnectionRecord> {
        lock(&self.live).values().map(|c| c.record(None)).collect()
    }

    /// Waits, at most `timeout`, until the connection from `client` has closed, and returns
    /// its record. Blocks the calling thread (the proxy runs on its own tasks).
    pub fn wait_closed(
        &self,
        client: SocketAddr,
        timeout: Duration,
    ) -> Option<ProxyConnectionRecord> {
        self.closed.wait_newest(timeout, |r| r.client == client)
    }

    /// The closed connections still in the ring, oldest first.
    pub fn recently_closed(&self) -> Vec<ProxyConnectionRecord> {
        self.closed.to_vec()
    }

    /// Registers an accepted connection and returns the counters its task updates.
    pub(crate) fn open(
        self: &Arc<Self>,
        generation: u64,
        index: u64,
        seed: u64,
        client: SocketAddr,
        toxics: [Vec<Toxic>; 2],
    ) -> ConnectionTally {
        self.accepted.fetch_add(1, Ordering::Relaxed);
        self.active.fetch_add(1, Ordering::Relaxed);
        let [up, down] = toxics;
        let live = Arc::new(LiveConnection {
            generation,
            index,
            seed,
            client,
            opened: Instant::now(),
            upstream_local: Mutex::new(None),
            up: LiveFlow {
                toxics: up,
                ..LiveFlow::default()
            },
            down: LiveFlow {
                toxics: down,
                ..LiveFlow::default()
            },
        });
        lock(&self.live).insert((generation, index), Arc::clone(&live));
        ConnectionTally {
            stats: Arc::clone(self),
            live,
            end: ProxyEnd::ShutdownAborted,
        }
    }
}

/// The counters of one connection, held by its task. Dropping it closes the books: the
/// connection leaves the live map and enters the ring with its end, also when the task is
/// aborted (a cut connection that could not finish in time, or a stop now: recorded as
/// [`ProxyEnd::ShutdownAborted`]).
#[derive(Debug)]
pub(crate) struct ConnectionTally {
    stats: Arc<ProxyStats>,
    pub(crate) live: Arc<LiveConnection>,
    /// How the connection ended; set by the task before it returns.
    pub(crate) end: ProxyEnd,
}

impl ConnectionTally {
    /// The accept index since the last restart.
    pub(crate) fn live_index(&self) -> u64 {
        self.live.index
    }

    pub(crate) fn set_upstream_local(&self, addr: SocketAddr) {
        *lock(&self.live.upstream_local) = Some(addr);
    }

    pub(crate) fn flow(&self, flow: Flow) -> &LiveFlow {
        match flow {
            Flow::Up => &self.live.up,
            Flow::Down => &self.live.down,
        }
    }

    /// The record as it stands (for the end-of-connection log line).
    pub(crate) fn record(&self) -> ProxyConnectionRecord {
        self.live.record(Some(self.end.clone()))
    }
}

impl Drop for ConnectionTally {
    fn drop(&mut self) {
        let record = self.live.record(Some(self.end.clone()));
        if matches!(record.end, Some(ProxyEnd::UpstreamUnreachable(_))) {
            self.stats.upstream_failures.fetch_add(1, Ordering::Relaxed);
        }
        self.stats
            .bytes_up
            .fetch_add(record.up.bytes_in, Ordering::Relaxed);
        self.stats
            .bytes_down
            .fetch_add(record.down.bytes_in, Ordering::Relaxed);
        // Filed as closed before it leaves the live table, so that a reader looking for this
        // connection always finds one of the two.
        self.stats.closed.push(record);
        let key = (self.live.generation, self.live.index);
        lock(&self.stats.live).remove(&key);
        self.stats.active.fetch_sub(1, Ordering::Relaxed);
    }
}
