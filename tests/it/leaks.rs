//! Issue 11, part 2: the harness checks that the target let go — every connection a case closed
//! is closed by the server too, within the leak bound, and a process group's descriptors and
//! threads come back after each case (lasting growth over several cases is a leak).
//!
//! The servers here are std threads with one behaviour at EOF each; the process-group side is
//! driven through [`Check::resource_probe`] by a counter the test server keeps, so that what
//! "leaks" is known exactly. The spawned side (`/proc` of a real process group) is covered by
//! the CLI tests at the end and by `tests/detection.rs` (`leak-fd`, `leak-thread`).

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use echo_harness::case::{Case, Conversation, Payload};
use echo_harness::leaks::{ResourceGrowth, ResourceLevel, ResourceProbe};
use echo_harness::roundtrip::OpenSockets;
use echo_harness::{check, Check, DivergenceKind, PlayOptions};

use super::common;

/// What the test server does once a client's stream has ended (EOF) and all of it is echoed.
#[derive(Debug, Clone, Copy)]
enum AtEof {
    /// Shut down and close `Duration` later: late cleanup.
    CloseAfter(Duration),
    /// Neither shut down nor close; the socket is kept forever.
    Keep,
    /// Shut down (the client gets its EOF), but keep the socket forever.
    ShutdownAndKeep,
    /// Close, but the first `u64` connections each leave a resource behind for good (a pool
    /// that grows to its size, then stays).
    Pool(u64),
}

/// An echo server on a thread per connection, doing `at_eof` at each EOF. `held` counts what
/// it holds: one more at each accept, one fewer at each close (but for what it keeps).
fn server(at_eof: AtEof, held: Arc<AtomicU64>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for (index, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { continue };
            held.fetch_add(1, Ordering::SeqCst);
            let held = Arc::clone(&held);
            thread::spawn(move || {
                let mut buffer = [0u8; 16 * 1024];
                while let Ok(n) = stream.read(&mut buffer) {
                    if n == 0 || stream.write_all(&buffer[..n]).is_err() {
                        break;
                    }
                }
                match at_eof {
                    AtEof::Pool(_) => {}
                    AtEof::CloseAfter(delay) => thread::sleep(delay),
                    AtEof::Keep => return std::mem::forget(stream),
                    AtEof::ShutdownAndKeep => {
                        let _ = stream.shutdown(Shutdown::Write);
                        return std::mem::forget(stream);
                    }
                }
                let _ = stream.shutdown(Shutdown::Write);
                drop(stream);
                if !matches!(at_eof, AtEof::Pool(size) if (index as u64) < size) {
                    held.fetch_sub(1, Ordering::SeqCst);
                }
            });
        }
    });
    addr
}

/// One connection that sends `hello`, reads it back and closes without half-closing.
fn close_case() -> Case {
    Case::single(Conversation::Close {
        payload: Payload::Literal(b"hello".to_vec()),
    })
}

fn options(leak_bound: Option<Duration>) -> PlayOptions {
    PlayOptions {
        leak_bound,
        ..PlayOptions::default()
    }
}

#[test]
fn a_socket_the_server_never_closes_is_not_closed() {
    let addr = server(AtEof::Keep, Arc::default());
    let bound = Duration::from_millis(200);
    let divergence = check::play_case_with(&close_case(), addr, &options(Some(bound)))
        .expect_err("the server never closed its side");
    assert_eq!(divergence.kind.name(), "not-closed", "{divergence}");
    assert!(divergence.kind.is_timing_only());
    assert!(
        divergence.confirmed,
        "confirmed at 4x the bound: {divergence}"
    );
    let DivergenceKind::NotClosed { sockets, waited } = &divergence.kind else {
        unreachable!()
    };
    let OpenSockets {
        client,
        server,
        server_state,
        ..
    } = sockets.as_ref();
    assert_eq!(*server, addr);
    assert_eq!(*waited, bound * 4, "the confirming play's bound");
    assert_eq!(*server_state, Some("CLOSE_WAIT"));
    let report = divergence.to_string();
    assert!(
        report.contains(&client.to_string()) && report.contains("FIN_WAIT"),
        "{report}"
    );
    assert!(report.contains("confirmed"), "{report}");
}

