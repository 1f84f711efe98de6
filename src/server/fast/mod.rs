//! The Linux fast path of one echo connection: the same promises as the portable loop in
//! [`connection`](super::connection), paid for with fewer system calls and no copies for bulk.
//!
//! What makes it cheaper:
//! - **Readiness by hand** ([`AsyncFd`]). A read shorter than the buffer drained the socket, so
//!   the readiness is cleared right there, with the tick of the event that woke us, instead of
//!   with one more `read` that returns `EAGAIN`. Any byte that arrives later is a new edge and
//!   wakes the connection again, so nothing is lost. A write is tried at once; only a short one
//!   waits for writability.
//! - **No timer or channel work per message.** The idle deadline is one `Sleep` per connection,
//!   armed once and moved only when it fires early (progress sets a flag; the clock is read
//!   once per wait, and never without an idle timeout); the cut at the end of the shutdown
//!   grace period is one future per connection. Both are polled through a [`Gate`] only when
//!   they woke, and the cut is one atomic load per burst (the channel's version, no lock).
//! - **No shared state per small message.** A message is read into the thread's scratch buffer
//!   ([`scratch`]) and written back before the task waits again; only what a full socket does
//!   not take at once moves into a pooled buffer.
//! - **Whole segments for streams.** Once a read fills the whole buffer the connection is
//!   streaming, and it reads (and so writes) a whole number of TCP segments at a time: with
//!   NODELAY, a 64 KiB write on loopback would go out as a full segment and a 53-byte one.
//! - **splice(2) for bulk**, with [`ServerConfig::splice`]: a streaming connection's next bursts
//!   move bytes socket → pipe → socket inside the kernel, never through user space
//!   ([`splice`]). Pipes come from a bounded [`PipePool`](crate::listener::pipes::PipePool) and are lent
//!   only for a burst, like buffers; when none is free the burst takes a buffer instead. It halves the server's CPU per byte, but over loopback
//!   the peer pays more than that back (measured in the README), so it is off by default.
//!
//! Unchanged: the server reads again only once the previous read is written back, so what it
//! holds for a connection never exceeds [`ServerConfig::buffer_size`] (a splice asks for at most
//! that many bytes, into an empty pipe); an idle connection holds neither buffer nor pipe; every
//! read (or splice from the socket) that returns data counts in the connection's `reads`.
//!
//! [`ServerConfig::buffer_size`]: super::ServerConfig::buffer_size
//! [`ServerConfig::splice`]: super::ServerConfig::splice

use std::future::Future;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};

use std::pin::Pin;
use std::time::Duration;

use std::task::Poll;

use tokio::io::unix::{AsyncFd, AsyncFdReadyGuard};
use tokio::io::Interest;
use tokio::time::{Instant, Sleep};

use super::context::{end_of, ConnectionContext};
use super::stats::{ConnectionEnd, ConnectionTally};
use crate::listener::drain::{discard, LINGER};
use gate::Gate;
use scratch::{Scratch, SCRATCH_MAX};

mod gate;
mod scratch;
mod splice;

/// Serves one connection on the fast path until it ends.
pub(crate) async fn serve(
    stream: tokio::net::TcpStream,
    tally: &ConnectionTally,
    ctx: &mut ConnectionContext,
) -> ConnectionEnd {
    let stream = match stream.into_std() {
        Ok(stream) => stream,
        Err(e) => return end_of(&e),
    };
    // SAFETY: the `TcpStream` owns its descriptor, and the `AsyncFd` owns the stream until it
    // drops, so the descriptor is neither closed nor replaced while registered.
    let registered =
        unsafe { AsyncFd::register_with_interest(stream, Interest::READABLE | Interest::WRITABLE) };
    let fd = match registered {
        Ok(fd) => fd,
        Err(e) => return end_of(&e.into_parts().1),
    };
    let mut cut = ctx.cut.clone();
    // A closed channel means the server is gone: that is the cut too.
    let cutting = async move {
        let _ = cut.wait_for(|cut| *cut).await;
    };
    tokio::pin!(cutting);
    let idle = ctx.idle_timeout;
    let sleep = tokio::time::sleep(idle.unwrap_or(Duration::from_secs(3600)));
    tokio::pin!(sleep);
    let mut conn = Conn {
        fd: &fd,
        tally,
        clock: Clock {
            sleep,
            gate: Gate::default(),
            idle,
            last_progress: Instant::now(),
            moved: false,
        },
        cut_gate: Gate::default(),
        bulk: false,
        chunk: None,
    };
    conn.run(ctx, cutting).await
}

