//! `echo-harness run` and `echo-harness replay`: play scenario files against a target and give
//! a verdict per file. `run` is for many files (a regression corpus); `replay` reruns one saved
//! failure and says whether it still reproduces.
//!
//! Both take any scenario file, play its script with the one player, and report a failure as a
//! [`Divergence`](crate::Divergence) that names the failing step and its line.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;

use super::target::{ServerUnderTest, TargetArgs};
use super::{print_line, signal, value, Failure};
use crate::check::blame_dead_server;
use crate::roundtrip::{self, Divergence, DivergenceKind, Outcome, PlayOptions};
use crate::scenario::{self, Expectation, LaneId, ScenarioFile, Script, Step, Through};
use crate::script::StaticState;
use crate::ExitCode;

#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
    /// Scenario files to play, in order. All are parsed first; one parse error and none runs.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,

    #[command(flatten)]
    target: TargetArgs,

    #[command(flatten)]
    play: PlayArgs,
}

/// How `run` and `replay` play a file.
#[derive(Debug, clap::Args)]
struct PlayArgs {
    /// No-progress timeout of every connection (a timing-only failure is replayed at 4x).
    #[arg(long, value_name = "DUR", default_value = "2s", value_parser = value::duration)]
    timeout: Duration,

    /// Print a line per step of each scenario.
    #[arg(short, long)]
    verbose: bool,

    /// Play every file through an in-process fault-injection proxy with this toxic chain (the
    /// grammar of `echo-harness proxy`), e.g. 'up:slice=1', in place of any `through` line.
    #[arg(long, value_name = "CHAIN")]
    through: Option<String>,

    /// With --through: the seed of the proxy's generators.
    #[arg(long, value_name = "N", default_value_t = 0, requires = "through")]
    through_seed: u64,
}

impl PlayArgs {
    /// The proxy that --through asks for, parsed before anything runs.
    fn through(&self) -> Result<Option<Through>, Failure> {
        self.through
            .as_deref()
            .map(|text| {
                Ok(Through {
                    seed: self.through_seed,
                    chain: value::toxic_chain(text, "--through", "nothing was run")?,
                })
            })
            .transpose()
    }
}

#[derive(Debug, clap::Args)]
pub(crate) struct ReplayArgs {
    /// The saved failure (a scenario file, as `check --save` writes it).
    #[arg(value_name = "FILE")]
    file: PathBuf,

    #[command(flatten)]
    target: TargetArgs,

    #[command(flatten)]
    play: PlayArgs,

    /// FILE is a crash input of this fuzz target (roundtrip, roundtrip_lifecycle, raw_stream,
    /// scenario_parse, proxy_roundtrip), not a scenario file. Without --target or --spawn it replays against
    /// the built-in server the way the target played it.
    #[arg(long, value_name = "FUZZ-TARGET")]
    artifact: Option<String>,

    /// With --artifact: print the input as a scenario file (to keep under tests/regressions/)
    /// instead of replaying it.
    #[arg(long, requires = "artifact")]
    print: bool,
}

pub(crate) fn run(args: RunArgs) -> Result<ExitCode, Failure> {
    let through = args.play.through()?;
    let mut scenarios = Vec::with_capacity(args.files.len());
    let mut errors = Vec::new();
    for path in &args.files {
        match load(path) {
            Ok(file) => scenarios.push((path, with_through(file, &through))),
            Err(message) => errors.push(message),
        }
    }
    if !errors.is_empty() {
        for error in &errors {
            eprintln!("{error}");
        }
        return Err(Failure::usage(anyhow::anyhow!(
            "{} of {} scenario files do not parse; nothing was run",
            errors.len(),
            args.files.len()
        )));
    }
    let target = ServerUnderTest::start(&args.target)?;
    let options = play_options(&target, args.play.timeout);
    let (mut passed, mut failed) = (0usize, 0usize);
    for (index, (path, file)) in scenarios.iter().enumerate() {
        let Some(result) = play(&target, file, &options)? else {
            eprintln!("echo-harness: interrupted after {passed} passed, {failed} failed");
            return Ok(ExitCode::Interrupted);
        };
        if args.play.verbose {
            print_steps(&file.script, &result)?;
        }
        match result {
            Ok(outcome) => {
                passed += 1;
                print_line(format_args!(
                    "PASS {}: {}",
                    path.display(),
                    measured(&outcome)
                ))?;
            }
            Err(divergence) => {
                if index == 0 && never_reached(&divergence) {
                    return Err(unreachable(&target, &divergence));
                }
                failed += 1;
                print_line(format_args!("FAIL {}: {divergence}", path.display()))?;
            }
        }
    }
    print_line(format_args!("{passed} passed, {failed} failed"))?;
    Ok(if failed == 0 {
        ExitCode::Success
    } else {
        ExitCode::CheckFailed
    })
}

