//! `echo-harness check` driven as a user drives it: verdicts, exit codes, JSON, saved cases,
//! spawned targets and interrupts.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use predicates::prelude::*;

use crate::common::{self, bin, bin_path, faulty_server, refused_addr};

fn small() -> [&'static str; 4] {
    ["--max-size", "64KiB", "--cases", "20"]
}

#[test]
fn self_test_passes_and_prints_the_seed_first() {
    let output = bin()
        .args(["check", "--seed", "9"])
        .args(small())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(output).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("seed: 9"));
    assert!(lines
        .next()
        .unwrap()
        .starts_with("target: built-in server at 127.0.0.1:"));
    assert!(text.contains("passed: 20 cases"), "{text}");
}

/// `check --seed 4 --json` with `extra` arguments on a small campaign: its stdout.
fn check_json(extra: &[&str]) -> String {
    let output = bin()
        .args(["check", "--seed", "4", "--json"])
        .args(small())
        .args(extra)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    String::from_utf8(output).unwrap()
}

#[test]
fn json_is_one_object_with_a_schema_version() {
    let text = check_json(&[]);
    assert_eq!(text.lines().count(), 1, "{text}");
    for field in [
        "\"schema_version\":1",
        "\"verdict\":\"passed\"",
        "\"seed\":4",
        "\"cases\":20",
        "\"bytes_verified\":",
        // The default: 8 cases at once.
        "\"jobs\":8",
    ] {
        assert!(text.contains(field), "{field} in {text}");
    }
    let one_job = check_json(&["--jobs", "1"]);
    assert!(one_job.contains("\"jobs\":1,"), "{one_job}");
}

#[test]
fn a_wrong_server_exits_1_and_saves_a_minimal_case_that_parses_back() {
    let addr = faulty_server(|bytes| {
        let mut bytes = bytes.to_vec();
        if let Some(last) = bytes.last_mut() {
            *last = last.wrapping_add(1);
        }
        bytes
    });
    let dir = tempfile::tempdir().unwrap();
    let output = bin()
        .args(["check", "--target", &addr.to_string(), "--seed", "3"])
        .args(["--shrink-time", "5s", "--save"])
        .arg(dir.path())
        .args(small())
        .assert()
        .code(1)
        .stdout(predicate::str::contains("FAILED against"))
        .stdout(predicate::str::contains("different bytes came back"))
        .get_output()
        .stdout
        .clone();
    let saved = common::saved_path(&output);
    let scenario = std::fs::read_to_string(saved).unwrap();
    assert!(
        scenario.starts_with("# echo-harness scenario v1\n"),
        "{scenario}"
    );
    let file = echo_harness::scenario::parse(&scenario).expect("the saved case parses back");
    assert_eq!(file.seed, Some(3));
    assert_eq!(file.target.as_deref(), Some(addr.to_string().as_str()));
    assert!(file.divergence[0].contains("different bytes came back"));
    let case = file.to_case().expect("check --save writes a case");
    assert_eq!(case.connections.len(), 1, "shrunk to one connection");
}

#[test]
fn refused_target_exits_3() {
    bin()
        .args(["check", "--target", &refused_addr().to_string()])
        .args(small())
        .assert()
        .code(3)
        .stderr(predicate::str::starts_with(
            "echo-harness: error: cannot reach",
        ))
        .stderr(predicate::str::contains("refused"));
}

#[test]
fn a_spawned_server_that_cannot_start_or_exits_before_ready_exits_3() {
    bin()
        .args(["check", "--spawn", "/nonexistent/echo-server {addr}"])
        .assert()
        .code(3)
        .stderr(predicate::str::starts_with("echo-harness: error: "));
    bin()
        .args(["check", "--spawn", "false {addr}"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("exited"));
}

#[test]
fn bad_check_arguments_exit_2() {
    bin()
        .args(["check", "--max-size", "4parsecs"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("invalid size '4parsecs'"));
    bin()
        .args(["check", "--connections", "0"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--connections must be at least 1"));
    bin()
        .args(["check", "--spawn", "server --listen {adr}"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("adr"));
    bin()
        .args(["check", "--target", "127.0.0.1:1", "--spawn", "x"])
        .assert()
        .code(2);
}

#[test]
fn a_spawned_server_that_dies_mid_run_is_a_divergence() {
    if Command::new("python3").arg("--version").output().is_err() {
        println!("SKIPPED: python3 is not installed");
        return;
    }
    // Serves one connection, then exits: the next case finds it dead.
    let server = r#"
import socket, sys
l = socket.socket(); l.bind((sys.argv[1].split(':')[0], int(sys.argv[1].split(':')[1]))); l.listen(8)
print('listening on %s:%d' % l.getsockname(), flush=True)
c, _ = l.accept()
while True:
    d = c.recv(65536)
    if not d: break
    c.sendall(d)
c.shutdown(socket.SHUT_WR)
sys.exit(7)
"#;
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("once.py");
    std::fs::write(&script, server).unwrap();
    let output = bin()
        .args([
            "check",
            "--json",
            "--seed",
            "1",
            "--max-size",
            "4KiB",
            "--connections",
            "1",
        ])
        .arg("--spawn")
        .arg(format!("python3 {} {{addr}}", script.display()))
        .arg("--save")
        .arg(dir.path())
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(output).unwrap();
    assert!(text.contains("\"kind\":\"server-died\""), "{text}");
    assert!(text.contains("exit status: 7"), "{text}");
}

#[cfg(unix)]
#[test]
fn sigint_interrupts_check_with_130_and_kills_the_spawned_server() {
    let faulty = common::quoted(&common::example("faulty_echo"));
    let mut child = Command::new(bin_path())
        .args(["check", "--duration", "60s", "--spawn"])
        .arg(format!("{faulty} --mode correct --listen {{addr}}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert!(line.starts_with("seed: "), "{line}");
    line.clear();
    stdout.read_line(&mut line).unwrap();
    let server_addr = line.trim().rsplit(' ').next().unwrap().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    // check must stop on SIGINT; the wait kills it and fails if it does not.
    let status = common::wait_for_exit(&mut child);
    assert_eq!(status.code(), Some(130));
    // The spawned server went with it.
    let addr: std::net::SocketAddr = server_addr.parse().unwrap();
    assert!(
        std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(1)).is_err()
    );
}
