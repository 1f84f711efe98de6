//! `echo-harness run` and `echo-harness replay`: play scenario files against a target and give
//! a verdict per file. `run` is for many files (a regression corpus); `replay` reruns one saved
//! failure and says whether it still reproduces.
//!
//! Both take any scenario file, play its script with the one player, and report a failure as a
//! [`Divergence`](crate::Divergence) that names the failing step and its line.
//!
//! `run` lives here, `replay` in `replay`; what both share is in `play` (the flags, loading and
//! playing a file) and `report` (what is printed about a played file). Loading a file, the
//! files a folder stands for and a pass's figures are the library's, shared with
//! [`scenario::play_path`](crate::scenario::play_path).

mod play;
mod replay;
mod report;

pub(crate) use replay::{replay, ReplayArgs};

use std::path::PathBuf;

use super::target::{ServerUnderTest, TargetArgs};
use super::{print_line, Failure};
use crate::{scenario, ExitCode};
use play::{load, never_reached, play, play_options, unreachable, with_through, PlayArgs};
use report::{measured, print_steps};

#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
    /// Scenario files to play, in order; a folder stands for its *.scenario files, sorted. All
    /// are parsed first; one parse error and none runs.
    #[arg(required = true, value_name = "FILE|DIR")]
    files: Vec<PathBuf>,

    #[command(flatten)]
    target: TargetArgs,

    #[command(flatten)]
    play: PlayArgs,
}

pub(crate) fn run(args: RunArgs) -> Result<ExitCode, Failure> {
    let through = args.play.through()?;
    // A folder stands for its scenario files, as `scenario::play_path` plays them.
    let mut paths = Vec::with_capacity(args.files.len());
    for path in &args.files {
        match scenario::scenario_paths(path) {
            Ok(files) => paths.extend(files),
            // A missing file is reported as unreadable with the others below.
            Err(scenario::PlayPathError::Read { .. }) => paths.push(path.clone()),
            Err(e) => return Err(Failure::usage(anyhow::anyhow!("{e}; nothing was run"))),
        }
    }
    let mut scenarios = Vec::with_capacity(paths.len());
    let mut errors = Vec::new();
    for path in &paths {
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
            paths.len()
        )));
    }
    let target = ServerUnderTest::start(&args.target)?;
    let options = play_options(&target, &args.play);
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
