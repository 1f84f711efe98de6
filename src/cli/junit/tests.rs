//! The JUnit writer's escaping and shape, read back by a real XML parser.

use std::time::Duration;

use super::{escape, CaseClock, Outcome, Problem, Suite, TestCase};

fn suite(message: &str, text: &str) -> Suite {
    Suite {
        name: "echo-harness check 127.0.0.1:1".to_string(),
        properties: vec![("seed", "7".to_string()), ("target", text.to_string())],
        cases: vec![
            TestCase {
                name: "case 1 (seed 7)".to_string(),
                time: Some(Duration::from_millis(1500)),
                outcome: Outcome::Passed,
            },
            TestCase {
                name: "case 2 (seed 7)".to_string(),
                time: None,
                outcome: Outcome::Failure(Problem {
                    message: message.to_string(),
                    kind: "mismatch".to_string(),
                    text: text.to_string(),
                }),
            },
        ],
        system_out: text.to_string(),
        time: Duration::from_millis(2250),
    }
}

/// Every character XML 1.0 allows, read back by the parser, must be what was written.
fn allowed(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{fffe}' && c != '\u{ffff}')
}

#[test]
fn every_byte_value_and_markup_survive_a_parser_in_text_and_attributes() {
    let mut text: String = (0u8..=0xff).map(char::from).collect();
    text.push_str("]]> <![CDATA[ &amp; \"quoted\" 'single' \r\n \u{fffe}\u{ffff} \u{1f600}");
    let xml = suite(&text, &text).to_xml();
    let document = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let expected: String = text
        .chars()
        .map(|c| {
            if allowed(c) {
                c.to_string()
            } else {
                escape(&c.to_string(), false)
            }
        })
        .collect();
    let failure = document
        .descendants()
        .find(|n| n.has_tag_name("failure"))
        .expect("a failure element");
    assert_eq!(failure.attribute("message"), Some(expected.as_str()));
    assert_eq!(failure.text(), Some(expected.as_str()));
    let out = document
        .descendants()
        .find(|n| n.has_tag_name("system-out"))
        .expect("system-out");
    assert_eq!(out.text(), Some(expected.as_str()));
    // The forbidden ones are shown as the crate's escapes, not dropped.
    assert!(expected.contains("\\x00\\x01"), "{expected:?}");
    assert!(expected.contains("\\x1b"));
    assert!(expected.contains("\\u{fffe}\\u{ffff}"));
}

#[test]
fn counts_and_times_are_in_the_suite_attributes() {
    let xml = suite("m", "t").to_xml();
    let document = roxmltree::Document::parse(&xml).unwrap();
    let root = document.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let suite = root
        .children()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    assert_eq!(
        suite.attribute("name"),
        Some("echo-harness check 127.0.0.1:1")
    );
    assert_eq!(suite.attribute("tests"), Some("2"));
    assert_eq!(suite.attribute("failures"), Some("1"));
    assert_eq!(suite.attribute("errors"), Some("0"));
    assert_eq!(suite.attribute("time"), Some("2.250"));
    let cases: Vec<_> = suite
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases[0].attribute("time"), Some("1.500"));
    assert_eq!(cases[0].attribute("classname"), Some("echo-harness.check"));
    assert_eq!(cases[1].attribute("time"), None);
    let seed = suite
        .descendants()
        .find(|n| n.has_tag_name("property") && n.attribute("name") == Some("seed"))
        .unwrap();
    assert_eq!(seed.attribute("value"), Some("7"));
}

/// A case's time is its own play's: with `--jobs`, cases are counted in bursts, and the gap since
/// the case counted before it (what the clock once recorded) is about zero.
#[test]
fn the_clock_keeps_each_cases_play_time_not_the_gap_between_counts() {
    let clock = CaseClock::new();
    let plays = [250, 1_500, 40].map(Duration::from_millis);
    for play in plays {
        clock.case_passed(play);
    }
    let (times, last, total) = clock.times();
    assert_eq!(times, plays);
    assert!(
        last <= total,
        "{last:?} since the last count, {total:?} in all"
    );
}
