//! Tests of scenario text v1: golden files, round trips, every error kind with its position and
//! rendering, and the promise never to panic.

use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::case::{
    CaseBounds, ConnectionCase, Conversation, PauseScale, Payload, ReadPlan, WritePlan,
};
use crate::strategy::case_strategy;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn text(s: &str) -> Payload {
    Payload::Literal(s.as_bytes().to_vec())
}

/// A case with every feature of v1: three conversation kinds, all settings, both literal
/// forms, a generated payload and a pause scale.
fn sample_case() -> Case {
    Case {
        connections: vec![
            ConnectionCase {
                name: "big".into(),
                write: WritePlan {
                    chunks: vec![1, 65536],
                    pauses: vec![ms(1), Duration::ZERO],
                    nodelay: true,
                    send_buffer: Some(2048),
                    recv_buffer: None,
                },
                read: ReadPlan {
                    sizes: vec![7],
                    pauses: vec![],
                },
                conversation: Conversation::Stream {
                    payload: Payload::generated(4 << 20, 7),
                },
            },
            ConnectionCase {
                name: "chat".into(),
                write: WritePlan::default(),
                read: ReadPlan {
                    sizes: vec![1, 2],
                    pauses: vec![Duration::from_micros(250), Duration::from_nanos(5)],
                },
                conversation: Conversation::Interactive {
                    messages: vec![
                        text("hello \"you\"\n"),
                        Payload::Literal(vec![0, 0xff, 0x85, 0xc2]),
                    ],
                },
            },
            ConnectionCase::new(
                "quit",
                Conversation::Close {
                    payload: Payload::Literal(Vec::new()),
                },
            ),
        ],
        pause_scale: PauseScale::new(1, 100).unwrap(),
        hold: None,
    }
}

const SAMPLE_TEXT: &str = r#"# echo-harness scenario v1
# seed: 42
# target: 127.0.0.1:7000
# divergence: connection big: first difference at offset 17
# divergence:   expected 41 42
# pins down: a 1-byte chunk after a large one

pause-scale 1/100

connection big
  nodelay on
  send-buffer 2048
  recv-buffer default
  write-chunks 1 65536
  write-pauses 1ms 0ms
  read-sizes 7
  read-pauses none
  send generated 4194304 seed 7
  shutdown write
  expect echo
  expect eof

connection chat
  nodelay off
  send-buffer default
  recv-buffer default
  write-chunks 65536
  write-pauses none
  read-sizes 1 2
  read-pauses 250us 5ns
  send "hello \"you\"\n"
  expect echo
  send hex 00ff85c2
  expect echo
  shutdown write
  expect eof

connection quit
  nodelay off
  send-buffer default
  recv-buffer default
  write-chunks 65536
  write-pauses none
  read-sizes 65536
  read-pauses none
  send ""
  expect echo
  close
"#;

fn sample_file() -> ScenarioFile {
    ScenarioFile::from_case(&sample_case())
        .with_seed(42)
        .with_target("127.0.0.1:7000")
        .with_divergence("connection big: first difference at offset 17\n  expected 41 42\n")
        .with_comment("pins down: a 1-byte chunk after a large one")
}

#[test]
fn golden_print() {
    assert_eq!(print(&sample_file()), SAMPLE_TEXT);
    assert_eq!(sample_file().to_string(), SAMPLE_TEXT);
    // A case alone prints without metadata, and displays (and debugs) as its scenario.
    let bare = print_case(&sample_case());
    assert!(bare.starts_with("# echo-harness scenario v1\n\npause-scale 1/100\n"));
    assert_eq!(sample_case().to_string(), bare);
    assert_eq!(format!("{:?}", sample_case()), format!("\n{bare}"));
}

#[test]
fn golden_parse() {
    assert_eq!(parse(SAMPLE_TEXT), Ok(sample_file()));
    assert_eq!(SAMPLE_TEXT.parse::<ScenarioFile>(), Ok(sample_file()));
}

