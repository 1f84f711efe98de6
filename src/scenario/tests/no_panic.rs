//! The promise never to panic and never to hang: garbage, near misses of real files (one
//! character replaced, removed or doubled), and inputs sized like an attack.

use proptest::prelude::*;

use super::v2;
use crate::case::CaseBounds;
use crate::scenario::{
    parse, parse_case, print, print_case, script_strategy, ScenarioFile, VERSION_LINE,
};
use crate::strategy::case_strategy;

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

proptest! {
    // 256 cases per property (proptest's default) would do; 200 keeps the debug run short
    // while still drawing every conversation kind, payload form and kind of step many times
    // over.
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

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

    #[test]
    fn arbitrary_v2_text_never_panics(body in "(?s).{0,200}") {
        let input = v2(&body);
        if let Ok(file) = parse(&input) {
            prop_assert_eq!(parse(&print(&file)), Ok(file));
        }
    }

    /// Near misses of real files with top-level steps: one character replaced, removed or
    /// doubled.
    #[test]
    fn mutated_v2_files_never_panic(
        script in script_strategy(&CaseBounds::fuzzing(), 12),
        at in any::<prop::sample::Index>(),
        what in 0..3u8,
        with in prop_oneof![Just('"'), Just('x'), Just('\n'), Just('#'), Just(' '), Just('9'), any::<char>()],
    ) {
        check_mutation(&print(&ScenarioFile::new(script)), at, what, with)?;
    }
}

/// One character of `text` replaced by `with` (`what` 0), removed (1) or doubled (2) at `at`:
/// the parser must not panic, what parses must round-trip, and an error must render and point
/// inside the input. The near-miss properties of case files and script files use it.
fn check_mutation(
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
