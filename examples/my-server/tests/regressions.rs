//! The third way in: regressions. Every scenario file under `tests/regressions/` is played
//! against the server, and the test names each file that fails. A failure found once — by
//! `check --save`, by a property test (its minimal case prints as scenario text), or by the
//! fuzzer (`echo-harness replay --artifact roundtrip --print CRASH`) — is kept there and played
//! on every run. The language is in echo-harness's `docs/scenarios.md`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use echo_harness::background::BackgroundServer;
use echo_harness::roundtrip::{self, PlayOptions};
use echo_harness::scenario;

#[test]
fn every_regression_scenario_passes() {
    let server = BackgroundServer::tokio(my_server::run).expect("the server starts");
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/regressions");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
        .unwrap_or_else(|e| panic!("{}: {e}", folder.display()))
        .map(|entry| entry.expect("a readable folder").path())
        .filter(|path| path.extension().is_some_and(|e| e == "scenario"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no scenario in {}", folder.display());
    let failures: Vec<String> = files
        .iter()
        .filter_map(|path| play_path(path, server.local_addr()).err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} regression scenarios failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

/// Plays the scenario file at `path` against `addr`; `Err` names the file and says what went
/// wrong: a parse error (line and column) or the divergence (with the failing line).
fn play_path(path: &Path, addr: SocketAddr) -> Result<(), String> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{origin}: {e}"))?;
    let file = scenario::parse(&text).map_err(|e| e.with_origin(origin.clone()).render())?;
    let options = PlayOptions::default();
    roundtrip::block_on(|| scenario::play_file(&file, addr, &options))
        .map_err(|e| format!("{origin}: its proxy does not start: {e}"))?
        .map(|_outcome| ())
        .map_err(|divergence| format!("{origin}: {divergence}"))
}
