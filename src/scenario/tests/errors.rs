//! Every error kind, where it points (line and column) and how it renders, from one input each:
//! in the header, settings and blocks, and in top-level steps.

use super::v2;
use crate::scenario::{parse, ParseErrorKind, VERSION_LINE};

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
             |            ^ expected letters, digits, `_` and `-`, starting with a letter or `_`, at most 32 bytes, and none of `send`, `expect`, `shutdown`, `close`, `reset`",
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
