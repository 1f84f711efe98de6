//! The echo server through its public API, over real loopback sockets: many clients, half-close,
//! large streams both ways, backpressure, limits, idle timeout, shutdown, and every way to start it.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use echo_harness::{ConnectionEnd, EchoClient, EchoServer, ServerConfig, ServerHandle};

const WAIT: Duration = Duration::from_secs(10);

fn spawn(config: ServerConfig) -> ServerHandle {
    EchoServer::spawn(config).expect("server starts on 127.0.0.1:0")
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr, WAIT).expect("connect");
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.set_write_timeout(Some(WAIT)).unwrap();
    stream
}

/// Distinct bytes for client `id`: no two clients share a prefix, so crossed bytes show.
fn pattern(id: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(31) ^ id.wrapping_mul(131)) as u8)
        .collect()
}

/// Writes `payload` on one thread while reading everything back on this one, half-closing after
/// the last byte; returns what came back before EOF.
fn stream_through(stream: &TcpStream, payload: &[u8], write_chunk: usize) -> Vec<u8> {
    let mut writer = stream.try_clone().unwrap();
    thread::scope(|scope| {
        scope.spawn(move || {
            for chunk in payload.chunks(write_chunk.max(1)) {
                writer.write_all(chunk).expect("write");
            }
            writer.shutdown(Shutdown::Write).expect("half-close");
        });
        let mut received = Vec::with_capacity(payload.len());
        let mut reader = stream;
        reader.read_to_end(&mut received).expect("read to EOF");
        received
    })
}

/// Writes 64 KiB chunks on `stream`, each write allowed `timeout`, until one stalls because
/// the kernel buffers on both sides are full: `Ok` with the bytes written. Any other write
/// error ends it too, as `Err` (a server that closes the connection meanwhile, as an idle
/// timeout or a shutdown does, makes one). Bounded by [`WAIT`], the test named by `what`.
fn write_until_stalled(stream: &TcpStream, timeout: Duration, what: &str) -> std::io::Result<u64> {
    stream.set_write_timeout(Some(timeout)).unwrap();
    let chunk = vec![0x5a; 64 * 1024];
    let mut sent = 0u64;
    let deadline = Instant::now() + WAIT;
    let mut writer = stream;
    loop {
        assert!(Instant::now() < deadline, "{what}: the write never stalled");
        match writer.write(&chunk) {
            Ok(n) => sent += n as u64,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Ok(sent)
            }
            Err(e) => return Err(e),
        }
    }
}

fn wait_until(what: &str, condition: impl FnMut() -> bool) {
    assert!(
        crate::common::poll_until(condition),
        "timed out waiting until {what}"
    );
}

#[test]
fn a_hundred_and_twenty_eight_concurrent_clients_each_get_their_own_bytes() {
    let server = spawn(ServerConfig::ephemeral());
    let addr = server.local_addr();
    let clients: Vec<_> = (0..128)
        .map(|id| {
            thread::spawn(move || {
                let mut client = EchoClient::connect(addr, WAIT).expect("connect");
                // Hold every connection open through several messages, so they overlap.
                for round in 0..4 {
                    let message = pattern(id * 4 + round, 1000 + id * 37);
                    client.echo(&message).expect("echo comes back unchanged");
                }
                client.finish().expect("EOF after half-close");
            })
        })
        .collect();
    for client in clients {
        client.join().expect("client thread");
    }
    let stats = server.stats().snapshot();
    assert_eq!(stats.accepted, 128);
    assert_eq!(stats.rejected, 0);
    assert_eq!(stats.bytes_in, stats.bytes_out);
    server.shutdown().unwrap();
}

#[test]
fn half_close_returns_every_byte_then_eof() {
    let server = spawn(ServerConfig::ephemeral());
    let stream = connect(server.local_addr());
    let payload = pattern(7, 3 * 1024 * 1024 + 17);
    let received = stream_through(&stream, &payload, 4093);
    assert_eq!(received.len(), payload.len());
    assert!(received == payload, "bytes differ");
    let record = server
        .stats()
        .wait_closed(stream.local_addr().unwrap(), WAIT)
        .expect("server recorded the connection");
    assert_eq!(record.end, Some(ConnectionEnd::ClientClosed));
    assert_eq!(record.bytes_in, payload.len() as u64);
    assert_eq!(record.bytes_out, payload.len() as u64);
}

