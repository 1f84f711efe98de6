//! Tests of the targets as the fuzzer and the command line call them: rejections, the kept
//! connection, replay on a fresh connection, the fuzzer's own artifact; and of the committed seed
//! corpus. `fuzz/seeds/make-seeds.sh` runs `fuzzing::tests::write_seed_corpus` by that path, and
//! `fuzz/seeds/README.md` names `fuzzing::tests::the_committed_seeds_are_the_ones_the_code_makes`:
//! both stay here.

use super::*;

/// Where the committed seeds live, beside the fuzz targets.
fn seeds_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds")
}

/// Writes the seed corpus: `fuzz/seeds/make-seeds.sh` runs this, with the folder to write
/// in `ECHO_HARNESS_SEEDS_DIR`.
#[test]
#[ignore = "writes files; run by fuzz/seeds/make-seeds.sh"]
fn write_seed_corpus() {
    let dir =
        std::env::var_os("ECHO_HARNESS_SEEDS_DIR").map_or_else(seeds_dir, std::path::PathBuf::from);
    for target in FuzzTarget::ALL {
        let folder = dir.join(target.name());
        std::fs::create_dir_all(&folder).unwrap();
        for seed in seeds(target) {
            std::fs::write(folder.join(seed.name), &seed.bytes).unwrap();
        }
    }
}

#[test]
fn the_committed_seeds_are_the_ones_the_code_makes() {
    let dir = seeds_dir();
    if !dir.is_dir() {
        return; // a packaged crate has no fuzz/ folder
    }
    for target in FuzzTarget::ALL {
        for seed in seeds(target) {
            let path = dir.join(target.name()).join(seed.name);
            let committed = std::fs::read(&path).unwrap_or_default();
            assert!(
                committed == seed.bytes,
                "{} is stale: run fuzz/seeds/make-seeds.sh",
                path.display()
            );
        }
    }
}

#[cfg(not(feature = "fault-injection"))]
#[test]
fn every_seed_passes_its_target() {
    for target in FuzzTarget::ALL {
        for seed in seeds(target) {
            assert_eq!(
                fuzz(target, &seed.bytes),
                InputVerdict::Passed,
                "{target} {}",
                seed.name
            );
        }
    }
}

#[test]
fn oversized_and_empty_inputs_are_rejected_unplayed() {
    assert_eq!(raw_stream(&[]), InputVerdict::Rejected);
    assert_eq!(
        raw_stream(&vec![1; MAX_RAW_LEN + 1]),
        InputVerdict::Rejected
    );
    let long = vec![0; MAX_INPUT_LEN + 1];
    for target in [
        FuzzTarget::Roundtrip,
        FuzzTarget::RoundtripLifecycle,
        FuzzTarget::ScenarioParse,
        FuzzTarget::ProxyRoundtrip,
    ] {
        assert_eq!(fuzz(target, &long), InputVerdict::Rejected, "{target}");
        assert!(artifact_to_scenario(target, &long).is_none());
    }
}

#[cfg(not(feature = "fault-injection"))]
#[test]
fn arbitrary_inputs_pass_on_the_kept_connection() {
    // A sweep of made-up inputs through the kept connection, as the fuzzer would send them.
    for len in [0usize, 1, 7, 30, 100, 400] {
        for fill in [0u8, 0x5a, 0xff] {
            let input: Vec<u8> = (0..len)
                .map(|i| fill.wrapping_add((i as u8).wrapping_mul(37)))
                .collect();
            assert_eq!(roundtrip(&input), InputVerdict::Passed);
            assert_eq!(roundtrip_lifecycle(&input), InputVerdict::Passed);
            assert_eq!(scenario_parse(&input), InputVerdict::Passed);
        }
    }
}

