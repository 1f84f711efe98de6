//! One proxied connection: connect upstream, then pump both directions through their toxics
//! until both have ended, or reset both sockets when either side resets or a toxic says so.
//!
//! Each direction is a reader and a writer joined by a queue, both running in the connection's
//! one task (so nothing outlives the connection):
//! - the **reader** reads from the source socket while its direction's byte budget has room,
//!   and applies the stream toxics (`limit`, `blackhole`, `reset=N`): of those acting on this
//!   direction, the one that fires first (the smallest N; chain order breaks ties) decides what
//!   happens after its N bytes, since the others never see a byte more;
//! - the **writer** shapes what gets through with the timing toxics: every chunk waits until its
//!   arrival plus each `latency` (± jitter; never before the previous chunk, so never
//!   reordered), is cut by each `slice` in chain order, each slice waits its delay after the
//!   previous slice's write, and `bandwidth` paces the writes; on the source's EOF it waits for
//!   `slow-close`, then shuts down the write side of the other socket (the FIN passes on only
//!   after every byte before it).
//!
//! **The buffer bound.** A direction never holds more than [`ProxyConfig::buffer_size`] bytes
//! read from one socket and not yet written to the other or dropped: the reader asks for at most
//! the budget's room, and the writer gives a slice's bytes back once the slice is written. That
//! includes the latency delay line and a chunk being sliced. Besides those bytes a direction
//! owns one read buffer of `min(buffer_size, 64 KiB)`. The kernel's socket buffers come on top
//! and are not the proxy's. On Linux a direction without toxics that moves bulk splices
//! instead (`splice`): its bytes held, at most `min(buffer_size, 64 KiB)`, sit in a pipe
//! borrowed for one burst from the proxy's pool of at most [`MAX_PIPES`]; a pipe's kernel
//! memory is at most its slots (16 by default) of the socket buffers' pages, and no direction
//! holds more than one pipe, nor any while it waits.
//!
//! **The cut.** A draining proxy serves its open connections as before; only when the shutdown
//! grace period runs out is a connection still open cut ([`GraceCut`]): the proxy stops reading
//! from the client, each writer writes what it holds at once (the timing toxics no longer wait),
//! the FIN goes upstream after the bytes owed, and the upstream's answer keeps flowing to the
//! client until the upstream closes too; then the connection lingers on both sockets before it
//! closes. Nothing the proxy read from one side is lost on its way to the other. The upstream
//! side is not cut: its answer to bytes already delivered is owed to the client as well, and an
//! upstream that cannot send would stop reading what the proxy still has to deliver (an echo
//! server behind a full socket), so that delivery would never end.
//!
//! The parts, one file each: `pump` (one direction: the reader and the writer joined by a queue, and the byte
//! budget between them; or the plain copy, or on Linux `splice`), `read_side` (the reader and the stream toxics), `write_side` (the
//! writer, `latency` and `bandwidth`) with `slicer` (`slice`). Which toxics act on a direction,
//! drawn from the seed at accept, is the chain's (`chain::plan`).
//!
//! [`ProxyConfig::buffer_size`]: super::ProxyConfig::buffer_size

mod pump;
mod read_side;
mod slicer;
#[cfg(target_os = "linux")]
mod splice;
#[cfg(all(test, target_os = "linux"))]
mod tests;
mod write_side;

use crate::proxy::chain::FlowPlan;

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;

use super::chain::Flow;
use super::stats::{ConnectionTally, ProxyEnd};
use pump::pump;

/// The most one read asks for.
const MAX_READ: usize = 64 * 1024;

/// What every connection of a proxy shares.
#[derive(Debug)]
pub(crate) struct ConnectionContext {
    pub(crate) upstream: SocketAddr,
    pub(crate) buffer_size: usize,
    pub(crate) connect_timeout: Duration,
    /// Flips to `true` when the shutdown grace period runs out: connections still open are cut.
    pub(crate) cut: watch::Receiver<bool>,
    /// The pipes that directions without toxics splice through, or `None` to copy them.
    #[cfg(target_os = "linux")]
    pub(crate) pipes: Option<Arc<crate::listener::pipes::PipePool>>,
}

/// The most pipes one proxy keeps, lent or free (two file descriptors each), as the server's
/// fast path: a direction borrows one only for a burst, and one that finds none free copies.
#[cfg(target_os = "linux")]
pub(crate) const MAX_PIPES: usize = 64;

impl ConnectionContext {
    /// The pool a proxy with directions of `buffer_size` splices through: each pipe holds one
    /// splice in, `min(buffer_size, 64 KiB)` bytes.
    #[cfg(target_os = "linux")]
    pub(crate) fn pipe_pool(buffer_size: usize) -> Arc<crate::listener::pipes::PipePool> {
        Arc::new(crate::listener::pipes::PipePool::new(
            MAX_PIPES,
            buffer_size.clamp(1, MAX_READ),
            Arc::new(()),
        ))
    }
}

/// The end of the shutdown grace period, as one connection sees it, and whether it cut the
/// connection (rather than the connection ending on its own first).
pub(super) struct GraceCut {
    rx: watch::Receiver<bool>,
    hit: AtomicBool,
    /// Whether this direction's reader stops at the cut: the client's does, the upstream's
    /// reads on until the upstream closes.
    stops_reading: bool,
}

impl GraceCut {
    /// Whether the grace period has run out: writers then stop waiting on timing toxics.
    pub(super) fn is_cut(&self) -> bool {
        *self.rx.borrow()
    }

