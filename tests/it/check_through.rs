//! `check --through`, `through` lines in scenario files, and `check --spawn '... {upstream}'`:
//! the proxy as a fragmenter in front of a server, as a fault injector whose faults the harness
//! must report exactly, and other people's proxies under test.

use std::path::Path;

use serde_json::Value;

use crate::common::{self, bin};

/// Runs `check --json` with `args` and returns the parsed object and the exit code.
fn check_json(args: &[&str]) -> (Value, Option<i32>) {
    let output = bin()
        .args(["check", "--json", "--shrink-time", "10s"])
        .args(args)
        .output()
        .expect("check runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let value = serde_json::from_str(text.trim()).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {text}\nstderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (value, output.status.code())
}

#[test]
fn a_slicing_proxy_in_front_of_the_built_in_server_passes() {
    let (verdict, code) = check_json(&[
        "--through",
        "up:slice=1..7",
        "--seed",
        "3",
        "--cases",
        "15",
        "--max-size",
        "16KiB",
    ]);
    assert_eq!(code, Some(0), "{verdict}");
    assert_eq!(verdict["verdict"], "passed");
    assert_eq!(verdict["cases"], 15);
    assert!(verdict["bytes_verified"].as_u64().unwrap() > 0);
}

#[test]
fn a_limit_is_reported_as_the_stream_stopping_at_exactly_that_byte() {
    let dir = tempfile::tempdir().unwrap();
    let save = dir.path().to_str().unwrap();
    let (verdict, code) = check_json(&[
        "--through",
        "limit=1000",
        "--seed",
        "5",
        "--cases",
        "50",
        "--max-size",
        "64KiB",
        "--save",
        save,
    ]);
    assert_eq!(code, Some(1), "{verdict}");
    let failure = &verdict["failure"];
    assert_eq!(failure["kind"], "early-eof", "{verdict}");
    assert_eq!(failure["through"]["chain"], "limit=1000", "{verdict}");
    assert!(failure["through"]["seed"].is_u64(), "{verdict}");
    let summary = failure["summary"].as_str().unwrap();
    assert!(
        summary.contains("the server closed after 1000 of "),
        "{summary}"
    );
    // The saved file carries the proxy, and replay rebuilds it: the failure reproduces.
    let saved = failure["saved"].as_str().expect("saved");
    let text = std::fs::read_to_string(saved).unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("through seed ") && l.ends_with("limit=1000")),
        "{text}"
    );
    let replay = bin().args(["replay", saved]).output().unwrap();
    let out = String::from_utf8_lossy(&replay.stdout);
    assert_eq!(replay.status.code(), Some(1), "{out}");
    assert!(
        out.contains("through a proxy rebuilt from the file"),
        "{out}"
    );
    assert!(out.contains("the server closed after 1000 of "), "{out}");
    // Without the proxy (the same case, the line removed) it passes: the proxy was the fault.
    let without: String = text
        .lines()
        .filter(|l| !l.starts_with("through "))
        .map(|l| format!("{l}\n"))
        .collect();
    let plain = Path::new(save).join("without-proxy.scenario");
    std::fs::write(&plain, without).unwrap();
    bin().args(["replay"]).arg(&plain).assert().success();
}

#[test]
fn a_bad_chain_is_a_usage_error_with_a_caret() {
    let output = bin()
        .args(["check", "--through", "up:slice=1..4 down:frobnicate=3"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--through:1:"), "{stderr}");
    assert!(stderr.contains('^'), "{stderr}");
    assert!(output.stdout.is_empty(), "nothing ran");
}

#[test]
fn a_scenario_with_a_through_line_is_played_through_the_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("limited.scenario");
    std::fs::write(
        &file,
        "# echo-harness scenario v1\n\nthrough seed 1 limit=10\n\nconnection c0\n  send \"0123456789abcdef\"\n  shutdown write\n  expect echo\n  expect eof\n",
    )
    .unwrap();
    let output = bin().arg("run").arg(&file).output().unwrap();
    let out = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(
        out.contains("the server closed after 10 of 16 bytes"),
        "{out}"
    );

    let sliced = dir.path().join("sliced.scenario");
    std::fs::write(
        &sliced,
        "# echo-harness scenario v2\n\nthrough seed 9 up:slice=1..3\n\nconnection a\n\na send generated 4KiB seed 2\na shutdown write\na expect echo\na expect eof\n",
    )
    .unwrap();
    bin().arg("run").arg(&sliced).assert().success();
}

/// The `--spawn` command that runs `examples/broken_proxy.rs` in `mode` in front of
/// `{upstream}`.
fn broken_proxy(mode: &str) -> String {
    let path = common::quoted(&common::example("broken_proxy"));
    format!("{path} --mode {mode} --listen {{addr}} --upstream {{upstream}}")
}

#[test]
fn another_proxy_is_checked_against_a_built_in_upstream() {
    let (verdict, code) = check_json(&[
        "--spawn",
        &broken_proxy("correct"),
        "--seed",
        "2",
        "--cases",
        "20",
        "--max-size",
        "64KiB",
    ]);
    assert_eq!(code, Some(0), "{verdict}");
    assert_eq!(verdict["cases"], 20);
}

#[test]
fn a_proxy_that_closes_on_half_close_loses_the_echo_it_owed() {
    let dir = tempfile::tempdir().unwrap();
    let (verdict, code) = check_json(&[
        "--spawn",
        &broken_proxy("close-on-half-close"),
        "--seed",
        "2",
        "--cases",
        "50",
        "--save",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1), "{verdict}");
    let kind = verdict["failure"]["kind"].as_str().unwrap();
    assert!(
        ["early-eof", "reset"].contains(&kind),
        "a lost echo, not {kind}: {verdict}"
    );
}

#[test]
fn a_proxy_that_drops_the_half_close_never_delivers_eof() {
    let dir = tempfile::tempdir().unwrap();
    let (verdict, code) = check_json(&[
        "--spawn",
        &broken_proxy("drop-half-close"),
        "--seed",
        "2",
        "--cases",
        "50",
        "--timeout",
        "500ms",
        "--save",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1), "{verdict}");
    assert_eq!(verdict["failure"]["kind"], "no-eof", "{verdict}");
}

/// Every destructive toxic, in a scenario's `through` line, is reported as the divergence it
/// causes; the data-preserving ones pass.
#[test]
fn each_toxic_gives_the_divergence_it_should() {
    let dir = tempfile::tempdir().unwrap();
    let table = [
        (
            "limit=100",
            Some("the server closed after 100 of 4096 bytes"),
        ),
        (
            "up:limit=100",
            Some("the server closed after 100 of 4096 bytes"),
        ),
        (
            "down:limit=100",
            Some("the server closed after 100 of 4096 bytes"),
        ),
        ("reset=100", Some("reset while")),
        (
            "down:blackhole=100",
            Some("stalled after 100 of 4096 bytes"),
        ),
        ("up:slice=1..64 down:slice=1..64", None),
        ("latency=2ms,jitter=1ms", None),
        ("bandwidth=1MiB", None),
        ("slow-close=100ms", None),
        (
            "up:slice=1..8,delay=0..1ms down:latency=1ms slow-close=10ms",
            None,
        ),
    ];
    for (i, (chain, expected)) in table.iter().enumerate() {
        let file = dir.path().join(format!("toxic-{i}.scenario"));
        std::fs::write(
            &file,
            format!(
                "# echo-harness scenario v1\n\nthrough seed {i} {chain}\n\nconnection c0\n  send generated 4096 seed 1\n  shutdown write\n  expect echo\n  expect eof\n"
            ),
        )
        .unwrap();
        let output = bin()
            .args(["run", "--timeout", "500ms"])
            .arg(&file)
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&output.stdout);
        match expected {
            None => assert_eq!(output.status.code(), Some(0), "{chain}: {out}"),
            Some(text) => {
                assert_eq!(output.status.code(), Some(1), "{chain}: {out}");
                assert!(out.contains(text), "{chain}: expected {text:?} in {out}");
            }
        }
    }
}

