//! A connection kept open across cases: [`Session`] plays one connection's lane of steps after
//! another on the same socket, for the fuzz targets that cannot afford a connection per input.
//!
//! [`play`](super::play) opens fresh connections for every case, because it plays their endings
//! (half-close, close). A fuzzer running thousands of inputs a second pays for each of those
//! connections: an accept, a server task, a `TIME_WAIT` entry. A session pays once. What it cannot
//! play is an ending, or socket buffer sizes (they are fixed when a socket connects, and one set on
//! a live socket stays set for the next case): those need [`play`](super::play).
//!
//! It plays the same steps as the player, from the same [`Script`](crate::script::Script) — a
//! connection's own lane — on a plain blocking socket driven by the caller's thread with no
//! runtime: a `send` writes its payload cut by the [`WritePlan`] at once, an `expect` reads by
//! the [`ReadPlan`], checking every byte, a `sleep` sleeps. The server sees exactly the writes
//! and pauses the plan asks for. Writing before reading cannot deadlock because what is sent and
//! not yet read back is at most [`MAX_ROUND_LEN`] bytes, which the kernel's buffers on both ends
//! hold while the client is not reading yet. The lane ends at its first ending (`shutdown
//! write`, `close`, `expect eof`), which a kept connection cannot play. (The player reads while
//! it writes; a replay of the same case there sends the same bytes the same way.) Under a
//! sanitizer this costs a fraction of an async play: no wakeups, no timer wheel, no scheduler.
//!
//! A round leaves the connection clean, every byte sent read back, so the next case starts from
//! the state a fresh connection would have. A round that fails leaves it in an unknown state:
//! drop the session and connect again.
//!
//! - this file: [`Session`], connecting, and playing a lane's steps in order.
//! - `round`: one send's writes and one expectation's reads on the blocking socket, and how
//!   their deadline, errors and pauses are kept.
//! - `lockstep`: [`Session::lockstep`], waiting after each chunk until the server has read it.
//!
//! [`WritePlan`]: crate::case::WritePlan
//! [`ReadPlan`]: crate::case::ReadPlan

mod lockstep;
mod round;
#[cfg(test)]
mod tests;

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use round::{check_deadline, io_kind, pause};

use super::divergence::{Divergence, DivergenceKind};
use super::lockstep::Probe;
use super::sent::{Expected, SentLog};
use crate::case::PauseScale;
use crate::script::{Expectation, ScriptConnection, Step};

/// The largest message a session plays as one round (see the module docs).
pub const MAX_ROUND_LEN: usize = 32 * 1024;

/// A client connection kept open across rounds.
#[derive(Debug)]
pub struct Session {
    stream: TcpStream,
    local_addr: SocketAddr,
    /// Where the writer produces generated payload bytes; kept so a round allocates nothing.
    write_buffer: Vec<u8>,
    /// Where every read of the echo lands before it is compared; kept for the same reason.
    read_buffer: Vec<u8>,
    /// TCP_NODELAY as last set, so a case that keeps it costs no system call.
    nodelay: bool,
    /// The socket's read and write timeouts as last set: the time left of the current case.
    timeout: Option<Duration>,
    /// In lockstep, how to learn that the server has read each chunk (see
    /// [`Session::lockstep`]).
    lockstep: Option<Probe>,
    /// Bytes written by earlier cases, where the server's count for this connection starts.
    sent_before: u64,
}

/// What the rounds of one case did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RoundsOutcome {
    /// Rounds played.
    pub rounds: u64,
    /// Bytes sent, all of them echoed and checked.
    pub bytes: u64,
    /// Chunks written.
    pub writes: u64,
    /// Reads that returned data.
    pub reads: u64,
}

/// Bytes moved so far in the current case, and when it must be over.
struct CaseProgress {
    sent: u64,
    received: u64,
    deadline: Instant,
    limit: Duration,
}

impl Session {
    /// Connects to `addr` with OS-default socket buffers and NODELAY off, within `timeout`.
    pub fn connect(addr: SocketAddr, timeout: Duration) -> io::Result<Session> {
        let stream = TcpStream::connect_timeout(&addr, timeout)?;
        stream.set_nodelay(false)?;
        let local_addr = stream.local_addr()?;
        Ok(Session {
            stream,
            local_addr,
            write_buffer: vec![0; MAX_ROUND_LEN],
            read_buffer: vec![0; MAX_ROUND_LEN],
            nodelay: false,
            timeout: None,
            lockstep: None,
            sent_before: 0,
        })
    }

    /// The client side's address: the key of the built-in server's record of this connection.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Plays `conn`'s own lane up to its ending, with `conn`'s plans and NODELAY (its socket
    /// buffers are not played). The whole lane must finish within `timeout`. A divergence counts
    /// offsets from the start of this lane, as a replay on a fresh connection would.
    pub fn play_lane(
        &mut self,
        conn: &ScriptConnection,
        scale: PauseScale,
        timeout: Duration,
    ) -> Result<RoundsOutcome, Divergence> {
        let mut progress = CaseProgress {
            sent: 0,
            received: 0,
            deadline: Instant::now() + timeout,
            limit: timeout,
        };
        let result = self.lane(conn, scale, &mut progress);
        self.sent_before += progress.sent;
        result.map_err(|kind| {
            let expected = conn
                .steps
                .iter()
                .map(|s| match s {
                    Step::Send {
                        payload, repeat, ..
                    } => payload.len() as u64 * u64::from(*repeat),
                    _ => 0,
                })
                .sum();
            Divergence::new(&conn.name, kind, progress.sent, progress.received, expected)
        })
    }