    /// Completes when the grace period runs out (or the proxy is gone).
    pub(super) async fn cutting(&self) {
        let mut rx = self.rx.clone();
        let _ = rx.wait_for(|cut| *cut).await;
    }

    /// Whether this direction's reader must read no more.
    pub(super) fn stops_reader(&self) -> bool {
        self.stops_reading && self.is_cut()
    }

    /// Completes when this direction's reader must read no more; never for the upstream's.
    pub(super) async fn stopping_reader(&self) {
        if self.stops_reading {
            self.cutting().await;
        } else {
            std::future::pending::<()>().await;
        }
    }

    /// Notes that a reader stopped because of the cut.
    pub(super) fn hit(&self) {
        self.hit.store(true, Ordering::Relaxed);
    }
}

/// Proxies `client` to the upstream until the connection ends; records the end in `tally`.
pub(crate) async fn serve(
    mut client: TcpStream,
    ctx: Arc<ConnectionContext>,
    plans: [FlowPlan; 2],
    mut tally: ConnectionTally,
) {
    let index = tally.live_index();
    // `reset=DURATION` counts from the accept, not from the upstream's answer.
    let accepted_at = Instant::now();
    let mut upstream =
        match tokio::time::timeout(ctx.connect_timeout, TcpStream::connect(ctx.upstream)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                tracing::debug!(
                    "connection #{index}: upstream {} unreachable: {e}; resetting the client",
                    ctx.upstream
                );
                reset(&client);
                tally.end = ProxyEnd::UpstreamUnreachable(e.kind());
                return;
            }
            Err(_) => {
                tracing::debug!(
                "connection #{index}: upstream {} did not answer within {:?}; resetting the client",
                ctx.upstream,
                ctx.connect_timeout
            );
                reset(&client);
                tally.end = ProxyEnd::UpstreamUnreachable(io::ErrorKind::TimedOut);
                return;
            }
        };
    // Each slice must leave as its own segment; Nagle would glue them back together.
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    if let Ok(addr) = upstream.local_addr() {
        tally.set_upstream_local(addr);
    }
    let [up_plan, down_plan] = plans;
    let cut = GraceCut {
        rx: ctx.cut.clone(),
        hit: AtomicBool::new(false),
        stops_reading: true,
    };
    let upstream_cut = GraceCut {
        rx: ctx.cut.clone(),
        hit: AtomicBool::new(false),
        stops_reading: false,
    };
    let reset_after = match (up_plan.reset_after(), down_plan.reset_after()) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let end = {
        let (client_read, client_write) = client.split();
        let (upstream_read, upstream_write) = upstream.split();
        let up = pump(
            client_read,
            upstream_write,
            up_plan,
            tally.flow(Flow::Up),
            &ctx,
            [ProxyEnd::ClientReset, ProxyEnd::UpstreamReset],
            &cut,
        );
        let down = pump(
            upstream_read,
            client_write,
            down_plan,
            tally.flow(Flow::Down),
            &ctx,
            [ProxyEnd::UpstreamReset, ProxyEnd::ClientReset],
            &upstream_cut,
        );
        let timer = async {
            match reset_after {
                Some(after) => tokio::time::sleep_until(accepted_at + after).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            ended = async { tokio::try_join!(up, down) } => match ended {
                Ok(_) if cut.hit.load(Ordering::Relaxed) => ProxyEnd::ShutdownAborted,
                Ok(_) => ProxyEnd::Closed,
                Err(end) => end,
            },
            () = timer => ProxyEnd::ResetToxic,
        }
    };
    match end {
        ProxyEnd::Closed => {}
        // Both FINs are out after everything read; let both peers read and close first.
        ProxyEnd::ShutdownAborted => {
            tokio::join!(
                crate::listener::linger(&client),
                crate::listener::linger(&upstream)
            );
        }
        _ => {
            reset(&client);
            reset(&upstream);
        }
    }
    tally.end = end;
    let record = tally.record();
    tracing::debug!(
        "connection #{index} from {} ended: {}; up {} bytes in, {} out in {} writes; \
         down {} bytes in, {} out in {} writes",
        record.client,
        record
            .end
            .as_ref()
            .map_or_else(String::new, ToString::to_string),
        record.up.bytes_in,
        record.up.bytes_out,
        record.up.writes,
        record.down.bytes_in,
        record.down.bytes_out,
        record.down.writes,
    );
}

/// Sets SO_LINGER to 0, so that closing the socket sends a RST instead of a FIN.
fn reset(stream: &TcpStream) {
    let _ = socket2::SockRef::from(stream).set_linger(Some(Duration::ZERO));
}

#[cfg(test)]
mod size_tests {
    use super::*;

    /// The size of the futures `f` returns, without calling it.
    fn future_size<A, B, C, D, F: std::future::Future>(_: impl Fn(A, B, C, D) -> F) -> usize {
        std::mem::size_of::<F>()
    }

    /// What each proxied connection costs besides its sockets and buffers: a buffer declared in
    /// an `async fn` it may reach (the lingers' 2 x 4 KiB were) lands in every connection's
    /// future, whether or not that code runs (issue 12).
    #[test]
    fn a_proxied_connection_task_holds_no_buffer() {
        // 7,088 bytes in a debug build, most of it the two pumps (9,272 with the lingers'
        // buffers in it: they overlap the pumps, which are done by then, only in part).
        let size = future_size(serve);
        assert!(
            size <= 8192,
            "a proxied connection's future takes {size} bytes"
        );
    }
}
