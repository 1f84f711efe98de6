//! What `run` and `replay` print about a played file beyond its verdict: the figures of a pass
//! (the library's, as [`scenario::play_path`](crate::scenario::play_path) reports them) and,
//! with `--verbose`, a line per step and per connection.

pub(super) use crate::scenario::measured;

use crate::cli::{print_line, Failure};
use crate::roundtrip::{self, Divergence, Outcome};
use crate::scenario::{Expectation, LaneId, Script, Step};
use crate::script::StaticState;

/// A line per step, lane by lane, marked when the play failed at or before it; then what each
/// connection measured when the play passed. A connection's own steps read `NAME: what`, the
/// shared lane's `step N: STEP: mark`.
pub(super) fn print_steps(
    script: &Script,
    result: &Result<Outcome, Divergence>,
) -> Result<(), Failure> {
    let failed = result.as_ref().err();
    // Failed before the first step (connecting): nothing ran.
    let none_ran = failed.is_some_and(|d| d.step.is_none() && d.sent == 0);
    let mut states = vec![StaticState::default(); script.connections.len()];
    for (lane, steps) in script.lanes() {
        let failed_at = failed
            .and_then(|d| d.step.as_ref())
            .filter(|s| s.lane == lane)
            .map(|s| s.index);
        for (i, step) in steps.iter().enumerate() {
            let mark = match failed_at {
                Some(at) if i == at => "FAILED",
                Some(at) if i > at => "not run",
                _ if none_ran => "not run",
                _ => "ok",
            };
            match lane {
                LaneId::Shared => {
                    print_line(format_args!("  step {}: {step}: {mark}", i + 1))?;
                }
                LaneId::Own(c) => {
                    let name = &script.connections[c].name;
                    let what = short(step, &mut states[c]);
                    if mark == "ok" {
                        print_line(format_args!("  {name}: {what}"))?;
                    } else {
                        print_line(format_args!("  {name}: {what}: {mark}"))?;
                    }
                }
            }
        }
    }
    if let Ok(outcome) = result {
        for c in &outcome.connections {
            print_connection(c)?;
        }
    }
    Ok(())
}

/// A step of a connection's own lane in a few words, sizes rather than payloads; `state`
/// follows the connection's steps, to tell how long an echo is.
fn short(step: &Step, state: &mut StaticState) -> String {
    let before = state.expected;
    // The parser has applied every step already; this only counts.
    let _ = state.apply(step);
    let echoed = state.expected - before;
    match step {
        Step::Send {
            payload, repeat, ..
        } => format!("send {} bytes", payload.len() as u64 * u64::from(*repeat)),
        Step::Expect {
            expectation: Expectation::Eof,
            ..
        } => "expect eof".to_string(),
        Step::Expect {
            expectation: Expectation::Bytes(_),
            ..
        } => format!("expect {echoed} exact bytes"),
        Step::Expect { .. } => format!("expect echo of {echoed} bytes"),
        Step::ShutdownWrite { .. } => "shutdown write".to_string(),
        Step::Close { .. } => "close".to_string(),
        Step::Reset { .. } => "reset".to_string(),
        Step::Sleep(d) => format!("sleep {}", humantime::format_duration(*d)),
    }
}

fn print_connection(c: &roundtrip::ConnectionOutcome) -> Result<(), Failure> {
    let server = c
        .server_reads
        .map(|r| format!(", the server read it in {r} reads"))
        .unwrap_or_default();
    print_line(format_args!(
        "  {}: ok: sent {} bytes in {} writes, {} came back in {} reads{server}",
        c.name, c.sent, c.writes, c.received, c.reads
    ))
}
