//! What every player of bytes over a socket shares — the v1 engine ([`super::play`]), the v2
//! script interpreter and the fuzzing session: opening a client socket the way a plan asks,
//! the no-progress clock, and the evidence of a mismatch.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;

use super::divergence::{DivergenceKind, MismatchEvidence};
use crate::case::WritePlan;
use crate::hexdump;

/// Opens a client connection to `addr` with the socket options of `write`, within
/// `connect_timeout`. Refused and timed-out connects are their own divergence kinds.
pub(crate) async fn open(
    write: &WritePlan,
    addr: SocketAddr,
    connect_timeout: Duration,
) -> Result<TcpStream, DivergenceKind> {
    let io = |e: std::io::Error| DivergenceKind::Io {
        kind: e.kind(),
        message: e.to_string(),
    };
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(io)?;
    // Buffer sizes go on before connecting, so the window scale is negotiated with them.
    if let Some(size) = write.send_buffer {
        socket.set_send_buffer_size(size).map_err(io)?;
    }
    if let Some(size) = write.recv_buffer {
        socket.set_recv_buffer_size(size).map_err(io)?;
    }
    socket.set_nodelay(write.nodelay).map_err(io)?;
    match tokio::time::timeout(connect_timeout, socket.connect(addr)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            Err(DivergenceKind::Refused)
        }
        Ok(Err(e)) => Err(io(e)),
        Err(_) => Err(DivergenceKind::ConnectTimeout {
            waited: connect_timeout,
        }),
    }
}

/// When either direction of a connection last moved a byte, shared by its writer and reader.
pub(crate) struct Progress {
    base: Instant,
    last_nanos: AtomicU64,
}

impl Progress {
    pub(crate) fn new() -> Progress {
        Progress {
            base: Instant::now(),
            last_nanos: AtomicU64::new(0),
        }
    }

    pub(crate) fn touch(&self) {
        self.touch_at(Instant::now());
    }

    /// Counts `at`, possibly in the future, as the last progress: a pause the plan asks for
    /// holds the deadline off for its whole length, even when it is longer than the timeout.
    pub(crate) fn touch_at(&self, at: Instant) {
        let nanos =
            u64::try_from(at.saturating_duration_since(self.base).as_nanos()).unwrap_or(u64::MAX);
        self.last_nanos.fetch_max(nanos, Ordering::Relaxed);
    }

    pub(crate) fn deadline(&self, timeout: Duration) -> Instant {
        self.base + Duration::from_nanos(self.last_nanos.load(Ordering::Relaxed)) + timeout
    }

    /// Runs `operation` until it completes (`Some`) or nothing moved for `timeout` (`None`).
    pub(crate) async fn guard<T>(
        &self,
        timeout: Duration,
        operation: impl std::future::Future<Output = T>,
    ) -> Option<T> {
        tokio::pin!(operation);
        loop {
            let deadline = self.deadline(timeout);
            tokio::select! {
                biased;
                output = &mut operation => return Some(output),
                () = tokio::time::sleep_until(deadline) => {
                    // The other direction may have moved meanwhile; only a deadline that still
                    // stands is a stall.
                    if self.deadline(timeout) <= Instant::now() {
                        return None;
                    }
                }
            }
        }
    }
}

/// A mismatch at stream offset `offset` of an expected stretch `start..end`, where
/// `expected(from, to)` gives the expected bytes of any part of it and `wrong` holds the
/// received bytes from the offset on. The windows of the hexdumps are cut here, once.
pub(crate) fn mismatch(
    expected: impl Fn(u64, u64) -> Vec<u8>,
    start: u64,
    end: u64,
    offset: u64,
    wrong: &[u8],
) -> DivergenceKind {
    let (w_start, w_len) = hexdump::window(offset - start, end - start, 16, 32);
    let window_start = start + w_start;
    let expected_window = expected(window_start, window_start + w_len);
    let mut received_window = expected(window_start, offset);
    received_window.extend_from_slice(&wrong[..wrong.len().min(32)]);
    let expected_byte = if offset < end {
        expected(offset, offset + 1).first().copied().unwrap_or(0)
    } else {
        0
    };
    DivergenceKind::Mismatch {
        offset,
        expected: expected_byte,
        actual: wrong.first().copied().unwrap_or(0),
        evidence: Box::new(MismatchEvidence {
            expected_window,
            received_window,
            window_start,
            crossed_from: None,
        }),
    }
}
