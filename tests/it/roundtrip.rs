//! The round-trip engine against small misbehaving servers written here: each way a server can
//! go wrong gives its own kind of divergence, with the evidence, and timing-only failures are
//! confirmed by a slower second run.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use echo_harness::case::{Case, Conversation, Payload, WritePlan};
use echo_harness::roundtrip::{self, Divergence, DivergenceKind, Outcome, PlayOptions};
use echo_harness::{EchoServer, ServerConfig};

use crate::common;

fn options(timeout: Duration) -> PlayOptions {
    PlayOptions {
        timeout,
        connect_timeout: timeout,
        ..PlayOptions::default()
    }
}

fn play(case: &Case, addr: SocketAddr, timeout: Duration) -> Result<Outcome, Divergence> {
    let options = options(timeout);
    roundtrip::block_on(|| roundtrip::play_confirmed(case, addr, &options))
}

fn stream(payload: Payload) -> Case {
    Case::single(Conversation::Stream { payload })
}

/// A server on a thread that handles each connection with `handle`.
fn server(handle: fn(TcpStream)) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            thread::spawn(move || handle(stream));
        }
    });
    addr
}

#[test]
fn a_pause_longer_than_the_timeout_is_not_a_stall() {
    let server = EchoServer::spawn(ServerConfig::ephemeral()).unwrap();
    let mut case = stream(Payload::Literal(b"abcd".to_vec()));
    case.connections[0].write = WritePlan {
        chunks: vec![2],
        pauses: vec![Duration::from_millis(400)],
        nodelay: true,
        ..WritePlan::default()
    };
    let outcome = play(&case, server.local_addr(), Duration::from_millis(150)).expect("passes");
    assert_eq!(outcome.bytes_verified(), 4);
    assert!(outcome.unconfirmed.is_none());
}

#[test]
fn a_server_that_never_closes_after_half_close_is_no_eof_confirmed() {
    let addr = server(|mut stream| {
        let mut buffer = [0u8; 1024];
        while let Ok(n) = stream.read(&mut buffer) {
            if n == 0 {
                // Never shut down the write side: the socket stays open, unanswered.
                common::hold(stream);
                return;
            }
            let _ = stream.write_all(&buffer[..n]);
        }
    });
    let started = Instant::now();
    let error = play(
        &stream(Payload::generated(5000, 1)),
        addr,
        Duration::from_millis(100),
    )
    .unwrap_err();
    assert!(
        matches!(error.kind, DivergenceKind::NoEof { .. }),
        "{error}"
    );
    assert!(error.confirmed, "failed again at 4x the timeout");
    assert_eq!(error.received, 5000);
    // 100 ms, then 400 ms for the confirmation, plus the time to play.
    assert!(started.elapsed() >= Duration::from_millis(500));
}

#[test]
fn a_server_that_stops_answering_is_stalled_after_k_of_n() {
    let addr = server(|mut stream| {
        let mut buffer = [0u8; 100];
        if let Ok(n) = stream.read(&mut buffer) {
            let _ = stream.write_all(&buffer[..n.min(10)]);
        }
        common::hold(stream);
    });
    let case = Case::single(Conversation::Close {
        payload: Payload::Literal(vec![7u8; 50]),
    });
    let error = play(&case, addr, Duration::from_millis(100)).unwrap_err();
    assert!(
        matches!(error.kind, DivergenceKind::Stalled { .. }),
        "{error}"
    );
    assert_eq!((error.received, error.expected), (10, 50));
    assert!(
        error.summary().contains("stalled after 10 of 50 bytes"),
        "{error}"
    );
}

#[test]
fn a_server_that_holds_everything_until_eof_leaves_round_one_unanswered() {
    let addr = server(|mut stream| {
        let mut all = Vec::new();
        let _ = stream.read_to_end(&mut all);
        let _ = stream.write_all(&all);
    });
    let case = Case::single(Conversation::Interactive {
        messages: vec![
            Payload::Literal(b"hello\n".to_vec()),
            Payload::Literal(b"world\n".to_vec()),
        ],
    });
    let error = play(&case, addr, Duration::from_millis(100)).unwrap_err();
    match &error.kind {
        DivergenceKind::RoundUnanswered {
            round: 0,
            rounds: 2,
            round_received: 0,
            round_len: 6,
            ..
        } => {}
        other => panic!("expected round 1 of 2 unanswered, got {other:?}"),
    }
    assert!(
        error
            .summary()
            .contains("interactive round 1 of 2 unanswered"),
        "{error}"
    );
}

