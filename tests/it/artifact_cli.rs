//! `replay --artifact`: a fuzz target's crash file replayed the way the target played it,
//! against the built-in server or against any server (`--spawn`, `--target`), in lockstep.

use echo_harness::case::{CaseBounds, ConnectionCase, Conversation, Payload};
use echo_harness::fuzzing::{encode_connection, roundtrip_bounds};

use crate::common::{self, bin};

/// A `roundtrip` crash file: one message with a newline, written in short pieces.
fn artifact(dir: &std::path::Path) -> std::path::PathBuf {
    let mut conn = ConnectionCase::new(
        "c0",
        Conversation::Interactive {
            messages: vec![Payload::Literal(b"one\ntwo\n".to_vec())],
        },
    );
    conn.write.chunks = vec![3, 2];
    conn.read.sizes = vec![CaseBounds::fuzzing().max_chunk_len];
    let path = dir.join("crash-roundtrip");
    std::fs::write(&path, encode_connection(&conn, &roundtrip_bounds())).unwrap();
    path
}

#[test]
fn a_crash_of_your_server_reproduces_against_it_and_not_against_a_correct_one() {
    let dir = tempfile::tempdir().unwrap();
    let file = artifact(dir.path());
    let failed = bin()
        .args(["replay", "--artifact", "roundtrip"])
        .arg(&file)
        .args(["--spawn", &common::faulty_spawn("crlf")])
        .assert()
        .code(1);
    let out = String::from_utf8_lossy(&failed.get_output().stdout).to_string();
    assert!(out.contains("the failure reproduces"), "{out}");
    assert!(
        out.contains("mismatch") || out.contains("different bytes"),
        "{out}"
    );
    let passed = bin()
        .args(["replay", "--artifact", "roundtrip"])
        .arg(&file)
        .args(["--spawn", &common::faulty_spawn("correct")])
        .assert()
        .code(0);
    let out = String::from_utf8_lossy(&passed.get_output().stdout).to_string();
    assert!(out.contains("the input now passes"), "{out}");
    assert!(!out.contains("built-in server"), "{out}");
}

#[test]
fn a_crash_that_passes_on_the_built_in_server_says_how_to_replay_against_yours() {
    let dir = tempfile::tempdir().unwrap();
    let file = artifact(dir.path());
    let passed = bin()
        .args(["replay", "--artifact", "roundtrip"])
        .arg(&file)
        .assert()
        .code(0);
    let out = String::from_utf8_lossy(&passed.get_output().stdout).to_string();
    assert!(out.contains("--target ADDR"), "{out}");
    assert!(out.contains("H.reproduce(FuzzTarget::Roundtrip"), "{out}");
}

#[test]
fn an_unknown_target_or_a_missing_file_is_a_usage_error() {
    bin()
        .args(["replay", "--artifact", "roundtrip2", "/nonexistent"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "unknown fuzz target `roundtrip2`",
        ));
    bin()
        .args(["replay", "--artifact", "roundtrip", "/nonexistent/crash"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("cannot read"));
}