/// Why a wait ended without its operation completing.
enum Interrupted {
    Idle,
    /// The shutdown grace period ran out.
    Cut,
    Io(io::Error),
}

/// The idle deadline: `last_progress + idle`, watched by one `Sleep` that is moved forward
/// only when it fires before the real deadline.
struct Clock<'a> {
    sleep: Pin<&'a mut Sleep>,
    /// Polls the sleep only when it fired (or was moved).
    gate: Gate,
    idle: Option<Duration>,
    last_progress: Instant,
    /// A byte moved since `last_progress` was stamped.
    moved: bool,
}

impl Clock<'_> {
    /// Records that a byte moved. The time is read only when the connection next waits
    /// ([`stamp`](Self::stamp)): nothing moves between the two, so the deadline is the same
    /// within the few microseconds of the burst, for one clock read per wait instead of two
    /// per message.
    fn progress(&mut self) {
        self.moved = true;
    }

    /// Before a wait: the time of the last progress, if a byte moved since the last stamp.
    fn stamp(&mut self) {
        if std::mem::take(&mut self.moved) && self.idle.is_some() {
            self.last_progress = Instant::now();
        }
    }

    /// Whether the connection has really been idle for the timeout; if not, the sleep is moved
    /// to the real deadline.
    fn expired(&mut self) -> bool {
        let Some(idle) = self.idle else { return false };
        let deadline = self.last_progress + idle;
        if deadline <= Instant::now() {
            return true;
        }
        self.sleep.as_mut().reset(deadline);
        // Moved without waking: the next wait must poll it to watch the new deadline.
        self.gate.open();
        false
    }
}

struct Conn<'a> {
    fd: &'a AsyncFd<TcpStream>,
    tally: &'a ConnectionTally,
    clock: Clock<'a>,
    /// Polls the cut only when it woke.
    cut_gate: Gate,
    /// The connection is streaming: its bursts go through a pipe.
    bulk: bool,
    /// Once the connection streams: how much to read (or splice) at a time, a whole number of
    /// TCP segments within the buffer (see [`whole_segments`]).
    chunk: Option<usize>,
}

impl<'a> Conn<'a> {
    async fn run(
        &mut self,
        ctx: &ConnectionContext,
        mut cutting: Pin<&mut impl Future<Output = ()>>,
    ) -> ConnectionEnd {
        loop {
            // Wait for data with no buffer and no pipe held.
            let guard = match self.wait(Interest::READABLE, Some(cutting.as_mut())).await {
                Ok(guard) => guard,
                Err(Interrupted::Idle) => return ConnectionEnd::IdleTimeout,
                Err(Interrupted::Cut) => return self.cut().await,
                Err(Interrupted::Io(e)) => return end_of(&e),
            };
            let burst = match self.bulk.then(|| ctx.pipes.take()).flatten() {
                Some(pipe) => self.splice_burst(guard, pipe, ctx).await,
                None => self.buffer_burst(guard, ctx).await,
            };
            match burst {
                Ok(Burst::More) => {}
                Ok(Burst::Eof) => return self.close_write(ConnectionEnd::ClientClosed),
                Ok(Burst::Cut) => return self.cut().await,
                Err(end) => return end,
            }
        }
    }

