//! The header and the text around the steps: the version lines (`v1` and `v2` read one
//! language), metadata comments (`# seed:`, `# target:`, `# divergence:`) and free comments,
//! and what hand-written text may hold (a byte-order mark, CRLF, any indentation, comments).

use std::time::Duration;

use super::{ms, sample_case, v2};
use crate::case::{Conversation, PauseScale, Payload, WritePlan};
use crate::scenario::{
    parse, parse_case, print, LaneId, ParseErrorKind, ScenarioFile, VERSION_LINE,
};

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

/// Found by the `scenario_parse` fuzz target: a lone `\r` in the target line read back as a
/// space once printed, so the printed file meant something else.
#[test]
fn a_lone_carriage_return_in_the_target_survives_print_and_parse() {
    let text = "# echo-harness scenario v1\n# target: a\rb\n\nconnection c0\n  send \"x\"\n  shutdown write\n  expect echo\n  expect eof\n";
    let file = parse(text).unwrap();
    assert_eq!(file.target.as_deref(), Some("a\rb"));
    assert_eq!(parse(&print(&file)).unwrap(), file);
}
