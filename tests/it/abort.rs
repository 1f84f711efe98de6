//! Issue 11, part 3: clients that abort. A connection that resets mid-stream (`reset`,
//! `Conversation::Abort`) while the others play on; our server on every path and through the
//! proxy keeps serving, and a server that dies or cuts its other clients on a reset is named.

use std::net::SocketAddr;
use std::time::Duration;

use echo_harness::case::{Case, ConnectionCase, Conversation, Payload};
use echo_harness::proxy::Through;
use echo_harness::roundtrip::{self, block_on, PlayOptions};
use echo_harness::scenario::ScenarioFile;
use echo_harness::{DivergenceKind, EchoServer, ServerConfig, ToxicChain};

use crate::common::{example, ServeProcess};

/// One connection resets after 7 bytes of the echo of 256 KiB (the server is still writing),
/// while two others stream and close around it.
fn abort_case() -> Case {
    let mut aborting = ConnectionCase::new(
        "quitter",
        Conversation::Abort {
            payload: Payload::generated(256 * 1024, 3),
            after: 7,
        },
    );
    aborting.read.sizes = vec![7];
    let stream = ConnectionCase::new(
        "stream",
        Conversation::Stream {
            payload: Payload::generated(512 * 1024, 4),
        },
    );
    let close = ConnectionCase::new(
        "closer",
        Conversation::Close {
            payload: Payload::Literal(b"hello after a reset".to_vec()),
        },
    );
    Case {
        connections: vec![aborting, stream, close],
        ..Case::single(Conversation::Stream {
            payload: Payload::Literal(Vec::new()),
        })
    }
}

fn play(
    case: &Case,
    addr: SocketAddr,
    options: &PlayOptions,
) -> Result<u64, echo_harness::Divergence> {
    let (case, options) = (case.clone(), options.clone());
    block_on(move || async move { roundtrip::play_confirmed(&case, addr, &options).await })
        .map(|o| o.bytes_verified())
}

#[test]
fn our_server_survives_a_reset_on_every_path() {
    let case = abort_case();
    assert_eq!(case.validate(), Ok(()));
    for (fast_path, splice) in [(true, false), (false, false), (true, true)] {
        let config = ServerConfig {
            fast_path,
            splice,
            ..ServerConfig::ephemeral()
        };
        let server = EchoServer::spawn(config).unwrap();
        for _ in 0..5 {
            let verified = play(&case, server.local_addr(), &PlayOptions::default())
                .unwrap_or_else(|d| panic!("fast_path {fast_path}, splice {splice}: {d}"));
            assert_eq!(verified, case.echo_len());
        }
    }
}

#[test]
fn the_proxy_passes_a_reset_through() {
    let server = EchoServer::spawn(ServerConfig::ephemeral()).unwrap();
    let through = Through {
        seed: 5,
        chain: ToxicChain::parse("up:slice=1..4000").unwrap(),
    };
    let proxy = through.start(server.local_addr()).unwrap();
    let options = PlayOptions {
        through: Some(proxy.with_seed(5)),
        ..PlayOptions::default()
    };
    let addr = proxy.proxy.local_addr();
    for _ in 0..3 {
        let verified = play(&abort_case(), addr, &options).unwrap_or_else(|d| panic!("{d}"));
        assert_eq!(verified, abort_case().echo_len());
    }
}

/// The planted bug `die-on-reset` exits when a client resets: the new connection after the
/// case is refused, and the divergence says so and names the connection that reset.
#[test]
fn a_server_that_dies_on_a_reset_is_not_served_after_reset() {
    let mut faulty = ServeProcess::start_program(
        &example("faulty_echo"),
        &["--mode", "die-on-reset", "--listen", "127.0.0.1:0"],
    );
    let options = PlayOptions {
        timeout: Duration::from_secs(1),
        ..PlayOptions::default()
    };
    let mut case = abort_case();
    case.connections.truncate(1);
    let d = play(&case, faulty.addr, &options).unwrap_err();
    assert_eq!(d.kind.name(), "not-served-after-reset", "{d}");
    assert_eq!(d.connection, "quitter");
    let DivergenceKind::NotServedAfterReset { reset, at, .. } = &d.kind else {
        unreachable!()
    };
    assert_eq!((reset.as_str(), *at), ("quitter", 7));
    assert!(
        d.to_string().contains(
            "connection quitter was reset after 7 bytes of its echo; then a new connection"
        ),
        "{d}"
    );
    assert_eq!(faulty.wait_exit(), Some(141));
}

/// The planted bug `reset-cuts-all` shuts down every connection when one resets: a stream
/// still in flight is cut, and the divergence says it came after the reset.
#[test]
fn a_server_that_cuts_everyone_on_a_reset_is_cut_after_reset() {
    let faulty = ServeProcess::start_program(
        &example("faulty_echo"),
        &["--mode", "reset-cuts-all", "--listen", "127.0.0.1:0"],
    );
    let file: ScenarioFile =
        "# echo-harness scenario v2\n\nconnection quitter\nconnection long\n\n\
        long send \"begin\"\nlong expect echo\nquitter send generated 64KiB seed 1\n\
        quitter expect bytes generated 10 seed 1\nquitter reset\nsleep 50ms\nlong send \"end\"\n\
        long shutdown write\nlong expect echo\nlong expect eof\n"
            .parse()
            .unwrap();
    let (script, addr) = (file.script.clone(), faulty.addr);
    let d = block_on(move || async move {
        roundtrip::play_script(&script, addr, &PlayOptions::default()).await
    })
    .unwrap_err();
    assert_eq!(d.kind.name(), "cut-after-reset", "{d}");
    assert_eq!(d.connection, "long");
    assert!(
        d.to_string()
            .contains("connection quitter was reset after 10 bytes"),
        "{d}"
    );
}

/// A reset on the last byte of a close is no abort, and the scenario text of an abort reads
/// back as the same case.
#[test]
fn an_abort_prints_and_parses_back_as_the_same_case() {
    let case = abort_case();
    let text = ScenarioFile::from_case(&case).to_string();
    assert!(
        text.contains("  expect bytes generated 7 seed 3\n  reset\n"),
        "{text}"
    );
    let back: ScenarioFile = text.parse().unwrap();
    assert_eq!(back.to_case(), Some(case));
}