    /// Reads and writes each read back, until the socket is drained: through the thread's
    /// scratch buffer while the connection is not streaming, else into a pooled buffer.
    async fn buffer_burst(
        &mut self,
        mut guard: AsyncFdReadyGuard<'a, TcpStream>,
        ctx: &ConnectionContext,
    ) -> Result<Burst, ConnectionEnd> {
        let size = ctx.pool.buffer_size();
        if self.chunk.is_none() && size <= SCRATCH_MAX {
            let (n, left) = match self.echo_through_scratch(&mut guard, ctx, size)? {
                Scratch::Eof => return Ok(Burst::Eof),
                Scratch::Drained => return Ok(Burst::More),
                Scratch::Echoed(n, left) => (n, left),
            };
            if let Some((buffer, len)) = left {
                self.write_all(&buffer[..len]).await?;
            }
            if is_cut(ctx) {
                return Ok(Burst::Cut);
            }
            if n < size {
                // A short read drained the socket (see below).
                guard.clear_ready();
                return Ok(Burst::More);
            }
            // A full read: the client is streaming; go on with a pooled buffer.
            self.bulk = ctx.splice;
            self.chunk = Some(whole_segments(size, self.fd.get_ref()));
            if self.bulk {
                return Ok(Burst::More);
            }
        }
        let mut buffer = ctx.pool.take();
        loop {
            let want = self.chunk.unwrap_or(buffer.len()).min(buffer.len());
            let n = match guard.try_io(|fd| fd.get_ref().read(&mut buffer[..want])) {
                Ok(Ok(0)) => return Ok(Burst::Eof),
                Ok(Ok(n)) => n,
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                Ok(Err(e)) => return Err(end_of(&e)),
                // EAGAIN: the readiness is cleared; the burst is over.
                Err(_would_block) => return Ok(Burst::More),
            };
            self.tally.read(n);
            self.clock.progress();
            self.write_all(&buffer[..n]).await?;
            // Cut while streaming: what was read is written back; read no more.
            if is_cut(ctx) {
                return Ok(Burst::Cut);
            }
            if n < want {
                // A short read drained the socket. Clearing with the tick of the event that
                // woke us cannot lose a later byte: that would have moved the tick.
                guard.clear_ready();
                return Ok(Burst::More);
            }
            // A full buffer: the client is streaming; bursts after this one use a pipe.
            self.bulk = ctx.splice;
            if self.chunk.is_none() {
                self.chunk = Some(whole_segments(buffer.len(), self.fd.get_ref()));
            }
        }
    }

    /// Writes all of `bytes`: at once if the socket takes them, else as it becomes writable.
    /// Not even the cut interrupts it: these bytes were read, so they are owed.
    async fn write_all(&mut self, mut bytes: &[u8]) -> Result<(), ConnectionEnd> {
        while !bytes.is_empty() {
            let n = self.write_some(|mut fd| fd.write(bytes)).await?;
            bytes = &bytes[n..];
        }
        Ok(())
    }