#[test]
fn an_empty_stream_half_closed_gets_eof() {
    let server = spawn(ServerConfig::ephemeral());
    let stream = connect(server.local_addr());
    assert!(stream_through(&stream, b"", 1).is_empty());
}

#[test]
fn sixteen_mib_each_way_at_once_does_not_deadlock() {
    let server = spawn(ServerConfig::ephemeral());
    let stream = connect(server.local_addr());
    let payload = pattern(3, 16 * 1024 * 1024);
    // Large writes: far more than the socket buffers hold, so writer and reader must overlap.
    let received = stream_through(&stream, &payload, 1024 * 1024);
    assert_eq!(received.len(), payload.len());
    assert!(received == payload, "bytes differ");
}

#[test]
fn per_connection_record_counts_the_reads_the_server_saw() {
    let server = spawn(ServerConfig::ephemeral());
    let mut client = EchoClient::connect(server.local_addr(), WAIT).unwrap();
    let peer = client.local_addr().unwrap();
    // Three interactive rounds: each must arrive in its own read, the next is sent only after
    // the previous came back.
    for message in [&b"one"[..], b"two", b"three"] {
        client.echo(message).unwrap();
    }
    let live = server.stats().connection(peer).expect("live record");
    assert_eq!(live.end, None);
    assert_eq!(live.reads, 3);
    client.finish().unwrap();
    let closed = server
        .stats()
        .wait_closed(peer, WAIT)
        .expect("closed record");
    assert_eq!(closed.reads, 3);
    assert_eq!(closed.bytes_in, 11);
    assert_eq!(closed.end, Some(ConnectionEnd::ClientClosed));
}

#[test]
fn a_client_that_never_reads_does_not_grow_what_the_server_holds() {
    let config = ServerConfig {
        buffer_size: 16 * 1024,
        ..ServerConfig::ephemeral()
    };
    let bound = config.buffer_size as u64;
    let server = spawn(config);
    let stream = connect(server.local_addr());
    let peer = stream.local_addr().unwrap();
    // Write until the kernel buffers on both sides are full and the write stalls.
    let sent = write_until_stalled(
        &stream,
        Duration::from_millis(300),
        "a client that never reads",
    )
    .expect("the write stalls, not fails");
    // Sample the counters for a while after the stall: the server holds at most one buffer.
    let stats = server.stats();
    for _ in 0..20 {
        let record = stats.connection(peer).expect("live record");
        let held = record.bytes_in - record.bytes_out;
        assert!(held <= bound, "server holds {held} bytes, bound {bound}");
        let totals = stats.snapshot();
        assert!(totals.bytes_in - totals.bytes_out <= bound);
        assert!(totals.buffers_in_use <= 1, "{totals:?}");
        thread::sleep(Duration::from_millis(10));
    }
    let record = stats.connection(peer).unwrap();
    assert!(
        record.bytes_in < sent,
        "the server stopped reading ({} of {sent} bytes read)",
        record.bytes_in
    );
}

#[test]
fn idle_connections_hold_no_buffer() {
    let server = spawn(ServerConfig::ephemeral());
    let mut clients: Vec<EchoClient> = (0..50)
        .map(|_| EchoClient::connect(server.local_addr(), WAIT).unwrap())
        .collect();
    for client in &mut clients {
        client.echo(&[1u8; 5000]).unwrap();
    }
    let stats = server.stats();
    wait_until("every connection went idle", || {
        stats.snapshot().buffers_in_use == 0
    });
    assert_eq!(stats.snapshot().active, 50);
}

