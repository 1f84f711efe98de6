//! `check --junit FILE`: a campaign written as JUnit XML, the format CI systems and cargo-nextest
//! read. This module owns the format (a tiny writer and its escaping) and what of a campaign goes
//! into it: a `<testcase>` per case played, the failing case's full report in its `<failure>`,
//! the unconfirmed (timing-only) failures in the suite's `<system-out>`, and an `<error>` when
//! there is no verdict (interrupted, or the environment failed).
//!
//! The XML is written by hand: the format is small and fixed (two nesting levels, five element
//! names), and all it needs beyond `format!` is escaping, which is below and tested. A crate
//! (quick-junit) would bring an XML writer, UUIDs and timestamps for that.

use std::fmt::Write as _;
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::target::ServerUnderTest;
use super::{one_line, Failure};
use crate::{ExitCode, Verdict};

/// The classname of every test case, so CI groups them under one name.
const CLASSNAME: &str = "echo-harness.check";

/// One `<testsuite>`, as the writer takes it.
struct Suite {
    name: String,
    properties: Vec<(&'static str, String)>,
    cases: Vec<TestCase>,
    system_out: String,
    time: Duration,
}

/// One `<testcase>`.
struct TestCase {
    name: String,
    time: Option<Duration>,
    outcome: Outcome,
}

enum Outcome {
    Passed,
    /// `<failure>`: the target misbehaved.
    Failure(Problem),
    /// `<error>`: no verdict; the run was interrupted or the environment failed.
    Error(Problem),
}

/// What a `<failure>` or `<error>` carries: a one-line message, a type, and the full text.
struct Problem {
    message: String,
    kind: String,
    text: String,
}

impl Suite {
    fn to_xml(&self) -> String {
        let count = |f: fn(&Outcome) -> bool| self.cases.iter().filter(|c| f(&c.outcome)).count();
        let failures = count(|o| matches!(o, Outcome::Failure(_)));
        let errors = count(|o| matches!(o, Outcome::Error(_)));
        let (tests, time, name) = (self.cases.len(), seconds(self.time), attr(&self.name));
        // Writing to a String cannot fail.
        let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            xml,
            "<testsuites name=\"echo-harness\" tests=\"{tests}\" failures=\"{failures}\" \
             errors=\"{errors}\" time=\"{time}\">"
        );
        let _ = writeln!(
            xml,
            "  <testsuite name=\"{name}\" tests=\"{tests}\" failures=\"{failures}\" \
             errors=\"{errors}\" skipped=\"0\" time=\"{time}\">"
        );
        if !self.properties.is_empty() {
            xml.push_str("    <properties>\n");
            for (key, value) in &self.properties {
                let _ = writeln!(
                    xml,
                    "      <property name=\"{}\" value=\"{}\"/>",
                    attr(key),
                    attr(value)
                );
            }
            xml.push_str("    </properties>\n");
        }
        for case in &self.cases {
            let _ = write!(
                xml,
                "    <testcase name=\"{}\" classname=\"{CLASSNAME}\"",
                attr(&case.name)
            );
            if let Some(time) = case.time {
                let _ = write!(xml, " time=\"{}\"", seconds(time));
            }
            let (tag, problem) = match &case.outcome {
                Outcome::Passed => {
                    xml.push_str("/>\n");
                    continue;
                }
                Outcome::Failure(problem) => ("failure", problem),
                Outcome::Error(problem) => ("error", problem),
            };
            let _ = writeln!(
                xml,
                ">\n      <{tag} message=\"{}\" type=\"{}\">{}</{tag}>\n    </testcase>",
                attr(&problem.message),
                attr(&problem.kind),
                text(&problem.text)
            );
        }
        if !self.system_out.is_empty() {
            let _ = writeln!(
                xml,
                "    <system-out>{}</system-out>",
                text(&self.system_out)
            );
        }
        xml.push_str("  </testsuite>\n</testsuites>\n");
        xml
    }
}

fn seconds(duration: Duration) -> String {
    format!("{:.3}", duration.as_secs_f64())
}

/// `value` escaped for element text.
fn text(value: &str) -> String {
    escape(value, false)
}

