//! The lossless drain of the server (its fast, splice and portable paths) and of the proxy: a
//! stream that pauses across the stop comes back whole, a new client during the drain is
//! refused while the old ones are still served, a connection still busy when the grace period
//! runs out is closed after the bytes owed, and "stop now" stops at once. Through the library
//! here; through the real binary and its signals in the `cli` submodule.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use echo_harness::proxy::ProxyEnd;
use echo_harness::{
    ConnectionEnd, EchoServer, Proxy, ProxyConfig, ServerConfig, ServerHandle, ToxicChain,
};

use crate::common::{poll_until, WAIT};

/// How long the client of the pause test stops sending, once the drain has begun.
const PAUSE: Duration = Duration::from_millis(300);
/// The grace period of the tests in which it runs out.
const SHORT_GRACE: Duration = Duration::from_millis(300);

/// The server paths, by the CLI flags that select them.
pub(crate) const PATHS: [(&str, &[&str]); 3] = [
    ("fast", &[]),
    ("splice", &["--splice"]),
    ("portable", &["--portable"]),
];

fn config(path: &str, grace: Duration) -> ServerConfig {
    ServerConfig {
        shutdown_grace: grace,
        fast_path: path != "portable",
        splice: path == "splice",
        worker_threads: Some(2),
        ..ServerConfig::ephemeral()
    }
}

/// Distinct bytes, so a lost or repeated stretch shows.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// What a client saw: its address, what it sent, what came back before EOF, and how long after
/// the stop began the EOF came.
pub(crate) struct Outcome {
    pub(crate) peer: SocketAddr,
    pub(crate) sent: Vec<u8>,
    pub(crate) back: Vec<u8>,
    pub(crate) took: Duration,
}

impl Outcome {
    /// The echo is the stream, or a prefix of it.
    pub(crate) fn check_prefix(&self, what: &str) {
        assert!(
            self.back.len() <= self.sent.len() && self.back[..] == self.sent[..self.back.len()],
            "{what}: {} bytes back of {} sent are not the stream",
            self.back.len(),
            self.sent.len()
        );
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr, WAIT).expect("connect");
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.set_write_timeout(Some(WAIT)).unwrap();
    stream
}

/// Whether a connect to `addr` is refused (the listening socket is really closed).
pub(crate) fn refused(addr: SocketAddr) -> bool {
    matches!(
        TcpStream::connect_timeout(&addr, Duration::from_secs(1)),
        Err(e) if e.kind() == ErrorKind::ConnectionRefused
    )
}

/// Writes the first MiB of 4, calls `stop` (which starts the drain and returns once it has
/// begun), pauses, writes the rest and half-closes, while reading everything back.
pub(crate) fn pause_across(addr: SocketAddr, stop: impl FnOnce()) -> Outcome {
    pause_across_explained(addr, stop, |_| String::new())
}

/// [`pause_across`], whose failure adds `explain(client address)`: what the server or proxy
/// recorded of the connection.
fn pause_across_explained(
    addr: SocketAddr,
    stop: impl FnOnce(),
    explain: impl Fn(SocketAddr) -> String,
) -> Outcome {
    let payload = pattern(4 << 20);
    let mut stream = connect(addr);
    let peer = stream.local_addr().unwrap();
    let mut reader = stream.try_clone().unwrap();
    let reading = thread::spawn(move || {
        let mut back = Vec::new();
        let read = reader.read_to_end(&mut back);
        (back, read.map_err(|e| e.kind()))
    });
    stream.write_all(&payload[..1 << 20]).expect("first MiB");
    let started = Instant::now();
    stop();
    thread::sleep(PAUSE);
    let rest = stream.write_all(&payload[1 << 20..]);
    let _ = stream.shutdown(Shutdown::Write);
    let (back, read) = reading.join().unwrap();
    if let Err(e) = &rest {
        panic!(
            "the rest is not taken after the pause: {e}; {}",
            explain(peer)
        );
    }
    if let Err(e) = &read {
        panic!(
            "no EOF: {e:?} after {} bytes; {}",
            back.len(),
            explain(peer)
        );
    }
    Outcome {
        peer,
        sent: payload,
        back,
        took: started.elapsed(),
    }
}

/// Starts the drain of `server` on a thread and waits until the listener is closed.
fn shutdown_in_background(server: ServerHandle) -> thread::JoinHandle<Duration> {
    let addr = server.local_addr();
    let started = Instant::now();
    let stopping = thread::spawn(move || {
        server.shutdown().expect("drains within its bound");
        started.elapsed()
    });
    assert!(poll_until(|| refused(addr)), "the listener never closed");
    stopping
}

