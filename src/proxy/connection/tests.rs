//! The splice path of directions without toxics (Linux), over real loopback sockets, with a
//! pipe pool that counts its loans so that each test knows which path carried the bytes:
//! streams arrive whole, in order and counted, through pipes and through the copy when no pipe
//! is free; a FIN passes one way while the other way keeps flowing; a direction with a toxic is
//! never spliced, so the toxic still sees every byte, while the other direction splices.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use crate::listener::pipes::{PipeLoans, PipePool};
use crate::proxy::{Proxy, ProxyConfig, ProxyConnectionRecord, ProxyEnd, ProxyHandle, ToxicChain};
use crate::{EchoServer, ServerConfig};

const WAIT: Duration = Duration::from_secs(20);

/// Counts the pool's loans.
#[derive(Debug, Default)]
struct Loans {
    lent: AtomicUsize,
    returned: AtomicUsize,
}

impl PipeLoans for Loans {
    fn lent(&self) {
        self.lent.fetch_add(1, Ordering::Relaxed);
    }

    fn returned(&self) {
        self.returned.fetch_add(1, Ordering::Relaxed);
    }
}

impl Loans {
    fn lent(&self) -> usize {
        self.lent.load(Ordering::Relaxed)
    }

    fn returned(&self) -> usize {
        self.returned.load(Ordering::Relaxed)
    }
}

/// A proxy in front of `upstream` with `chain`, splicing through a pool of `max_pipes`.
fn start(upstream: SocketAddr, chain: &str, max_pipes: usize) -> (ProxyHandle, Arc<Loans>) {
    let mut config = ProxyConfig::new(upstream);
    config.chain = ToxicChain::parse(chain).unwrap_or_else(|e| panic!("{e}"));
    start_with(config, max_pipes)
}

fn start_with(mut config: ProxyConfig, max_pipes: usize) -> (ProxyHandle, Arc<Loans>) {
    config.worker_threads = Some(2);
    let capacity = config.buffer_size;
    let mut proxy = Proxy::new(config);
    let loans = Arc::new(Loans::default());
    proxy.pipes = Some(Arc::new(PipePool::new(
        max_pipes,
        capacity,
        Arc::clone(&loans) as Arc<dyn PipeLoans>,
    )));
    (proxy.start().expect("the proxy starts"), loans)
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr, WAIT).expect("connect");
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.set_write_timeout(Some(WAIT)).unwrap();
    stream
}

/// `len` bytes in which no stretch repeats (64-bit words of a counter through splitmix64),
/// so a lost, duplicated or moved block of any size shows as a difference.
fn payload(seed: u64, len: usize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(len + 8);
    let mut word = 0u64;
    while bytes.len() < len {
        bytes.extend_from_slice(&word_at(seed, word));
        word += 1;
    }
    bytes.truncate(len);
    bytes
}

/// Word `word` of [`payload`]`(seed, ..)`.
fn word_at(seed: u64, word: u64) -> [u8; 8] {
    let mut z = seed
        .wrapping_add(word)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(1);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)).to_le_bytes()
}

/// Panics with the first offset where `got` and `want` differ, if they do.
fn assert_same(got: &[u8], want: &[u8], what: &str) {
    if let Some(at) = got.iter().zip(want).position(|(a, b)| a != b) {
        panic!("{what}: first difference at byte {at} of {}", want.len());
    }
    assert_eq!(got.len(), want.len(), "{what}: length");
}

/// Writes `bytes` on a thread of its own and half-closes; reads to EOF on this one.
fn stream_through(stream: &TcpStream, bytes: &[u8]) -> Vec<u8> {
    let mut writer = stream.try_clone().unwrap();
    thread::scope(|scope| {
        scope.spawn(move || {
            writer.write_all(bytes).expect("the client writes");
            writer.shutdown(Shutdown::Write).unwrap();
        });
        let mut received = Vec::with_capacity(bytes.len());
        (&*stream)
            .read_to_end(&mut received)
            .expect("the client reads to EOF");
        received
    })
}

fn closed(proxy: &ProxyHandle, client: &TcpStream) -> ProxyConnectionRecord {
    proxy
        .stats()
        .wait_closed(client.local_addr().unwrap(), WAIT)
        .expect("the proxy recorded the connection")
}

