//! `Check::jobs` and `check --jobs N`: several cases at once play the seed's cases, report the
//! failure one job reports for a deterministic bug, raise no alarm of their own, and the flag
//! refuses bad values.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use echo_harness::case::CaseBounds;
use echo_harness::check::Progress;
use echo_harness::{Check, EchoServer, ServerConfig, Verdict};

use crate::common::{self, faulty_server};

fn small() -> CaseBounds {
    CaseBounds::default()
        .max_payload_len(64)
        .max_pause_total(Duration::from_millis(20))
}

#[test]
fn jobs_play_the_same_cases_as_one_job() {
    let server = EchoServer::spawn(ServerConfig::ephemeral()).unwrap();
    let run = |jobs| {
        let bounds = CaseBounds::default().max_payload_len(16 * 1024);
        let verdict = Check::new(server.local_addr())
            .seed(11)
            .cases(40)
            .bounds(bounds)
            .jobs(jobs)
            .run();
        verdict.assert_passed();
        (verdict.cases, verdict.connections, verdict.bytes_verified)
    };
    let one = run(1);
    assert_eq!(one.0, 40);
    assert_eq!(run(4), one, "cases, connections, bytes at 4 jobs vs 1");
}

#[test]
fn the_progress_hook_hears_every_case_with_its_own_play_time() {
    let server = EchoServer::spawn(ServerConfig::ephemeral()).unwrap();
    for jobs in [1, 4] {
        let heard = Arc::new(std::sync::Mutex::new(Vec::new()));
        let hook_heard = Arc::clone(&heard);
        let verdict = Check::new(server.local_addr())
            .seed(11)
            .cases(30)
            .bounds(small())
            .jobs(jobs)
            .progress(Arc::new(move |progress: &Progress| {
                hook_heard.lock().unwrap().push(*progress);
            }))
            .run();
        verdict.assert_passed();
        assert_eq!(verdict.jobs, jobs);
        let heard = heard.lock().unwrap();
        assert_eq!(heard.len(), 30, "one call per case at {jobs} jobs");
        for (index, progress) in heard.iter().enumerate() {
            assert_eq!(progress.cases, index as u32 + 1, "counted in order");
            assert!(
                !progress.case_elapsed.is_zero() && progress.case_elapsed <= verdict.elapsed,
                "case {index} took {:?} of {:?}",
                progress.case_elapsed,
                verdict.elapsed
            );
        }
        assert_eq!(heard[29].bytes_verified, verdict.bytes_verified);
        let played: Duration = heard.iter().map(|p| p.case_elapsed).sum();
        if jobs == 1 {
            // One at a time, the plays fit in the campaign's wall time.
            assert!(
                played <= verdict.elapsed,
                "{played:?} > {:?}",
                verdict.elapsed
            );
        }
    }
}

/// A server that turns every 0xAB into 0xAC: a case fails exactly when it sends 0xAB, whatever
/// plays beside it.
fn one_byte_wrong() -> SocketAddr {
    faulty_server(|bytes| {
        bytes
            .iter()
            .map(|&b| if b == 0xAB { 0xAC } else { b })
            .collect()
    })
}

fn failure_of(verdict: &Verdict) -> (u32, String, String, u32) {
    let failure = verdict.failure.as_ref().expect("the planted bug is found");
    // A minimal case reached, not one cut short by the time bound (which would depend on speed).
    assert!(!failure.shrink_hit_bound, "{verdict}");
    (
        failure.case_index,
        failure.divergence.kind.name().to_string(),
        // What the minimal case sends and expects; its write and read plans (chunk sizes,
        // pauses) depend on how far the time-bounded proptest phase of shrinking got.
        failure
            .minimal
            .to_string()
            .lines()
            .filter(|l| !["  write-", "  read-"].iter().any(|p| l.starts_with(p)))
            .collect::<Vec<_>>()
            .join("\n"),
        verdict.cases,
    )
}

