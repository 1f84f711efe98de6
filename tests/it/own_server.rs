//! The traps a new user met testing their own echo server from their own `cargo test` (issue
//! 13): the blocking calls inside tokio runtimes, with the server as a task of the test's own
//! runtime; `play_case_with` and its options; the shortcut on repeated timing-only failures;
//! `?` from a divergence in a proptest body; `Verdict::save`; and a report that never
//! contradicts itself about the bytes that came back intact.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::thread;
use std::time::{Duration, Instant};

use echo_harness::case::{Case, CaseBounds, Conversation, Payload};
use echo_harness::check::{self, play_case, play_case_with};
use echo_harness::strategy::case_strategy;
use echo_harness::{Check, DivergenceKind, PlayOptions, ScenarioFile};
use proptest::test_runner::{Config, TestError, TestRunner};

use crate::common::{self, faulty_server};

fn small() -> CaseBounds {
    CaseBounds::default()
        .max_payload_len(16 * 1024)
        .max_pause_total(Duration::from_millis(20))
}

fn stream(bytes: &[u8]) -> Case {
    Case::single(Conversation::Stream {
        payload: Payload::Literal(bytes.to_vec()),
    })
}

/// A correct echo server as a task of the caller's runtime: the set-up that a blocking call
/// made on a current-thread runtime would starve.
async fn tokio_echo_task() -> SocketAddr {
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut read, mut write) = socket.split();
                if tokio::io::copy(&mut read, &mut write).await.is_ok() {
                    let _ = write.shutdown().await;
                }
            });
        }
    });
    addr
}

const REFUSAL: &str = "was called inside a current-thread tokio runtime: it would block the \
                       thread your server runs on";

#[tokio::test(flavor = "current_thread")]
async fn in_a_current_thread_runtime_the_blocking_calls_refuse_with_the_reason_not_a_stall() {
    let addr = tokio_echo_task().await;
    let started = Instant::now();
    let verdict = Check::new(addr).seed(1).cases(5).bounds(small()).run();
    assert!(!verdict.passed());
    assert!(verdict.failure.is_none(), "no case was played: {verdict}");
    let report = verdict.to_string();
    assert!(
        report.contains(&format!("Check::run() {REFUSAL}. Use `.run_async().await`, or a multi-thread runtime (`#[tokio::test(flavor = \"multi_thread\")]`)")),
        "{report}"
    );
    let panic = std::panic::catch_unwind(|| verdict.assert_passed()).unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(message.contains(REFUSAL), "{message}");

    let divergence = play_case(&stream(b"hello"), addr).unwrap_err();
    assert!(
        matches!(divergence.kind, DivergenceKind::NotRun { .. }),
        "{divergence}"
    );
    assert!(divergence.to_string().contains(REFUSAL), "{divergence}");

    // The generic blocking helper can only panic, with the same reason.
    let panic = std::panic::catch_unwind(|| {
        echo_harness::roundtrip::block_on(|| async { play_case(&stream(b"x"), addr) })
    })
    .unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(message.contains(REFUSAL), "{message}");

    let folder = tempfile::tempdir().unwrap();
    std::fs::write(
        folder.path().join("a.scenario"),
        "# echo-harness scenario v1\n",
    )
    .unwrap();
    let refused = echo_harness::scenario::play_path(folder.path(), addr).unwrap_err();
    assert!(refused.to_string().contains(REFUSAL), "{refused}");
    // Refusing takes no timeout: nothing was played.
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );

    // What the message recommends works on this very runtime.
    Check::new(addr)
        .seed(1)
        .cases(5)
        .bounds(small())
        .run_async()
        .await
        .assert_passed();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn in_a_multi_thread_runtime_with_one_worker_the_blocking_calls_pass_a_server_on_it() {
    let addr = tokio_echo_task().await;
    let verdict = Check::new(addr).seed(2).cases(10).bounds(small()).run();
    verdict.assert_passed();
    assert_eq!(verdict.cases, 10);
    let outcome = play_case(&stream(b"from a worker"), addr).unwrap();
    assert_eq!(outcome.bytes_verified(), 13);
    // From a task the runtime spawned, too (the worker itself blocks there).
    let from_task =
        tokio::spawn(async move { Check::new(addr).seed(3).cases(5).bounds(small()).run() });
    from_task.await.unwrap().assert_passed();
}

/// A server that reads everything and never answers, holding every connection open.
fn silent_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buffer = [0u8; 4096];
            while matches!(stream.read(&mut buffer), Ok(n) if n > 0) {}
            common::hold(stream);
        }
    });
    addr
}