#[test]
fn a_stream_arrives_whole_in_order_and_counted_spliced_or_copied_when_no_pipe_is_free() {
    let server = EchoServer::spawn(ServerConfig::ephemeral()).expect("echo server");
    let sent = payload(1, 8 << 20);
    for max_pipes in [64, 0] {
        let (proxy, loans) = start(server.local_addr(), "", max_pipes);
        let client = connect(proxy.local_addr());
        let received = stream_through(&client, &sent);
        assert_same(&received, &sent, &format!("{max_pipes} pipes"));
        let record = closed(&proxy, &client);
        assert_eq!(record.end, Some(ProxyEnd::Closed));
        for flow in [&record.up, &record.down] {
            // What the drain checks: everything read was written, nothing more.
            assert_eq!(flow.bytes_in, sent.len() as u64, "{max_pipes} pipes: in");
            assert_eq!(flow.bytes_out, sent.len() as u64, "{max_pipes} pipes: out");
            assert!(flow.writes > 0);
            assert!(flow.max_held <= 64 * 1024, "held {}", flow.max_held);
        }
        if max_pipes == 0 {
            assert_eq!(loans.lent(), 0, "no pipe to lend, so the copy carried it");
        } else {
            assert!(loans.lent() > 0, "the stream was never spliced");
        }
        assert_eq!(loans.returned(), loans.lent(), "every pipe came back");
        proxy.shutdown().unwrap();
    }
}

/// An upstream that streams `down` and half-closes while it reads to EOF; sends what it read.
fn streaming_upstream(down: Vec<u8>) -> (SocketAddr, mpsc::Receiver<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let (stream, _) = listener.accept().expect("the proxy connects");
        stream.set_read_timeout(Some(WAIT)).unwrap();
        let mut writer = stream.try_clone().unwrap();
        let wrote = thread::spawn(move || {
            writer.write_all(&down).expect("the upstream writes");
            writer.shutdown(Shutdown::Write).unwrap();
        });
        let mut read = Vec::new();
        let _ = (&stream).read_to_end(&mut read);
        wrote.join().unwrap();
        let _ = tx.send(read);
    });
    (addr, rx)
}

#[test]
fn the_upstreams_fin_passes_after_its_stream_while_the_client_keeps_streaming() {
    let (up, down) = (payload(2, 4 << 20), payload(3, 4 << 20));
    let (upstream, upstream_read) = streaming_upstream(down.clone());
    let (proxy, loans) = start(upstream, "", 64);
    let client = connect(proxy.local_addr());
    let (got_eof_tx, got_eof) = mpsc::channel();
    let mut writer = client.try_clone().unwrap();
    let up_sent = up.clone();
    let writing = thread::spawn(move || {
        let (first, second) = up_sent.split_at(up_sent.len() / 2);
        writer.write_all(first).unwrap();
        // The rest goes after the upstream's FIN has reached the client.
        got_eof.recv_timeout(WAIT).expect("the client saw EOF");
        writer.write_all(second).unwrap();
        writer.shutdown(Shutdown::Write).unwrap();
    });
    let mut received = Vec::new();
    (&client).read_to_end(&mut received).unwrap();
    got_eof_tx.send(()).unwrap();
    assert_same(&received, &down, "upstream to client");
    writing.join().unwrap();
    let read = upstream_read
        .recv_timeout(WAIT)
        .expect("the upstream read to EOF");
    assert_same(&read, &up, "client to upstream");
    let record = closed(&proxy, &client);
    assert_eq!(record.end, Some(ProxyEnd::Closed));
    assert_eq!(
        (record.up.bytes_in, record.up.bytes_out),
        (up.len() as u64, up.len() as u64)
    );
    assert_eq!(
        (record.down.bytes_in, record.down.bytes_out),
        (down.len() as u64, down.len() as u64)
    );
    assert!(
        loans.lent() >= 2,
        "both directions splice: {}",
        loans.lent()
    );
}

