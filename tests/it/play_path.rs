//! `scenario::play_path`: a scenario file or a folder of them played from a plain test, with one
//! report naming each failing file, its step and line; bad files are failures of the report,
//! not panics. And `run DIR`, which plays a folder the same way.

use std::path::Path;

use echo_harness::scenario::{self, FileVerdict, PlayPathError};
use echo_harness::{EchoServer, ServerConfig};

use crate::common::{bin, faulty_server};

const PASSES: &str = "# echo-harness scenario v1\n\
                      # Pins down: a plain echo.\n\
                      \n\
                      connection c0\n  send \"hello\"\n  expect echo\n  shutdown write\n  expect eof\n";

/// Fails against a server that echoes `\n` as `\r\n`, at its line 5 (the second expect).
const NEWLINE: &str = "# echo-harness scenario v1\n\
                       \n\
                       connection c0\n  send \"ab\\n\"\n  expect echo\n  shutdown write\n  expect eof\n";

/// Does not parse: `maybe` at line 4, column 11.
const BAD: &str = "# echo-harness scenario v1\n\
                   \n\
                   connection c0\n  nodelay maybe\n  send \"x\"\n  expect echo\n";

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

fn crlf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    for &b in bytes {
        if b == b'\n' {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

#[test]
fn a_folder_plays_its_scenario_files_in_order_and_reports_each() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "b-newline.scenario", NEWLINE);
    write(dir.path(), "a-passes.scenario", PASSES);
    write(dir.path(), "c-bad.scenario", BAD);
    write(dir.path(), "notes.txt", "not a scenario");
    let addr = faulty_server(crlf);
    let report = scenario::play_path(dir.path(), addr).unwrap();
    let names: Vec<_> = report
        .files
        .iter()
        .map(|f| f.path.file_name().unwrap().to_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["a-passes.scenario", "b-newline.scenario", "c-bad.scenario"]
    );
    assert!(matches!(report.files[0].verdict, FileVerdict::Passed(_)));
    let FileVerdict::Failed(divergence) = &report.files[1].verdict else {
        panic!("{report}");
    };
    assert_eq!(divergence.step.as_ref().unwrap().line, Some(5), "{report}");
    assert!(matches!(report.files[2].verdict, FileVerdict::NotPlayed(_)));
    assert!(!report.passed());
    assert_eq!(report.failures().count(), 2);

    let text = report.to_string();
    let newline = dir.path().join("b-newline.scenario");
    let bad = dir.path().join("c-bad.scenario");
    for expected in [
        format!(
            "PASS {}: 1 connections, 5 bytes verified",
            dir.path().join("a-passes.scenario").display()
        ),
        format!("FAIL {}:5: step `c0 expect echo`", newline.display()),
        "different bytes came back at offset 2: expected 0x0a, got 0x0d".to_string(),
        format!("FAIL {}: not played", bad.display()),
        format!("{}:4:11", bad.display()),
        "nodelay maybe".to_string(),
        format!(
            "1 passed, 2 failed: {} against {addr}",
            dir.path().display()
        ),
    ] {
        assert!(text.contains(&expected), "no {expected:?} in:\n{text}");
    }
    let panic = std::panic::catch_unwind(|| report.assert_passed()).unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(message.contains(&text), "{message}");
}

#[test]
fn one_file_plays_alone_and_a_passing_folder_passes() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.scenario", PASSES);
    write(dir.path(), "b.scenario", NEWLINE);
    let server = EchoServer::spawn(ServerConfig::ephemeral()).unwrap();
    let report = scenario::play_path(dir.path(), server.local_addr()).unwrap();
    report.assert_passed();
    assert_eq!(report.files.len(), 2);
    let one = scenario::play_path(dir.path().join("b.scenario"), faulty_server(crlf)).unwrap();
    assert_eq!(one.files.len(), 1);
    assert!(!one.passed(), "{one}");
}

#[test]
fn nothing_to_play_is_an_error_not_a_pass() {
    let dir = tempfile::tempdir().unwrap();
    let addr = faulty_server(crlf);
    let empty = scenario::play_path(dir.path(), addr).unwrap_err();
    assert!(matches!(empty, PlayPathError::Empty { .. }), "{empty}");
    assert!(
        empty.to_string().contains("no *.scenario file in"),
        "{empty}"
    );
    let missing = scenario::play_path(dir.path().join("missing"), addr).unwrap_err();
    assert!(matches!(missing, PlayPathError::Read { .. }), "{missing}");
}

#[test]
fn run_plays_a_folder_as_its_sorted_scenario_files() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "b.scenario", PASSES);
    write(dir.path(), "a.scenario", PASSES);
    let output = bin().arg("run").arg(dir.path()).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    let at = |name: &str| {
        let line = format!("PASS {}: ", dir.path().join(name).display());
        stdout
            .find(&line)
            .unwrap_or_else(|| panic!("no {line:?} in:\n{stdout}"))
    };
    assert!(at("a.scenario") < at("b.scenario"), "{stdout}");
    assert!(stdout.contains("2 passed, 0 failed"), "{stdout}");
}