/// What a person might write by hand: CRLF line ends, indentation of any kind, omitted
/// settings, trailing comments, units, body comments that look like metadata.
#[test]
fn parses_hand_written_files() {
    let source = "\u{feff}# echo-harness scenario v1\r\n\
                  #free comment\r\n\
                  #\r\n\
                  connection a   # the first\r\n\
                  \tread-sizes 1KiB 1\r\n\
                  \twrite-pauses 0 2s 10µs\r\n\
                  send \"a#b\\u{e9}\\x00\" # not part of the string\r\n\
                  # seed: 99 (a body comment, not metadata)\r\n\
                  expect echo\r\n\
                  close\r\n\
                  connection b\n\
                  shutdown write\n\
                  expect eof";
    let file = parse(source).unwrap();
    assert_eq!(file.seed, None);
    assert_eq!(file.comments, ["free comment", ""]);
    let case = file.to_case().unwrap();
    let a = &case.connections[0];
    assert_eq!(a.read.sizes, [1024, 1]);
    assert_eq!(
        a.write.pauses,
        [Duration::ZERO, ms(2000), Duration::from_micros(10)]
    );
    assert_eq!(
        a.write,
        WritePlan {
            pauses: a.write.pauses.clone(),
            ..WritePlan::default()
        }
    );
    assert_eq!(
        a.conversation,
        Conversation::Close {
            payload: Payload::Literal(b"a#b\xc3\xa9\x00".to_vec())
        }
    );
    assert_eq!(
        case.connections[1].conversation,
        Conversation::Interactive { messages: vec![] }
    );
    assert_eq!(case.pause_scale, PauseScale::ONE);
}

