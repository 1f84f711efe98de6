//! Property tests through real loopback sockets against the library's EchoServer, on 127.0.0.1
//! and ::1: every byte comes back unchanged for arbitrary payloads and fragmentation plans, and
//! the fragmentation is real — the server sees the input arrive in pieces.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use echo_harness::case::{Case, CaseBounds, Conversation, Payload, WritePlan};
use echo_harness::roundtrip::{self, Divergence, Outcome, PlayOptions};
use echo_harness::strategy::case_strategy;
use echo_harness::{EchoServer, ServerConfig, ServerHandle};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};

/// One server per address family for the whole test binary; each property plays many cases.
fn server(listen: &str) -> Option<&'static ServerHandle> {
    static V4: OnceLock<Option<ServerHandle>> = OnceLock::new();
    static V6: OnceLock<Option<ServerHandle>> = OnceLock::new();
    let cell = if listen.starts_with('[') { &V6 } else { &V4 };
    cell.get_or_init(|| {
        let config = ServerConfig {
            listen: listen.parse().unwrap(),
            ..ServerConfig::default()
        };
        match EchoServer::spawn(config) {
            Ok(server) => Some(server),
            Err(e) => {
                println!("SKIPPED: cannot listen on {listen}: {e}");
                None
            }
        }
    })
    .as_ref()
}

/// A server on one of the other I/O paths (IPv4), one per path for the whole test binary: the
/// portable loop, and the fast path splicing with 4 KiB buffers, so that any read of 4 KiB turns
/// a connection to splice and most cases cross between buffer and pipe bursts.
fn server_on(path: &str) -> &'static ServerHandle {
    static PORTABLE: OnceLock<ServerHandle> = OnceLock::new();
    static SPLICE_HEAVY: OnceLock<ServerHandle> = OnceLock::new();
    let (cell, config) = match path {
        "portable" => (
            &PORTABLE,
            ServerConfig {
                fast_path: false,
                ..ServerConfig::ephemeral()
            },
        ),
        _ => (
            &SPLICE_HEAVY,
            ServerConfig {
                buffer_size: 4096,
                splice: true,
                ..ServerConfig::ephemeral()
            },
        ),
    };
    cell.get_or_init(|| EchoServer::spawn(config).expect("IPv4 loopback"))
}

/// The one checker every property uses: play the case, turn a divergence into a failure
/// carrying the whole report.
fn check_roundtrip(case: &Case, server: &ServerHandle) -> Result<Outcome, TestCaseError> {
    let options = PlayOptions {
        server_stats: Some(server.stats()),
        ..PlayOptions::default()
    };
    let addr = server.local_addr();
    play(case, addr, &options).map_err(|d| TestCaseError::fail(d.to_string()))
}

fn play(case: &Case, addr: SocketAddr, options: &PlayOptions) -> Result<Outcome, Divergence> {
    roundtrip::block_on(|| roundtrip::play_confirmed(case, addr, options))
}

/// Small enough that 64 cases per address run in seconds in a debug build, large enough to hold
/// several connections, 1-byte chunks and payloads over the socket buffers.
fn bounds() -> CaseBounds {
    CaseBounds::default()
        .max_payload_len(512 * 1024)
        .max_connections(3)
        .max_pause_total(Duration::from_millis(40))
}

proptest! {
    // 64 cases per address: each plays real connections; more belong to `check` campaigns.
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_byte_comes_back_over_ipv4(case in case_strategy(&bounds())) {
        let server = server("127.0.0.1:0").expect("IPv4 loopback is always there");
        let outcome = check_roundtrip(&case, server)?;
        prop_assert_eq!(outcome.bytes_verified(), case.echo_len());
    }

    #[test]
    fn every_byte_comes_back_over_ipv6(case in case_strategy(&bounds())) {
        let Some(server) = server("[::1]:0") else { return Ok(()) };
        let outcome = check_roundtrip(&case, server)?;
        prop_assert_eq!(outcome.bytes_verified(), case.echo_len());
    }
}

proptest! {
    // 32 cases per path: the default path above gets 64 on each address family already.
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn every_byte_comes_back_on_the_portable_path(case in case_strategy(&bounds())) {
        let outcome = check_roundtrip(&case, server_on("portable"))?;
        prop_assert_eq!(outcome.bytes_verified(), case.echo_len());
    }

    #[test]
    fn every_byte_comes_back_when_splice_bursts_alternate_with_buffers(case in case_strategy(&bounds())) {
        let outcome = check_roundtrip(&case, server_on("splice-heavy"))?;
        prop_assert_eq!(outcome.bytes_verified(), case.echo_len());
    }
}

/// A stream cut into chunks with NODELAY and a pause of at least 1 ms after each.
fn fragmented_case() -> impl Strategy<Value = Case> {
    (64usize..=4096, any::<u64>(), 2usize..=8, 1u64..=3).prop_map(|(len, seed, pieces, ms)| {
        let mut case = Case::single(Conversation::Stream {
            payload: Payload::generated(len, seed),
        });
        case.connections[0].write = WritePlan {
            chunks: vec![len.div_ceil(pieces)],
            pauses: vec![Duration::from_millis(ms)],
            nodelay: true,
            ..WritePlan::default()
        };
        case
    })
}

#[test]
fn the_server_sees_fragmented_input_arrive_in_pieces() {
    let server = server("127.0.0.1:0").expect("IPv4 loopback");
    // A fixed seed: the floor is about the kernel, not about luck in drawing cases.
    let mut runner = TestRunner::new(Config {
        rng_algorithm: proptest::test_runner::RngAlgorithm::ChaCha,
        ..Config::default()
    });
    let strategy = fragmented_case();
    let mut reads_per_case = Vec::new();
    for _ in 0..200 {
        let case = strategy.new_tree(&mut runner).unwrap().current();
        assert!(case.connections[0].write_count() > 1);
        let outcome = check_roundtrip(&case, server).unwrap_or_else(|e| panic!("{e}"));
        let reads = outcome.connections[0]
            .server_reads
            .expect("the built-in server reports its reads");
        reads_per_case.push(reads);
    }
    let fragmented = reads_per_case.iter().filter(|&&r| r > 1).count();
    reads_per_case.sort_unstable();
    let median = reads_per_case[reads_per_case.len() / 2];
    println!(
        "server reads per case: median {median}, {fragmented} of 200 cases read more than once"
    );
    // Measured here (2 cores, Linux loopback): median 5 server reads per case, 200 of 200 cases
    // fragmented. The floor asserts half, as the issue asks.
    assert!(
        fragmented >= 100,
        "only {fragmented} of 200 multi-chunk cases reached the server in more than one read"
    );
}
