//! `check --junit FILE` as CI reads it: the file is parsed as XML (a malformed one fails the
//! test) and its testcases and failures are counted, against the built-in server, a faulty
//! spawned server, a server whose output holds bytes XML forbids, and an interrupted run.

use std::path::Path;
use std::process::{Command, Stdio};

use predicates::prelude::*;

use crate::common::{self, bin, bin_path};

/// What CI reads from the file: the suite's counts, and every testcase's name and problem.
struct Report {
    suite_tests: String,
    suite_failures: String,
    suite_errors: String,
    cases: Vec<Case>,
}

struct Case {
    name: String,
    classname: String,
    /// `failure` or `error`, with its message attribute and its text.
    problem: Option<(String, String, String)>,
}

fn read_report(path: &Path) -> Report {
    let xml = std::fs::read_to_string(path).expect("the --junit file was written");
    let document = roxmltree::Document::parse(&xml)
        .unwrap_or_else(|e| panic!("the --junit file is not well-formed XML: {e}\n{xml}"));
    let root = document.root_element();
    assert_eq!(root.tag_name().name(), "testsuites", "{xml}");
    let suites: Vec<_> = root
        .children()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    assert_eq!(suites.len(), 1, "{xml}");
    let suite = suites[0];
    let cases = suite
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .map(|case| {
            let problems: Vec<_> = case
                .children()
                .filter(|n| n.has_tag_name("failure") || n.has_tag_name("error"))
                .map(|p| {
                    (
                        p.tag_name().name().to_string(),
                        p.attribute("message").unwrap_or_default().to_string(),
                        p.text().unwrap_or_default().to_string(),
                    )
                })
                .collect();
            assert!(problems.len() <= 1, "{xml}");
            Case {
                name: case.attribute("name").unwrap_or_default().to_string(),
                classname: case.attribute("classname").unwrap_or_default().to_string(),
                problem: problems.into_iter().next(),
            }
        })
        .collect();
    let attribute = |name| suite.attribute(name).unwrap_or_default().to_string();
    Report {
        suite_tests: attribute("tests"),
        suite_failures: attribute("failures"),
        suite_errors: attribute("errors"),
        cases,
    }
}

#[test]
fn a_passing_run_has_a_testcase_per_case_and_no_failure() {
    let dir = tempfile::tempdir().unwrap();
    // A folder that does not exist yet is created, as CI paths such as `reports/` need.
    let junit = dir.path().join("reports/check.xml");
    bin()
        .args([
            "check",
            "--seed",
            "5",
            "--cases",
            "12",
            "--max-size",
            "64KiB",
        ])
        .arg("--junit")
        .arg(&junit)
        .assert()
        .success();
    let report = read_report(&junit);
    assert_eq!(report.cases.len(), 12);
    assert_eq!(
        (report.suite_tests.as_str(), report.suite_failures.as_str()),
        ("12", "0")
    );
    for (index, case) in report.cases.iter().enumerate() {
        assert_eq!(case.name, format!("case {} (seed 5)", index + 1));
        assert_eq!(case.classname, "echo-harness.check");
        assert!(case.problem.is_none(), "case {} passed", index + 1);
    }
}

#[test]
fn a_faulty_server_gives_one_failure_with_the_divergence_and_the_saved_path() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("check.xml");
    let output = bin()
        .args(["check", "--seed", "2", "--shrink-time", "5s"])
        .args([
            "--max-size",
            "64KiB",
            "--spawn",
            &common::faulty_spawn("crlf"),
            "--save",
        ])
        .arg(dir.path().join("failures"))
        .arg("--junit")
        .arg(&junit)
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let saved = common::saved_path(&output);
    assert!(saved.exists(), "{}", saved.display());
    let report = read_report(&junit);
    let problems: Vec<_> = report
        .cases
        .iter()
        .filter(|c| c.problem.is_some())
        .collect();
    assert_eq!(problems.len(), 1, "exactly one failing case");
    assert_eq!(report.suite_failures, "1");
    assert_eq!(report.suite_errors, "0");
    assert_eq!(report.suite_tests, report.cases.len().to_string());
    // The failing case is the last one played: check stops at the first failure.
    let failing = report.cases.last().unwrap();
    let (tag, message, text) = failing.problem.as_ref().unwrap();
    assert_eq!(tag, "failure");
    assert!(message.contains("different bytes came back"), "{message}");
    assert!(text.contains("different bytes came back"), "{text}");
    assert!(text.contains("minimal case:"), "{text}");
    assert!(
        text.contains(&format!("saved: {}", saved.display())),
        "{text}"
    );
}

#[cfg(unix)]
#[test]
fn bytes_xml_forbids_in_the_servers_output_are_escaped() {
    // The server prints control bytes before its announcement; the report carries its output.
    let faulty = common::quoted(&common::example("faulty_echo"));
    let spawn = format!(
        "sh -c 'printf \"\\001\\033[31m\\000!\\n\"; exec \"$0\" --mode crlf --listen \"$1\"' \
         {faulty} {{addr}}"
    );
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("check.xml");
    bin()
        .args([
            "check",
            "--seed",
            "2",
            "--shrink-time",
            "2s",
            "--max-size",
            "4KiB",
        ])
        .args(["--spawn", &spawn, "--save"])
        .arg(dir.path())
        .arg("--junit")
        .arg(&junit)
        .assert()
        .code(1);
    let report = read_report(&junit);
    let (_, _, text) = report.cases.last().unwrap().problem.as_ref().unwrap();
    assert!(text.contains("\\x01\\x1b[31m\\x00!"), "{text}");
}

#[cfg(unix)]
#[test]
fn an_interrupted_run_still_writes_the_file_with_an_error() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("check.xml");
    let mut child = Command::new(bin_path())
        .args([
            "check",
            "--duration",
            "60s",
            "--spawn",
            &common::faulty_spawn("correct"),
        ])
        .arg("--junit")
        .arg(&junit)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The target line comes once the server is up and the campaign starts.
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    for _ in 0..2 {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
    }
    assert!(Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    assert_eq!(common::wait_for_exit(&mut child).code(), Some(130));
    let report = read_report(&junit);
    assert_eq!(report.suite_errors, "1");
    let (last, passed) = report.cases.split_last().unwrap();
    assert!(passed.iter().all(|c| c.problem.is_none()));
    let (tag, message, _) = last.problem.as_ref().unwrap();
    assert_eq!(tag, "error");
    assert!(message.contains("interrupted"), "{message}");
}

#[test]
fn a_junit_file_that_cannot_be_created_exits_2_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_folder = dir.path().join("file");
    std::fs::write(&not_a_folder, "").unwrap();
    bin()
        .args(["check", "--cases", "1", "--junit"])
        .arg(not_a_folder.join("check.xml"))
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::starts_with(
            "echo-harness: error: cannot write --junit",
        ));
}