    /// One write towards the client by `write` (a `write(2)`, or a splice out of a pipe),
    /// waiting for the socket to become writable as long as it takes nothing; the bytes it
    /// moved are counted. Every write of the fast path goes through here, so each waits,
    /// retries and counts the same way.
    async fn write_some(
        &mut self,
        mut write: impl FnMut(&TcpStream) -> io::Result<usize>,
    ) -> Result<usize, ConnectionEnd> {
        loop {
            let written = match write(self.fd.get_ref()) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let mut guard = self.wait_writable().await?;
                    // Retry under the guard, so EAGAIN clears the readiness it reported.
                    match guard.try_io(|fd| write(fd.get_ref())) {
                        Ok(written) => written,
                        // Readiness was stale: wait again.
                        Err(_would_block) => continue,
                    }
                }
                written => written,
            };
            match written {
                Ok(0) => return Err(ConnectionEnd::Error(io::ErrorKind::WriteZero)),
                Ok(n) => {
                    self.tally.wrote(n);
                    self.clock.progress();
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(end_of(&e)),
            }
        }
    }

    async fn wait_writable(&mut self) -> Result<AsyncFdReadyGuard<'a, TcpStream>, ConnectionEnd> {
        match self
            .wait(
                Interest::WRITABLE,
                None::<Pin<&mut std::future::Pending<()>>>,
            )
            .await
        {
            Ok(guard) => Ok(guard),
            Err(Interrupted::Io(e)) => Err(end_of(&e)),
            Err(_) => Err(ConnectionEnd::IdleTimeout),
        }
    }

    /// Waits for `interest` until the idle deadline, or (with `cutting`) the cut. The socket's
    /// readiness is polled through its dedicated waker slot (`poll_*_ready`, as tokio's own
    /// streams do), the deadline and the cut only when they woke ([`Gate`]).
    async fn wait(
        &mut self,
        interest: Interest,
        mut cutting: Option<Pin<&mut impl Future<Output = ()>>>,
    ) -> Result<AsyncFdReadyGuard<'a, TcpStream>, Interrupted> {
        self.clock.stamp();
        let fd: &'a AsyncFd<TcpStream> = self.fd;
        let readable = interest.is_readable();
        let (clock, cut_gate) = (&mut self.clock, &mut self.cut_gate);
        std::future::poll_fn(|cx| {
            let ready = if readable {
                fd.poll_read_ready(cx)
            } else {
                fd.poll_write_ready(cx)
            };
            if let Poll::Ready(ready) = ready {
                return Poll::Ready(ready.map_err(Interrupted::Io));
            }
            if clock.idle.is_some() {
                while clock.gate.poll(clock.sleep.as_mut(), cx).is_ready() {
                    if clock.expired() {
                        return Poll::Ready(Err(Interrupted::Idle));
                    }
                }
            }
            if let Some(cutting) = cutting.as_mut() {
                if cut_gate.poll(cutting.as_mut(), cx).is_ready() {
                    return Poll::Ready(Err(Interrupted::Cut));
                }
            }
            Poll::Pending
        })
        .await
    }

    /// Ends a connection cut by the grace period, with everything read already written back:
    /// the FIN after the last echoed byte, then a linger (reads discarded until the client
    /// closes, at most [`LINGER`]), so closing does not reset what is still on its way.
    async fn cut(&self) -> ConnectionEnd {
        let end = self.close_write(ConnectionEnd::ShutdownAborted);
        let _ = tokio::time::timeout(LINGER, async {
            loop {
                let Ok(mut guard) = self.fd.readable().await else {
                    return;
                };
                // Read through `discard`, whose buffer stays out of this task's future.
                match guard.try_io(|fd| discard(|scratch| fd.get_ref().read(scratch))) {
                    Ok(Ok(0)) => return,
                    Ok(Err(e)) if e.kind() != io::ErrorKind::Interrupted => return,
                    // Bytes discarded, or readiness cleared by EAGAIN: wait again.
                    _ => {}
                }
            }
        })
        .await;
        end
    }

    /// Shuts down the write side, so the client sees EOF after the last echoed byte.
    fn close_write(&self, end: ConnectionEnd) -> ConnectionEnd {
        match self.fd.get_ref().shutdown(Shutdown::Write) {
            Ok(()) => end,
            Err(e) if e.kind() == io::ErrorKind::NotConnected => end,
            Err(e) => end_of(&e),
        }
    }
}

/// The most bytes up to `buffer` that fill whole segments of the connection (its MSS).
///
/// With NODELAY every write goes out at once, so echoing a 64 KiB read on loopback (MSS 65,483)
/// sends a full segment and a 53-byte one: twice the packets for the peer to take in. Echoing
/// whole segments sends no such tails, and unlike Nagle it never holds a byte back waiting for
/// an ACK. Falls back to the whole buffer when the MSS is unknown or larger.
fn whole_segments(buffer: usize, socket: &TcpStream) -> usize {
    match socket2::SockRef::from(socket).tcp_mss() {
        Ok(mss) if mss > 0 && (mss as usize) <= buffer => buffer / mss as usize * mss as usize,
        _ => buffer,
    }
}

/// Whether the shutdown grace period ran out: the cut channel's version moved (its one send is
/// `true`), or the channel is closed, which it is right after that send (the drain drops the
/// sender with it) and once the server is gone. An atomic load, where `borrow()` would take the
/// channel's lock, shared by every connection, once per burst.
fn is_cut(ctx: &ConnectionContext) -> bool {
    ctx.cut.has_changed().unwrap_or(true)
}

/// How a burst ended.
enum Burst {
    /// The socket is drained; wait for more.
    More,
    /// The client half-closed (or closed), and everything read was written back.
    Eof,
    /// The grace period ran out, and everything read was written back.
    Cut,
}
