//! One echo connection: read what the client sends, write all of it back, in order, and end
//! cleanly.
//!
//! The loop owns three promises:
//! - **No lost bytes.** A read is written back completely (every short `write` is continued)
//!   before the next read. When the client half-closes, everything read has already been written,
//!   so the server shuts down its write side and the client reads exactly its bytes, then EOF.
//! - **Backpressure, bounded memory.** Because the next read waits for the previous write, a
//!   client that stops reading stops the server from reading too: what the server holds for a
//!   connection (`bytes_in - bytes_out`) never exceeds one buffer, [`ServerConfig::buffer_size`].
//!   While waiting for data the connection holds no buffer at all.
//! - **Bounded waits.** Every wait, for readability or for a write to make progress, ends at the
//!   idle deadline (no byte moved either way for the idle timeout); a wait for data also ends
//!   when the shutdown grace period runs out (the connection is cut). Shutdown itself does not
//!   end a wait: a draining server keeps serving until the client ends the connection.
//!
//! [`ServerConfig::buffer_size`]: super::ServerConfig::buffer_size

use std::future::Future;
use std::io;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;

use super::context::{end_of, ConnectionContext};
use super::stats::{ConnectionEnd, ConnectionTally};
use crate::escape::escape_bytes_truncated;

/// Why a wait ended without its operation completing.
enum Interrupted {
    Idle,
    /// The shutdown grace period ran out.
    Cut,
}

/// Serves one connection until it ends, and records how it ended in `tally`.
pub(crate) async fn serve(
    stream: TcpStream,
    mut tally: ConnectionTally,
    mut ctx: ConnectionContext,
) {
    // Echo replies are small and latency-bound; Nagle would hold them back.
    let _ = stream.set_nodelay(true);
    // The fast path never sees the bytes, so logging them and the planted bug need the
    // portable one.
    #[cfg(all(target_os = "linux", not(feature = "fault-injection")))]
    if ctx.fast_path && !tracing::enabled!(tracing::Level::DEBUG) {
        let end = super::fast::serve(stream, &tally, &mut ctx).await;
        tracing::debug!(peer = %tally.peer(), "connection ended: {end}");
        tally.end = end;
        return;
    }
    let end = echo_until_end(&stream, &tally, &mut ctx).await;
    tracing::debug!(peer = %tally.peer(), "connection ended: {end}");
    tally.end = end;
}

