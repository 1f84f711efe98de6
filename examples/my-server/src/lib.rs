//! `my-server`: a small tokio echo server written the usual way, as the server a user of
//! echo-harness brings. Replace it with yours: the tests under `tests/` and the fuzz target
//! under `fuzz/` only need a function of the same shape as [`run`].
//!
//! The shape is mini-redis's: the caller binds the listener and says when to stop, so the same
//! function serves the binary (`src/main.rs`, stopped by Ctrl-C) and the tests (run on a
//! background thread by `echo_harness::background::BackgroundServer`, stopped when dropped).
//!
//! # The planted bug (feature `fragmentation-bug`, never on by default)
//! With the feature the server coalesces tiny reads: a read of fewer than `COALESCE_BELOW` (16)
//! bytes waits up to `COALESCE_WAIT` (1 ms) for more, so that a client trickling bytes gets fewer,
//! larger segments back. The bug is in the merge: when more bytes come, they are written
//! *before* the held ones (`ab` cut as `a`, `b` comes back `ba`).
//!
//! A message written in one go never shows it, however short: nothing follows it within the
//! wait, so the held bytes go out alone, just late; nor do one-byte messages each written whole
//! when the client waits for every echo before it sends again. It takes a stream that reaches the server
//! in pieces, one of them tiny and the next close behind: a write plan with small chunks, which
//! the generated cases and the fuzz target's inputs are full of.

use std::future::Future;
use std::io;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How much one read takes at most.
const BUFFER_LEN: usize = 16 * 1024;

/// With feature `fragmentation-bug`, reads shorter than this wait for more (see the module docs).
#[cfg(feature = "fragmentation-bug")]
pub const COALESCE_BELOW: usize = 16;

/// With feature `fragmentation-bug`, how long a tiny read waits for more.
#[cfg(feature = "fragmentation-bug")]
pub const COALESCE_WAIT: Duration = Duration::from_millis(1);

/// How long to wait after a failed `accept` (out of file descriptors, say) before the next, so
/// that a persistent error does not spin a core.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves `listener` until `shutdown` resolves: one task per connection, each echoing every
/// byte until the client half-closes (then the echo of everything sent, then EOF) or closes.
///
/// When `shutdown` resolves the server stops accepting and returns; the connections still open
/// end with the runtime that runs them.
pub async fn run(listener: TcpListener, shutdown: impl Future) {
    tokio::select! {
        _ = accept_loop(&listener) => {}
        _ = shutdown => {}
    }
}

/// Accepts connections for ever, each handled by a task of its own.
async fn accept_loop(listener: &TcpListener) {
    loop {
        match listener.accept().await {
            Ok((socket, _peer)) => {
                // An echo goes out in as many writes as the request came in reads. Without
                // NODELAY, Nagle holds a small write while an earlier one is unacknowledged, and
                // the client delays its ACKs (up to 40 ms on Linux): the echo stalls. A hint, so a
                // failure to set it is not worth dropping the connection for.
                let _ = socket.set_nodelay(true);
                tokio::spawn(async move {
                    // A client that resets its connection ends it; there is nobody to tell.
                    let _ = echo(socket).await;
                });
            }
            Err(e) => {
                eprintln!("my-server: accept failed: {e}");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
}

/// Echoes `socket` until the client's EOF, then shuts down the write side.
async fn echo(mut socket: TcpStream) -> io::Result<()> {
    let (mut reader, mut writer) = socket.split();
    let mut buffer = vec![0u8; BUFFER_LEN];
    loop {
        let n = reader.read(&mut buffer).await?;
        if n == 0 {
            // The client half-closed (or closed). Every byte it sent is echoed already: each
            // `write_all` finished before the next read. Our EOF tells it nothing more comes.
            return writer.shutdown().await;
        }
        #[cfg(feature = "fragmentation-bug")]
        if n < COALESCE_BELOW {
            let more = reader.read(&mut buffer[n..]);
            if let Ok(more) = tokio::time::timeout(COALESCE_WAIT, more).await {
                let m = more?;
                // The planted bug: the bytes that came later go out first.
                writer.write_all(&buffer[n..n + m]).await?;
                writer.write_all(&buffer[..n]).await?;
                if m == 0 {
                    return writer.shutdown().await;
                }
                continue;
            }
        }
        writer.write_all(&buffer[..n]).await?;
    }
}
