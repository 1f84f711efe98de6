//! `echo-harness bench` end to end: every mode against the built-in server, with its JSON
//! fields; a corrupted byte from a faulty server caught with a divergence report (exit 1); bad
//! flags (exit 2) and an unreachable target (exit 3). No speed goals here: those are measured
//! side by side by `scripts/bench.sh`.

use predicates::str::contains;

use crate::common::{self, bin, refused_addr};

fn json_of(output: &[u8]) -> serde_json::Value {
    let text = String::from_utf8_lossy(output);
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Runs `bench ARGS` and returns its JSON, asserting exit 0.
fn bench_json(args: &[&str]) -> serde_json::Value {
    let output = bin()
        .arg("bench")
        .arg("--json")
        .args(args)
        .output()
        .expect("runs");
    assert!(
        output.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    json_of(&output.stdout)
}

#[test]
fn rr_against_the_built_in_server_reports_rates_and_latency() {
    let json = bench_json(&[
        "rr",
        "--connections",
        "3",
        "--size",
        "512",
        "--duration",
        "200ms",
    ]);
    assert_eq!(json["schema_version"], 1);
    assert_eq!(json["mode"], "rr");
    assert_eq!(json["verdict"], "passed");
    assert_eq!(json["connections"], 3);
    assert_eq!(json["size"], 512);
    let messages = json["messages"].as_u64().unwrap();
    assert!(messages > 0, "{json}");
    assert_eq!(json["bytes_verified"].as_u64().unwrap(), messages * 512);
    assert!(json["msg_per_sec"].as_f64().unwrap() > 0.0);
    assert!(json["mb_per_sec"].as_f64().unwrap() > 0.0);
    let latency = &json["latency_us"];
    for field in ["p50", "p90", "p99", "p99_9", "max", "mean"] {
        assert!(latency[field].as_f64().unwrap() > 0.0, "{field}: {json}");
    }
    assert!(latency["p50"].as_f64() <= latency["p99"].as_f64());
    assert!(latency["p99"].as_f64() <= latency["max"].as_f64());
    assert_eq!(latency["samples"].as_u64(), Some(messages));
}

#[test]
fn rr_with_a_warmup_and_a_table() {
    bin()
        .args([
            "bench",
            "--warmup",
            "100ms",
            "rr",
            "--duration",
            "200ms",
            "--size",
            "100KiB",
        ])
        .assert()
        .success()
        .stdout(contains("msg/s"))
        .stdout(contains("latency p99.9"))
        .stdout(contains("every reply byte verified"));
}

#[test]
fn stream_verifies_every_byte_once() {
    let json = bench_json(&["stream", "--bytes", "8MiB", "--connections", "3"]);
    assert_eq!(json["mode"], "stream");
    assert_eq!(json["verdict"], "passed");
    assert_eq!(json["bytes"], 8 << 20);
    assert_eq!(json["bytes_verified"], 8 << 20);
    assert_eq!(json["connections"], 3);
    assert!(json["mb_per_sec"].as_f64().unwrap() > 0.0);
}

#[test]
fn stream_with_a_warmup() {
    let json = bench_json(&["--warmup", "100ms", "stream", "--bytes", "1MiB"]);
    assert_eq!(json["verdict"], "passed");
    assert_eq!(json["warmup_ms"], 100);
}

#[test]
fn connections_are_opened_echoed_and_held() {
    let json = bench_json(&["connections", "--count", "300", "--echo-bytes", "64KiB"]);
    assert_eq!(json["mode"], "connections");
    assert_eq!(json["requested"], 300);
    assert_eq!(json["succeeded"], 300);
    assert_eq!(json["failed"], 0);
    assert!(json["elapsed_ms"].as_f64().unwrap() > 0.0);
}

#[cfg(target_os = "linux")]
#[test]
fn connections_can_read_a_process_resident_set() {
    let pid = std::process::id().to_string();
    let json = bench_json(&["connections", "--count", "10", "--rss-pid", &pid]);
    assert!(json["rss_kib"].as_u64().unwrap() > 0, "{json}");
}

/// A server that echoes `\n` as `\r\n`, from `faulty_echo`: the bench must not count that reply
/// as a message, but stop with the divergence and its hexdump.
#[test]
fn rr_catches_a_corrupted_byte() {
    bin()
        .args([
            "bench",
            "--spawn",
            &common::faulty_spawn("crlf"),
            "rr",
            "--duration",
            "2s",
        ])
        .assert()
        .code(1)
        .stdout(contains("FAILED against spawned"))
        .stdout(contains("different bytes came back at offset"))
        .stdout(contains("expected:"))
        .stdout(contains("received:"));
}

#[test]
fn stream_catches_a_corrupted_byte_in_json() {
    let output = bin()
        .args([
            "bench",
            "--json",
            "--spawn",
            &common::faulty_spawn("nul-truncate"),
            "stream",
            "--bytes",
            "1MiB",
        ])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let json = json_of(&output.stdout);
    assert_eq!(json["verdict"], "failed");
    assert_eq!(json["failure"]["kind"], "mismatch");
    assert!(json["failure"]["report"]
        .as_str()
        .unwrap()
        .contains("received:"));
}

/// A server written by hand that flips one bit of the 1000th byte it echoes, so no mode relies
/// on the faulty servers' particular bugs.
#[test]
fn connections_catch_a_flipped_bit() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static SEEN: AtomicUsize = AtomicUsize::new(0);
    let addr = common::faulty_server(|bytes| {
        let before = SEEN.fetch_add(bytes.len(), Ordering::SeqCst);
        let mut out = bytes.to_vec();
        if (before..before + bytes.len()).contains(&1000) {
            out[1000 - before] ^= 0x10;
        }
        out
    });
    bin()
        .args([
            "bench",
            "--target",
            &addr.to_string(),
            "connections",
            "--count",
            "4",
        ])
        .args(["--echo-bytes", "4KiB", "--parallel", "1"])
        .assert()
        .code(1)
        .stdout(contains("different bytes came back at offset"));
}

#[test]
fn bad_flags_are_usage_errors() {
    bin()
        .args(["bench", "rr", "--size", "lots"])
        .assert()
        .code(2)
        .stderr(contains("invalid size"));
    bin()
        .args(["bench", "rr", "--connections", "0"])
        .assert()
        .code(2)
        .stderr(contains("--connections must be at least 1"));
    bin().args(["bench", "warp"]).assert().code(2);
    bin().args(["bench"]).assert().code(2);
    bin()
        .args(["bench", "connections", "--count", "0"])
        .assert()
        .code(2)
        .stderr(contains("--count"));
    bin()
        .args(["bench", "rr", "--duration", "2"])
        .assert()
        .code(2)
        .stderr(contains("expected a number with a unit"));
    bin()
        .args(["bench", "--target", "127.0.0.1:1", "rr", "--spawn", "x"])
        .assert()
        .code(2)
        .stderr(contains("--target and --spawn cannot be used together"));
}

/// `--target` and `--spawn` are global: they may come after the mode too.
#[test]
fn target_flags_may_follow_the_mode() {
    bin()
        .args(["bench", "rr", "--duration", "100ms", "--target"])
        .arg(refused_addr().to_string())
        .assert()
        .code(3)
        .stderr(contains("cannot reach"));
}

#[test]
fn an_unreachable_target_is_an_environment_error() {
    bin()
        .args([
            "bench",
            "--target",
            &refused_addr().to_string(),
            "rr",
            "--duration",
            "100ms",
        ])
        .assert()
        .code(3)
        .stderr(contains("echo-harness: error: cannot reach"))
        .stderr(contains("refused"));
}
