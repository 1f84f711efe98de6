//! Settings: a connection's plan lists are capped, and the file's `through` line keeps its
//! seed and chain through print and parse and reports a bad chain where it stands.

use crate::scenario::{parse, print, ParseErrorKind, VERSION_LINE, VERSION_LINE_V2};

#[test]
fn plan_lists_are_capped() {
    let many = vec!["1"; crate::case::MAX_PLAN_ENTRIES + 1].join(" ");
    let input = format!("{VERSION_LINE}\nconnection a\nwrite-chunks {many}\n");
    let e = parse(&input).unwrap_err();
    assert_eq!(e.kind(), ParseErrorKind::NumberOutOfRange);
    assert_eq!(e.line_col(), (3, 14 + 2 * crate::case::MAX_PLAN_ENTRIES));
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

/// A `through` line keeps its seed and chain through print and parse, under either version
/// line, before connection blocks or top-level steps.
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

#[test]
fn lockstep_is_a_file_setting_that_prints_and_reparses() {
    let text =
        "# echo-harness scenario v2\nlockstep\nconnection c\n  c send \"ab\"\n  c expect echo\n";
    let file = crate::scenario::parse(text).unwrap();
    assert!(file.lockstep);
    let printed = crate::scenario::print(&file);
    assert!(printed.contains("\nlockstep\n"), "{printed}");
    assert!(crate::scenario::parse(&printed).unwrap().lockstep);
    assert!(
        !crate::scenario::parse(&text.replace("lockstep\n", ""))
            .unwrap()
            .lockstep
    );
    for (bad, kind) in [
        ("lockstep\nlockstep\n", "a second `lockstep`"),
        ("connection c\nlockstep\n", "`lockstep` after a connection"),
    ] {
        let text = format!("# echo-harness scenario v2\n{bad}connection d\n  d send \"x\"\n");
        let err = crate::scenario::parse(&text).unwrap_err().to_string();
        assert!(err.contains(kind), "{err}");
    }
}
