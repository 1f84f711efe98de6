//! Replays every scenario under `tests/regressions/` against the built-in server, in one test
//! that walks the folder and names each failing file. Adding a regression takes nothing more
//! than copying a saved failure there.

use std::path::PathBuf;

use echo_harness::roundtrip::{self, PlayOptions};
use echo_harness::{scenario, EchoServer, ServerConfig};

#[test]
fn every_regression_scenario_passes_against_the_builtin_server() {
    let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/regressions");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
        .expect("tests/regressions exists")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "scenario"))
        .collect();
    files.sort();
    assert!(files.len() >= 8, "the seeded corpus is there: {files:?}");
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
        let result = roundtrip::block_on(|| roundtrip::play_confirmed(&file.case, addr, &options));
        if let Err(divergence) = result {
            failures.push(format!("{}: {divergence}", path.display()));
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
