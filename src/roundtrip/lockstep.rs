//! Lockstep: after writing each chunk, the client waits until the server has read every byte
//! sent, so that the server's reads are the plan's chunks exactly (a read may still split a
//! chunk, never join two).
//!
//! How a stream is cut on the way otherwise depends on timing: chunks written back to back may
//! reach the server as one read. Lockstep plays the plan's fragmentation at its finest, every
//! time, which makes a fragmentation bug found by chance (by a fuzzer, say) replay for certain.
//!
//! Two ways to know what the server has read:
//! - [`Lockstep::ServerReads`]: the built-in server's own count of bytes read on the connection.
//! - [`Lockstep::Kernel`], for **any** server on this machine (Linux): the server's kernel has
//!   acknowledged every byte (`TCP_INFO` of our own socket), and *then* the server's socket
//!   holds none unread (its receive queue, asked of `NETLINK_SOCK_DIAG` for that one socket, or
//!   read from `/proc/net/tcp`). In that order: an empty queue before the bytes arrived would
//!   say nothing. Nothing about the server need be known but that it runs here. An echo server
//!   acknowledges at once with its echo, so the wait is short; a server that reads without
//!   answering may leave the acknowledgement to the delayed-ACK timer (up to ~40 ms a chunk).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::server::ServerStats;
use crate::sock_diag::SockDiag;

/// How a client in lockstep learns that the server has read what it sent.
#[derive(Clone, Debug)]
pub enum Lockstep {
    /// The built-in server's counters.
    ServerReads(Arc<ServerStats>),
    /// The kernel's view of the server's socket, for any server on this machine (Linux only;
    /// elsewhere a play with it goes on without, and warns).
    Kernel,
}

impl Lockstep {
    /// The built-in server's counts when they are at hand (`stats`), else the kernel.
    pub(crate) fn preferring(stats: Option<Arc<ServerStats>>) -> Lockstep {
        stats.map_or(Lockstep::Kernel, Lockstep::ServerReads)
    }
}

/// The client's own socket, asked after every chunk how much of what it sent the server's
/// kernel has acknowledged (`TCP_INFO`, a cheap `getsockopt`).
pub(crate) trait ClientSocket {
    /// The bytes acknowledged, counted from the connection's start; `None` where the kernel
    /// cannot say (not Linux, where [`Lockstep::Kernel`] cannot open a probe anyway).
    fn bytes_acked(&self) -> io::Result<Option<u64>>;
}

#[cfg(target_os = "linux")]
impl<T: std::os::fd::AsFd> ClientSocket for T {
    fn bytes_acked(&self) -> io::Result<Option<u64>> {
        crate::sock_diag::bytes_acked(self.as_fd()).map(Some)
    }
}

#[cfg(not(target_os = "linux"))]
impl<T> ClientSocket for T {
    fn bytes_acked(&self) -> io::Result<Option<u64>> {
        Ok(None)
    }
}

/// One connection's question, asked after every chunk: has the server read all `sent` bytes?
pub(crate) struct Probe {
    how: How,
    /// The client side's address, and the server side's as the client sees it.
    local: SocketAddr,
    peer: SocketAddr,
    /// Bytes sent and acknowledged when the probe was made: the kernel's count includes the
    /// SYN, and a kept connection has sent before.
    sent_at_start: u64,
    acked_at_start: u64,
}

impl std::fmt::Debug for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let how = match &self.how {
            How::ServerReads(_) => "the built-in server's reads",
            How::Kernel(_) => "the kernel",
        };
        f.debug_struct("Probe")
            .field("by", &how)
            .finish_non_exhaustive()
    }
}

enum How {
    ServerReads(Arc<ServerStats>),
    Kernel(Box<SockDiag>),
}

impl Lockstep {
    /// The probe for the connection from `local` to `peer` on `socket` (the client's own), of
    /// which `sent` bytes have been sent so far, all of them read back. Fails where the kernel
    /// cannot be asked (not Linux, or neither netlink nor `/proc` available), saying why.
    pub(crate) fn probe(
        &self,
        socket: &impl ClientSocket,
        local: SocketAddr,
        peer: SocketAddr,
        sent: u64,
    ) -> io::Result<Probe> {
        let acked_at_start = match self {
            Lockstep::Kernel => socket.bytes_acked()?.unwrap_or(0),
            Lockstep::ServerReads(_) => 0,
        };
        let how = match self {
            Lockstep::ServerReads(stats) => How::ServerReads(Arc::clone(stats)),
            Lockstep::Kernel => How::Kernel(Box::new(SockDiag::open().map_err(|e| {
                io::Error::new(e.kind(), format!("lockstep with any server: {e}"))
            })?)),
        };
        Ok(Probe {
            how,
            local,
            peer,
            sent_at_start: sent,
            acked_at_start,
        })
    }
}

