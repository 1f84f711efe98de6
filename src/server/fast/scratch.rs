//! The fast path's scratch buffer: one per thread, for the echoes that are written back before
//! the connection task waits again (almost every small message), so they borrow nothing from
//! the shared [`BufferPool`](super::super::pool::BufferPool): no lock, no shared counter, no reference
//! count touched per message.
//!
//! It is never held across an `await`, so a thread's tasks take turns with it and memory stays
//! bounded per thread, not per connection. An echo that cannot be written back at once moves
//! what is left into a pooled buffer, which the connection then holds as before.

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::net::TcpStream;

use tokio::io::unix::AsyncFdReadyGuard;

use super::super::context::{end_of, ConnectionContext};
use super::super::pool::PooledBuffer;
use super::super::stats::ConnectionEnd;
use super::Conn;

/// The largest scratch buffer a thread keeps; servers with larger buffers read into pooled
/// buffers only.
pub(super) const SCRATCH_MAX: usize = 64 * 1024;

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's scratch buffer of `len` bytes (at most [`SCRATCH_MAX`]).
///
/// `f` must not call `with_scratch` again (it would find the buffer borrowed and panic); the
/// echo step that uses it is a plain function that does not.
fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [u8]) -> R) -> R {
    debug_assert!(len <= SCRATCH_MAX);
    SCRATCH.with(|scratch| {
        let mut scratch = scratch.borrow_mut();
        if scratch.len() < len {
            scratch.resize(len, 0);
        }
        f(&mut scratch[..len])
    })
}

/// What one read through the scratch buffer came to.
pub(super) enum Scratch {
    /// The client half-closed (or closed).
    Eof,
    /// Nothing to read: the readiness was stale and is cleared.
    Drained,
    /// `n` bytes read and written back, but for what the pooled buffer holds, if any.
    Echoed(usize, Option<(PooledBuffer, usize)>),
}

impl<'a> Conn<'a> {
    /// One read into the thread's scratch buffer, written back at once as far as the socket
    /// takes it; what it does not take moves into a pooled buffer, returned with its length for
    /// the caller to write back (awaiting, which the scratch buffer must not be held across).
    pub(super) fn echo_through_scratch(
        &mut self,
        guard: &mut AsyncFdReadyGuard<'a, TcpStream>,
        ctx: &ConnectionContext,
        size: usize,
    ) -> Result<Scratch, ConnectionEnd> {
        let socket = self.fd.get_ref();
        with_scratch(size, |scratch| {
            let n = loop {
                match guard.try_io(|fd| fd.get_ref().read(scratch)) {
                    Ok(Ok(0)) => return Ok(Scratch::Eof),
                    Ok(Ok(n)) => break n,
                    Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                    Ok(Err(e)) => return Err(end_of(&e)),
                    // EAGAIN: the readiness is cleared; the burst is over.
                    Err(_would_block) => return Ok(Scratch::Drained),
                }
            };
            self.tally.read(n);
            self.clock.progress();
            let mut done = 0;
            while done < n {
                match (&*socket).write(&scratch[done..n]) {
                    Ok(0) => return Err(ConnectionEnd::Error(io::ErrorKind::WriteZero)),
                    Ok(written) => {
                        self.tally.wrote(written);
                        self.clock.progress();
                        done += written;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(end_of(&e)),
                }
            }
            let left = (done < n).then(|| {
                let mut buffer = ctx.pool.take();
                buffer[..n - done].copy_from_slice(&scratch[done..n]);
                (buffer, n - done)
            });
            Ok(Scratch::Echoed(n, left))
        })
    }
}
