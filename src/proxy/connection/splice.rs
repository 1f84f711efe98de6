//! A direction without toxics on Linux: socket → pipe → socket with splice(2), so the bytes
//! never pass through user space. Nothing else changes from the portable copy in `pump`:
//!
//! - **Only for bulk.** A direction copies (read, write) until a read brings at least
//!   [`BULK_MIN`] bytes: then its bursts splice, until one whose first splice moves less than
//!   that goes back to copying. Splicing a small message costs more than copying it (rr 64 B
//!   through the proxy: p50 37.9 µs spliced against 33.2 µs copied, one pair). Not "a read
//!   fills the buffer", as the server's fast path has it: loopback's segments are 65,483
//!   bytes, so a proxy that keeps up with the sender reads a segment at a time and never
//!   fills 64 KiB.
//! - **Bursts.** A streaming direction waits for data holding nothing, then borrows a pipe from
//!   the proxy's bounded [`PipePool`] for one burst: splice in at most `min(buffer_size,
//!   64 KiB)` bytes, splice all of them out, again, until the source has nothing more
//!   (`EAGAIN`); then the pipe goes back, empty. The pipe is empty before every splice in, so
//!   `EAGAIN` there can only mean the socket is drained.
//! - **The buffer bound** is the copy's: the bytes held are those of one splice in, at most
//!   `min(buffer_size, 64 KiB)`, now in a pipe's kernel pages instead of the read buffer (a
//!   pipe is sized to hold that much, one page at least, and holds nothing between bursts).
//! - **When the pool is empty** the burst is one read copied, as when not bulk, through the
//!   direction's one read buffer of `min(buffer_size, 64 KiB)` (the copy's).
//! - **Counters, half-close, the cut, errors** as in the copy: each splice in counts as a read,
//!   its bytes count out once they are all spliced out (one write); the source's EOF becomes a
//!   shutdown of the write side after every byte before it; at the cut the client's reader
//!   splices no more and the FIN follows what the pipe held; a failed splice ends the
//!   connection as the failed read or write would.

use std::future::poll_fn;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite, Interest};
use tokio::net::TcpStream;

use super::pump::{error_end, finish, forward, read_or_cut};
use super::{GraceCut, MAX_READ};
use crate::listener::pipes::{LentPipe, PipePool};
use crate::proxy::stats::{LiveFlow, ProxyEnd};

/// A read of at least this much is bulk, and the next bursts splice; a burst whose first
/// splice moves less goes back to copying, which is cheaper for small messages (the server's
/// threshold for the latter).
const BULK_MIN: usize = 4096;

/// What a burst left the direction with.
enum Burst {
    /// The source is drained for now: wait for more.
    More,
    /// The source's EOF, or the cut: pass the FIN on.
    End,
}

/// One direction without toxics, spliced; see the module's doc.
pub(super) async fn splice_copy<R, W>(
    mut src: R,
    mut dst: W,
    pipes: &Arc<PipePool>,
    flow: &LiveFlow,
    buffer_size: usize,
    ends: [ProxyEnd; 2],
    cut: &GraceCut,
) -> Result<(), ProxyEnd>
where
    R: AsyncRead + Unpin + AsRef<TcpStream>,
    W: AsyncWrite + Unpin + AsRef<TcpStream>,
{
    let [read_end, write_end] = ends;
    let len = buffer_size.clamp(1, MAX_READ);
    let mut buffer = vec![0u8; len];
    // Whether the direction moves bulk, so that its bursts splice.
    let mut bulk = false;
    let cutting = cut.stopping_reader();
    tokio::pin!(cutting);
    loop {
        if bulk {
            // Wait for data with neither pipe nor bytes held. Checked before each wait too, so
            // a stream that never pauses is cut as well.
            let ready = !cut.stops_reader()
                && tokio::select! {
                    ready = poll_fn(|cx| src.as_ref().poll_read_ready(cx)) => {
                        ready.map_err(|e| error_end(&e, read_end.clone()))?;
                        true
                    }
                    () = &mut cutting => false,
                };
            if !ready {
                cut.hit();
                return finish(&mut dst, write_end).await;
            }
            if let Some(pipe) = pipes.take() {
                let (from, to) = (src.as_ref(), dst.as_ref());
                let ends = [&read_end, &write_end];
                let (burst, first) = splice_burst(from, to, pipe, len, flow, ends, cut).await?;
                if let Burst::End = burst {
                    return finish(&mut dst, write_end).await;
                }
                bulk = moved(first, bulk, len);
                continue;
            }
            // No pipe free: this read is copied.
        }
        let n = read_or_cut(&mut src, &mut buffer, cut, cutting.as_mut(), &read_end).await?;
        if n == 0 {
            return finish(&mut dst, write_end).await;
        }
        forward(&mut dst, &buffer[..n], flow, &write_end).await?;
        bulk = moved(n, bulk, len);
    }
}

/// Whether the direction is bulk after a burst that first moved `n` bytes (none: as it was).
fn moved(n: usize, bulk: bool, len: usize) -> bool {
    if n == 0 {
        bulk
    } else {
        n >= BULK_MIN.min(len)
    }
}

/// Splices socket → pipe → socket until the source is drained, ends, or the reader is cut;
/// also says how much the first splice moved.
async fn splice_burst(
    src: &TcpStream,
    dst: &TcpStream,
    mut pipe: LentPipe,
    len: usize,
    flow: &LiveFlow,
    [read_end, write_end]: [&ProxyEnd; 2],
    cut: &GraceCut,
) -> Result<(Burst, usize), ProxyEnd> {
    let (from, to) = (src.as_raw_fd(), dst.as_raw_fd());
    let mut first = None;
    loop {
        let moved = first.unwrap_or(0);
        if cut.stops_reader() {
            cut.hit();
            return Ok((Burst::End, moved));
        }
        // Through `try_io`, so that `EAGAIN` clears the readiness that sent us here.
        let n = match src.try_io(Interest::READABLE, || pipe.fill_from(from, len)) {
            Ok(0) => return Ok((Burst::End, moved)),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok((Burst::More, moved)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(error_end(&e, read_end.clone())),
        };
        first.get_or_insert(n);
        flow.read(n);
        // Not even the cut interrupts this: these bytes were read, so they are owed.
        while pipe.held > 0 {
            match dst.try_io(Interest::WRITABLE, || pipe.drain_to(to)) {
                Ok(0) => return Err(ProxyEnd::Error(io::ErrorKind::WriteZero)),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    poll_fn(|cx| dst.poll_write_ready(cx))
                        .await
                        .map_err(|e| error_end(&e, write_end.clone()))?;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(error_end(&e, write_end.clone())),
            }
        }
        flow.released(n, true);
    }
}
