//! Fuzz crashes kept as regression tests: every file under `tests/crashes/` is an input the fuzz
//! target (`fuzz/fuzz_targets/my_server.rs`) once crashed on, replayed through the very body the
//! target runs (`Harness::roundtrip`'s) on a fresh connection. Keeping a crash is copying its
//! file here; the test fails while the bug is there and passes once it is fixed.
//!
//! Whether chunks written back to back reach the server as separate reads depends on timing, and
//! a fragmentation bug needs them separate: `reproduce` replays in lockstep, waiting after each
//! chunk until the kernel says your server's socket has read it (Linux), so a crash fails every
//! time. Elsewhere the replay is free-running, hence [`REPLAYS`] plays: once it fails, it has
//! failed.

use std::path::{Path, PathBuf};

use echo_harness::fuzzing::{FuzzTarget, Harness, InputVerdict};

/// How many times each crash file is played: once in lockstep (Linux), five times elsewhere.
const REPLAYS: usize = if cfg!(target_os = "linux") { 1 } else { 5 };

#[test]
fn every_kept_crash_passes() {
    let harness = Harness::tokio(my_server::run);
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/crashes");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
        .unwrap_or_else(|e| panic!("{}: {e}", folder.display()))
        .map(|entry| entry.expect("a readable folder").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    let mut failures = Vec::new();
    for path in &files {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let failure = (0..REPLAYS).find_map(|_| {
            match harness.reproduce(FuzzTarget::Roundtrip, &bytes) {
                Ok(InputVerdict::Passed) => None,
                // The decoder no longer plays it (the bounds changed): the regression is lost.
                Ok(InputVerdict::Rejected) => Some("no longer decodes to a case".to_string()),
                Err(failure) => Some(failure.to_string()),
            }
        });
        if let Some(failure) = failure {
            failures.push(format!("{}: {failure}", path.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} kept crashes failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}
