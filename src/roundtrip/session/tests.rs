//! The session against the built-in server and against servers that close or never answer.

use super::*;
use crate::case::{Case, Conversation, Payload};
use crate::roundtrip::Lockstep;
use crate::script::Script;
use crate::{EchoServer, ServerConfig};

/// Interactive rounds of `messages` as the lane of a connection `c0`.
fn interactive(messages: Vec<Payload>) -> ScriptConnection {
    let mut case = Case::single(Conversation::Interactive { messages });
    let conn = &mut case.connections[0];
    conn.write.chunks = vec![3, 1];
    conn.write.pauses = vec![Duration::from_micros(5)];
    conn.read.sizes = vec![2];
    conn.write.nodelay = true;
    Script::from_case(&case).connections.remove(0)
}

#[test]
fn rounds_on_one_connection_leave_it_clean_for_the_next_case() {
    let server = EchoServer::spawn(ServerConfig {
        worker_threads: Some(1),
        ..ServerConfig::ephemeral()
    })
    .unwrap();
    let mut session = Session::connect(server.local_addr(), Duration::from_secs(2)).unwrap();
    let first = interactive(vec![
        Payload::Literal(b"hello, world".to_vec()),
        Payload::generated(MAX_ROUND_LEN, 3),
    ]);
    let outcome = session
        .play_lane(&first, PauseScale::ONE, Duration::from_secs(5))
        .unwrap();
    assert_eq!(
        (outcome.rounds, outcome.bytes),
        (2, 12 + MAX_ROUND_LEN as u64)
    );
    let second = interactive(vec![Payload::Literal(b"again".to_vec())]);
    let outcome = session
        .play_lane(&second, PauseScale::ONE, Duration::from_secs(5))
        .unwrap();
    assert_eq!(outcome.bytes, 5);
    let too_big = interactive(vec![Payload::generated(MAX_ROUND_LEN + 1, 3)]);
    let refused = session
        .play_lane(&too_big, PauseScale::ONE, Duration::from_secs(5))
        .unwrap_err();
    assert_eq!(refused.sent, 0, "{refused}");
    assert_eq!(server.stats().snapshot().accepted, 1);
}

#[test]
fn in_lockstep_every_chunk_is_a_read_of_its_own() {
    let server = EchoServer::spawn(ServerConfig {
        worker_threads: Some(1),
        ..ServerConfig::ephemeral()
    })
    .unwrap();
    // The built-in server's counts, and the kernel's view, which knows nothing of the server:
    // its own record of reads is the judge of both.
    let mut ways = vec![Lockstep::ServerReads(server.stats())];
    if cfg!(target_os = "linux") {
        ways.push(Lockstep::Kernel);
    }
    for how in ways {
        let mut session = Session::connect(server.local_addr(), Duration::from_secs(2)).unwrap();
        session.lockstep(how.clone()).unwrap();
        let mut conn = interactive(vec![Payload::Literal(b"0123456789".to_vec())]);
        conn.write.pauses.clear();
        for _ in 0..2 {
            session
                .play_lane(&conn, PauseScale::ONE, Duration::from_secs(5))
                .unwrap();
        }
        let record = server.stats().connection(session.local_addr()).unwrap();
        // Chunks 3 1 3 1 3 of 10 bytes, twice.
        assert_eq!((record.reads, record.bytes_in), (10, 20), "{how:?}");
    }
}

#[test]
fn a_server_that_closes_is_a_divergence_named_after_the_connection() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut session = Session::connect(addr, Duration::from_secs(2)).unwrap();
    drop(listener.accept());
    let conn = interactive(vec![Payload::Literal(b"lost".to_vec())]);
    let divergence = session
        .play_lane(&conn, PauseScale::ONE, Duration::from_secs(2))
        .unwrap_err();
    assert_eq!(divergence.connection, "c0");
    assert!(
        matches!(
            divergence.kind,
            DivergenceKind::EarlyEof | DivergenceKind::Reset { .. }
        ),
        "{divergence}"
    );
}

#[test]
fn a_server_that_never_answers_is_a_stall_within_the_timeout() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut session = Session::connect(addr, Duration::from_secs(2)).unwrap();
    let _held = listener.accept().unwrap();
    let conn = interactive(vec![Payload::Literal(b"anyone?".to_vec())]);
    let started = Instant::now();
    let divergence = session
        .play_lane(&conn, PauseScale::ONE, Duration::from_millis(100))
        .unwrap_err();
    assert_eq!(divergence.kind.name(), "stalled", "{divergence}");
    assert!(started.elapsed() < Duration::from_secs(2));
}