#[test]
fn a_stream_that_pauses_across_shutdown_comes_back_whole_on_every_path() {
    for (path, _) in PATHS {
        let server = EchoServer::spawn(config(path, WAIT)).unwrap();
        let stats = server.stats();
        let addr = server.local_addr();
        let mut stopping = None;
        let seen = pause_across(addr, || stopping = Some(shutdown_in_background(server)));
        seen.check_prefix(path);
        assert_eq!(
            seen.back.len(),
            seen.sent.len(),
            "{path}: the stream was cut"
        );
        let took = stopping.unwrap().join().unwrap();
        assert!(
            took < WAIT,
            "{path}: the drain waited out its grace ({took:?})"
        );
        let record = stats.wait_closed(seen.peer, WAIT).expect("recorded");
        assert_eq!(record.end, Some(ConnectionEnd::ClientClosed), "{path}");
    }
}

#[test]
fn a_new_connection_during_the_drain_is_refused_while_the_old_one_is_served() {
    for (path, _) in PATHS {
        let server = EchoServer::spawn(config(path, WAIT)).unwrap();
        let addr = server.local_addr();
        let mut old = connect(addr);
        // Accepted (not just queued in the backlog) before the drain begins.
        old.write_all(b"first").unwrap();
        old.read_exact(&mut [0u8; 5]).unwrap();
        let stopping = shutdown_in_background(server);
        // The listener is closed (checked above); the old connection is still served.
        for message in [&b"still"[..], &[9u8; 100_000]] {
            old.write_all(message).unwrap();
            let mut back = vec![0u8; message.len()];
            old.read_exact(&mut back)
                .unwrap_or_else(|e| panic!("{path}: old connection cut: {e}"));
            assert_eq!(back, message, "{path}");
        }
        old.shutdown(Shutdown::Write).unwrap();
        assert_eq!(old.read(&mut [0u8; 1]).unwrap(), 0, "{path}: EOF");
        assert!(stopping.join().unwrap() < WAIT, "{path}");
    }
}

/// A client that writes without pause (for up to 10 GiB) and reads everything back, until the
/// server ends the stream; a reset fails the test.
pub(crate) fn busy_until_cut(addr: SocketAddr, stop: impl FnOnce()) -> Outcome {
    // Written over and over: a period that no chunk size divides.
    let period = pattern((1 << 20) + 13);
    let stream = connect(addr);
    let peer = stream.local_addr().unwrap();
    let mut reader = stream.try_clone().unwrap();
    let done = AtomicBool::new(false);
    let sent = AtomicU64::new(0);
    thread::scope(|scope| {
        scope.spawn(|| {
            let mut writer = &stream;
            writer
                .set_write_timeout(Some(Duration::from_millis(50)))
                .unwrap();
            let mut at = 0;
            while !done.load(Ordering::Relaxed) && at < 10 << 30 {
                let from = at % period.len();
                match writer.write(&period[from..(from + 16 * 1024).min(period.len())]) {
                    Ok(n) => at += n,
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                    // The server closed after the cut: nothing more goes through.
                    Err(_) => break,
                }
                sent.store(at as u64, Ordering::Relaxed);
            }
            let _ = writer.shutdown(Shutdown::Write);
        });
        // Busy: bytes are moving both ways when the drain starts.
        assert!(poll_until(|| sent.load(Ordering::Relaxed) > 1 << 20));
        let started = Instant::now();
        stop();
        let mut back = Vec::new();
        let read = reader.read_to_end(&mut back);
        let took = started.elapsed();
        done.store(true, Ordering::Relaxed);
        read.expect("EOF after the bytes owed, not a reset");
        let sent = sent.load(Ordering::Relaxed) as usize;
        Outcome {
            peer,
            sent: period.iter().copied().cycle().take(sent).collect(),
            back,
            took,
        }
    })
}

#[test]
fn a_connection_busy_when_the_grace_ends_is_closed_after_the_bytes_owed_on_every_path() {
    for (path, _) in PATHS {
        let server = EchoServer::spawn(config(path, SHORT_GRACE)).unwrap();
        let stats = server.stats();
        let mut stopping = None;
        let seen = busy_until_cut(server.local_addr(), || {
            stopping = Some(shutdown_in_background(server));
        });
        let took = seen.took;
        assert!(
            took >= SHORT_GRACE,
            "{path}: cut before the grace ran out ({took:?})"
        );
        seen.check_prefix(path);
        stopping.unwrap().join().unwrap();
        let record = stats.wait_closed(seen.peer, WAIT).expect("recorded");
        assert_eq!(record.end, Some(ConnectionEnd::ShutdownAborted), "{path}");
        // Everything the server read was written back: the client read all of it.
        assert_eq!(record.bytes_in, record.bytes_out, "{path}");
        assert_eq!(record.bytes_out, seen.back.len() as u64, "{path}");
    }
}

#[test]
fn stop_now_stops_at_once_on_every_path() {
    for (path, _) in PATHS {
        let server = EchoServer::spawn(config(path, WAIT)).unwrap();
        let stats = server.stats();
        let mut open = connect(server.local_addr());
        open.write_all(b"held open").unwrap();
        open.read_exact(&mut [0u8; 9]).unwrap();
        let started = Instant::now();
        server.stop_now().expect("stops");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{path}: {:?}",
            started.elapsed()
        );
        assert_eq!(open.read(&mut [0u8; 1]).unwrap_or(0), 0, "{path}: closed");
        let peer = open.local_addr().unwrap();
        let record = stats.wait_closed(peer, WAIT).expect("recorded");
        assert_eq!(record.end, Some(ConnectionEnd::ShutdownAborted), "{path}");
    }
}