/// The README's example of checking a proxy: our own `proxy` command, spawned in front of a
/// built-in upstream, with a slicing chain, passes a campaign with half-closes.
#[test]
fn our_own_proxy_passes_when_checked_as_another_proxy() {
    let path = common::quoted(&common::bin_path());
    let spawn = format!("{path} proxy --listen {{addr}} --upstream {{upstream}} up:slice=1..64");
    let (verdict, code) = check_json(&[
        "--spawn",
        &spawn,
        "--seed",
        "4",
        "--cases",
        "20",
        "--max-size",
        "64KiB",
    ]);
    assert_eq!(code, Some(0), "{verdict}");
    assert_eq!(verdict["cases"], 20);
}

/// `--through` in front of an external server (a `serve` process) and in front of a spawned
/// buggy one: the proxy passes the good server's bytes and the bug still shows.
#[test]
fn through_works_in_front_of_external_servers() {
    let serve = common::ServeProcess::start(&["--listen", "127.0.0.1:0"]);
    let addr = serve.addr.to_string();
    let (verdict, code) = check_json(&[
        "--target",
        &addr,
        "--through",
        "up:slice=1..32 down:slice=1..32",
        "--seed",
        "6",
        "--cases",
        "15",
        "--max-size",
        "64KiB",
    ]);
    assert_eq!(code, Some(0), "{verdict}");

    let dir = tempfile::tempdir().unwrap();
    let faulty = common::quoted(&common::example("faulty_echo"));
    let spawn = format!("{faulty} --mode nul-truncate --listen {{addr}}");
    let (verdict, code) = check_json(&[
        "--spawn",
        &spawn,
        "--through",
        "up:slice=1..32",
        "--seed",
        "6",
        "--cases",
        "50",
        "--save",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1), "{verdict}");
    let saved = verdict["failure"]["saved"].as_str().unwrap();
    let text = std::fs::read_to_string(saved).unwrap();
    assert!(text.contains("\nthrough seed "), "{text}");
}

/// `run --through` plays any files through a proxy: the whole regression corpus survives
/// slicing both ways, a limit fails a file at exactly its byte, and a bad chain runs nothing.
#[test]
fn run_through_plays_the_corpus_through_a_proxy() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/regressions");
    let mut files: Vec<_> = std::fs::read_dir(&corpus)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    // 8 MiB of the corpus goes through the proxy in slices of 1 to 7 bytes: about a minute in a
    // debug build, twice the usual bound of one command.
    let output = bin()
        .timeout(std::time::Duration::from_secs(240))
        .args([
            "run",
            "--through",
            "up:slice=1..7 down:slice=1..5",
            "--through-seed",
            "3",
        ])
        .args(&files)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{out}");
    assert!(
        out.contains(&format!("{} passed, 0 failed", files.len())),
        "{out}"
    );

    let rounds = corpus.join("interactive-rounds.scenario");
    let output = bin()
        .args(["run", "--through", "limit=10"])
        .arg(&rounds)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(out.contains("the server closed after 10 of "), "{out}");

    let output = bin()
        .args(["run", "--through", "up:nope"])
        .arg(&rounds)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty(), "nothing ran");
    assert!(String::from_utf8_lossy(&output.stderr).contains("--through:1:4"));
}
