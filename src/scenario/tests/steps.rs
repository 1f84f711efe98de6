//! Steps and lanes: top-level steps in the shared lane and steps in a connection's block, a
//! lone name that is a step only when it names a declared connection, and which blocks make a
//! case (the three conversations) rather than a script.

use super::{ms, v2};
use crate::case::{Payload, WritePlan};
use crate::scenario::{parse, parse_case, ParseErrorKind, Step, VERSION_LINE};

/// Hand-written top-level steps: no indentation, comments between steps, defaults omitted, a
/// connection without settings, a trailing comment after a hex payload.
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

/// `reset`, in a block and top-level, with bytes owed; nothing may follow it, and it takes no
/// argument: both errors point at the place.
#[test]
fn reset_parses_anywhere_and_ends_its_connection() {
    let source = v2("connection a\nconnection b\n\
        a send \"0123456789\"\na expect bytes \"012\"\na reset\nb send \"x\"\nb reset\n");
    let script = parse(&source).unwrap_or_else(|e| panic!("{e}")).script;
    assert_eq!(
        script.steps[2],
        Step::Reset {
            connection: "a".into()
        }
    );
    assert_eq!(script.resets().collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(script.validate(), Ok(()));

    let after = parse(&v2("connection a\n  send \"x\"\n  reset\n  send \"y\"\n")).unwrap_err();
    assert_eq!(after.kind(), ParseErrorKind::UnexpectedStep, "{after}");
    assert_eq!(after.line_col(), (5, 3), "{after}");
    assert!(after.to_string().contains("already closed"), "{after}");

    let extra = parse(&v2("connection a\n  reset now\n")).unwrap_err();
    assert_eq!(extra.kind(), ParseErrorKind::TrailingInput, "{extra}");
    assert_eq!(extra.line_col(), (3, 9), "{extra}");

    // A connection may not be called `reset`: `NAME reset` would be ambiguous.
    let named = parse(&v2("connection reset\n")).unwrap_err();
    assert_eq!(named.kind(), ParseErrorKind::InvalidName, "{named}");
}