#[test]
fn extra_bytes_after_the_echo_are_reported() {
    let addr = server(|mut stream| {
        let mut buffer = [0u8; 1024];
        while let Ok(n) = stream.read(&mut buffer) {
            if n == 0 {
                let _ = stream.write_all(b"BYE");
                return;
            }
            let _ = stream.write_all(&buffer[..n]);
        }
    });
    let error = play(
        &stream(Payload::Literal(b"abc".to_vec())),
        addr,
        Duration::from_secs(2),
    )
    .unwrap_err();
    match &error.kind {
        DivergenceKind::ExtraBytes { bytes } => assert_eq!(bytes, b"BYE"),
        other => panic!("expected extra bytes, got {other:?}"),
    }
}

#[test]
fn a_changed_byte_is_a_mismatch_with_a_hexdump() {
    let addr = server(|mut stream| {
        let mut buffer = [0u8; 4096];
        let mut total = 0usize;
        while let Ok(n) = stream.read(&mut buffer) {
            if n == 0 {
                let _ = stream.shutdown(std::net::Shutdown::Write);
                return;
            }
            for (i, byte) in buffer[..n].iter_mut().enumerate() {
                if total + i == 100 {
                    *byte ^= 0xff;
                }
            }
            total += n;
            let _ = stream.write_all(&buffer[..n]);
        }
    });
    let payload = Payload::generated(300, 9);
    let expected = payload.bytes()[100];
    let error = play(&stream(payload), addr, Duration::from_secs(2)).unwrap_err();
    match &error.kind {
        DivergenceKind::Mismatch {
            offset: 100,
            expected: e,
            actual,
            ..
        } => {
            assert_eq!(*e, expected);
            assert_eq!(*actual, expected ^ 0xff);
        }
        other => panic!("expected a mismatch at 100, got {other:?}"),
    }
    let report = error.to_string();
    assert!(
        report.contains("00000060"),
        "the hexdump row of offset 100: {report}"
    );
    assert!(
        report.contains(&format!("[{:02x}]", expected ^ 0xff)),
        "{report}"
    );
}

#[test]
fn bytes_crossing_between_connections_name_both() {
    // Accepts two connections and sends each one's bytes to the other.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        let (a, _) = listener.accept().unwrap();
        let (b, _) = listener.accept().unwrap();
        let pipe = |mut from: TcpStream, mut to: TcpStream| {
            thread::spawn(move || {
                let mut buffer = [0u8; 4096];
                while let Ok(n) = from.read(&mut buffer) {
                    if n == 0 || to.write_all(&buffer[..n]).is_err() {
                        break;
                    }
                }
            })
        };
        let first = pipe(a.try_clone().unwrap(), b.try_clone().unwrap());
        let second = pipe(b, a);
        let _ = (first.join(), second.join());
    });
    let mut case = stream(Payload::generated(2000, 1));
    let mut other = case.connections[0].clone();
    other.name = "c1".into();
    other.conversation = Conversation::Stream {
        payload: Payload::generated(2000, 2),
    };
    case.connections.push(other);
    let error = play(&case, addr, Duration::from_millis(500)).unwrap_err();
    let DivergenceKind::Mismatch { evidence, .. } = &error.kind else {
        panic!("expected a mismatch, got {error}");
    };
    let (from, _) = evidence
        .crossed_from
        .as_ref()
        .expect("the crossing is recognised");
    assert_ne!(from, &error.connection, "the other connection is named");
    assert!(error.to_string().contains("bytes crossed from"), "{error}");
}

#[test]
fn a_reset_is_reported_as_reset() {
    let addr = server(|stream| {
        let mut first = [0u8; 1];
        let mut reader = &stream;
        let _ = reader.read(&mut first);
        // Linger 0: close with RST instead of FIN.
        let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
        drop(stream);
    });
    let case = Case::single(Conversation::Close {
        payload: Payload::generated(100_000, 3),
    });
    let error = play(&case, addr, Duration::from_secs(2)).unwrap_err();
    assert!(
        matches!(error.kind, DivergenceKind::Reset { .. }),
        "{error}"
    );
}

#[test]
fn refused_is_reported_as_refused() {
    let error = play(
        &stream(Payload::Literal(b"x".to_vec())),
        common::refused_addr(),
        Duration::from_secs(1),
    )
    .unwrap_err();
    assert_eq!(error.kind, DivergenceKind::Refused);
    assert_eq!(error.sent, 0);
}

/// A server that serves one connection at a time, each until its EOF (the tutorial's loop).
fn serial_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = stream.read(&mut buffer) {
                if n == 0 || stream.write_all(&buffer[..n]).is_err() {
                    break;
                }
            }
            let _ = stream.shutdown(std::net::Shutdown::Write);
        }
    });
    addr
}