#[test]
fn play_case_with_takes_the_timeout_and_confirms_a_stall_once_per_address() {
    let addr = silent_server();
    let options = PlayOptions {
        timeout: Duration::from_millis(200),
        connect_timeout: Duration::from_millis(200),
        ..PlayOptions::default()
    };
    let case = stream(b"anyone there?");
    let started = Instant::now();
    let first = play_case_with(&case, addr, &options).unwrap_err();
    // 200 ms, then 800 ms to confirm; the default options would have taken 2 s + 8 s.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        first.kind,
        DivergenceKind::Stalled {
            waited: Duration::from_millis(800)
        },
        "{first}"
    );
    assert!(first.confirmed && !first.confirmed_earlier, "{first}");
    assert!(first
        .to_string()
        .contains("(confirmed: failed again at 4x the timeout)"));

    // A shrink step at the same address: one play, a quarter of the timeout (floor 100 ms).
    let again = play_case_with(&stream(b"anyone?"), addr, &options).unwrap_err();
    assert_eq!(
        again.kind,
        DivergenceKind::Stalled {
            waited: Duration::from_millis(100)
        },
        "{again}"
    );
    assert!(again.confirmed && again.confirmed_earlier, "{again}");
    let report = again.to_string();
    assert!(report.contains("not played again"), "{report}");
    assert!(!report.contains("(confirmed: failed again"), "{report}");

    // Another address has confirmed nothing: it pays the confirmation itself.
    let elsewhere = play_case_with(&case, silent_server(), &options).unwrap_err();
    assert!(!elsewhere.confirmed_earlier, "{elsewhere}");
}

#[test]
fn question_mark_turns_a_divergence_into_proptests_failure_with_the_report() {
    let addr = faulty_server(|bytes| bytes.iter().map(|b| b ^ 1).collect());
    let config = Config {
        failure_persistence: None,
        ..check::proptest_config(4)
    };
    assert_eq!(config.max_shrink_time, 30_000);
    let mut runner = TestRunner::new(config);
    let result = runner.run(&case_strategy(&small()), |case| {
        play_case(&case, addr)?;
        Ok(())
    });
    let Err(TestError::Fail(reason, minimal)) = result else {
        panic!("every byte comes back wrong, yet: {result:?}");
    };
    let reason = reason.to_string();
    assert!(
        reason.contains("different bytes came back at offset 0"),
        "{reason}"
    );
    assert!(
        reason.contains("expected:") && reason.contains("received:"),
        "{reason}"
    );
    assert_eq!(minimal.connections.len(), 1, "{minimal}");
}

#[test]
fn a_failing_verdict_saves_its_minimal_case_as_check_save_does() {
    let addr = faulty_server(|bytes| bytes.iter().map(|b| b ^ 1).collect());
    let verdict = Check::new(addr)
        .seed(11)
        .cases(5)
        .bounds(small())
        .shrink_time(Duration::from_secs(5))
        .run();
    let failure = verdict.failure.as_ref().expect("every byte is wrong");
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("failures");
    let path = verdict.save(&folder).unwrap().expect("a failure is saved");
    assert_eq!(path, folder.join("seed-11-case-1.scenario"));
    let text = std::fs::read_to_string(&path).unwrap();
    let file: ScenarioFile = text.parse().unwrap();
    assert_eq!(file.to_case().as_ref(), Some(&failure.minimal), "{text}");
    assert_eq!(file.seed, Some(11));
    assert_eq!(file.target, Some(addr.to_string()));
    assert!(
        file.divergence[0].contains("different bytes came back"),
        "{:?}",
        file.divergence
    );

    let server = echo_harness::EchoServer::spawn(echo_harness::ServerConfig::ephemeral()).unwrap();
    let passed = Check::new(server.local_addr())
        .seed(1)
        .cases(3)
        .bounds(small())
        .run();
    passed.assert_passed();
    assert_eq!(passed.save(dir.path().join("none")).unwrap(), None);
    assert!(!dir.path().join("none").exists());
}

/// Each connection's byte at stream offset 2 comes back changed; every other byte is echoed.
fn corrupts_offset_2() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            thread::spawn(move || {
                let mut buffer = [0u8; 4096];
                let mut offset = 0usize;
                while let Ok(n @ 1..) = stream.read(&mut buffer) {
                    if (offset..offset + n).contains(&2) {
                        buffer[2 - offset] ^= 0x20;
                    }
                    offset += n;
                    if stream.write_all(&buffer[..n]).is_err() {
                        return;
                    }
                }
                let _ = stream.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    addr
}

#[test]
fn a_mismatch_at_offset_2_reports_the_2_intact_bytes_before_it() {
    let addr = corrupts_offset_2();
    for case in [stream(b"abcdef"), stream(b"abc")] {
        let divergence = play_case(&case, addr).unwrap_err();
        assert!(
            matches!(
                divergence.kind,
                DivergenceKind::Mismatch {
                    offset: 2,
                    expected: b'c',
                    actual: b'C',
                    ..
                }
            ),
            "{divergence}"
        );
        assert_eq!(divergence.received, 2, "{divergence}");
        let report = divergence.to_string();
        assert!(
            report.contains("different bytes came back at offset 2"),
            "{report}"
        );
        assert!(
            report.contains("2 bytes had come back intact before it"),
            "{report}"
        );
    }
}