    fn lane(
        &mut self,
        conn: &ScriptConnection,
        scale: PauseScale,
        progress: &mut CaseProgress,
    ) -> Result<RoundsOutcome, DivergenceKind> {
        if self.nodelay != conn.write.nodelay {
            self.stream
                .set_nodelay(conn.write.nodelay)
                .map_err(|e| io_kind(&e, "setting NODELAY"))?;
            self.nodelay = conn.write.nodelay;
        }
        // The socket's timeouts bound every blocking call; most cases take far less, so they
        // are set once and only tightened when a case comes close to them.
        if self.timeout != Some(progress.limit) {
            self.set_timeouts(progress.limit)?;
        }
        let mut outcome = RoundsOutcome::default();
        let mut sent = SentLog::default();
        for step in &conn.steps {
            match step {
                Step::Send {
                    payload, repeat, ..
                } => {
                    let len = payload.len() as u64 * u64::from(*repeat);
                    let owed = sent.total() + len - progress.received;
                    if owed > MAX_ROUND_LEN as u64 {
                        return Err(DivergenceKind::Io {
                            kind: io::ErrorKind::InvalidInput,
                            message: format!(
                                "{owed} bytes sent and not read back is more than a session plays ({MAX_ROUND_LEN})"
                            ),
                        });
                    }
                    for _ in 0..*repeat {
                        outcome.writes +=
                            self.write_round(&conn.write, payload, scale, progress)?;
                    }
                    sent.push(payload, *repeat);
                    outcome.rounds += u64::from(*repeat);
                    outcome.bytes += len;
                }
                Step::Expect {
                    expectation: Expectation::Echo | Expectation::Last,
                    ..
                } => {
                    let end = sent.total();
                    outcome.reads +=
                        self.read_echo(&conn.read, &sent, Expected::Sent, end, scale, progress)?;
                }
                Step::Expect {
                    expectation: Expectation::Bytes(p),
                    ..
                } => {
                    let start = progress.received;
                    let end = start + p.len() as u64;
                    let exact = Expected::Bytes(p, start);
                    outcome.reads +=
                        self.read_echo(&conn.read, &sent, exact, end, scale, progress)?;
                }
                Step::Sleep(d) => {
                    pause(scale.apply(*d));
                    check_deadline(progress)?;
                }
                Step::ShutdownWrite { .. } | Step::Close { .. } | Step::Expect { .. } => break,
                // An ending too, but one that leaves echo unread: the kept connection would not
                // be clean for the next case, so it is refused rather than played.
                Step::Reset { .. } => {
                    return Err(DivergenceKind::Io {
                        kind: io::ErrorKind::InvalidInput,
                        message: "a kept connection cannot play a `reset`; play the case with \
                                  fresh connections (roundtrip::play)"
                            .into(),
                    })
                }
            }
        }
        self.no_extra_bytes()?;
        Ok(outcome)
    }

    fn set_timeouts(&mut self, timeout: Duration) -> Result<(), DivergenceKind> {
        let timeout = timeout.max(Duration::from_millis(1));
        self.stream
            .set_read_timeout(Some(timeout))
            .and_then(|()| self.stream.set_write_timeout(Some(timeout)))
            .map_err(|e| io_kind(&e, "setting timeouts"))?;
        self.timeout = Some(timeout);
        Ok(())
    }

    /// Bytes beyond the echo would otherwise be blamed on the next case.
    fn no_extra_bytes(&mut self) -> Result<(), DivergenceKind> {
        match self.read_now(64) {
            Ok(0) => Err(DivergenceKind::EarlyEof),
            Ok(n) => Err(DivergenceKind::ExtraBytes {
                bytes: self.read_buffer[..n].to_vec(),
            }),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(io_kind(&e, "reading")),
        }
    }

    /// Reads up to `len` bytes the socket holds now, without waiting (`WouldBlock` when it
    /// holds none). On Unix one `recv(MSG_DONTWAIT)`: a fuzzer pays this on every input, and
    /// switching the socket to non-blocking and back cost two more system calls.
    #[cfg(unix)]
    fn read_now(&mut self, len: usize) -> io::Result<usize> {
        let buffer = &mut self.read_buffer[..len];
        // SAFETY: `MaybeUninit<u8>` has the layout of `u8`, and `recv` only writes initialized
        // bytes into the buffer, so it stays a valid `[u8]`.
        let buffer = unsafe {
            &mut *(std::ptr::from_mut::<[u8]>(buffer) as *mut [std::mem::MaybeUninit<u8>])
        };
        socket2::SockRef::from(&self.stream).recv_with_flags(buffer, libc::MSG_DONTWAIT)
    }

    #[cfg(not(unix))]
    fn read_now(&mut self, len: usize) -> io::Result<usize> {
        use std::io::Read;
        self.stream.set_nonblocking(true)?;
        let read = self.stream.read(&mut self.read_buffer[..len]);
        self.stream.set_nonblocking(false)?;
        read
    }
}
