//! `run`, `replay` and `scripts/repro.sh` end to end: a failure saved by `check` against a buggy
//! server replays with the same divergence, passes against a correct server, and bad files
//! are rejected with the place of the error before anything runs.

use std::path::{Path, PathBuf};
use std::process::Command;

use predicates::prelude::*;

use crate::common::{self, bin, bin_path};

fn regressions() -> Vec<PathBuf> {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/regressions");
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

/// Runs `check` against the faulty server and returns the path of the saved case.
fn saved_failure(mode: &str, dir: &Path) -> Option<PathBuf> {
    let spawn = common::faulty_spawn(mode);
    let output = bin()
        .args([
            "check",
            "--seed",
            "1",
            "--shrink-time",
            "5s",
            "--spawn",
            &spawn,
            "--save",
        ])
        .arg(dir)
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    Some(common::saved_path(&output))
}

#[test]
fn run_plays_every_regression_and_gives_a_verdict_per_file() {
    let files = regressions();
    let assert = bin().arg("run").args(&files).assert().success();
    let stdout = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
    for file in &files {
        assert!(
            stdout.contains(&format!("PASS {}", file.display())),
            "{stdout}"
        );
    }
    assert!(
        stdout.ends_with(&format!("{} passed, 0 failed\n", files.len())),
        "{stdout}"
    );
}

#[test]
fn run_verbose_prints_a_line_per_step() {
    let file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/regressions/interactive-rounds.scenario");
    bin()
        .args(["run", "-v"])
        .arg(&file)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "c0: send 6 bytes\n  c0: expect echo of 6 bytes",
        ))
        .stdout(predicate::str::contains("c0: expect eof"));
}

#[test]
fn one_parse_error_means_exit_2_and_nothing_runs() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.scenario");
    std::fs::write(
        &bad,
        "# echo-harness scenario v1\nconnection c0\n  nodelay maybe\n",
    )
    .unwrap();
    let good = &regressions()[0];
    bin()
        .arg("run")
        .arg(good)
        .arg(&bad)
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains(format!("{}:3:11", bad.display())))
        .stderr(predicate::str::contains("3 |   nodelay maybe"))
        .stderr(predicate::str::contains("^^^^^"))
        .stderr(predicate::str::contains("nothing was run"));
}

#[test]
fn replay_of_a_missing_or_bad_file_exits_2() {
    bin()
        .args(["replay", "/nonexistent/case.scenario"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "cannot read /nonexistent/case.scenario",
        ));
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("v9.scenario");
    std::fs::write(&bad, "# echo-harness scenario v9\n").unwrap();
    bin()
        .arg("replay")
        .arg(&bad)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(":1:"));
}

/// With `crlf`, a bug that shows on any `\n` however the stream is cut: the replay must fail
/// every time, so the test cannot pass or fail by scheduling. (`first-recv-only` shrinks to two
/// writes 5 ms apart, which a loaded machine can coalesce into one read.)
#[test]
fn a_saved_failure_reproduces_against_the_buggy_server_and_passes_against_a_correct_one() {
    let dir = tempfile::tempdir().unwrap();
    let Some(saved) = saved_failure("crlf", dir.path()) else {
        return;
    };
    let buggy = common::faulty_spawn("crlf");
    let file = echo_harness::scenario::parse(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    let first = file.divergence.first().expect("the saved divergence");
    assert!(first.starts_with("connection c"), "{first}");
    bin()
        .arg("replay")
        .arg(&saved)
        .args(["--spawn", &buggy])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "originally failed against: spawned",
        ))
        .stdout(predicate::str::contains(format!(
            "original divergence: {first}\n"
        )))
        .stdout(predicate::str::contains("the failure reproduces:"));
    bin()
        .arg("replay")
        .arg(&saved)
        .assert()
        .success()
        .stdout(predicate::str::contains("the case now passes"));
}