fn proxy(upstream: SocketAddr, grace: Duration, chain: &str) -> echo_harness::ProxyHandle {
    let mut config = ProxyConfig::new(upstream);
    config.shutdown_grace = grace;
    config.chain = ToxicChain::parse(chain).unwrap();
    Proxy::spawn(config).unwrap()
}

#[test]
fn the_proxy_drains_a_paused_stream_both_ways_half_close_included() {
    let server = EchoServer::spawn(ServerConfig::ephemeral()).unwrap();
    for chain in ["", "up:slice=1000..60000 down:latency=1ms"] {
        let proxy = proxy(server.local_addr(), WAIT, chain);
        let stats = proxy.stats();
        let addr = proxy.local_addr();
        let mut stopping = None;
        let explain = |peer| {
            let record = stats.wait_closed(peer, Duration::from_secs(2));
            format!("[{chain}] the proxy's record: {record:?}")
        };
        let seen = pause_across_explained(
            addr,
            || {
                let started = Instant::now();
                stopping = Some(thread::spawn(move || {
                    proxy.shutdown().expect("drains");
                    started.elapsed()
                }));
                assert!(poll_until(|| refused(addr)), "the listener never closed");
            },
            explain,
        );
        seen.check_prefix(chain);
        assert_eq!(
            seen.back.len(),
            seen.sent.len(),
            "[{chain}]: the stream was cut"
        );
        assert!(stopping.unwrap().join().unwrap() < WAIT, "[{chain}]");
        let record = stats.wait_closed(seen.peer, WAIT).expect("recorded");
        assert_eq!(record.end, Some(ProxyEnd::Closed), "[{chain}]");
    }
}

#[test]
fn the_proxy_cuts_a_busy_connection_after_what_it_read_and_stop_now_stops_at_once() {
    let server = EchoServer::spawn(ServerConfig::ephemeral()).unwrap();
    for chain in ["", "latency=20ms"] {
        let proxy = proxy(server.local_addr(), SHORT_GRACE, chain);
        let stats = proxy.stats();
        let addr = proxy.local_addr();
        let mut stopping = None;
        let seen = busy_until_cut(addr, || {
            stopping = Some(thread::spawn(move || proxy.shutdown().expect("drains")));
            assert!(poll_until(|| refused(addr)), "the listener never closed");
        });
        assert!(
            seen.took >= SHORT_GRACE,
            "[{chain}]: cut early ({:?})",
            seen.took
        );
        seen.check_prefix(chain);
        stopping.unwrap().join().unwrap();
        let record = stats.wait_closed(seen.peer, WAIT).expect("recorded");
        assert_eq!(record.end, Some(ProxyEnd::ShutdownAborted), "[{chain}]");
        // What the proxy read from either side went to the other before the close.
        assert_eq!(record.up.bytes_in, record.up.bytes_out, "[{chain}] up");
        assert_eq!(
            record.down.bytes_in, record.down.bytes_out,
            "[{chain}] down"
        );
        assert_eq!(record.down.bytes_out, seen.back.len() as u64, "[{chain}]");
    }
    let proxy = proxy(server.local_addr(), WAIT, "");
    let stats = proxy.stats();
    let mut open = connect(proxy.local_addr());
    open.write_all(b"held").unwrap();
    open.read_exact(&mut [0u8; 4]).unwrap();
    let started = Instant::now();
    proxy.stop_now().expect("stops");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let peer = open.local_addr().unwrap();
    let record = stats.wait_closed(peer, WAIT).expect("recorded");
    assert_eq!(record.end, Some(ProxyEnd::ShutdownAborted));
}

#[cfg(unix)]
mod cli;

/// A connection the kernel completed before the stop, still in the listener's backlog when the
/// drain begins, is an open connection too: it is accepted and served, not reset by the close.
/// The stop is already complete when the server starts, so whether the accept loop takes the
/// connection before it sees the stop is the runtime's draw; ten rounds make a miss of the
/// backlog certain to show.
#[test]
fn a_connection_still_in_the_backlog_at_the_stop_is_served() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for round in 0..10 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut client = connect(addr);
        client.write_all(b"sent before the stop").unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        let server = EchoServer::new(config("fast", WAIT));
        let served = runtime.block_on(async {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            server.run(listener, std::future::ready(())).await
        });
        served.expect("the server drains and stops");
        let mut back = Vec::new();
        let read = client.read_to_end(&mut back);
        assert!(
            read.is_ok() && back == b"sent before the stop",
            "round {round}: {read:?}, {back:?}"
        );
    }
}