#[test]
fn a_deterministic_bug_is_reported_at_the_same_case_with_the_same_minimal_case_at_any_jobs() {
    let addr = one_byte_wrong();
    let mut later_than_the_first = 0;
    for seed in 0..3 {
        let run = |jobs| {
            Check::new(addr)
                .seed(seed)
                .cases(60)
                .bounds(small())
                .shrink_time(Duration::from_secs(4))
                .jobs(jobs)
                .run()
        };
        let one = failure_of(&run(1));
        for jobs in [4, 8] {
            assert_eq!(failure_of(&run(jobs)), one, "seed {seed}, {jobs} jobs vs 1");
        }
        // Cases beside the failing one: lower ones passed, and higher ones in flight with it
        // (failing too, often) are not what is reported.
        if one.0 > 0 {
            later_than_the_first += 1;
        }
    }
    assert!(
        later_than_the_first > 0,
        "every seed failed at its first case: the test shows nothing about order"
    );
}

/// A server that echoes right when it holds one connection, and flips every byte while it holds
/// more: a case of one connection passes alone, and fails beside another.
fn wrong_beside_another() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let open = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&most);
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let (open, most) = (Arc::clone(&open), Arc::clone(&most));
            thread::spawn(move || {
                let now = open.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                let mut buffer = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buffer) {
                    if n == 0 {
                        break;
                    }
                    // Held long enough that cases started together overlap.
                    thread::sleep(Duration::from_millis(5));
                    let beside = open.load(Ordering::SeqCst) > 1;
                    let answer: Vec<u8> = buffer[..n]
                        .iter()
                        .map(|&b| if beside { !b } else { b })
                        .collect();
                    if stream.write_all(&answer).is_err() {
                        break;
                    }
                }
                open.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    (addr, seen)
}

#[test]
fn a_failure_only_beside_other_cases_is_played_again_alone_and_not_counted() {
    let (addr, most) = wrong_beside_another();
    let bounds = small().max_connections(1);
    let run = |jobs| {
        Check::new(addr)
            .seed(5)
            .cases(24)
            .bounds(bounds.clone())
            .jobs(jobs)
            .run()
    };
    let one = run(1);
    one.assert_passed();
    assert!(one.unconfirmed.is_empty(), "{:?}", one.unconfirmed);
    let four = run(4);
    four.assert_passed();
    assert_eq!(
        (four.cases, four.bytes_verified),
        (one.cases, one.bytes_verified)
    );
    assert!(
        most.load(Ordering::SeqCst) > 1,
        "no two cases ever overlapped"
    );
    assert!(
        !four.unconfirmed.is_empty(),
        "cases played beside others saw no failure: the test shows nothing"
    );
}

#[test]
fn jobs_zero_and_a_non_number_are_usage_errors() {
    for (value, says) in [("0", "--jobs must be at least 1"), ("two", "'--jobs <N>'")] {
        let output = common::bin()
            .args(["check", "--cases", "1", "--jobs", value])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "--jobs {value}: {stderr}");
        assert!(stderr.contains(says), "--jobs {value}: {stderr}");
        assert!(output.stdout.is_empty(), "--jobs {value}: nothing runs");
    }
}

#[test]
fn through_a_proxy_plays_one_case_at_a_time_and_says_so() {
    let output = common::bin()
        .args(["check", "--through", "up:slice=1..7", "--seed", "3"])
        .args(["--cases", "6", "--max-size", "16KiB", "--jobs", "4"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("one case at a time (--jobs 1)"), "{stderr}");
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("passed: 6 cases"),
        "{stderr}"
    );
}

/// `check --spawn` of a server that leaks a descriptor per connection, with `jobs`: the failing
/// case's index and kind.
fn leak_found_at(jobs: &str) -> (Option<u64>, Option<String>) {
    let save = tempfile::tempdir().unwrap();
    let output = common::bin()
        .timeout(Duration::from_secs(90))
        .args(["check", "--spawn", &common::faulty_spawn("leak-fd")])
        .args([
            "--seed",
            "1",
            "--json",
            "--shrink-time",
            "1s",
            "--jobs",
            jobs,
        ])
        .arg("--save")
        .arg(save.path())
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        let stderr = String::from_utf8_lossy(&output.stderr);
        panic!("--jobs {jobs}: not JSON ({e}); stderr: {stderr}")
    });
    let failure = &json["failure"];
    (
        failure["case_index"].as_u64(),
        failure["kind"].as_str().map(str::to_string),
    )
}

#[test]
fn a_leak_in_every_case_is_called_at_the_same_case_in_windows() {
    let one = leak_found_at("1");
    assert_eq!(one.1.as_deref(), Some("leaked"), "{one:?}");
    assert_eq!(leak_found_at("8"), one);
}
