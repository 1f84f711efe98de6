//! The campaign API other crates use in their own tests: `Check` from a plain `#[test]` and from
//! both flavours of `#[tokio::test]`, its verdict, and the seeded case sequence.

use std::time::Duration;

use echo_harness::case::CaseBounds;
use echo_harness::check::CaseSequence;
use echo_harness::{Check, DivergenceKind, EchoServer, ServerConfig};

use crate::common::faulty_server;

fn small() -> CaseBounds {
    CaseBounds::default()
        .max_payload_len(64 * 1024)
        .max_pause_total(Duration::from_millis(20))
}

#[test]
fn check_passes_against_the_builtin_server_from_a_plain_test() {
    let server = EchoServer::spawn(ServerConfig::ephemeral()).unwrap();
    let verdict = Check::new(server.local_addr())
        .seed(7)
        .cases(30)
        .bounds(small())
        .server_stats(server.stats())
        .run();
    verdict.assert_passed();
    assert_eq!(verdict.seed, 7);
    assert_eq!(verdict.cases, 30);
    assert!(verdict.bytes_verified > 0);
    assert!(verdict.connections >= 30);
}

#[tokio::test(flavor = "current_thread")]
async fn run_async_in_a_current_thread_runtime() {
    let server = EchoServer::spawn(ServerConfig::ephemeral()).unwrap();
    let verdict = Check::new(server.local_addr())
        .seed(1)
        .cases(10)
        .bounds(small())
        .run_async()
        .await;
    verdict.assert_passed();
    // The blocking entry point refuses here, saying why, rather than block the runtime's one
    // thread (`own_server` shows the false stall that would give with a server on it).
    let refused = Check::new(server.local_addr())
        .seed(2)
        .cases(5)
        .bounds(small())
        .run();
    assert!(!refused.passed());
    assert_eq!(refused.cases, 0);
    assert!(
        refused.to_string().contains("Use `.run_async().await`"),
        "{refused}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_async_in_a_multi_thread_runtime_against_a_server_in_the_same_runtime() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        EchoServer::new(ServerConfig::ephemeral())
            .run(listener, async {
                let _ = stopped.await;
            })
            .await
    });
    let verdict = Check::new(addr)
        .seed(3)
        .cases(10)
        .bounds(small())
        .run_async()
        .await;
    verdict.assert_passed();
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[test]
fn a_wrong_server_fails_with_a_report_and_assert_passed_panics_with_it() {
    let addr = faulty_server(|bytes| bytes.iter().map(|b| b ^ 1).collect());
    let verdict = Check::new(addr)
        .seed(11)
        .cases(10)
        .bounds(small())
        .shrink_time(Duration::from_secs(5))
        .run();
    assert!(!verdict.passed());
    let failure = verdict.failure.as_ref().unwrap();
    assert_eq!(
        failure.case_index, 0,
        "every byte is wrong: the first case fails"
    );
    assert!(
        matches!(
            failure.divergence.kind,
            DivergenceKind::Mismatch { offset: 0, .. }
        ),
        "{}",
        failure.divergence
    );
    assert_eq!(failure.minimal.connections.len(), 1);
    let panic = std::panic::catch_unwind(|| verdict.assert_passed()).unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(message.contains("FAILED against"), "{message}");
    assert!(
        message.contains("different bytes came back at offset 0"),
        "{message}"
    );
    assert!(message.contains("# echo-harness scenario v1"), "{message}");
}

#[test]
fn the_same_seed_gives_the_same_cases_and_another_seed_others() {
    let first: Vec<_> = CaseSequence::new(42, &CaseBounds::default())
        .take(20)
        .collect();
    let again: Vec<_> = CaseSequence::new(42, &CaseBounds::default())
        .take(20)
        .collect();
    let other: Vec<_> = CaseSequence::new(43, &CaseBounds::default())
        .take(20)
        .collect();
    assert_eq!(first, again);
    assert_ne!(first, other);
}

#[test]
fn duration_bounds_the_campaign() {
    let server = EchoServer::spawn(ServerConfig::ephemeral()).unwrap();
    let started = std::time::Instant::now();
    let verdict = Check::new(server.local_addr())
        .seed(5)
        .duration(Duration::from_millis(500))
        .bounds(small())
        .run();
    verdict.assert_passed();
    assert!(verdict.cases >= 1);
    // One case may be in flight when the time is up; small cases finish fast.
    assert!(started.elapsed() < Duration::from_secs(10));
}