/// `value` escaped for an attribute in double quotes. Line breaks and tabs become character
/// references: a parser would turn them into spaces otherwise.
fn attr(value: &str) -> String {
    escape(value, true)
}

/// Escapes the markup characters, and replaces the characters XML 1.0 forbids anywhere (the C0
/// controls other than tab, LF and CR, U+FFFE and U+FFFF) by the crate's `\xNN`/`\u{..}`
/// escapes: a report can hold a server's raw output, and one such byte would make the whole
/// file unreadable. CR is always a reference, since parsers normalise a literal CR to LF.
fn escape(value: &str, in_attribute: bool) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if in_attribute => out.push_str("&quot;"),
            '\n' if in_attribute => out.push_str("&#10;"),
            '\t' if in_attribute => out.push_str("&#9;"),
            '\r' => out.push_str("&#13;"),
            '\t' | '\n' => out.push(c),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            '\u{fffe}' | '\u{ffff}' => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// Each passing case's time, from `check`'s progress hook (called once per passing case, in
/// the sequence's order), and when the last of them was counted.
///
/// A case's time is its own play's, not the gap since the case before it: with `--jobs`, cases
/// overlap and are counted in bursts, so the gaps said nothing about any one case.
pub(crate) struct CaseClock(Mutex<ClockState>);

struct ClockState {
    started: Instant,
    /// The play time of each passing case, in order.
    times: Vec<Duration>,
    /// When the last passing case was counted, from `started`.
    last_counted: Duration,
}

impl ClockState {
    fn new() -> ClockState {
        ClockState {
            started: Instant::now(),
            times: Vec::new(),
            last_counted: Duration::ZERO,
        }
    }
}

impl CaseClock {
    fn new() -> CaseClock {
        CaseClock(Mutex::new(ClockState::new()))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ClockState> {
        crate::sync::lock(&self.0)
    }

    /// Called by the progress hook after every passing case, with the time its play took.
    pub(crate) fn case_passed(&self, played: Duration) {
        let mut state = self.state();
        state.last_counted = state.started.elapsed();
        state.times.push(played);
    }

    /// The time each passing case took; the time since the last one was counted (the failing
    /// or interrupted case's: its judging, shrinking included); the time since the start.
    fn times(&self) -> (Vec<Duration>, Duration, Duration) {
        let state = self.state();
        let total = state.started.elapsed();
        let last = total.saturating_sub(state.last_counted);
        (state.times.clone(), last, total)
    }
}

/// `--junit FILE` for one `check` run: the file, created before anything runs so that a path
/// that cannot be written fails at once, and what the run found, written by [`finish`].
///
/// [`finish`]: CheckJunit::finish
pub(crate) struct CheckJunit {
    path: PathBuf,
    file: File,
    clock: Arc<CaseClock>,
    suite_name: String,
    properties: Vec<(&'static str, String)>,
    seed: Option<u64>,
    verdict: Option<(Vec<TestCase>, String)>,
}

impl CheckJunit {
    /// Creates FILE (and its folder). A path that cannot be written is bad input (exit 2).
    pub(crate) fn create(path: &Path) -> Result<CheckJunit, Failure> {
        let cannot = |e: std::io::Error| {
            Failure::usage(anyhow::anyhow!(
                "cannot write --junit {}: {e}; nothing was run",
                path.display()
            ))
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(cannot)?;
        }
        Ok(CheckJunit {
            path: path.to_path_buf(),
            file: File::create(path).map_err(cannot)?,
            clock: Arc::new(CaseClock::new()),
            suite_name: "echo-harness check".to_string(),
            properties: Vec::new(),
            seed: None,
            verdict: None,
        })
    }

    /// Names the suite after the target, once it runs.
    pub(crate) fn target(&mut self, target: &ServerUnderTest) {
        self.suite_name = format!("echo-harness check {}", target.addr());
        self.properties.push(("target", target.describe()));
    }

    /// Records the campaign's seed and starts the clock: returns it for the progress hook.
    pub(crate) fn start(&mut self, seed: u64) -> Arc<CaseClock> {
        self.seed = Some(seed);
        self.properties.push(("seed", seed.to_string()));
        *self.clock.state() = ClockState::new();
        Arc::clone(&self.clock)
    }

