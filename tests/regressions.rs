//! Replays every scenario under `tests/regressions/` against the built-in server, in one test
//! that walks the folder and names each failing file. Adding a regression takes nothing more
//! than copying a saved failure there. Version 1 files play on the round-trip engine, version 2
//! files on the script interpreter; every version 1 file also plays as its version 2 script.

use std::path::PathBuf;

use echo_harness::roundtrip::{self, PlayOptions};
use echo_harness::scenario;
use echo_harness::{EchoServer, ServerConfig};

#[test]
fn every_regression_scenario_passes_against_the_builtin_server() {
    let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/regressions");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
        .expect("tests/regressions exists")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "scenario"))
        .collect();
    files.sort();
    assert!(files.len() >= 11, "the seeded corpus is there: {files:?}");
    assert!(
        files
            .iter()
            .filter(|p| std::fs::read_to_string(p)
                .unwrap()
                .starts_with(scenario::VERSION_LINE_V2))
            .count()
            >= 3,
        "the corpus holds version 2 scripts"
    );
    let server = EchoServer::spawn(ServerConfig::ephemeral()).unwrap();
    let options = PlayOptions {
        server_stats: Some(server.stats()),
        ..PlayOptions::default()
    };
    let mut failures = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let file = match scenario::parse(&text) {
            Ok(file) => file,
            Err(e) => {
                failures.push(e.with_origin(path.display().to_string()).render());
                continue;
            }
        };
        let addr = server.local_addr();
        let result = roundtrip::block_on(|| scenario::play_file(&file, addr, &options))
            .unwrap_or_else(|e| panic!("{}: the proxy does not start: {e}", path.display()))
            .map_err(|f| f.to_string());
        if let Err(report) = result {
            failures.push(format!("{}: {report}", path.display()));
        }
        // The same checks, with the readers taking turns: a version 1 case as its script.
        if file.version() == 1 {
            let as_script = file.clone().into_v2();
            let result = roundtrip::block_on(|| scenario::play_file(&as_script, addr, &options))
                .unwrap_or_else(|e| panic!("{}: the proxy does not start: {e}", path.display()));
            if let Err(failure) = result {
                failures.push(format!("{} (as a v2 script): {failure}", path.display()));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} regression scenarios failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

#[test]
fn every_regression_scenario_says_what_it_pins_down() {
    let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/regressions");
    for entry in std::fs::read_dir(folder).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let file = scenario::parse(&text).unwrap();
        assert!(
            file.comments
                .iter()
                .any(|c| c.contains("Pins down") || c.contains("pins down")),
            "{} has no comment saying what it pins down",
            path.display()
        );
    }
}