impl Probe {
    /// Whether the server has read every one of the `sent` bytes of this connection (counted
    /// from its start). `socket` is the client's own socket.
    pub(crate) fn server_has_read(
        &mut self,
        socket: &impl ClientSocket,
        sent: u64,
    ) -> io::Result<bool> {
        match &mut self.how {
            How::ServerReads(stats) => Ok(stats
                .connection(self.local)
                .is_some_and(|record| record.bytes_in >= sent)),
            How::Kernel(diag) => {
                if let Some(acked) = socket.bytes_acked()? {
                    if acked - self.acked_at_start < sent.saturating_sub(self.sent_at_start) {
                        return Ok(false);
                    }
                }
                // The server's end: its own address is our peer, its peer is us. Gone means
                // closed, and a closed socket reads nothing more: waiting would be in vain.
                Ok(diag
                    .socket(self.peer, self.local)?
                    .is_none_or(|info| info.receive_queue == 0))
            }
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::io::{Read, Write};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::Lockstep;
    use crate::case::{Case, Conversation, Payload};
    use crate::roundtrip::{block_on, play, PlayOptions, Session};
    use crate::script::Script;

    /// A server that knows nothing of the harness and reads slowly: 20 ms before every read,
    /// recording each read's size.
    fn slow_reader() -> (std::net::SocketAddr, Arc<Mutex<Vec<usize>>>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let reads = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&reads);
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut buffer = [0u8; 64];
            loop {
                std::thread::sleep(Duration::from_millis(20));
                match stream.read(&mut buffer) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        log.lock().unwrap().push(n);
                        if stream.write_all(&buffer[..n]).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        (addr, reads)
    }

    /// Ten bytes written 3, 1, 3, 1, 2 with no pause, NODELAY on.
    fn case() -> Case {
        let mut case = Case::single(Conversation::Interactive {
            messages: vec![Payload::Literal(b"0123456789".to_vec())],
        });
        let conn = &mut case.connections[0];
        conn.write.chunks = vec![3, 1];
        conn.write.pauses.clear();
        conn.write.nodelay = true;
        case
    }

    const CUT: [usize; 5] = [3, 1, 3, 1, 2];

    #[test]
    fn on_the_session_any_server_reads_each_chunk_on_its_own() {
        let script = Script::from_case(&case());
        let conn = &script.connections[0];
        // The control: without lockstep the chunks, written in microseconds, wait in the slow
        // server's queue and join.
        let (addr, reads) = slow_reader();
        let mut session = Session::connect(addr, Duration::from_secs(2)).unwrap();
        session
            .play_lane(conn, script.pause_scale, Duration::from_secs(5))
            .unwrap();
        assert!(reads.lock().unwrap().len() < CUT.len(), "{reads:?}");
        let (addr, reads) = slow_reader();
        let mut session = Session::connect(addr, Duration::from_secs(2)).unwrap();
        session.lockstep(Lockstep::Kernel).unwrap();
        session
            .play_lane(conn, script.pause_scale, Duration::from_secs(5))
            .unwrap();
        assert_eq!(*reads.lock().unwrap(), CUT);
    }

    #[test]
    fn in_the_player_any_server_reads_each_chunk_on_its_own() {
        let case = case();
        let (addr, reads) = slow_reader();
        let options = PlayOptions::default();
        block_on(|| play(&case, addr, &options)).unwrap();
        assert!(reads.lock().unwrap().len() < CUT.len(), "{reads:?}");
        let (addr, reads) = slow_reader();
        let options = PlayOptions {
            lockstep: Some(Lockstep::Kernel),
            ..PlayOptions::default()
        };
        block_on(|| play(&case, addr, &options)).unwrap();
        assert_eq!(*reads.lock().unwrap(), CUT);
    }

    #[test]
    fn a_scenario_file_asks_for_it_with_a_line() {
        let file = crate::scenario::ScenarioFile {
            lockstep: true,
            ..crate::scenario::ScenarioFile::from_case(&case())
        };
        let text = crate::scenario::print(&file);
        let file = crate::scenario::parse(&text).unwrap();
        let (addr, reads) = slow_reader();
        let options = PlayOptions::default();
        block_on(|| crate::scenario::play_file(&file, addr, &options))
            .unwrap()
            .unwrap();
        assert_eq!(*reads.lock().unwrap(), CUT, "{text}");
    }

    /// What lockstep costs per chunk on the session, against the built-in server: 2,000 chunks
    /// of 2 bytes, without lockstep, with the server's counts and with the kernel, interleaved.
    /// `cargo test --release --lib lockstep_cost -- --ignored --nocapture`
    #[test]
    #[ignore = "a measurement; prints figures"]
    fn lockstep_cost_per_chunk() {
        use crate::server::{EchoServer, ServerConfig};
        let server = EchoServer::spawn(ServerConfig {
            worker_threads: Some(1),
            ..ServerConfig::ephemeral()
        })
        .unwrap();
        let mut case = Case::single(Conversation::Interactive {
            messages: vec![Payload::generated(4000, 1)],
        });
        let conn = &mut case.connections[0];
        conn.write.chunks = vec![2];
        conn.write.pauses.clear();
        conn.write.nodelay = true;
        let script = Script::from_case(&case);
        let lane = &script.connections[0];
        let ways: [(&str, Option<Lockstep>); 3] = [
            ("none", None),
            ("server reads", Some(Lockstep::ServerReads(server.stats()))),
            ("kernel", Some(Lockstep::Kernel)),
        ];
        let mut per_chunk: Vec<Vec<f64>> = vec![Vec::new(); ways.len()];
        for _ in 0..7 {
            for (i, (_, how)) in ways.iter().enumerate() {
                let mut session =
                    Session::connect(server.local_addr(), Duration::from_secs(2)).unwrap();
                if let Some(how) = how {
                    session.lockstep(how.clone()).unwrap();
                }
                let started = std::time::Instant::now();
                let outcome = session
                    .play_lane(lane, script.pause_scale, Duration::from_secs(10))
                    .unwrap();
                per_chunk[i].push(started.elapsed().as_secs_f64() * 1e6 / outcome.writes as f64);
            }
        }
        for ((name, _), mut runs) in ways.iter().zip(per_chunk) {
            runs.sort_by(f64::total_cmp);
            println!(
                "lockstep {name:>12}: median {:.1} us a chunk (min {:.1}, max {:.1}; 7 runs of 2,000 chunks)",
                runs[3], runs[0], runs[6]
            );
        }
    }
}
