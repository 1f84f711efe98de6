//! `echo-harness replay`: rerun one saved failure and say whether it still reproduces. FILE is a
//! scenario file (as `check --save` writes it), or with `--artifact` a fuzz target's crash input,
//! replayed against the built-in server the way the target played it, or printed as a scenario.

use std::path::PathBuf;

use super::play::{load, never_reached, play, play_options, unreachable, with_through, PlayArgs};
use super::report::{measured, print_steps};
use crate::cli::print_line;
use crate::cli::target::print_output_tail;
use crate::cli::target::{ServerUnderTest, TargetArgs};
use crate::cli::Failure;
use crate::scenario::{self, ScenarioFile};
use crate::ExitCode;

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
    /// scenario_parse, proxy_roundtrip), not a scenario file, replayed the way the target played
    /// it, in lockstep: against the built-in server, or the server --target or --spawn names
    /// (a crash of your own server's fuzz target).
    #[arg(long, value_name = "FUZZ-TARGET")]
    artifact: Option<String>,

    /// With --artifact: print the input as a scenario file (to keep under tests/regressions/)
    /// instead of replaying it.
    #[arg(long, requires = "artifact")]
    print: bool,
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
    let options = play_options(&target, &args.play);
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
            print_output_tail(target.output_tail().as_deref())?;
            Ok(ExitCode::CheckFailed)
        }
    }
}

/// `replay --artifact TARGET FILE`: FILE is a fuzz target's crash input, decoded the way that
/// target decodes it (the target is named, never guessed from the file).
fn replay_artifact(args: &ReplayArgs, name: &str) -> Result<ExitCode, Failure> {
    use crate::fuzzing;
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
    // Against another server: through the target's own body too, in lockstep with that
    // server's socket (the kernel says when it has read each chunk), like a `#[test]` calling
    // `Harness::reproduce`.
    if args.target.target.is_some() || args.target.spawn.is_some() {
        let server = ServerUnderTest::start(&args.target)?;
        print_line(format_args!(
            "replaying {} as a {target} input against {}",
            args.file.display(),
            server.describe()
        ))?;
        let harness = fuzzing::Harness::address(server.addr());
        let result = harness.reproduce(target, &bytes);
        return artifact_verdict(target, result, server.output_tail().as_deref(), false);
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
    artifact_verdict(target, fuzzing::reproduce(target, &bytes), None, true)
}

/// What a replayed artifact did, as the command reports it.
fn artifact_verdict(
    target: crate::fuzzing::FuzzTarget,
    result: Result<crate::fuzzing::InputVerdict, crate::fuzzing::FuzzFailure>,
    output_tail: Option<&str>,
    built_in: bool,
) -> Result<ExitCode, Failure> {
    use crate::fuzzing::InputVerdict;
    match result {
        Err(failure) => {
            print_line(format_args!("the failure reproduces:\n{failure}"))?;
            print_output_tail(output_tail)?;
            Ok(ExitCode::CheckFailed)
        }
        Ok(InputVerdict::Passed) => {
            print_line(format_args!("the input now passes"))?;
            if built_in {
                // The commonest mistake: a crash of a user's own fuzz target replayed here.
                print_line(format_args!(
                    "note: this replayed against the built-in server. A crash from a fuzz target \
                     of your own server (`Harness::tokio(...)`) replays against that server: \
                     start it and pass --target ADDR, or --spawn CMD, or call \
                     `H.reproduce(FuzzTarget::{}, &bytes)` from a #[test] in your crate",
                    variant_name(target)
                ))?;
            }
            Ok(ExitCode::Success)
        }
        Ok(InputVerdict::Rejected) => Err(Failure::usage(anyhow::anyhow!(
            "{target} rejects this input (it never plays it)"
        ))),
    }
}

/// The target's name in Rust, as a user's test spells it.
fn variant_name(target: crate::fuzzing::FuzzTarget) -> String {
    target
        .name()
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}