#[test]
fn literal_payloads_choose_text_or_hex_and_round_trip() {
    let cases: &[(&[u8], &str)] = &[
        (b"", "\"\""),
        (b"plain text", "\"plain text\""),
        (
            b"tab\tquote\"back\\slash\r\n",
            r#""tab\tquote\"back\\slash\r\n""#,
        ),
        ("héllo €".as_bytes(), "\"héllo €\""),
        (b"\\\"", r#""\\\"""#),
        // Mostly binary: hex is shorter.
        (&[0xff, 0xfe, 0x00, 0x01], "hex fffe0001"),
        // U+0085 would print as `\x85`, which reads back as one byte: hex instead.
        ("\u{85}".as_bytes(), "hex c285"),
    ];
    for &(bytes, expected) in cases {
        let payload = Payload::Literal(bytes.to_vec());
        assert_eq!(print::payload(&payload), expected);
        let case = Case::single(Conversation::Stream {
            payload: payload.clone(),
        });
        assert_eq!(parse_case(&print_case(&case)), Ok(case), "{bytes:?}");
    }
    // Long hex is grouped 16 bytes at a time.
    let long = Payload::Literal(vec![0xab; 20]);
    assert_eq!(
        print::payload(&long),
        format!("hex {} {}", "ab".repeat(16), "ab".repeat(4))
    );
}

#[test]
fn durations_print_in_the_largest_exact_unit() {
    assert_eq!(print::duration(Duration::ZERO), "0ms");
    assert_eq!(print::duration(ms(2000)), "2s");
    assert_eq!(print::duration(ms(1500)), "1500ms");
    assert_eq!(print::duration(Duration::from_micros(250)), "250us");
    assert_eq!(
        print::duration(Duration::from_nanos(1_000_001)),
        "1000001ns"
    );
}

/// Sizes and durations read as they do in flags (`--max-size 4MB`, `--timeout 1m`): one
/// grammar, in `crate::units`.
#[test]
fn sizes_and_durations_read_as_in_flags() {
    let file = parse(
        "# echo-harness scenario v1\nconnection c\n  write-chunks 4MB 2K 64KiB\n  \
         write-pauses 1m 1500us\n  send generated 1MiB seed 1\n  expect echo\n",
    )
    .unwrap();
    let conn = &file.script.connections[0];
    assert_eq!(conn.write.chunks, vec![4 << 20, 2 << 10, 64 << 10]);
    assert_eq!(
        conn.write.pauses,
        vec![Duration::from_secs(60), Duration::from_micros(1500)]
    );
    let e = parse("# echo-harness scenario v1\nconnection c\n  write-chunks 4mb\n").unwrap_err();
    assert_eq!(e.kind(), ParseErrorKind::InvalidNumber);
    let e = parse("# echo-harness scenario v1\nconnection c\n  write-pauses 2m\n").unwrap_err();
    assert_eq!(e.kind(), ParseErrorKind::NumberOutOfRange);
}

#[test]
fn metadata_survives_awkward_text() {
    let file = ScenarioFile::from_case(&sample_case())
        .with_target("  spawn: ./server\n--port 1  ")
        .with_divergence("line one\n\n    indented\nlast   ");
    let printed = print(&file);
    assert!(
        printed.contains("# target: spawn: ./server --port 1\n"),
        "{printed}"
    );
    assert!(
        printed.contains("# divergence:\n# divergence:     indented\n"),
        "{printed}"
    );
    let back = parse(&printed).unwrap();
    assert_eq!(back.target.as_deref(), Some("spawn: ./server --port 1"));
    assert_eq!(back.divergence, ["line one", "", "    indented", "last"]);
    assert_eq!(back.to_case(), Some(sample_case()));
}

/// Each conversation of a case, and the near misses: a block is a lane of any steps the rules
/// allow, so those parse as scripts, but only the three conversations are a case.
#[test]
fn only_the_three_conversations_are_a_case() {
    let wrap = |steps: &str| format!("{VERSION_LINE}\nconnection a\n{steps}");
    let ok = [
        (
            "send \"x\"\nshutdown write\nexpect echo\nexpect eof",
            "Stream",
        ),
        ("send \"x\"\nexpect echo\nclose", "Close"),
        (
            "send \"x\"\nexpect echo\nshutdown write\nexpect eof",
            "Interactive",
        ),
        (
            "send \"x\"\nexpect echo\nsend \"y\"\nexpect echo\nshutdown write\nexpect eof",
            "Interactive",
        ),
        ("shutdown write\nexpect eof", "Interactive"),
    ];
    for (steps, kind) in ok {
        let case = parse_case(&wrap(steps)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            format!("{:?}", case.connections[0].conversation.kind()),
            kind
        );
    }
    // Scripts, but no case.
    let scripts = [
        "expect echo",
        "send \"x\"\nsend \"y\"",
        "send \"x\"\nexpect echo\nsend \"y\"\nexpect echo\nclose",
        "send \"x\"\nshutdown write",
        "send \"x\"\nexpect last",
        "",
    ];
    for steps in scripts {
        let file = parse(&wrap(steps)).unwrap_or_else(|e| panic!("{steps:?}: {e}"));
        assert_eq!(file.to_case(), None, "{steps:?}");
        let e = parse_case(&wrap(steps)).unwrap_err();
        assert_eq!(e.kind(), ParseErrorKind::InvalidCase, "{steps:?}: {e}");
    }
    // What the rules refuse, in any lane.
    let bad = [
        ("send \"x\"\nexpect eof", "`expect echo` first"),
        (
            "send \"x\"\nexpect echo\nclose\nclose",
            "no more steps on it",
        ),
        ("shutdown write\nsend \"x\"", "`expect` or `close`"),
    ];
    for (steps, expected) in bad {
        let e = parse(&wrap(steps)).unwrap_err();
        assert_eq!(
            (e.kind(), e.expected()),
            (ParseErrorKind::UnexpectedStep, Some(expected)),
            "{steps:?}: {e}"
        );
    }
}

/// Every error kind, where it points (line, column), from one input each.
#[test]
fn errors_have_kinds_and_positions() {
    use ParseErrorKind as K;
    let v = VERSION_LINE;
    let conn = |body: &str| format!("{v}\nconnection a\n{body}\n");
    let table: Vec<(String, K, (usize, usize))> = vec![
        (String::new(), K::MissingVersion, (1, 1)),
        ("hello".into(), K::MissingVersion, (1, 1)),
        ("# echo-harness scenario v3\n".into(), K::UnsupportedVersion, (1, 25)),
        (format!("{v}\nfrobnicate"), K::UnknownDirective, (2, 1)),
        (format!("{v}\n\"x\""), K::UnknownDirective, (2, 1)),
        (conn("  nodelay"), K::MissingArgument, (3, 10)),
        (conn("  nodelay maybe"), K::UnexpectedToken, (3, 11)),
        (conn("  nodelay on off"), K::TrailingInput, (3, 14)),
        (conn("write-chunks 1 x2"), K::InvalidNumber, (3, 16)),
        (conn("write-chunks 0"), K::NumberOutOfRange, (3, 14)),
        (conn("send-buffer 99999999999999999999999"), K::NumberOutOfRange, (3, 13)),
        (conn("send-buffer 1024"), K::NumberOutOfRange, (3, 13)),
        (conn("read-pauses 5 ms"), K::InvalidDuration, (3, 13)),
        (conn("read-pauses 61s"), K::NumberOutOfRange, (3, 13)),
        (conn("send \"a\\qb\""), K::InvalidEscape, (3, 8)),
        (conn("send \"a\\x4\""), K::InvalidEscape, (3, 8)),
        (conn("send \"a\\u{110000}\""), K::InvalidEscape, (3, 8)),
        (conn("send \"abc"), K::UnterminatedString, (3, 10)),
        (conn("send \"abc\"x"), K::UnexpectedToken, (3, 11)),
        (conn("send hex 0g"), K::InvalidHex, (3, 11)),
        (conn("send hex abc"), K::InvalidHex, (3, 10)),
        (conn("send generated 2GiB seed 1"), K::NumberOutOfRange, (3, 16)),
        (conn("send generated 10 seed 18446744073709551616"), K::NumberOutOfRange, (3, 24)),
        (conn("send generated 10 sed 1"), K::UnexpectedToken, (3, 19)),
        (conn("send json {}"), K::UnexpectedToken, (3, 6)),
        (format!("{v}\nconnection 1a"), K::InvalidName, (2, 12)),
        (
            format!("{v}\nconnection a\nclose\nclose\nconnection a"),
            K::UnexpectedStep,
            (4, 1),
        ),
        (
            format!("{v}\nconnection a\nsend \"\"\nexpect echo\nclose\nconnection a\n"),
            K::DuplicateConnection,
            (6, 12),
        ),
        (conn("nodelay on\nnodelay off"), K::DuplicateSetting, (4, 1)),
        (format!("{v}\n# seed: 1\n# seed: 2\n"), K::DuplicateSetting, (3, 9)),
        (conn("send \"\"\nnodelay on"), K::Misplaced, (4, 1)),
        (format!("{v}\nsend \"x\""), K::Misplaced, (2, 1)),
        (format!("{v}\nnodelay on"), K::Misplaced, (2, 1)),
        (conn("send \"\"\nexpect echo\nclose\npause-scale 1"), K::Misplaced, (6, 1)),
        (format!("{v}\npause-scale 1/0"), K::NumberOutOfRange, (2, 13)),
        (format!("{v}\npause-scale half"), K::InvalidNumber, (2, 13)),
        (conn("through seed 1 up:slice=1..4"), K::Misplaced, (3, 1)),
        (format!("{v}\nthrough seed 1\nthrough seed 2"), K::DuplicateSetting, (3, 1)),
        (format!("{v}\nthrough 7 up:slice=1..4"), K::UnexpectedToken, (2, 9)),
        (format!("{v}\nthrough seed"), K::MissingArgument, (2, 13)),
        (format!("{v}\nthrough seed x7"), K::InvalidNumber, (2, 14)),
        (format!("{v}\nthrough seed 1 \"up\""), K::InvalidChain, (2, 16)),
        (conn("send \"x\"\nshutdown write\nsend \"y\""), K::UnexpectedStep, (5, 1)),
        (conn("send \"x\"\na expect echo"), K::UnexpectedStep, (4, 1)),
        (format!("{v}\nconnection a\nconnection b\na send \"x\"\nsend \"y\""), K::Misplaced, (5, 1)),
        (format!("{v}\nconnection a\na send \"x\"\nnodelay on"), K::Misplaced, (4, 1)),
        (format!("{v}\nconnection send"), K::InvalidName, (2, 12)),
        (format!("{v}\n# only comments\n"), K::NoConnections, (3, 1)),
        (format!("{v}\n# seed: -1\n"), K::InvalidMetadata, (2, 9)),
        (
            conn("send generated 1GiB seed 1\nexpect echo\nsend \"x\"\nexpect echo\nshutdown write\nexpect eof"),
            K::InvalidCase,
            (5, 1),
        ),
    ];
    for (input, kind, pos) in table {
        let e = parse(&input).expect_err(&input);
        assert_eq!((e.kind(), e.line_col()), (kind, pos), "{input:?}\n{e}");
    }
}

/// Golden renderings, the way a person sees them.
#[test]
fn rendered_errors() {
    let cases = [
        (
            format!("{VERSION_LINE}\nconnection a\n  nodelay maybe\n"),
            "error: invalid value for `nodelay`\n \
             --> case.scenario:3:11\n  \
             |\n\
             3 |   nodelay maybe\n  \
             |           ^^^^^ expected `on` or `off`",
        ),
        (
            format!("{VERSION_LINE}\nconnection a\n  send \"x\"\n  expect eof"),
            "error: `expect eof` while 1 bytes sent are not yet expected (connection `a`)\n \
             --> case.scenario:4:3\n  \
             |\n\
             4 |   expect eof\n  \
             |   ^^^^^^^^^^ expected `expect echo` first",
        ),
        (
            String::new(),
            "error: not an echo-harness scenario\n \
             --> case.scenario:1:1\n  \
             |\n\
             1 | \n  \
             | ^ expected `# echo-harness scenario v1` or `# echo-harness scenario v2` as the first line",
        ),
        (
            format!("{VERSION_LINE}\nconnection é\n"),
            "error: invalid connection name `é`\n \
             --> case.scenario:2:12\n  \
             |\n\
             2 | connection é\n  \
             |            ^ expected letters, digits, `_` and `-`, starting with a letter or `_`, at most 32 bytes, and none of `send`, `expect`, `shutdown`, `close`",
        ),
        (
            format!("{VERSION_LINE}\nconnection a\n  send \"tab\\q\""),
            "error: invalid escape\n \
             --> case.scenario:3:12\n  \
             |\n\
             3 |   send \"tab\\q\"\n  \
             |            ^^ expected one of `\\n`, `\\r`, `\\t`, `\\\\`, `\\\"`, `\\xNN`, `\\u{…}`",
        ),
    ];
    for (input, expected) in cases {
        let e = parse(&input).unwrap_err().with_origin("case.scenario");
        assert_eq!(e.to_string(), expected);
        assert_eq!(e.origin(), Some("case.scenario"));
    }
}

#[test]
fn plan_lists_are_capped() {
    let many = vec!["1"; crate::case::MAX_PLAN_ENTRIES + 1].join(" ");
    let input = format!("{VERSION_LINE}\nconnection a\nwrite-chunks {many}\n");
    let e = parse(&input).unwrap_err();
    assert_eq!(e.kind(), ParseErrorKind::NumberOutOfRange);
    assert_eq!(e.line_col(), (3, 14 + 2 * crate::case::MAX_PLAN_ENTRIES));
}

/// A file that looks like an attack on the parser still parses quickly: a huge `generated`
/// length is a number, never an allocation, and long lines are linear.
#[test]
fn big_inputs_are_cheap() {
    let input = format!(
        "{VERSION_LINE}\nconnection a\nsend generated 1GiB seed 1\nshutdown write\nexpect echo\nexpect eof\n"
    );
    let case = parse_case(&input).unwrap();
    assert_eq!(case.total_len(), 1 << 30);
    let long = format!(
        "{VERSION_LINE}\nconnection a\nsend \"{}\"\nexpect echo\nclose\n",
        "\\x00".repeat(200_000)
    );
    assert_eq!(parse_case(&long).unwrap().total_len(), 200_000);
}

fn metadata_text() -> impl Strategy<Value = String> {
    // No line breaks, no trailing spaces: what one line of metadata can hold.
    "[ -~é€]{0,30}".prop_map(|s| s.trim_end().to_string())
}

fn file_strategy() -> impl Strategy<Value = ScenarioFile> {
    (
        case_strategy(&CaseBounds::fuzzing()),
        proptest::option::of(any::<u64>()),
        proptest::option::of(metadata_text().prop_map(|s| s.trim().to_string())),
        proptest::collection::vec(metadata_text(), 0..4),
        proptest::collection::vec(
            metadata_text().prop_filter("a free comment is not metadata", |c| {
                !["seed:", "target:", "divergence:"]
                    .iter()
                    .any(|k| c.starts_with(k))
            }),
            0..4,
        ),
    )
        .prop_map(|(case, seed, target, divergence, comments)| ScenarioFile {
            seed,
            target,
            divergence,
            comments,
            ..ScenarioFile::from_case(&case)
        })
        .prop_flat_map(|file| {
            let through = (any::<u64>(), crate::proxy::chain_strategy(true))
                .prop_map(|(seed, chain)| Through { seed, chain });
            (Just(file), proptest::option::of(through))
        })
        .prop_map(|(file, through)| ScenarioFile { through, ..file })
}

/// A chain that does not parse is reported inside the `through` line: the line is the file's
/// and the column is that of the offending text within the chain.
#[test]
fn a_bad_chain_is_reported_where_it_stands_in_the_file() {
    let text = format!("{VERSION_LINE}\n\nthrough seed 3 up:slice=1..4 down:frobnicate=3\n");
    let e = parse(&text).expect_err("an unknown toxic");
    assert_eq!(e.kind(), ParseErrorKind::InvalidChain, "{e}");
    let (line, column) = e.line_col();
    let chain_at = "through seed 3 ".len() + 1;
    let bad_at = chain_at + "up:slice=1..4 ".len();
    assert_eq!(line, 3, "{e}");
    assert!(
        (bad_at..bad_at + "down:frobnicate=3".len()).contains(&column),
        "column {column} points into `down:frobnicate=3`: {e}"
    );
    // What the chain parser expected is shown too.
    assert!(e.to_string().contains("expected `slice`"), "{e}");
}

/// A `through` line keeps its seed and chain through print and parse, in both versions.
#[test]
fn through_lines_round_trip_in_both_versions() {
    for version in [VERSION_LINE, VERSION_LINE_V2] {
        let body = if version == VERSION_LINE {
            "connection c0\n  send \"x\"\n  expect echo\n  close\n"
        } else {
            "connection a\n\na send \"x\"\na expect echo\na close\n"
        };
        let text = format!("{version}\n\nthrough seed 42 up:slice=1..4\n\n{body}");
        let file = parse(&text).unwrap_or_else(|e| panic!("{e}"));
        let through = file.through.clone().expect("a through line");
        assert_eq!(through.seed, 42);
        assert_eq!(
            through.chain,
            crate::proxy::ToxicChain::parse("up:slice=1..4").unwrap()
        );
        assert_eq!(parse(&print(&file)).map_err(|e| e.to_string()), Ok(file));
    }
}

proptest! {
    // 256 cases per property (proptest's default) would do; 200 keeps the debug run short
    // while still drawing every conversation kind and payload form many times over.
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// The issue's round trip: every generated case prints and parses back equal.
    #[test]
    fn every_case_round_trips(case in case_strategy(&CaseBounds::default())) {
        let text = print_case(&case);
        prop_assert_eq!(parse_case(&text).map_err(|e| e.to_string()), Ok(case));
    }

    #[test]
    fn every_file_round_trips(file in file_strategy()) {
        let text = print(&file);
        prop_assert_eq!(parse(&text).map_err(|e| e.to_string()), Ok(file));
    }

    /// Garbage never panics; whatever parses prints and parses back to itself.
    #[test]
    fn arbitrary_text_never_panics(body in "(?s).{0,200}") {
        for input in [body.clone(), format!("{VERSION_LINE}\n{body}")] {
            if let Ok(file) = parse(&input) {
                prop_assert_eq!(parse(&print(&file)), Ok(file));
            }
        }
    }

    /// Near misses of real files: one character of a printed case replaced, removed or doubled.
    #[test]
    fn mutated_files_never_panic(
        case in case_strategy(&CaseBounds::fuzzing()),
        at in any::<prop::sample::Index>(),
        what in 0..3u8,
        with in prop_oneof![Just('"'), Just('\\'), Just('\n'), Just('#'), Just(' '), Just('9'), any::<char>()],
    ) {
        check_mutation(&print_case(&case), at, what, with)?;
    }
}

/// Found by the `scenario_parse` fuzz target: a lone `\r` in the target line read back as a
/// space once printed, so the printed file meant something else.
#[test]
fn a_lone_carriage_return_in_the_target_survives_print_and_parse() {
    let text = "# echo-harness scenario v1\n# target: a\rb\n\nconnection c0\n  send \"x\"\n  shutdown write\n  expect echo\n  expect eof\n";
    let file = parse(text).unwrap();
    assert_eq!(file.target.as_deref(), Some("a\rb"));
    assert_eq!(parse(&print(&file)).unwrap(), file);
}

/// One character of `text` replaced by `with` (`what` 0), removed (1) or doubled (2) at `at`:
/// the parser must not panic, what parses must round-trip, and an error must render and point
/// inside the input. The near-miss properties of both versions use it.
pub(super) fn check_mutation(
    text: &str,
    at: prop::sample::Index,
    what: u8,
    with: char,
) -> Result<(), TestCaseError> {
    let chars: Vec<char> = text.chars().collect();
    let i = at.index(chars.len());
    let mut mutated = chars.clone();
    match what {
        0 => mutated[i] = with,
        1 => {
            mutated.remove(i);
        }
        _ => mutated.insert(i, chars[i]),
    }
    let mutated: String = mutated.into_iter().collect();
    match parse(&mutated) {
        Ok(file) => prop_assert_eq!(parse(&print(&file)), Ok(file)),
        Err(e) => {
            prop_assert!(e.span().end <= mutated.len());
            prop_assert!(e.to_string().starts_with("error: "));
        }
    }
    Ok(())
}