#[test]
fn idle_timeout_closes_a_quiet_connection_and_a_stalled_one() {
    let config = ServerConfig {
        idle_timeout: Some(Duration::from_millis(300)),
        buffer_size: 4096,
        ..ServerConfig::ephemeral()
    };
    let server = spawn(config);
    let stats = server.stats();

    let mut quiet = EchoClient::connect(server.local_addr(), WAIT).unwrap();
    quiet.echo(b"then silence").unwrap();
    let quiet_peer = quiet.local_addr().unwrap();

    // A client that writes but never reads stalls the server's writes: idle too.
    let stalled = connect(server.local_addr());
    let stalled_peer = stalled.local_addr().unwrap();
    // The server may close the connection (idle timeout, shutdown) before the write stalls.
    let _ = write_until_stalled(&stalled, Duration::from_millis(100), "the stalled client");

    for peer in [quiet_peer, stalled_peer] {
        let record = stats
            .wait_closed(peer, WAIT)
            .expect("closed by idle timeout");
        assert_eq!(record.end, Some(ConnectionEnd::IdleTimeout), "{peer}");
    }
}

#[test]
fn connection_limit_turns_the_next_client_away_and_frees_up_on_close() {
    let config = ServerConfig {
        max_connections: 2,
        ..ServerConfig::ephemeral()
    };
    let server = spawn(config);
    let addr = server.local_addr();
    let mut first = EchoClient::connect(addr, WAIT).unwrap();
    let mut second = EchoClient::connect(addr, WAIT).unwrap();
    first.echo(b"1").unwrap();
    second.echo(b"2").unwrap();

    // The third is accepted and closed at once: it reads EOF (or a reset).
    let mut third = connect(addr);
    let third_peer = third.local_addr().unwrap();
    let mut byte = [0u8; 1];
    match third.read(&mut byte) {
        Ok(0) => {}
        Ok(n) => panic!("rejected connection read {n} bytes"),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset),
    }
    let record = server.stats().wait_closed(third_peer, WAIT).unwrap();
    assert_eq!(record.end, Some(ConnectionEnd::Rejected));
    assert_eq!(server.stats().snapshot().rejected, 1);

    // Once one closes, a new client is served again.
    let first_peer = first.local_addr().unwrap();
    first.finish().unwrap();
    server.stats().wait_closed(first_peer, WAIT).unwrap();
    let mut fourth = EchoClient::connect(addr, WAIT).unwrap();
    fourth.echo(b"served again").unwrap();
    second.echo(b"still served").unwrap();
}

#[test]
fn shutdown_stops_accepting_and_cuts_idle_connections_when_the_grace_runs_out() {
    let grace = Duration::from_millis(300);
    let server = spawn(ServerConfig {
        shutdown_grace: grace,
        ..ServerConfig::ephemeral()
    });
    let addr = server.local_addr();
    let mut clients: Vec<TcpStream> = (0..3).map(|_| connect(addr)).collect();
    for stream in &mut clients {
        stream.write_all(b"ping").unwrap();
        let mut echo = [0u8; 4];
        stream.read_exact(&mut echo).unwrap();
        assert_eq!(&echo, b"ping");
    }
    let stats = server.stats();
    let started = Instant::now();
    server.shutdown().expect("graceful shutdown");
    // An idle connection is no longer closed at once: the drain waits for its client.
    assert!(
        started.elapsed() >= grace && started.elapsed() < Duration::from_secs(3),
        "shutdown took {:?}",
        started.elapsed()
    );
    for stream in &mut clients {
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).expect("EOF, not a reset");
        assert!(rest.is_empty());
        let record = stats
            .closed_connection(stream.local_addr().unwrap())
            .unwrap();
        assert_eq!(record.end, Some(ConnectionEnd::ShutdownAborted));
    }
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err());
}

#[test]
fn shutdown_aborts_a_connection_that_cannot_finish_within_the_grace_period() {
    let config = ServerConfig {
        shutdown_grace: Duration::from_millis(200),
        buffer_size: 64 * 1024,
        ..ServerConfig::ephemeral()
    };
    let server = spawn(config);
    let stalled = connect(server.local_addr());
    // The server may close the connection (idle timeout, shutdown) before the write stalls.
    let _ = write_until_stalled(&stalled, Duration::from_millis(100), "the stalled client");
    let stats = server.stats();
    let started = Instant::now();
    server
        .shutdown()
        .expect("shutdown within the grace period plus a margin");
    assert!(started.elapsed() < Duration::from_secs(2));
    let record = stats
        .closed_connection(stalled.local_addr().unwrap())
        .unwrap();
    assert_eq!(record.end, Some(ConnectionEnd::ShutdownAborted));
}

