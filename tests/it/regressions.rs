//! Replays every scenario under `tests/regressions/` against the built-in server, in one test
//! that plays the folder with `scenario::play_path_with` and names each failing file. Adding a
//! regression takes nothing more than copying a saved failure there. Every file, whichever
//! version line it has, is one script played by the one player.

use std::path::PathBuf;

use echo_harness::roundtrip::PlayOptions;
use echo_harness::scenario;
use echo_harness::{EchoServer, ServerConfig};

#[test]
fn every_regression_scenario_passes_against_the_builtin_server() {
    let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/regressions");
    let server = EchoServer::spawn(ServerConfig::ephemeral()).unwrap();
    let options = PlayOptions {
        server_stats: Some(server.stats()),
        ..PlayOptions::default()
    };
    // The library's folder player, as a user's own regression test would call it.
    let report = scenario::play_path_with(&folder, server.local_addr(), &options).unwrap();
    let files: Vec<_> = report.files.iter().map(|f| &f.path).collect();
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
    report.assert_passed();
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

/// The printer writes every file of the corpus exactly as the printer before the one-language
/// change did (`tests/golden/regressions/`, made by commit 541af82 from the same files).
#[test]
fn every_regression_file_prints_as_before() {
    let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/regressions");
    let golden = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/regressions");
    let mut compared = 0;
    for entry in std::fs::read_dir(&folder).unwrap() {
        let path = entry.unwrap().path();
        let Some(name) = path.file_name() else {
            continue;
        };
        let Ok(expected) = std::fs::read_to_string(golden.join(name)) else {
            // A regression added since the golden files were made has nothing to compare.
            continue;
        };
        let file = scenario::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(scenario::print(&file), expected, "{}", path.display());
        compared += 1;
    }
    assert!(compared >= 12, "only {compared} files compared");
}

/// What `check --save` writes does not change: 10,000 cases decoded from fixed bytes print to
/// exactly the text the printer before the one-language change wrote for them (their FNV-1a
/// hashes and lengths in `tests/golden/cases.txt`, made by commit 541af82). Holds and aborts
/// are turned off: they came later, are drawn after everything else, and a case without them
/// decodes from the same bytes to the same connections as before.
#[test]
fn ten_thousand_generated_cases_print_as_before() {
    use echo_harness::case::{Case, CaseBounds};
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/cases.txt");
    let golden = std::fs::read_to_string(path).unwrap();
    let bounds = CaseBounds::default().hold_percent(0).abort_percent(0);
    let mut compared = 0;
    for line in golden.lines().filter(|l| !l.starts_with('#')) {
        let mut fields = line.split(' ');
        let (Some(i), Some(hash), Some(len)) = (fields.next(), fields.next(), fields.next()) else {
            panic!("malformed golden line {line:?}");
        };
        let i: u64 = i.parse().unwrap();
        let bytes = splitmix64_bytes(i, 512);
        let case = Case::arbitrary_with(&mut arbitrary::Unstructured::new(&bytes), &bounds)
            .unwrap_or_else(|e| panic!("case {i}: {e}"));
        let printed = scenario::print_case(&case);
        assert_eq!(
            (
                format!("{:016x}", fnv1a64(printed.as_bytes())),
                printed.len()
            ),
            (hash.to_string(), len.parse().unwrap()),
            "case {i} prints differently:\n{printed}"
        );
        compared += 1;
    }
    assert_eq!(compared, 10_000);
}

/// splitmix64 seeded with `seed`: `words` steps, each emitting its output as 8 little-endian
/// bytes.
fn splitmix64_bytes(seed: u64, words: usize) -> Vec<u8> {
    let mut state = seed;
    let mut out = Vec::with_capacity(words * 8);
    for _ in 0..words {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        out.extend_from_slice(&z.to_le_bytes());
    }
    out
}

/// FNV-1a 64 of `bytes`.
fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x100_0000_01b3);
    }
    hash
}
