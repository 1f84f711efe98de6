//! The round trip of printer and parser: the golden files pin both down, and every generated
//! case, file and script prints and parses back equal (`parse(&print(&file)) == Ok(file)`).

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

use super::{
    sample_case, sample_case_file, sample_script, sample_script_file, SAMPLE_CASE_TEXT,
    SAMPLE_SCRIPT_TEXT,
};
use crate::case::CaseBounds;
use crate::scenario::{
    parse, parse_case, print, print_case, script_strategy, Expectation, ScenarioFile, Script, Step,
    Through,
};
use crate::strategy::case_strategy;

#[test]
fn golden_print() {
    assert_eq!(print(&sample_case_file()), SAMPLE_CASE_TEXT);
    assert_eq!(sample_case_file().to_string(), SAMPLE_CASE_TEXT);
    // A case alone prints without metadata, and displays (and debugs) as its scenario.
    let bare = print_case(&sample_case());
    assert!(bare.starts_with("# echo-harness scenario v1\n\npause-scale 1/100\n"));
    assert_eq!(sample_case().to_string(), bare);
    assert_eq!(format!("{:?}", sample_case()), format!("\n{bare}"));
}

#[test]
fn golden_parse() {
    assert_eq!(parse(SAMPLE_CASE_TEXT), Ok(sample_case_file()));
    assert_eq!(
        SAMPLE_CASE_TEXT.parse::<ScenarioFile>(),
        Ok(sample_case_file())
    );
}

#[test]
fn golden_v2_print_and_parse() {
    assert_eq!(print(&sample_script_file()), SAMPLE_SCRIPT_TEXT);
    assert_eq!(parse(SAMPLE_SCRIPT_TEXT), Ok(sample_script_file()));
    let file = parse(SAMPLE_SCRIPT_TEXT).unwrap();
    assert_eq!(
        file.to_case(),
        None,
        "top-level steps of no hold: a script, no case"
    );
    assert!(print(&ScenarioFile::new(sample_script()))
        .starts_with("# echo-harness scenario v2\n\npause-scale"));
    assert_eq!(sample_script().validate(), Ok(()));
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
                Step::Reset { .. } => "reset",
                Step::Sleep(_) => "sleep",
            });
        }
    }
    assert_eq!(seen.len(), 11, "{seen:?}");
}

fn metadata_text() -> impl Strategy<Value = String> {
    // No line breaks, no trailing spaces: what one line of metadata can hold.
    "[ -~é€]{0,30}".prop_map(|s| s.trim_end().to_string())
}

fn case_file_strategy() -> impl Strategy<Value = ScenarioFile> {
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

fn script_file_strategy() -> impl Strategy<Value = ScenarioFile> {
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
    // 256 cases per property (proptest's default) would do; 200 keeps the debug run short
    // while still drawing every conversation kind, payload form and kind of step many times
    // over (see `every_step_kind_is_drawn_by_the_strategy`).
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// The round trip: every generated case prints and parses back equal.
    #[test]
    fn every_case_round_trips(case in case_strategy(&CaseBounds::default())) {
        let text = print_case(&case);
        prop_assert_eq!(parse_case(&text).map_err(|e| e.to_string()), Ok(case));
    }

    #[test]
    fn every_file_round_trips(file in case_file_strategy()) {
        let text = print(&file);
        prop_assert_eq!(parse(&text).map_err(|e| e.to_string()), Ok(file));
    }

    /// The round trip for scripts with top-level steps: every script prints and
    /// parses back equal.
    #[test]
    fn every_script_round_trips(script in script_strategy(&CaseBounds::default(), 32)) {
        prop_assert_eq!(script.validate(), Ok(()));
        let text = print(&ScenarioFile::new(script.clone()));
        let back = parse(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(back.script, script);
    }

    #[test]
    fn every_v2_file_round_trips(file in script_file_strategy()) {
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
}