#[test]
fn dropping_the_handle_stops_the_server_within_a_bounded_time() {
    // A dropped handle drains like `shutdown()`: the idle connection below is served until the
    // grace period ends (it could still send), then cut; the drop's bound is grace + 1 s.
    let server = spawn(ServerConfig {
        shutdown_grace: Duration::from_secs(1),
        ..ServerConfig::ephemeral()
    });
    let addr = server.local_addr();
    let _open = connect(addr);
    let started = Instant::now();
    drop(server);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err());
}

#[test]
fn serves_ipv6_loopback() {
    let config = ServerConfig {
        listen: "[::1]:0".parse().unwrap(),
        ..ServerConfig::default()
    };
    let server = match EchoServer::spawn(config) {
        Ok(server) => server,
        Err(e) => {
            println!("SKIPPED: no IPv6 loopback here ({e})");
            return;
        }
    };
    assert!(server.local_addr().is_ipv6());
    let stream = connect(server.local_addr());
    let payload = pattern(6, 200_000);
    assert!(stream_through(&stream, &payload, 777) == payload);
}

#[test]
fn bind_errors_are_reported_before_anything_runs() {
    let server = spawn(ServerConfig::ephemeral());
    let config = ServerConfig {
        listen: server.local_addr(),
        ..ServerConfig::default()
    };
    let error = EchoServer::spawn(config).expect_err("address in use");
    assert!(
        matches!(error, echo_harness::ServerError::Bind { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("cannot listen on"), "{error}");
}

#[tokio::test(flavor = "current_thread")]
async fn spawn_and_shutdown_from_a_current_thread_runtime() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = spawn(ServerConfig::ephemeral());
    let mut stream = tokio::net::TcpStream::connect(server.local_addr())
        .await
        .unwrap();
    stream.write_all(b"async hello").await.unwrap();
    stream.shutdown().await.unwrap();
    let mut echoed = Vec::new();
    stream.read_to_end(&mut echoed).await.unwrap();
    assert_eq!(echoed, b"async hello");
    // Blocking shutdown from inside the runtime: the server does not need this runtime.
    server.shutdown().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawn_and_drop_from_a_multi_thread_runtime() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = spawn(ServerConfig::ephemeral());
    let mut stream = tokio::net::TcpStream::connect(server.local_addr())
        .await
        .unwrap();
    stream.write_all(&[9u8; 100_000]).await.unwrap();
    let mut echoed = vec![0u8; 100_000];
    stream.read_exact(&mut echoed).await.unwrap();
    assert!(echoed.iter().all(|&b| b == 9));
    drop(server);
}

#[tokio::test(flavor = "current_thread")]
async fn run_inside_the_callers_current_thread_runtime() {
    run_in_callers_runtime().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_inside_the_callers_multi_thread_runtime() {
    run_in_callers_runtime().await;
}

async fn run_in_callers_runtime() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = EchoServer::new(ServerConfig::ephemeral());
    let stats = server.stats();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(async move {
        server
            .run(listener, async {
                let _ = stopped.await;
            })
            .await
    });
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let payload = pattern(1, 300_000);
    let (mut reader, mut writer) = stream.split();
    let (written, echoed) = tokio::join!(
        async {
            writer.write_all(&payload).await.unwrap();
            writer.shutdown().await.unwrap();
        },
        async {
            let mut echoed = Vec::new();
            reader.read_to_end(&mut echoed).await.unwrap();
            echoed
        }
    );
    let () = written;
    assert!(echoed == payload);
    assert_eq!(stats.snapshot().accepted, 1);
    stop.send(()).unwrap();
    tokio::time::timeout(WAIT, running)
        .await
        .expect("run returns after shutdown")
        .unwrap()
        .unwrap();
}

/// Every way the server can move bytes: the default (on Linux the fast path), the fast path
/// with splice, with and without small buffers, and the portable loop every OS runs. Small
/// buffers, so a 4 KiB read already makes a connection streaming.
fn every_path() -> Vec<(&'static str, ServerConfig)> {
    let small = ServerConfig {
        buffer_size: 4096,
        ..ServerConfig::ephemeral()
    };
    vec![
        ("default", ServerConfig::ephemeral()),
        ("fast, small buffers", small.clone()),
        (
            "fast with splice",
            ServerConfig {
                splice: true,
                ..ServerConfig::ephemeral()
            },
        ),
        (
            "fast with splice, small buffers",
            ServerConfig {
                splice: true,
                ..small.clone()
            },
        ),
        (
            "portable",
            ServerConfig {
                fast_path: false,
                ..small
            },
        ),
    ]
}

#[test]
fn every_path_echoes_large_streams_exactly_then_eof() {
    for (path, config) in every_path() {
        let bound = config.buffer_size as u64;
        let server = spawn(config);
        for (len, chunk) in [
            (5 * 1024 * 1024 + 3, 1024 * 1024),
            (300_001, 1),
            (70_000, 4096),
        ] {
            let stream = connect(server.local_addr());
            let payload = pattern(len, len);
            let received = stream_through(&stream, &payload, chunk);
            assert!(received == payload, "{path}: bytes differ ({len} bytes)");
            let record = server
                .stats()
                .wait_closed(stream.local_addr().unwrap(), WAIT)
                .expect("recorded");
            assert_eq!(record.end, Some(ConnectionEnd::ClientClosed), "{path}");
            assert_eq!(record.bytes_in, len as u64, "{path}");
            assert_eq!(record.bytes_out, len as u64, "{path}");
            // Every read returned data and none held more than a buffer.
            assert!(
                record.reads >= (len as u64).div_ceil(bound),
                "{path}: {record:?}"
            );
        }
        assert_eq!(server.stats().snapshot().buffers_in_use, 0, "{path}");
    }
}

#[test]
fn every_path_keeps_memory_bounded_for_a_client_that_never_reads() {
    for (path, config) in every_path() {
        let bound = config.buffer_size as u64;
        let server = spawn(config);
        let stream = connect(server.local_addr());
        let peer = stream.local_addr().unwrap();
        write_until_stalled(&stream, Duration::from_millis(300), path)
            .unwrap_or_else(|e| panic!("{path}: write failed: {e}"));
        let stats = server.stats();
        // Not a wait: the bound must hold at every sample over 100 ms after the stall.
        for _ in 0..10 {
            let record = stats.connection(peer).expect("live record");
            let held = record.bytes_in - record.bytes_out;
            assert!(
                held <= bound,
                "{path}: server holds {held} bytes, bound {bound}"
            );
            assert!(stats.snapshot().buffers_in_use <= 1, "{path}");
            thread::sleep(Duration::from_millis(10));
        }
    }
}

#[test]
fn every_path_counts_one_read_per_interactive_round_and_idles_without_a_buffer() {
    for (path, config) in every_path() {
        let server = spawn(config);
        let mut client = EchoClient::connect(server.local_addr(), WAIT).unwrap();
        let peer = client.local_addr().unwrap();
        for message in [&b"one"[..], &[7u8; 4096], b"three"] {
            client.echo(message).unwrap();
        }
        let stats = server.stats();
        wait_until("the connection went idle", || {
            stats.snapshot().buffers_in_use == 0
        });
        assert_eq!(stats.connection(peer).expect("live").reads, 3, "{path}");
        client.finish().unwrap();
        let closed = stats.wait_closed(peer, WAIT).expect("closed");
        assert_eq!(closed.end, Some(ConnectionEnd::ClientClosed), "{path}");
    }
}

#[test]
fn every_path_cuts_idle_connections_when_the_shutdown_grace_runs_out() {
    for (path, config) in every_path() {
        let server = spawn(ServerConfig {
            shutdown_grace: Duration::from_millis(100),
            ..config
        });
        let mut client = EchoClient::connect(server.local_addr(), WAIT).unwrap();
        client.echo(&[1u8; 10_000]).unwrap();
        let peer = client.local_addr().unwrap();
        let stats = server.stats();
        server.shutdown().unwrap();
        let record = stats.wait_closed(peer, WAIT).expect("closed");
        assert_eq!(record.end, Some(ConnectionEnd::ShutdownAborted), "{path}");
    }
}