#[test]
fn repro_script_reproduces_end_to_end_with_the_run_code() {
    let dir = tempfile::tempdir().unwrap();
    let Some(saved) = saved_failure("nul-truncate", dir.path()) else {
        return;
    };
    let buggy = common::faulty_spawn("nul-truncate");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/repro.sh");
    let run = |extra: &[&str]| {
        let output = Command::new("bash")
            .arg(&script)
            .arg(&saved)
            .args(extra)
            .env("ECHO_HARNESS_BIN", bin_path())
            .output()
            .expect("bash runs");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        )
    };
    let (code, stdout) = run(&["--spawn", &buggy]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("the failure reproduces:"), "{stdout}");
    let (code, stdout) = run(&[]);
    assert_eq!(code, Some(0), "{stdout}");
    let (code, _) = run(&["--bogus"]);
    assert_eq!(code, Some(2));
    let help = Command::new("bash")
        .arg(&script)
        .arg("--help")
        .output()
        .unwrap();
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("Usage: scripts/repro.sh FILE"));
}

#[test]
fn replay_prints_the_recorded_target_and_never_executes_it() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("executed");
    let file = dir.path().join("case.scenario");
    std::fs::write(
        &file,
        format!(
            "# echo-harness scenario v1\n# target: spawned `touch {}` at 127.0.0.1:1\n\nconnection c0\n  send \"x\"\n  shutdown write\n  expect echo\n  expect eof\n",
            marker.display()
        ),
    )
    .unwrap();
    bin()
        .arg("replay")
        .arg(&file)
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "originally failed against: spawned `touch {}`",
            marker.display()
        )));
    assert!(!marker.exists(), "replay executed the recorded target");
}

#[test]
fn a_v2_script_runs_step_by_step_with_v1_files_alongside() {
    let files = regressions();
    let v2: Vec<&PathBuf> = files
        .iter()
        .filter(|f| f.file_name().unwrap().to_string_lossy().starts_with("v2-"))
        .collect();
    assert!(!v2.is_empty());
    bin()
        .args(["run", "-v"])
        .args(&v2)
        .arg(&files[0])
        .assert()
        .success()
        .stdout(predicate::str::contains("  step 1: "))
        .stdout(predicate::str::contains(": ok\n"))
        .stdout(predicate::str::contains(format!(
            "{} passed, 0 failed",
            v2.len() + 1
        )));
}

#[test]
fn a_v2_misuse_is_a_parse_error_at_its_line_and_nothing_runs() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.scenario");
    std::fs::write(
        &bad,
        "# echo-harness scenario v2\nconnection a\na send \"hi\"\na expect eof\n",
    )
    .unwrap();
    bin()
        .arg("run")
        .arg(&bad)
        .arg(&regressions()[0])
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains(format!("{}:4:1", bad.display())))
        .stderr(predicate::str::contains("4 | a expect eof"))
        .stderr(predicate::str::contains("expected `expect echo` first"))
        .stderr(predicate::str::contains("nothing was run"));
}

#[test]
fn replay_of_a_failing_v2_script_names_the_step() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wrong.scenario");
    std::fs::write(
        &file,
        "# echo-harness scenario v2\n# target: an imaginary server\nconnection a\n\
         a send \"hello\"\na expect bytes \"help!\"\n",
    )
    .unwrap();
    bin()
        .args(["replay", "-v"])
        .arg(&file)
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "originally failed against: an imaginary server",
        ))
        .stdout(predicate::str::contains("the failure reproduces"))
        .stdout(predicate::str::contains(
            "different bytes came back at offset 3",
        ))
        .stdout(predicate::str::contains(
            "at step 2: `a expect bytes \"help!\"`",
        ))
        .stdout(predicate::str::contains(
            "step 2: a expect bytes \"help!\": FAILED",
        ));
}

#[test]
fn the_examples_of_docs_scenarios_md_parse() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/scenarios.md"))
            .unwrap();
    let examples: Vec<&str> = doc
        .split("```text\n")
        .skip(1)
        .filter_map(|block| block.split("```").next())
        .filter(|block| block.starts_with("# echo-harness scenario"))
        .collect();
    assert_eq!(examples.len(), 2);
    for example in examples {
        echo_harness::scenario::parse(example).unwrap_or_else(|e| panic!("{e}"));
    }
    // The error shown is the one the parser gives.
    let broken = "# echo-harness scenario v2\nconnection a\n\na send \"hi\"\n\na expect eof\n";
    let e = echo_harness::scenario::parse(broken)
        .unwrap_err()
        .with_origin("broken.scenario");
    assert!(doc.contains(&e.to_string()), "{e}");
}
