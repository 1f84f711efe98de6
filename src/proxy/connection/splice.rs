//! A direction without toxics on Linux: socket → pipe → socket with splice(2), so the bytes
//! never pass through user space. Nothing else changes from the portable copy in `pump`:
//!
//! - **Only for streams, as the server's fast path.** A direction copies (read, write) until a
//!   read fills the whole buffer: then it streams, and splices. Splicing a small message costs
//!   more than copying it (rr 64 B through the proxy: p50 37.9 µs spliced against 33.2 µs
//!   copied, one pair), so a burst whose first splice moves less than [`BULK_MIN`] goes back
//!   to copying.
//! - **Bursts.** A streaming direction waits for data holding nothing, then borrows a pipe from
//!   the proxy's bounded [`PipePool`] for one burst: splice in at most `min(buffer_size,
//!   64 KiB)` bytes, splice all of them out, again, until the source has nothing more
//!   (`EAGAIN`); then the pipe goes back, empty. The pipe is empty before every splice in, so
//!   `EAGAIN` there can only mean the socket is drained.
//! - **The buffer bound** is the copy's: the bytes held are those of one splice in, at most
//!   `min(buffer_size, 64 KiB)`, now in a pipe's kernel pages instead of the read buffer (a
//!   pipe is sized to hold that much, one page at least, and holds nothing between bursts).
//! - **When the pool is empty** the direction copies as if it did not stream, through its one
//!   read buffer of `min(buffer_size, 64 KiB)` (the copy's).
//! - **Counters, half-close, the cut, errors** as in the copy: each splice in counts as a read,
//!   its bytes count out once they are all spliced out (one write); the source's EOF becomes a
//!   shutdown of the write side after every byte before it; at the cut the client's reader
//!   splices no more and the FIN follows what the pipe held; a failed splice ends the
//!   connection as the failed read or write would.

use std::io;
use std::os::fd::AsRawFd;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, Interest};
use tokio::net::TcpStream;

use super::pump::{error_end, finish};
use super::{GraceCut, MAX_READ};
use crate::listener::pipes::{LentPipe, PipePool};
use crate::proxy::stats::{LiveFlow, ProxyEnd};

/// A burst whose first splice moves less than this is not bulk: the direction goes back to
/// copying, which is cheaper for small messages (the server's threshold).
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
    src: R,
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
    // Whether the direction streams, so that its bursts splice.
    let mut bulk = false;
    let cutting = cut.stopping_reader();
    tokio::pin!(cutting);
    loop {
        // Wait for data with neither pipe nor bytes held. Checked before each wait too, so a
        // stream that never pauses is cut as well.
        let ready = !cut.stops_reader()
            && tokio::select! {
                ready = src.as_ref().readable() => {
                    ready.map_err(|e| error_end(&e, read_end.clone()))?;
                    true
                }
                () = &mut cutting => false,
            };
        let burst = if !ready {
            cut.hit();
            Burst::End
        } else if let Some(pipe) = bulk.then(|| pipes.take()).flatten() {
            let (from, to) = (src.as_ref(), dst.as_ref());
            let (burst, first) =
                splice_burst(from, to, pipe, len, flow, [&read_end, &write_end], cut).await?;
            bulk = first >= BULK_MIN.min(len);
            burst
        } else {
            let ends = [&read_end, &write_end];
            let (burst, n) = copy_once(src.as_ref(), &mut dst, &mut buffer, flow, ends).await?;
            // A full buffer: the source streams; the bursts after this one splice.
            bulk |= n == len;
            burst
        };
        if let Burst::End = burst {
            return finish(&mut dst, write_end).await;
        }
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
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => dst
                    .writable()
                    .await
                    .map_err(|e| error_end(&e, write_end.clone()))?,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(error_end(&e, write_end.clone())),
            }
        }
        flow.released(n, true);
    }
}

/// Not streaming, or no pipe free: one read into `buffer` and its write, as the portable copy
/// does; also says how much it read.
async fn copy_once<W: AsyncWrite + Unpin>(
    src: &TcpStream,
    dst: &mut W,
    buffer: &mut [u8],
    flow: &LiveFlow,
    [read_end, write_end]: [&ProxyEnd; 2],
) -> Result<(Burst, usize), ProxyEnd> {
    let n = match src.try_read(buffer) {
        Ok(0) => return Ok((Burst::End, 0)),
        Ok(n) => n,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
            ) =>
        {
            return Ok((Burst::More, 0))
        }
        Err(e) => return Err(error_end(&e, read_end.clone())),
    };
    flow.read(n);
    dst.write_all(&buffer[..n])
        .await
        .map_err(|e| error_end(&e, write_end.clone()))?;
    flow.released(n, true);
    Ok((Burst::More, n))
}
