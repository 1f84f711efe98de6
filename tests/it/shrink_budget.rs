//! How long a user's default `proptest!` run with `check::play_case` takes to find and shrink a
//! server that stops answering, and how small the case it ends with is (issue 13, trap 2).
//! Ignored: each run takes tens of seconds. Run with
//! `cargo test --test it shrink_budget -- --ignored --nocapture --test-threads 1`.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use echo_harness::case::CaseBounds;
use echo_harness::check::play_case;
use echo_harness::strategy::case_strategy;
use proptest::test_runner::{Config, RngSeed, TestError, TestRunner};

/// How long the server keeps a connection open, silent, after the client's EOF: long enough
/// that every play of the client times out first, bounded so sockets do not pile up.
const SILENCE: Duration = Duration::from_secs(10);

/// A server with the `first-recv-only` bug of `examples/faulty_echo.rs`: it echoes the first
/// read of a connection and discards the rest. With `close_at_eof` it closes once the client
/// has (as faulty_echo does); without, it stays silent, so every failure is a stall.
fn first_read_only(close_at_eof: bool) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            thread::spawn(move || serve_first_read(stream, close_at_eof));
        }
    });
    addr
}

fn serve_first_read(mut stream: TcpStream, close_at_eof: bool) {
    let mut buffer = [0u8; 64 * 1024];
    match stream.read(&mut buffer) {
        Ok(n) if n > 0 => {
            if stream.write_all(&buffer[..n]).is_err() {
                return;
            }
        }
        _ => return,
    }
    while matches!(stream.read(&mut buffer), Ok(n) if n > 0) {}
    if close_at_eof {
        let _ = stream.shutdown(Shutdown::Write);
    } else {
        thread::sleep(SILENCE);
    }
}

/// Runs proptest's default configuration with the README's bounds and `play_case` as the
/// body, and prints what it took. Two changes, for a measurement: no persistence file, and the
/// random seed fixed (to `seed`), so that runs compare.
fn measure(name: &str, addr: SocketAddr, seed: u64) -> (Duration, u64, usize) {
    let bounds = CaseBounds::default().max_payload_len(64 * 1024);
    let config = Config {
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(seed),
        ..Config::default()
    };
    let plays = AtomicU32::new(0);
    let failed = AtomicU32::new(0);
    let started = Instant::now();
    let mut runner = TestRunner::new(config);
    let result = runner.run(&case_strategy(&bounds), |case| {
        let n = plays.fetch_add(1, Ordering::Relaxed) + 1;
        let result = play_case(&case, addr);
        if result.is_err() {
            let f = failed.fetch_add(1, Ordering::Relaxed) + 1;
            eprintln!(
                "{name} seed {seed}: play {n}, failure {f} at {:.1?}: {} connections, {} bytes",
                started.elapsed(),
                case.connections.len(),
                case.total_len()
            );
        }
        result?;
        Ok(())
    });
    let elapsed = started.elapsed();
    let Err(TestError::Fail(reason, minimal)) = result else {
        panic!("{name} seed {seed}: the bug was not found: {result:?}");
    };
    eprintln!(
        "{name} seed {seed}: {elapsed:.1?} wall, {} plays, {} failing; minimal case: {} connections, {} bytes\n{reason}\n{minimal}",
        plays.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
        minimal.connections.len(),
        minimal.total_len()
    );
    (elapsed, minimal.total_len(), minimal.connections.len())
}

/// The seeds measured: `SHRINK_BUDGET_SEEDS` (comma-separated), or three fixed ones.
fn seeds() -> Vec<u64> {
    std::env::var("SHRINK_BUDGET_SEEDS")
        .ok()
        .map(|list| list.split(',').map(|s| s.trim().parse().unwrap()).collect())
        .unwrap_or_else(|| vec![1, 2, 3])
}

/// The budget a default run must meet: within a minute, one connection, a small case. Each
/// seed gets a server of its own: `play_case` remembers failures per address.
fn assert_within_budget(name: &str, close_at_eof: bool) {
    let mut figures = Vec::new();
    for seed in seeds() {
        let (elapsed, bytes, connections) = measure(name, first_read_only(close_at_eof), seed);
        figures.push(format!(
            "seed {seed}: {elapsed:.1?}, {connections} connection(s), {bytes} bytes"
        ));
        assert!(
            elapsed < Duration::from_secs(60),
            "{name} seed {seed}: took {elapsed:?}"
        );
        assert_eq!(connections, 1, "{name} seed {seed}: one connection");
        assert!(bytes <= 64 * 1024, "{name} seed {seed}: {bytes} bytes left");
    }
    eprintln!("{name}: {}", figures.join("; "));
}

#[test]
#[ignore = "a measurement: tens of seconds"]
fn a_default_proptest_run_against_a_first_read_only_server_ends_within_a_minute() {
    assert_within_budget("first-read-only", true);
}

#[test]
#[ignore = "a measurement: tens of seconds"]
fn a_default_proptest_run_against_a_server_that_stops_answering_ends_within_a_minute() {
    assert_within_budget("first-read-then-silent", false);
}