/// Two interactive connections, `c0` held open while `c1` plays when `hold` is set.
fn two_rounds(hold: bool) -> Case {
    let rounds = |text: &[u8]| Conversation::Interactive {
        messages: vec![Payload::Literal(text.to_vec())],
    };
    let mut case = Case::single(rounds(b"first"));
    let mut second = case.connections[0].clone();
    second.name = "c1".into();
    second.conversation = rounds(b"second");
    case.connections.push(second);
    if hold {
        case.hold = Some(echo_harness::case::Hold { outer: 0, inner: 1 });
    }
    case
}

#[test]
fn a_server_of_one_connection_at_a_time_fails_a_hold_every_time_and_both_are_named() {
    let addr = serial_server();
    // Independent connections pass: the second simply waits its turn.
    play(&two_rounds(false), addr, Duration::from_millis(500)).unwrap();
    let started = Instant::now();
    let error = play(&two_rounds(true), addr, Duration::from_millis(100)).unwrap_err();
    assert_eq!(error.connection, "c1", "{error}");
    assert!(error.kind.is_timing_only(), "{error}");
    // The second play, at 4x the timeout, kept the order that made the first fail.
    assert!(error.confirmed, "{error}");
    assert!(started.elapsed() >= Duration::from_millis(500));
    assert_eq!(error.held_open(), ["c0".to_string()]);
    let report = error.to_string();
    assert!(
        report.contains("while connection c0 was held open"),
        "{report}"
    );
    assert!(report.contains("confirmed: failed again at 4x"), "{report}");
    assert!(report.contains("at step 3: `c1 expect echo`"), "{report}");
}

fn play_text(text: &str, addr: SocketAddr, timeout: Duration) -> Result<Outcome, Divergence> {
    let file = echo_harness::scenario::parse(text).unwrap_or_else(|e| panic!("{e}"));
    let options = options(timeout);
    roundtrip::block_on(|| roundtrip::play_script(&file.script, addr, &options))
}

/// Held open means open and either not half-closed or owed an echo: a connection that has
/// read its echo but keeps its write side open is held (the server waits on it); one that has
/// closed is not.
#[test]
fn held_open_names_exactly_the_connections_the_client_keeps_open() {
    let addr = serial_server();
    let text = "# echo-harness scenario v2\n\
                connection done\n  send \"x\"\n  expect echo\n  close\n\
                connection a\nconnection b\n\
                a send \"a\"\na expect echo\nb send \"b\"\nb expect echo\n";
    let error = play_text(text, addr, Duration::from_millis(200)).unwrap_err();
    assert_eq!(error.connection, "b", "{error}");
    assert_eq!(error.held_open(), ["a".to_string()], "{error}");
}

/// `close` waits until the writer has written everything queued: a send the server never
/// reads stalls there, instead of being dropped unwritten.
#[test]
fn a_close_after_a_send_nobody_reads_is_a_stall_at_the_close() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        // Accepted and never read: held open until the test process ends.
        listener.incoming().flatten().take(1).for_each(common::hold);
    });
    let text = "# echo-harness scenario v2\nconnection a\n  send-buffer 4096\n\
                a send generated 8MiB seed 1\na close\n";
    let error = play_text(text, addr, Duration::from_millis(200)).unwrap_err();
    assert!(
        matches!(error.kind, DivergenceKind::Stalled { .. }),
        "{error}"
    );
    assert_eq!(
        error.step.as_ref().map(|s| s.text.as_str()),
        Some("a close")
    );
}

/// A connection that has half-closed is held open only while it is owed an echo: `a` (owed)
/// is named, `c` (echo read) is not, when `b` stalls on a server that ignores its second client.
#[test]
fn a_half_closed_connection_is_held_open_only_while_owed_an_echo() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for (index, stream) in listener.incoming().flatten().enumerate().take(3) {
            if index == 1 {
                // The ignored second client: held open, unanswered, to the end of the test.
                common::hold(stream);
                continue;
            }
            thread::spawn(move || {
                let mut stream = stream;
                let mut buffer = [0u8; 1024];
                while let Ok(n) = stream.read(&mut buffer) {
                    if n == 0 || stream.write_all(&buffer[..n]).is_err() {
                        break;
                    }
                }
                let _ = stream.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    let text = "# echo-harness scenario v2\nconnection a\nconnection b\nconnection c\n\
                a send \"x\"\na shutdown write\n\
                c send \"z\"\nc shutdown write\nc expect echo\n\
                b send \"y\"\nb expect echo\n";
    let error = play_text(text, addr, Duration::from_millis(200)).unwrap_err();
    assert_eq!(error.connection, "b", "{error}");
    assert_eq!(error.held_open(), ["a".to_string()], "{error}");
}