pub(crate) fn replay(args: ReplayArgs) -> Result<ExitCode, Failure> {
    if let Some(name) = &args.artifact {
        return replay_artifact(&args, name);
    }
    let file = load(&args.file).map_err(|message| {
        eprintln!("{message}");
        Failure::usage(anyhow::anyhow!("{} does not parse", args.file.display()))
    })?;
    // The recorded target is for people: it is printed, never used or executed.
    if let Some(original) = &file.target {
        print_line(format_args!("originally failed against: {original}"))?;
    }
    if let Some(seed) = file.seed {
        print_line(format_args!("found by: check --seed {seed}"))?;
    }
    for line in &file.divergence {
        print_line(format_args!("original divergence: {line}"))?;
    }
    replay_file(&args, &file)
}

/// Plays a parsed scenario file against the target the flags name and reports.
fn replay_file(args: &ReplayArgs, file: &ScenarioFile) -> Result<ExitCode, Failure> {
    let through = args.play.through()?;
    let target = ServerUnderTest::start(&args.target)?;
    print_line(format_args!("replaying against: {}", target.describe()))?;
    match (&through, &file.through) {
        (Some(given), _) => print_line(format_args!("through a proxy (--through): {given}"))?,
        (None, Some(saved)) => print_line(format_args!(
            "through a proxy rebuilt from the file: {saved}"
        ))?,
        (None, None) => {}
    }
    let file = &with_through(file.clone(), &through);
    let options = play_options(&target, args.play.timeout);
    let Some(result) = play(&target, file, &options)? else {
        eprintln!("echo-harness: interrupted");
        return Ok(ExitCode::Interrupted);
    };
    if args.play.verbose {
        print_steps(&file.script, &result)?;
    }
    match result {
        Ok(outcome) => {
            print_line(format_args!("the case now passes: {}", measured(&outcome)))?;
            Ok(ExitCode::Success)
        }
        Err(divergence) if never_reached(&divergence) => Err(unreachable(&target, &divergence)),
        Err(divergence) => {
            print_line(format_args!("the failure reproduces:\n{divergence}"))?;
            if let Some(output) = target.output_tail().filter(|o| !o.is_empty()) {
                print_line(format_args!(
                    "server output (last {} bytes):\n{output}",
                    output.len()
                ))?;
            }
            Ok(ExitCode::CheckFailed)
        }
    }
}

