//! Scripts played against real servers, passing and failing: the sample script, a large send
//! beside an interleaved connection, every generated case as a script, and the failures a
//! player reports (wrong bytes, no EOF within a deadline, an early close, an unanswered round,
//! a refused connection).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;

use super::{ms, sample_script, v2};
use crate::case::CaseBounds;
use crate::roundtrip::{block_on, DivergenceKind, PlayOptions};
use crate::scenario::{parse, print, ScenarioFile, Script};
use crate::strategy::case_strategy;
use crate::{EchoServer, ServerConfig};

fn script(body: &str) -> Script {
    parse(&v2(body)).unwrap_or_else(|e| panic!("{e}")).script
}

fn play_against(
    script: &Script,
    addr: SocketAddr,
) -> Result<crate::roundtrip::Outcome, crate::Divergence> {
    let options = PlayOptions {
        timeout: Duration::from_secs(2),
        ..PlayOptions::default()
    };
    block_on(|| crate::roundtrip::play_script(script, addr, &options))
}

#[test]
fn the_sample_script_passes_against_the_builtin_server() {
    let server = EchoServer::spawn(ServerConfig::ephemeral()).unwrap();
    let outcome = play_against(&sample_script(), server.local_addr()).unwrap();
    assert_eq!(outcome.connections.len(), 2);
    assert_eq!(outcome.connections[0].name, "a");
    assert_eq!(outcome.connections[0].sent, 109);
    assert_eq!(outcome.connections[0].received, 109);
    assert_eq!(outcome.bytes_verified(), 111);
}

#[test]
fn a_large_send_does_not_deadlock_and_connections_interleave() {
    let server = EchoServer::spawn(ServerConfig::ephemeral()).unwrap();
    let s = script(
        "connection big\n  send-buffer 4096\n  recv-buffer 4096\nconnection small\n\
         big send generated 8MiB seed 1\nsmall send \"x\" x 1000\nsmall expect last\n\
         small close\nbig shutdown write\nbig expect echo\nbig expect eof\n",
    );
    let outcome = play_against(&s, server.local_addr()).unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(outcome.bytes_verified(), (8 << 20) + 1000);
}

#[test]
fn every_v1_regression_case_passes_as_a_script() {
    let server = EchoServer::spawn(ServerConfig::ephemeral()).unwrap();
    let mut runner = TestRunner::deterministic();
    let strategy = case_strategy(&CaseBounds::fuzzing());
    for _ in 0..20 {
        let case = strategy.new_tree(&mut runner).unwrap().current();
        let s = Script::from_case(&case);
        let outcome = play_against(&s, server.local_addr())
            .unwrap_or_else(|f| panic!("{f}\n{}", print(&ScenarioFile::new(s.clone()))));
        assert_eq!(outcome.bytes_verified(), case.echo_len());
    }
}

#[test]
fn wrong_expected_bytes_are_a_mismatch_at_the_step() {
    let server = EchoServer::spawn(ServerConfig::ephemeral()).unwrap();
    let s = script("connection a\nconnection b\nb send \"0123456789\"\na send \"hello world\"\na expect bytes \"hello\"\na expect bytes \"_worl\"\n");
    let failure = play_against(&s, server.local_addr()).unwrap_err();
    assert_eq!(failure.connection, "a");
    assert_eq!(failure.step.as_ref().map(|s| s.index), Some(3));
    assert_eq!(
        failure.step.as_ref().map(|s| &*s.text),
        Some("a expect bytes \"_worl\"")
    );
    let DivergenceKind::Mismatch {
        offset,
        expected,
        actual,
        ..
    } = failure.kind
    else {
        panic!("{failure}");
    };
    assert_eq!((offset, expected, actual), (5, b'_', b' '));
    let report = failure.to_string();
    assert!(
        report.contains("at step 4: `a expect bytes \"_worl\"`"),
        "{report}"
    );
    assert!(
        report.contains("different bytes came back at offset 5"),
        "{report}"
    );
}

/// A server that echoes everything and, after the client's half-close, keeps its side open for
/// `hold` instead of closing.
fn never_closing_server(hold: Duration) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else {
            return;
        };
        let mut buf = [0u8; 4096];
        while let Ok(n) = stream.read(&mut buf) {
            if n == 0 || stream.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        std::thread::sleep(hold);
    });
    addr
}

#[test]
fn eof_within_a_deadline_against_a_server_that_never_closes_is_no_eof() {
    let addr = never_closing_server(Duration::from_secs(3));
    let s = script(
        "connection a\na send \"hi\"\na expect echo\na shutdown write\na expect eof within 100ms\n",
    );
    let started = std::time::Instant::now();
    let failure = play_against(&s, addr).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the deadline, not the timeout"
    );
    assert_eq!(failure.kind, DivergenceKind::NoEof { waited: ms(100) });
    assert_eq!(failure.step.as_ref().map(|s| s.index), Some(3));
    assert_eq!(failure.received, 2);
    assert!(!failure.confirmed, "timing only, so it needs confirming");
}

#[test]
fn an_early_close_is_early_eof_and_an_unanswered_round_is_named() {
    // A server that reads a little and closes.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let mut buf = [0u8; 3];
            let _ = stream.read_exact(&mut buf);
            let _ = stream.write_all(&buf);
        }
    });
    let s = script("connection a\na send \"abcdef\"\na expect last\n");
    let failure = play_against(&s, addr).unwrap_err();
    assert!(
        matches!(
            failure.kind,
            DivergenceKind::EarlyEof | DivergenceKind::Reset { .. }
        ),
        "{failure}"
    );
    // A server that reads and never answers: the round is named.
    let addr = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            if let Ok((mut stream, _)) = listener.accept() {
                let mut buf = [0u8; 64];
                let _ = stream.read(&mut buf);
                std::thread::sleep(Duration::from_secs(2));
            }
        });
        addr
    };
    let s = script("connection a\na send \"ping\"\na expect last within 200ms\n");
    let failure = play_against(&s, addr).unwrap_err();
    assert!(
        matches!(
            failure.kind,
            DivergenceKind::RoundUnanswered {
                round: 0,
                rounds: 1,
                round_received: 0,
                round_len: 4,
                ..
            }
        ),
        "{failure}"
    );
}

#[test]
fn a_connect_failure_names_the_connection_and_no_step() {
    let addr = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let s = script("connection first\nfirst send \"x\"\n");
    let failure = play_against(&s, addr).unwrap_err();
    assert_eq!(failure.connection, "first");
    assert_eq!(failure.kind, DivergenceKind::Refused);
    assert_eq!(failure.step, None);
}

/// A declared connection without steps is held open to the end and closed with the others,
/// not left waiting for a writer nobody polls any more (which would cost a whole timeout).
#[test]
fn a_connection_without_steps_is_closed_at_the_end_without_waiting_out_a_timeout() {
    let server = EchoServer::spawn(ServerConfig::ephemeral()).unwrap();
    let s = script("connection a\nconnection idle\na send \"x\"\na expect echo\na close\n");
    let options = PlayOptions {
        timeout: Duration::from_secs(30),
        ..PlayOptions::default()
    };
    let addr = server.local_addr();
    let started = std::time::Instant::now();
    let outcome = block_on(|| crate::roundtrip::play_script(&s, addr, &options)).unwrap();
    assert_eq!(outcome.connections.len(), 2);
    assert_eq!(outcome.connections[1].name, "idle");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}
