//! Tests of scenario text with top-level steps and of the player: a golden file, the printer/parser round
//! trip over every kind of step, errors with kinds and positions, the promise never to panic,
//! the conversion of v1 cases, and scripts played against real servers, passing and failing.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

use super::*;
use crate::case::{CaseBounds, PauseScale, Payload, ReadPlan, WritePlan};
use crate::roundtrip::{block_on, DivergenceKind, PlayOptions};
use crate::strategy::case_strategy;
use crate::{EchoServer, ServerConfig};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn text(s: &str) -> Payload {
    Payload::Literal(s.as_bytes().to_vec())
}

fn v2(body: &str) -> String {
    format!("{VERSION_LINE_V2}\n{body}")
}

const SAMPLE_V2: &str = r#"# echo-harness scenario v2
# seed: 9
# pins down: two connections interleaved

pause-scale 1/10

connection a
  nodelay on
  write-chunks 1 7
  read-pauses 1ms

connection sleep
  recv-buffer 4096

a send "hi\n" x 3
sleep send hex 00ff
a expect last within 1s
sleep 20ms
sleep expect bytes hex 00
sleep expect echo
a send generated 100 seed 5
a shutdown write
a expect echo
a expect eof within 500ms
sleep close
"#;

fn sample_script() -> Script {
    let on = |c: &str| c.to_string();
    Script {
        connections: vec![
            ScriptConnection {
                name: "a".into(),
                write: WritePlan {
                    chunks: vec![1, 7],
                    nodelay: true,
                    ..WritePlan::default()
                },
                read: ReadPlan {
                    pauses: vec![ms(1)],
                    ..ReadPlan::default()
                },
                steps: Vec::new(),
            },
            ScriptConnection {
                name: "sleep".into(),
                write: WritePlan {
                    recv_buffer: Some(4096),
                    ..WritePlan::default()
                },
                read: ReadPlan::default(),
                steps: Vec::new(),
            },
        ],
        steps: vec![
            Step::Send {
                connection: on("a"),
                payload: text("hi\n"),
                repeat: 3,
            },
            Step::Send {
                connection: on("sleep"),
                payload: Payload::Literal(vec![0, 0xff]),
                repeat: 1,
            },
            Step::Expect {
                connection: on("a"),
                expectation: Expectation::Last,
                within: Some(ms(1000)),
            },
            Step::Sleep(ms(20)),
            Step::Expect {
                connection: on("sleep"),
                expectation: Expectation::Bytes(Payload::Literal(vec![0])),
                within: None,
            },
            Step::Expect {
                connection: on("sleep"),
                expectation: Expectation::Echo,
                within: None,
            },
            Step::Send {
                connection: on("a"),
                payload: Payload::generated(100, 5),
                repeat: 1,
            },
            Step::ShutdownWrite {
                connection: on("a"),
            },
            Step::Expect {
                connection: on("a"),
                expectation: Expectation::Echo,
                within: None,
            },
            Step::Expect {
                connection: on("a"),
                expectation: Expectation::Eof,
                within: Some(ms(500)),
            },
            Step::Close {
                connection: on("sleep"),
            },
        ],
        pause_scale: PauseScale::new(1, 10).unwrap(),
    }
}

fn sample_file() -> ScenarioFile {
    ScenarioFile::new(sample_script())
        .with_seed(9)
        .with_comment("pins down: two connections interleaved")
}

#[test]
fn golden_v2_print_and_parse() {
    assert_eq!(print(&sample_file()), SAMPLE_V2);
    assert_eq!(parse(SAMPLE_V2), Ok(sample_file()));
    let file = parse(SAMPLE_V2).unwrap();
    assert_eq!(
        file.to_case(),
        None,
        "top-level steps of no hold: a script, no case"
    );
    assert!(print(&ScenarioFile::new(sample_script()))
        .starts_with("# echo-harness scenario v2\n\npause-scale"));
    assert_eq!(sample_script().validate(), Ok(()));
}