#[test]
fn a_server_that_closes_late_but_within_the_bound_passes() {
    let addr = server(
        AtEof::CloseAfter(Duration::from_millis(150)),
        Arc::default(),
    );
    let started = Instant::now();
    check::play_case_with(&close_case(), addr, &options(Some(Duration::from_secs(2))))
        .expect("closed after 150 ms, within the bound");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the check stops polling once the server closed"
    );
    // The same server against a bound it misses, even at 4x.
    let divergence = check::play_case_with(
        &close_case(),
        addr,
        &options(Some(Duration::from_millis(20))),
    )
    .expect_err("150 ms is past 4x 20 ms");
    assert_eq!(divergence.kind.name(), "not-closed", "{divergence}");
}

#[test]
fn without_the_leak_checks_a_socket_left_open_passes() {
    let addr = server(AtEof::Keep, Arc::default());
    check::play_case_with(&close_case(), addr, &options(None)).expect("the checks are off");
}

/// The level the test server's counter says, as a spawned process group's would be.
fn probe_of(held: &Arc<AtomicU64>) -> ResourceProbe {
    let held = Arc::clone(held);
    Arc::new(move || {
        Some(ResourceLevel {
            descriptors: 3 + held.load(Ordering::SeqCst),
            threads: 1,
        })
    })
}

#[test]
fn lasting_growth_is_a_leak_found_in_the_eighth_case_and_shrunk_alone() {
    let held = Arc::new(AtomicU64::new(0));
    let addr = server(AtEof::ShutdownAndKeep, Arc::clone(&held));
    let verdict = Check::new(addr)
        .seed(0)
        .cases(40)
        .shrink_time(Duration::from_secs(3))
        .leak_bound(Duration::from_millis(100))
        .resource_probe(probe_of(&held))
        .run();
    let failure = verdict.failure.as_ref().expect("the leak is found");
    // Every case opens at least one connection: the level grows in every case, and the eighth
    // in a row is where growth becomes a leak.
    assert_eq!(failure.case_index, 7, "{verdict}");
    let DivergenceKind::Leaked { growth, .. } = &failure.original_divergence.kind else {
        panic!("{:?}", failure.original_divergence.kind)
    };
    let ResourceGrowth {
        descriptors: Some((from, to)),
        threads: None,
        cases: 8,
    } = **growth
    else {
        panic!("{growth:?}")
    };
    assert!(to - from >= 8, "{from} -> {to}");
    // Each shrink step is judged alone: one case, its level after against before.
    assert!(
        matches!(&failure.divergence.kind, DivergenceKind::Leaked { growth, .. } if growth.cases == 1),
        "{verdict}"
    );
    assert!(
        verdict.to_string().contains("over the last 8 cases"),
        "{verdict}"
    );
}

#[test]
fn a_pool_that_grows_then_plateaus_is_no_leak() {
    // A pool of 12: the level grows for several cases in a row (every case opens a connection
    // or more), by more than the 8 a leak needs, then stays.
    let held = Arc::new(AtomicU64::new(0));
    let addr = server(AtEof::Pool(12), Arc::clone(&held));
    Check::new(addr)
        .seed(1)
        .cases(30)
        .leak_bound(Duration::from_millis(200))
        .resource_probe(probe_of(&held))
        .run()
        .assert_passed();
    assert_eq!(held.load(Ordering::SeqCst), 12, "the pool grew to its size");
}

/// A scenario whose one connection closes without half-closing.
const CLOSE_SCENARIO: &str =
    "# echo-harness scenario v1\n\nconnection c0\n  send \"hello\"\n  expect echo\n  close\n";

fn replay(spawn_mode: &str, extra: &[&str]) -> assert_cmd::assert::Assert {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("close.scenario");
    std::fs::write(&file, CLOSE_SCENARIO).unwrap();
    common::bin()
        .timeout(Duration::from_secs(60))
        .arg("replay")
        .arg(&file)
        .arg("--spawn")
        .arg(common::faulty_spawn(spawn_mode))
        .args(extra)
        .assert()
}

#[test]
fn a_replay_against_a_spawned_server_checks_its_threads_and_descriptors() {
    let out = replay("leak-thread", &[]).code(1);
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(
        stdout.contains("the server leaked: threads") && stdout.contains("after this case"),
        "{stdout}"
    );
    let out = replay("leak-fd", &["--leak-bound", "300ms"]).code(1);
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(
        stdout.contains("the server leaked: descriptors"),
        "{stdout}"
    );
    replay("correct", &[]).code(0);
    replay("leak-thread", &["--no-leak-checks"]).code(0);
}

#[test]
fn a_replay_names_a_socket_the_spawned_server_never_closed() {
    let out = replay("no-close-after-half-close", &["--leak-bound", "100ms"]).code(1);
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(
        stdout.contains("not closed by the server") && stdout.contains("CLOSE_WAIT"),
        "{stdout}"
    );
}