#[test]
fn a_direction_with_a_toxic_sees_every_byte_while_the_other_splices() {
    const LIMIT: usize = 100_000;
    let server = EchoServer::spawn(ServerConfig::ephemeral()).expect("echo server");
    let sent = payload(4, 2 << 20);
    for chain in ["down:limit=100000", "up:limit=100000"] {
        let (proxy, loans) = start(server.local_addr(), chain, 64);
        let client = connect(proxy.local_addr());
        let mut writer = client.try_clone().unwrap();
        let bytes = sent.clone();
        // The client may be cut off mid-write (the echo server stops reading at its EOF).
        let writing = thread::spawn(move || {
            let _ = writer.write_all(&bytes);
            let _ = writer.shutdown(Shutdown::Write);
        });
        let mut received = Vec::new();
        (&client).read_to_end(&mut received).unwrap();
        // A spliced limited direction would let the whole stream through.
        assert_same(&received, &sent[..LIMIT], chain);
        drop(client);
        writing.join().unwrap();
        let record = proxy
            .stats()
            .wait_closed(proxy_client_addr(&proxy), WAIT)
            .expect("closed");
        let limited = if chain.starts_with("up") {
            &record.up
        } else {
            &record.down
        };
        assert_eq!(limited.bytes_out, LIMIT as u64, "{chain}");
        if chain.starts_with("down") {
            // The client's 2 MiB went up in bulk, so that direction spliced.
            assert!(loans.lent() > 0, "{chain}: nothing was spliced");
        }
    }
}

/// The client address of the proxy's only connection.
fn proxy_client_addr(proxy: &ProxyHandle) -> SocketAddr {
    proxy
        .stats()
        .connection(0)
        .expect("the connection was recorded")
        .client
}

#[test]
fn at_the_cut_only_the_clients_reader_stops_and_the_upstreams_answer_still_flows() {
    const CHUNK: usize = 16 * 1024;
    let server = EchoServer::spawn(ServerConfig::ephemeral()).expect("echo server");
    let mut config = ProxyConfig::new(server.local_addr());
    config.shutdown_grace = Duration::from_millis(300);
    let (proxy, loans) = start_with(config, 64);
    let stats = proxy.stats();
    let client = connect(proxy.local_addr());
    let mut writer = client.try_clone().unwrap();
    // Streams without end, until the proxy stops taking it and closes.
    let writing = thread::spawn(move || {
        let mut chunk = Vec::with_capacity(CHUNK);
        for word in 0u64.. {
            chunk.extend_from_slice(&word_at(5, word));
            if chunk.len() == CHUNK {
                if writer.write_all(&chunk).is_err() {
                    return;
                }
                chunk.clear();
            }
        }
    });
    let reading = thread::spawn(move || {
        let (mut received, mut buffer) = (0usize, vec![0u8; 64 * 1024]);
        let mut word = [0u8; 8];
        loop {
            match (&client).read(&mut buffer) {
                Ok(0) => return (client, received),
                Ok(n) => {
                    for (i, byte) in buffer[..n].iter().enumerate() {
                        let at = received + i;
                        if at % 8 == 0 {
                            word = word_at(5, (at / 8) as u64);
                        }
                        assert_eq!(*byte, word[at % 8], "byte {at} of the echo");
                    }
                    received += n;
                }
                Err(e) => panic!("after {received} bytes: {e}"),
            }
        }
    });
    let deadline = std::time::Instant::now() + WAIT;
    while stats.connection(0).map_or(0, |c| c.up.bytes_out) < 4 << 20 {
        assert!(
            std::time::Instant::now() < deadline,
            "the stream never got going"
        );
        thread::sleep(Duration::from_millis(5));
    }
    // Drains: the grace period runs out while the client still streams.
    proxy.shutdown().expect("the proxy drains");
    let (client, received) = reading
        .join()
        .expect("the reader got EOF with every byte right");
    writing.join().unwrap();
    let record = stats
        .wait_closed(client.local_addr().unwrap(), WAIT)
        .expect("recorded");
    assert_eq!(record.end, Some(ProxyEnd::ShutdownAborted));
    // Everything the proxy read from the client went upstream, and all of the upstream's
    // answer to it came back: only the client's reader stopped.
    assert_eq!(record.up.bytes_in, record.up.bytes_out, "up");
    assert_eq!(record.down.bytes_in, record.down.bytes_out, "down");
    assert_eq!(record.down.bytes_out, record.up.bytes_out, "the whole echo");
    assert_eq!(received as u64, record.down.bytes_out, "the client got it");
    assert!(loans.lent() > 0, "the stream was never spliced");
}