async fn echo_until_end(
    stream: &TcpStream,
    tally: &ConnectionTally,
    ctx: &mut ConnectionContext,
) -> ConnectionEnd {
    let mut last_progress = Instant::now();
    #[cfg(feature = "fault-injection")]
    let mut fault = fault::Fault::default();
    loop {
        #[cfg(feature = "fault-injection")]
        if let Err(end) = fault
            .release_unless_more_comes(stream, tally, &mut last_progress, ctx)
            .await
        {
            return end;
        }
        // Wait for data with no buffer held.
        let readable = wait(
            idle_deadline(last_progress, ctx.idle_timeout),
            &mut ctx.cut,
            true,
            stream.readable(),
        )
        .await;
        match readable {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return end_of(&e),
            Err(Interrupted::Idle) => return ConnectionEnd::IdleTimeout,
            Err(Interrupted::Cut) => return cut(stream).await,
        }

        let mut buffer = ctx.pool.take();
        // Drain the socket while it has data, keeping the buffer for the whole burst.
        loop {
            let n = match stream.try_read(&mut buffer) {
                Ok(0) => {
                    #[cfg(feature = "fault-injection")]
                    if let Err(end) = fault.release(stream, tally, &mut last_progress, ctx).await {
                        return end;
                    }
                    return close_write(stream, ConnectionEnd::ClientClosed).await;
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return end_of(&e),
            };
            tally.read(n);
            last_progress = Instant::now();
            #[cfg(feature = "fault-injection")]
            let (n, late) = fault.hold_back(&buffer[..n]);
            if tracing::enabled!(tracing::Level::DEBUG) {
                tracing::debug!(
                    peer = %tally.peer(),
                    "echoed {n} bytes: {}",
                    escape_bytes_truncated(&buffer[..n], 256)
                );
            }
            if let Err(end) = write_all(stream, &buffer[..n], tally, &mut last_progress, ctx).await
            {
                return end;
            }
            #[cfg(feature = "fault-injection")]
            if let Some(byte) = late {
                if let Err(end) = write_all(stream, &[byte], tally, &mut last_progress, ctx).await {
                    return end;
                }
            }
            // Cut while streaming: what was read is written back; read no more.
            if *ctx.cut.borrow() {
                return cut(stream).await;
            }
        }
    }
}

/// Writes all of `bytes`, continuing every short write. Not even the cut interrupts it: these
/// bytes were read, so they are owed; the cut margin bounds how long that may take.
async fn write_all(
    stream: &TcpStream,
    mut bytes: &[u8],
    tally: &ConnectionTally,
    last_progress: &mut Instant,
    ctx: &mut ConnectionContext,
) -> Result<(), ConnectionEnd> {
    while !bytes.is_empty() {
        let written = wait(
            idle_deadline(*last_progress, ctx.idle_timeout),
            &mut ctx.cut,
            false,
            write_some(stream, bytes),
        )
        .await;
        match written {
            Ok(Ok(0)) => return Err(ConnectionEnd::Error(io::ErrorKind::WriteZero)),
            Ok(Ok(n)) => {
                tally.wrote(n);
                *last_progress = Instant::now();
                bytes = &bytes[n..];
            }
            Ok(Err(e)) => return Err(end_of(&e)),
            Err(_) => return Err(ConnectionEnd::IdleTimeout),
        }
    }
    Ok(())
}

async fn write_some(stream: &TcpStream, bytes: &[u8]) -> io::Result<usize> {
    loop {
        stream.writable().await?;
        match stream.try_write(bytes) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Runs `operation` until it completes, the idle deadline passes, or (when `stop_on_cut`) the
/// grace period runs out.
async fn wait<T>(
    deadline: Option<Instant>,
    cut: &mut watch::Receiver<bool>,
    stop_on_cut: bool,
    operation: impl Future<Output = T>,
) -> Result<T, Interrupted> {
    if stop_on_cut && *cut.borrow() {
        return Err(Interrupted::Cut);
    }
    let idle = async {
        match deadline {
            Some(deadline) => tokio::time::sleep_until(deadline).await,
            None => std::future::pending().await,
        }
    };
    let cutting = async {
        if !stop_on_cut {
            return std::future::pending().await;
        }
        // A closed channel means the server is gone: treat it as the cut.
        let _ = cut.wait_for(|cut| *cut).await;
    };
    tokio::select! {
        result = operation => Ok(result),
        () = idle => Err(Interrupted::Idle),
        () = cutting => Err(Interrupted::Cut),
    }
}

fn idle_deadline(last_progress: Instant, idle_timeout: Option<Duration>) -> Option<Instant> {
    idle_timeout.map(|idle| last_progress + idle)
}

/// Ends a connection cut by the grace period, with everything read already written back: the
/// FIN after the last echoed byte, then a linger, so closing does not reset what is still on
/// its way to the client.
async fn cut(stream: &TcpStream) -> ConnectionEnd {
    let end = close_write(stream, ConnectionEnd::ShutdownAborted).await;
    crate::listener::linger(stream).await;
    end
}

/// Shuts down the write side, so the client sees EOF after the last echoed byte.
async fn close_write(stream: &TcpStream, end: ConnectionEnd) -> ConnectionEnd {
    // `shutdown` on a shared reference: tokio's `AsyncWriteExt::shutdown` needs `&mut`, but the
    // socket-level call does not.
    match socket2::SockRef::from(stream).shutdown(std::net::Shutdown::Write) {
        Ok(()) => end,
        // The client may already be gone; the bytes we owed were written, so the end stands.
        Err(e) if e.kind() == io::ErrorKind::NotConnected => end,
        Err(e) => end_of(&e),
    }
}

#[cfg(feature = "fault-injection")]
mod fault;

#[cfg(test)]
mod tests {
    use super::*;

    /// The size of the futures `f` returns, without calling it.
    fn future_size<A, B, C, F: Future>(_: impl Fn(A, B, C) -> F) -> usize {
        std::mem::size_of::<F>()
    }

    /// A connection task's future is what each held connection costs besides its socket, and
    /// 10,000 idle connections multiply it. A buffer declared in an `async fn` that the task may
    /// reach (the linger's 4 KiB were) lands in it whether or not that code ever runs, which took
    /// the server from 28 to 68 MiB with 10,000 connections held (issue 12).
    #[test]
    fn a_connection_task_holds_no_buffer() {
        // 1,256 bytes in a debug build (5,272 with the linger's buffer in it).
        let size = future_size(serve);
        assert!(size <= 2048, "a connection's future takes {size} bytes");
    }
}