    /// Records the verdict: a passing case per case played, and the failing one, if any, with
    /// `report`, the text the CLI printed about it.
    pub(crate) fn verdict(&mut self, verdict: &Verdict, report: &str) {
        let (times, last, _) = self.clock.times();
        let mut cases: Vec<TestCase> = (0..verdict.cases)
            .map(|index| TestCase {
                name: case_name(index + 1, verdict.seed),
                time: times.get(index as usize).copied(),
                outcome: Outcome::Passed,
            })
            .collect();
        if let (Some(failure), Some(case)) = (&verdict.failure, cases.last_mut()) {
            case.time = Some(last);
            case.outcome = Outcome::Failure(Problem {
                message: failure.divergence.summary(),
                kind: failure.divergence.kind.name().to_string(),
                text: report.to_string(),
            });
        }
        let mut system_out = String::new();
        if !verdict.unconfirmed.is_empty() {
            let _ = write!(
                system_out,
                "{} timing-only failures passed when played again slower (not counted):",
                verdict.unconfirmed.len()
            );
            for divergence in &verdict.unconfirmed {
                let _ = write!(system_out, "\n\n{divergence}");
            }
        }
        self.verdict = Some((cases, system_out));
    }

    /// Writes the file for the run that ended with `result`, and returns `result`. Without a
    /// verdict (interrupted, or an error) the cases that passed are written, then an `<error>`.
    /// A file that cannot be written turns a success into exit 2; a failure keeps its code.
    pub(crate) fn finish(mut self, result: Result<ExitCode, Failure>) -> Result<ExitCode, Failure> {
        let (times, last, total) = self.clock.times();
        let (cases, system_out) = match self.verdict.take() {
            Some(found) => found,
            None => self.without_verdict(&result, times, last),
        };
        let suite = Suite {
            name: std::mem::take(&mut self.suite_name),
            properties: std::mem::take(&mut self.properties),
            cases,
            system_out,
            time: total,
        };
        let Err(e) = self.file.write_all(suite.to_xml().as_bytes()) else {
            return result;
        };
        let error = anyhow::anyhow!("cannot write --junit {}: {e}", self.path.display());
        match result {
            Ok(ExitCode::Success) => Err(Failure::usage(error)),
            other => {
                eprintln!("echo-harness: error: {error}");
                other
            }
        }
    }

    fn without_verdict(
        &self,
        result: &Result<ExitCode, Failure>,
        times: Vec<Duration>,
        last: Duration,
    ) -> (Vec<TestCase>, String) {
        let message = match result {
            Ok(ExitCode::Interrupted) => "interrupted by SIGINT or SIGTERM; no verdict".to_string(),
            Ok(code) => format!("ended with exit code {} and no verdict", code.code()),
            Err(failure) => one_line(&failure.error),
        };
        let passed = times.len() as u32;
        let mut cases: Vec<TestCase> = Vec::with_capacity(times.len() + 1);
        if let Some(seed) = self.seed {
            cases.extend(times.into_iter().enumerate().map(|(index, time)| TestCase {
                name: case_name(index as u32 + 1, seed),
                time: Some(time),
                outcome: Outcome::Passed,
            }));
        }
        cases.push(TestCase {
            // Before the seed is drawn no case has started: the target did not.
            name: self.seed.map_or_else(
                || "starting the target".to_string(),
                |seed| case_name(passed + 1, seed),
            ),
            time: Some(last),
            outcome: Outcome::Error(Problem {
                kind: match result {
                    Ok(ExitCode::Interrupted) => "interrupted",
                    Err(failure) if failure.code == ExitCode::Usage => "usage",
                    _ => "environment",
                }
                .to_string(),
                text: message.clone(),
                message,
            }),
        });
        (cases, String::new())
    }
}

/// `case N (seed S)`: N counts from 1, as the report and the saved file name do, and S is the
/// `--seed` that plays the same sequence again.
fn case_name(number: u32, seed: u64) -> String {
    format!("case {number} (seed {seed})")
}

#[cfg(test)]
mod tests;