#[cfg(not(feature = "fault-injection"))]
#[test]
fn an_artifact_replays_on_a_fresh_connection_and_as_a_scenario() {
    use crate::roundtrip::{play, PlayOptions};
    use crate::scenario;
    use crate::server::{EchoServer, ServerConfig};

    // What `replay --artifact roundtrip FILE` and `--print` do with a crash file.
    let (_, conn) = seeds::roundtrip_cases().swap_remove(1);
    let artifact = encode_connection(&conn, &roundtrip_bounds());
    assert_eq!(roundtrip(&artifact), InputVerdict::Passed);
    assert_eq!(
        reproduce(FuzzTarget::Roundtrip, &artifact).unwrap(),
        InputVerdict::Passed
    );
    let file = artifact_to_scenario(FuzzTarget::Roundtrip, &artifact).unwrap();
    assert!(file.comments[0].contains("target roundtrip"));
    let text = scenario::print(&file);
    let case = scenario::parse_case(&text).unwrap();
    assert_eq!(case, decode(FuzzTarget::Roundtrip, &artifact).unwrap());
    // The player plays it on a connection of its own, ending and all.
    let server = EchoServer::spawn(ServerConfig::ephemeral()).unwrap();
    let addr = server.local_addr();
    let played = &case;
    let outcome =
        crate::roundtrip::block_on(
            || async move { play(played, addr, &PlayOptions::default()).await },
        )
        .unwrap();
    assert_eq!(outcome.bytes_verified(), case.total_len());
    // Inside a runtime, reproduce still works.
    let again = crate::roundtrip::block_on(|| async {
        reproduce(FuzzTarget::Roundtrip, &artifact).map_err(|e| e.to_string())
    });
    assert_eq!(again, Ok(InputVerdict::Passed));
}

/// A crash file `roundtrip` found from an empty corpus with the planted bug (`-seed=1`):
/// six bytes `fa fa fa fa fa 4a` written in chunks of 2 then 4, with Nagle on.
const FOUND_BY_THE_FUZZER: &[u8] = &[
    0x50, 0x00, 0x4a, 0xfa, 0xfa, 0xfa, 0xfa, 0xfa, 0x4a, 0xff, 0x26, 0x51, 0x00, 0x51,
];

/// The planted bug (feature `fault-injection`) needs fragmentation: the fuzzer's artifact
/// and a message written in short pieces fail on a fresh connection every time; the same
/// bytes, or short messages, written in one go never do.
#[cfg(feature = "fault-injection")]
#[test]
fn the_planted_fault_is_found_by_fragmented_rounds_only() {
    use crate::case::{CaseBounds, ConnectionCase, Conversation, Payload};

    let message: Vec<u8> = (0..12u8).collect();
    let mut conn = ConnectionCase::new(
        "c0",
        Conversation::Interactive {
            messages: vec![Payload::Literal(message.clone())],
        },
    );
    conn.write.chunks = vec![1, 5];
    conn.read.sizes = vec![CaseBounds::fuzzing().max_chunk_len];
    let pieces = encode_connection(&conn, &roundtrip_bounds());
    for artifact in [FOUND_BY_THE_FUZZER, &pieces] {
        for _ in 0..10 {
            let failure = reproduce(FuzzTarget::Roundtrip, artifact).unwrap_err();
            assert!(
                matches!(&failure, FuzzFailure::Divergence(d) if d.kind.name() == "mismatch"),
                "{failure}"
            );
        }
    }
    for len in [1, 3, 7, 8, 12] {
        for _ in 0..3 {
            assert_eq!(
                reproduce(FuzzTarget::RawStream, &message[..len]).unwrap(),
                InputVerdict::Passed
            );
        }
    }
}

#[cfg(not(feature = "fault-injection"))]
#[test]
fn the_fuzzers_artifact_passes_without_the_planted_bug() {
    let file = artifact_to_scenario(FuzzTarget::Roundtrip, FOUND_BY_THE_FUZZER).unwrap();
    let case = file.to_case().unwrap();
    let conn = &case.connections[0];
    assert_eq!(conn.write.chunks, [2, 16384, 1, 16384]);
    assert_eq!(conn.conversation.total_len(), 6);
    assert_eq!(
        reproduce(FuzzTarget::Roundtrip, FOUND_BY_THE_FUZZER).unwrap(),
        InputVerdict::Passed
    );
}

mod yours;
