//! The `scenario_parse` seeds: the lifecycle cases printed as scenarios, a scenario with every
//! header line and pauses, escapes and comments, an unknown directive, and a v2 scenario with a
//! `through` line.

use super::{lifecycle_cases, roundtrip_cases, Seed};
use crate::case::{Case, PauseScale};
use crate::scenario::{self, ScenarioFile};

/// The curated seeds of `scenario_parse`.
pub(super) fn seeds() -> Vec<Seed> {
    let mut seeds: Vec<Seed> = lifecycle_cases()
        .into_iter()
        .map(|(name, c)| Seed {
            name,
            bytes: scenario::print_case(&c).into_bytes(),
        })
        .collect();
    let mut paused = Case {
        connections: vec![roundtrip_cases().swap_remove(3).1],
        pause_scale: PauseScale::new(1, 100).unwrap_or(PauseScale::ONE),
        hold: None,
    };
    paused.connections[0].write.recv_buffer = Some(65536);
    let file = ScenarioFile::from_case(&paused)
        .with_seed(42)
        .with_target("127.0.0.1:7000")
        .with_divergence("connection c0: first difference at offset 17\nsecond line")
        .with_comment("pins down: a 1-byte chunk after a large one");
    seeds.push(Seed {
        name: "header-and-pauses",
        bytes: scenario::print(&file).into_bytes(),
    });
    seeds.push(Seed {
        name: "escapes",
        bytes: concat!(
            "# echo-harness scenario v1\n",
            "connection c0\r\n",
            "  send \"tab\\there \\\"quoted\\\" \\x00\\xff \\u{1F600} # not a comment\"\n",
            "  expect echo   # a trailing comment\n",
            "  send hex 00ff 10 20\n",
            "  expect echo\n",
            "  shutdown write\n",
            "  expect eof\n",
        )
        .as_bytes()
        .to_vec(),
    });
    seeds.push(Seed {
        name: "error-unknown-directive",
        bytes: b"# echo-harness scenario v1\nconnection c0\n  sned \"x\"\n".to_vec(),
    });
    seeds.push(Seed {
        name: "through-slices",
        bytes: concat!(
            "# echo-harness scenario v2\n",
            "through seed 7 up:slice=1..16,delay=0..1ms down:latency=1ms@0.5\n",
            "connection a\n",
            "a send \"hi\"\n",
            "a expect echo\n",
            "a close\n",
        )
        .as_bytes()
        .to_vec(),
    });
    seeds
}