/// Hand-written v2: no indentation, comments between steps, defaults omitted, a connection
/// without settings, a trailing comment after a hex payload.
#[test]
fn parses_hand_written_v2() {
    let source = v2("\
        # free\n\
        connection a\n\
        connection b\n\
        write-chunks 3\n\
        \n\
        # the steps\n\
        a send \"x\"   # trailing\n\
        b send hex 01 02 x 2 # two\n\
        b expect bytes hex 0102 within 1s\n\
        b expect echo\n\
        a expect echo\n");
    let file = parse(&source).unwrap_or_else(|e| panic!("{e}"));
    let script = file.script;
    assert_eq!(file.comments, ["free"]);
    assert_eq!(script.connections[0].write, WritePlan::default());
    assert_eq!(script.connections[1].write.chunks, [3]);
    assert_eq!(
        script.steps[1],
        Step::Send {
            connection: "b".into(),
            payload: Payload::Literal(vec![1, 2]),
            repeat: 2
        }
    );
    assert_eq!(script.steps.len(), 5);
}

/// Both version lines introduce one language: a file means the same under either, blocks and
/// top-level steps may mix, and a script that is no case is refused as a case.
#[test]
fn both_version_lines_read_one_language() {
    let body = "connection a\n  send \"x\"\n  expect echo\n  sleep 1ms\n  close\n\
                connection b\nconnection c\nb send \"y\"\nc send \"z\"\nc expect echo\nb expect echo\n";
    let one = parse(&format!("{VERSION_LINE}\n{body}")).unwrap_or_else(|e| panic!("{e}"));
    let two = parse(&v2(body)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(one, two);
    assert_eq!(one.script.connections[0].steps.len(), 4);
    assert_eq!(one.script.steps.len(), 4);
    assert_eq!(one.lines.line(LaneId::Own(0), 2), Some(5));
    assert_eq!(one.lines.line(LaneId::Shared, 3), Some(12));
    let e = parse_case(&v2("connection a\na send \"x\"\n")).unwrap_err();
    assert_eq!(e.kind(), ParseErrorKind::InvalidCase);
}

#[test]
fn v2_errors_have_kinds_and_positions() {
    use ParseErrorKind as K;
    let cases: &[(&str, K, (usize, usize))] = &[
        (
            "connection a\na send \"x\"\na shutdown write\na send \"y\"\n",
            K::UnexpectedStep,
            (5, 1),
        ),
        ("connection a\nb send \"x\"\n", K::UnknownConnection, (3, 1)),
        ("a send \"x\"\n", K::UnknownConnection, (2, 1)),
        (
            "connection a\na send \"x\"\nconnection b\n",
            K::Misplaced,
            (4, 1),
        ),
        (
            "connection a\na send \"x\"\n  nodelay on\n",
            K::Misplaced,
            (4, 3),
        ),
        (
            "connection a\na close\npause-scale 1/2\n",
            K::Misplaced,
            (4, 1),
        ),
        (
            "connection a\na send \"x\" x 0\n",
            K::NumberOutOfRange,
            (3, 14),
        ),
        (
            "connection a\na send \"x\" x 65537\n",
            K::NumberOutOfRange,
            (3, 14),
        ),
        (
            "connection a\na send \"x\" x lots\n",
            K::InvalidNumber,
            (3, 14),
        ),
        (
            "connection a\na send \"x\" x\n",
            K::MissingArgument,
            (3, 13),
        ),
        ("connection a\na expect soon\n", K::UnexpectedToken, (3, 10)),
        (
            "connection a\na send \"ab\"\na expect bytes \"abc\"\n",
            K::UnexpectedStep,
            (4, 1),
        ),
        (
            "connection a\na send \"ab\"\na expect eof\n",
            K::UnexpectedStep,
            (4, 1),
        ),
        ("connection a\na expect last\n", K::UnexpectedStep, (3, 1)),
        (
            "connection a\na send \"x\"\na send \"y\"\na expect last\n",
            K::UnexpectedStep,
            (5, 1),
        ),
        (
            "connection a\na send \"x\"\na expect echo within soon\n",
            K::InvalidDuration,
            (4, 22),
        ),
        (
            "connection a\na send \"x\"\na expect echo within 61s\n",
            K::NumberOutOfRange,
            (4, 22),
        ),
        (
            "connection a\na send \"x\"\na expect echo later\n",
            K::TrailingInput,
            (4, 15),
        ),
        (
            "connection a\na close\na send \"x\"\n",
            K::UnexpectedStep,
            (4, 1),
        ),
        (
            "connection a\na shutdown write\na shutdown write\n",
            K::UnexpectedStep,
            (4, 1),
        ),
        (
            "connection a\na expect eof\na expect echo\n",
            K::UnexpectedStep,
            (4, 1),
        ),
        ("connection send\n", K::InvalidName, (2, 12)),
        (
            "connection a\nconnection a\n",
            K::DuplicateConnection,
            (3, 12),
        ),
        ("connection a\nsleep 61s\n", K::NumberOutOfRange, (3, 7)),
        ("connection a\nsleep\n", K::MissingArgument, (3, 6)),
        ("connection a\na fly\n", K::UnexpectedToken, (3, 3)),
        ("connection a\na\n", K::MissingArgument, (3, 2)),
        ("connection a\na send\n", K::MissingArgument, (3, 7)),
        ("connection a\na send hex 0g x 2\n", K::InvalidHex, (3, 13)),
        (
            "connection a\na send generated 2GiB seed 1\n",
            K::NumberOutOfRange,
            (3, 18),
        ),
        (
            "connection a\na send generated 1GiB seed 1 x 2\n",
            K::InvalidCase,
            (3, 1),
        ),
        (
            "connection a\na shutdown now\n",
            K::UnexpectedToken,
            (3, 12),
        ),
        ("connection a\na close now\n", K::TrailingInput, (3, 9)),
        ("\"a\" send\n", K::UnknownDirective, (2, 1)),
        ("# only a comment\n", K::NoConnections, (3, 1)),
    ];
    for (body, kind, at) in cases {
        let e = parse(&v2(body)).expect_err(body);
        assert_eq!((e.kind(), e.line_col()), (*kind, *at), "{body:?}\n{e}");
        assert!(e.expected().is_some() || *kind == K::InvalidCase, "{e}");
    }
    let e = parse("# echo-harness scenario v3\n").unwrap_err();
    assert_eq!((e.kind(), e.line_col()), (K::UnsupportedVersion, (1, 25)));
    assert_eq!(e.expected(), Some("`v1` or `v2`"));
}

#[test]
fn a_lone_name_is_a_step_only_when_declared_and_keywords_stay_directives() {
    // `sleep` and `nodelay` are connections here, and still directives.
    let source = v2(
        "connection sleep\n  nodelay on\nconnection nodelay\n  nodelay off\n\
                     sleep send \"a\"\nnodelay send \"b\"\nsleep 1ms\nsleep expect echo\n\
                     nodelay expect echo\n",
    );
    let script = parse(&source).unwrap_or_else(|e| panic!("{e}")).script;
    assert!(script.connections[0].write.nodelay);
    assert!(!script.connections[1].write.nodelay);
    assert_eq!(script.steps[2], Step::Sleep(ms(1)));
    assert_eq!(script.steps.len(), 5);
}

#[test]
fn rendered_v2_error() {
    let e = parse(&v2(
        "connection a\na send \"x\"\na send \"y\"\na expect last\n",
    ))
    .unwrap_err()
    .with_origin("two.scenario");
    assert_eq!(
        e.to_string(),
        "error: `expect last` while 1 bytes sent before the last send are not yet expected \
         (connection `a`)\n --> two.scenario:5:1\n  |\n5 | a expect last\n  | ^^^^^^^^^^^^^ \
         expected `expect echo`, or `expect last` after every send"
    );
}

#[test]
fn every_step_kind_is_drawn_by_the_strategy() {
    let strategy = script_strategy(&CaseBounds::fuzzing(), 24);
    let mut runner = TestRunner::deterministic();
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..300 {
        let script = strategy.new_tree(&mut runner).unwrap().current();
        for step in &script.steps {
            seen.insert(match step {
                Step::Send { repeat: 1, .. } => "send",
                Step::Send { .. } => "send x N",
                Step::Expect {
                    within: Some(_), ..
                } => "within",
                Step::Expect {
                    expectation: Expectation::Echo,
                    ..
                } => "echo",
                Step::Expect {
                    expectation: Expectation::Last,
                    ..
                } => "last",
                Step::Expect {
                    expectation: Expectation::Bytes(_),
                    ..
                } => "bytes",
                Step::Expect {
                    expectation: Expectation::Eof,
                    ..
                } => "eof",
                Step::ShutdownWrite { .. } => "shutdown",
                Step::Close { .. } => "close",
                Step::Sleep(_) => "sleep",
            });
        }
    }
    assert_eq!(seen.len(), 10, "{seen:?}");
}

fn v2_file_strategy() -> impl Strategy<Value = ScenarioFile> {
    (
        script_strategy(&CaseBounds::fuzzing(), 24),
        proptest::option::of(any::<u64>()),
        proptest::collection::vec("[ -~]{0,20}".prop_map(|s| s.trim_end().to_string()), 0..3),
    )
        .prop_map(|(script, seed, divergence)| {
            let mut file = ScenarioFile::new(script);
            file.seed = seed;
            file.divergence = divergence;
            file
        })
}

proptest! {
    // The default 256 cases would do; 200 keeps the debug run short while still drawing
    // every kind of step many times over (see `every_step_kind_is_drawn_by_the_strategy`).
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// The issue's round trip for version 2: every script prints and parses back equal.
    #[test]
    fn every_script_round_trips(script in script_strategy(&CaseBounds::default(), 32)) {
        prop_assert_eq!(script.validate(), Ok(()));
        let text = print(&ScenarioFile::new(script.clone()));
        let back = parse(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(back.script, script);
    }

    #[test]
    fn every_v2_file_round_trips(file in v2_file_strategy()) {
        let text = print(&file);
        prop_assert_eq!(parse(&text).map_err(|e| e.to_string()), Ok(file));
    }

    /// Every case converts to a valid script that round-trips as text and back to the case.
    #[test]
    fn every_case_converts_to_a_script(case in case_strategy(&CaseBounds::default())) {
        let script = Script::from_case(&case);
        prop_assert_eq!(script.validate(), Ok(()));
        prop_assert_eq!(script.to_case(), Some(case.clone()));
        let file = ScenarioFile::new(script);
        prop_assert_eq!(parse(&print(&file)).map_err(|e| e.to_string()), Ok(file));
    }

    #[test]
    fn arbitrary_v2_text_never_panics(body in "(?s).{0,200}") {
        let input = v2(&body);
        if let Ok(file) = parse(&input) {
            prop_assert_eq!(parse(&print(&file)), Ok(file));
        }
    }

    /// Near misses of real v2 files: one character replaced, removed or doubled.
    #[test]
    fn mutated_v2_files_never_panic(
        script in script_strategy(&CaseBounds::fuzzing(), 12),
        at in any::<prop::sample::Index>(),
        what in 0..3u8,
        with in prop_oneof![Just('"'), Just('x'), Just('\n'), Just('#'), Just(' '), Just('9'), any::<char>()],
    ) {
        super::tests::check_mutation(&print(&ScenarioFile::new(script)), at, what, with)?;
    }
}

// ---- the interpreter, against real servers ----

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
        assert_eq!(outcome.bytes_verified(), case.total_len());
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
