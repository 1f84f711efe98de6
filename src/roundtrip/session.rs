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

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use std::sync::Arc;

use super::divergence::{Divergence, DivergenceKind};
use super::wire::{Expected, SentLog};
use crate::case::{PauseScale, Payload, ReadPlan, WritePlan};
use crate::script::{Expectation, ScriptConnection, Step};
use crate::server::ServerStats;

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
    /// In lockstep, the built-in server's counters: after each chunk the writer waits until
    /// the server has read it (see [`Session::lockstep`]).
    lockstep: Option<Arc<ServerStats>>,
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
struct Progress {
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

    /// Plays in lockstep with the built-in server whose counters are `stats`: after writing
    /// each chunk, wait until the server has read every byte sent, so that the server's reads
    /// are the plan's chunks exactly (a read may still split a chunk, never join two).
    ///
    /// How a stream is cut on the way otherwise depends on timing: chunks written back to back
    /// may reach the server as one read. Lockstep plays the plan's fragmentation at its finest,
    /// every time, which makes a fragmentation bug found by chance replay for certain.
    pub fn lockstep(mut self, stats: Arc<ServerStats>) -> Session {
        self.lockstep = Some(stats);
        self
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
        let mut progress = Progress {
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
        progress: &mut Progress,
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

    /// Sends `payload` cut by `plan`; returns the number of chunks written.
    fn write_round(
        &mut self,
        plan: &WritePlan,
        payload: &Payload,
        scale: PauseScale,
        progress: &mut Progress,
    ) -> Result<u64, DivergenceKind> {
        let mut writes = 0;
        for cut in plan.cuts(payload.len()) {
            let bytes: &[u8] = match payload {
                Payload::Literal(bytes) => &bytes[cut.range.clone()],
                Payload::Generated { .. } => {
                    let n =
                        payload.fill_at(cut.range.start, &mut self.write_buffer[..cut.range.len()]);
                    &self.write_buffer[..n]
                }
            };
            self.stream
                .write_all(bytes)
                .map_err(|e| stall_or(&e, "writing", progress))?;
            progress.sent += bytes.len() as u64;
            writes += 1;
            self.wait_for_server(progress)?;
            pause(scale.apply(cut.pause));
            check_deadline(progress)?;
        }
        Ok(writes)
    }

    /// Reads what comes back up to stream offset `end` by `plan`, checking every byte against
    /// what `expected` fills in for an offset; returns the number of reads.
    fn read_echo(
        &mut self,
        plan: &ReadPlan,
        sent: &SentLog,
        expected: Expected<'_>,
        end: u64,
        scale: PauseScale,
        progress: &mut Progress,
    ) -> Result<u64, DivergenceKind> {
        let start = progress.received;
        let len = usize::try_from(end.saturating_sub(start)).unwrap_or(usize::MAX);
        let mut reads = 0;
        for cut in plan.cuts(len) {
            let mut at = cut.range.start;
            while at < cut.range.end {
                let want = (cut.range.end - at).min(MAX_ROUND_LEN);
                let n = match self.stream.read(&mut self.read_buffer[..want]) {
                    Ok(0) => return Err(DivergenceKind::EarlyEof),
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(stall_or(&e, "reading", progress)),
                };
                reads += 1;
                let offset = start + at as u64;
                if let Some(i) = expected.first_mismatch(sent, offset, &self.read_buffer[..n]) {
                    // Everything before the first wrong byte came back intact.
                    progress.received = offset + i as u64;
                    let bytes = |from: u64, to: u64| expected.bytes(sent, from, to);
                    let wrong = &self.read_buffer[i..n];
                    return Err(super::wire::mismatch(
                        bytes,
                        start,
                        end,
                        progress.received,
                        wrong,
                    ));
                }
                at += n;
                progress.received += n as u64;
            }
            pause(scale.apply(cut.pause));
            check_deadline(progress)?;
        }
        Ok(reads)
    }

    /// In lockstep, waits until the server has read everything sent on this connection.
    fn wait_for_server(&self, progress: &Progress) -> Result<(), DivergenceKind> {
        let Some(stats) = &self.lockstep else {
            return Ok(());
        };
        // The server's count covers earlier cases on this connection too.
        let base = self.sent_before;
        loop {
            let read = stats
                .connection(self.local_addr)
                .map_or(0, |record| record.bytes_in);
            if read >= base + progress.sent {
                return Ok(());
            }
            check_deadline(progress)?;
            std::thread::yield_now();
        }
    }

    /// Bytes beyond the echo would otherwise be blamed on the next case.
    fn no_extra_bytes(&mut self) -> Result<(), DivergenceKind> {
        let io = |e: io::Error| io_kind(&e, "reading");
        self.stream.set_nonblocking(true).map_err(io)?;
        let read = self.stream.read(&mut self.read_buffer[..64]);
        self.stream.set_nonblocking(false).map_err(io)?;
        match read {
            Ok(0) => Err(DivergenceKind::EarlyEof),
            Ok(n) => Err(DivergenceKind::ExtraBytes {
                bytes: self.read_buffer[..n].to_vec(),
            }),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(io(e)),
        }
    }
}

fn check_deadline(progress: &Progress) -> Result<(), DivergenceKind> {
    if Instant::now() > progress.deadline {
        return Err(DivergenceKind::Stalled {
            waited: progress.limit,
        });
    }
    Ok(())
}

/// A socket timeout is a stall; anything else is what it is.
fn stall_or(error: &io::Error, during: &'static str, progress: &Progress) -> DivergenceKind {
    match error.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => DivergenceKind::Stalled {
            waited: progress.limit,
        },
        _ => io_kind(error, during),
    }
}

fn io_kind(error: &io::Error, during: &'static str) -> DivergenceKind {
    DivergenceKind::from_io(error, during)
}

/// Waits out a scaled pause. Pauses under a millisecond, which is most of them once scaled for
/// fuzzing, are spun: a sleep that short overshoots by tens of microseconds, and a fuzzer that
/// sleeps finds nothing.
fn pause(duration: Duration) {
    if duration.is_zero() {
        return;
    }
    if duration >= Duration::from_millis(1) {
        std::thread::sleep(duration);
        return;
    }
    let until = Instant::now() + duration;
    while Instant::now() < until {
        std::hint::spin_loop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::{Case, Conversation};
    use crate::script::Script;
    use crate::{EchoServer, ServerConfig};

    /// Interactive rounds of `messages` as the lane of a connection `c0`.
    fn interactive(messages: Vec<Payload>) -> ScriptConnection {
        let mut case = Case::single(Conversation::Interactive { messages });
        let conn = &mut case.connections[0];
        conn.write.chunks = vec![3, 1];
        conn.write.pauses = vec![Duration::from_micros(5)];
        conn.read.sizes = vec![2];
        conn.write.nodelay = true;
        Script::from_case(&case).connections.remove(0)
    }

    #[test]
    fn rounds_on_one_connection_leave_it_clean_for_the_next_case() {
        let server = EchoServer::spawn(ServerConfig {
            worker_threads: Some(1),
            ..ServerConfig::ephemeral()
        })
        .unwrap();
        let mut session = Session::connect(server.local_addr(), Duration::from_secs(2)).unwrap();
        let first = interactive(vec![
            Payload::Literal(b"hello, world".to_vec()),
            Payload::generated(MAX_ROUND_LEN, 3),
        ]);
        let outcome = session
            .play_lane(&first, PauseScale::ONE, Duration::from_secs(5))
            .unwrap();
        assert_eq!(
            (outcome.rounds, outcome.bytes),
            (2, 12 + MAX_ROUND_LEN as u64)
        );
        let second = interactive(vec![Payload::Literal(b"again".to_vec())]);
        let outcome = session
            .play_lane(&second, PauseScale::ONE, Duration::from_secs(5))
            .unwrap();
        assert_eq!(outcome.bytes, 5);
        let too_big = interactive(vec![Payload::generated(MAX_ROUND_LEN + 1, 3)]);
        let refused = session
            .play_lane(&too_big, PauseScale::ONE, Duration::from_secs(5))
            .unwrap_err();
        assert_eq!(refused.sent, 0, "{refused}");
        assert_eq!(server.stats().snapshot().accepted, 1);
    }

    #[test]
    fn in_lockstep_every_chunk_is_a_read_of_its_own() {
        let server = EchoServer::spawn(ServerConfig {
            worker_threads: Some(1),
            ..ServerConfig::ephemeral()
        })
        .unwrap();
        let mut session = Session::connect(server.local_addr(), Duration::from_secs(2))
            .unwrap()
            .lockstep(server.stats());
        let mut conn = interactive(vec![Payload::Literal(b"0123456789".to_vec())]);
        conn.write.pauses.clear();
        for _ in 0..2 {
            session
                .play_lane(&conn, PauseScale::ONE, Duration::from_secs(5))
                .unwrap();
        }
        let record = server.stats().connection(session.local_addr()).unwrap();
        // Chunks 3 1 3 1 3 of 10 bytes, twice.
        assert_eq!((record.reads, record.bytes_in), (10, 20));
    }

    #[test]
    fn a_server_that_closes_is_a_divergence_named_after_the_connection() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut session = Session::connect(addr, Duration::from_secs(2)).unwrap();
        drop(listener.accept());
        let conn = interactive(vec![Payload::Literal(b"lost".to_vec())]);
        let divergence = session
            .play_lane(&conn, PauseScale::ONE, Duration::from_secs(2))
            .unwrap_err();
        assert_eq!(divergence.connection, "c0");
        assert!(
            matches!(
                divergence.kind,
                DivergenceKind::EarlyEof | DivergenceKind::Reset { .. }
            ),
            "{divergence}"
        );
    }

    #[test]
    fn a_server_that_never_answers_is_a_stall_within_the_timeout() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut session = Session::connect(addr, Duration::from_secs(2)).unwrap();
        let _held = listener.accept().unwrap();
        let conn = interactive(vec![Payload::Literal(b"anyone?".to_vec())]);
        let started = Instant::now();
        let divergence = session
            .play_lane(&conn, PauseScale::ONE, Duration::from_millis(100))
            .unwrap_err();
        assert_eq!(divergence.kind.name(), "stalled", "{divergence}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