/// `replay --artifact TARGET FILE`: FILE is a fuzz target's crash input, decoded the way that
/// target decodes it (the target is named, never guessed from the file).
fn replay_artifact(args: &ReplayArgs, name: &str) -> Result<ExitCode, Failure> {
    use crate::fuzzing::{self, InputVerdict};
    let target: fuzzing::FuzzTarget = name.parse().map_err(Failure::usage)?;
    let bytes = std::fs::read(&args.file)
        .map_err(|e| Failure::usage(anyhow::anyhow!("cannot read {}: {e}", args.file.display())))?;
    let scenario = fuzzing::artifact_to_scenario(target, &bytes);
    if args.print {
        let Some(file) = scenario else {
            return Err(Failure::usage(anyhow::anyhow!(
                "{} has no scenario form for {target} (the target rejects it, or it is scenario text already)",
                args.file.display()
            )));
        };
        print_line(format_args!("{}", scenario::print(&file).trim_end()))?;
        return Ok(ExitCode::Success);
    }
    // Against another server: play the decoded case like any scenario.
    if args.target.target.is_some() || args.target.spawn.is_some() {
        let Some(file) = scenario else {
            return Err(Failure::usage(anyhow::anyhow!(
                "{} does not decode to a case for {target}",
                args.file.display()
            )));
        };
        return replay_file(args, &file);
    }
    // Against the built-in server, the way the fuzz target played it.
    print_line(format_args!(
        "replaying {} as a {target} input against the built-in server{}",
        args.file.display(),
        if fuzzing::FAULT_INJECTION {
            " (with the planted fault)"
        } else {
            ""
        }
    ))?;
    match fuzzing::reproduce(target, &bytes) {
        Err(failure) => {
            print_line(format_args!("the failure reproduces:\n{failure}"))?;
            Ok(ExitCode::CheckFailed)
        }
        Ok(InputVerdict::Passed) => {
            print_line(format_args!("the input now passes"))?;
            Ok(ExitCode::Success)
        }
        Ok(InputVerdict::Rejected) => Err(Failure::usage(anyhow::anyhow!(
            "{target} rejects this input (it never plays it)"
        ))),
    }
}

/// `file`, played through `through` (from --through) in place of its own `through` line.
fn with_through(file: ScenarioFile, through: &Option<Through>) -> ScenarioFile {
    match through {
        Some(through) => file.with_through(through.clone()),
        None => file,
    }
}

/// Reads and parses one scenario file; the error is the rendered parse error (file:line:column,
/// the line, a caret, what was expected) or the read error.
fn load(path: &Path) -> Result<ScenarioFile, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("echo-harness: error: cannot read {}: {e}", path.display()))?;
    scenario::parse(&text).map_err(|e| e.with_origin(path.display().to_string()).render())
}

fn play_options(target: &ServerUnderTest, timeout: Duration) -> PlayOptions {
    PlayOptions {
        timeout,
        connect_timeout: timeout,
        server_stats: target.server_stats(),
        through: None,
    }
}

/// Plays a file's case or script once (confirming a timing-only failure), through the proxy
/// of its `through` line when it has one (started for this file, stopped after it); `None`
/// when interrupted.
#[allow(clippy::type_complexity)]
fn play(
    target: &ServerUnderTest,
    file: &ScenarioFile,
    options: &PlayOptions,
) -> Result<Option<Result<Outcome, Divergence>>, Failure> {
    let runtime = crate::runtime::build(Some(1))
        .context("cannot start the runtime")
        .map_err(Failure::environment)?;
    let played = runtime.block_on(signal::unless_interrupted(scenario::play_file(
        file,
        target.addr(),
        options,
    )));
    let result = match played {
        None => None,
        Some(Ok(result)) => Some(result),
        Some(Err(e)) => {
            return Err(Failure::environment(
                anyhow::Error::new(e).context("cannot start the proxy of the `through` line"),
            ))
        }
    };
    let liveness = target.liveness();
    Ok(result.map(|r| r.map_err(|d| blame_dead_server(liveness.as_ref(), d))))
}

fn never_reached(divergence: &Divergence) -> bool {
    divergence.sent == 0
        && matches!(
            divergence.kind,
            DivergenceKind::Refused | DivergenceKind::ConnectTimeout { .. }
        )
}

fn unreachable(target: &ServerUnderTest, divergence: &Divergence) -> Failure {
    Failure::environment(anyhow::anyhow!(
        "cannot reach {}: {}",
        target.addr(),
        divergence.summary()
    ))
}

fn measured(outcome: &Outcome) -> String {
    format!(
        "{} connections, {} bytes verified in {:.2?}",
        outcome.connections.len(),
        outcome.bytes_verified(),
        outcome.elapsed
    )
}

/// A line per step, lane by lane, marked when the play failed at or before it; then what each
/// connection measured when the play passed. A connection's own steps read `NAME: what`, the
/// shared lane's `step N: STEP: mark`.
fn print_steps(script: &Script, result: &Result<Outcome, Divergence>) -> Result<(), Failure> {
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
