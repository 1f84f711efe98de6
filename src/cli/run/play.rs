//! How `run` and `replay` play a file: the flags they share ([`PlayArgs`]), reading and parsing
//! a scenario file, putting it behind the proxy `--through` asks for, and playing it once
//! against the server under test (a dead server taking the blame for what the socket said).

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;

use crate::check::blame_dying_server;
use crate::cli::target::{LeakArgs, ServerUnderTest};
use crate::cli::{signal, value, Failure};
use crate::leaks;
use crate::roundtrip::{Divergence, DivergenceKind, Outcome, PlayOptions};
use crate::scenario::{self, ScenarioFile, Through};

/// How `run` and `replay` play a file.
#[derive(Debug, clap::Args)]
pub(super) struct PlayArgs {
    /// No-progress timeout of every connection (a timing-only failure is replayed at 4x).
    #[arg(long, value_name = "DUR", default_value = "2s", value_parser = value::duration)]
    pub(super) timeout: Duration,

    /// Print a line per step of each scenario.
    #[arg(short, long)]
    pub(super) verbose: bool,

    /// Play every file through an in-process fault-injection proxy with this toxic chain (the
    /// grammar of `echo-harness proxy`), e.g. 'up:slice=1', in place of any `through` line.
    #[arg(long, value_name = "CHAIN")]
    through: Option<String>,

    /// With --through: the seed of the proxy's generators.
    #[arg(long, value_name = "N", default_value_t = 0, requires = "through")]
    through_seed: u64,

    #[command(flatten)]
    pub(super) leaks: LeakArgs,
}

impl PlayArgs {
    /// The proxy that --through asks for, parsed before anything runs.
    pub(super) fn through(&self) -> Result<Option<Through>, Failure> {
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

/// `file`, played through `through` (from --through) in place of its own `through` line.
pub(super) fn with_through(file: ScenarioFile, through: &Option<Through>) -> ScenarioFile {
    match through {
        Some(through) => file.with_through(through.clone()),
        None => file,
    }
}

/// Reads and parses one scenario file as [`scenario::play_path`] does; the error is the
/// rendered parse error (file:line:column, the line, a caret, what was expected) or the read
/// error.
pub(super) fn load(path: &Path) -> Result<ScenarioFile, String> {
    scenario::load(path).map_err(|e| match e {
        scenario::LoadError::Read(message) => format!("echo-harness: error: {message}"),
        scenario::LoadError::Parse(rendered) => rendered,
    })
}

pub(super) fn play_options(target: &ServerUnderTest, args: &PlayArgs) -> PlayOptions {
    PlayOptions {
        timeout: args.timeout,
        connect_timeout: args.timeout,
        server_stats: target.server_stats(),
        leak_bound: args.leaks.bound(),
        ..PlayOptions::default()
    }
}

/// Plays a file's case or script once (confirming a timing-only failure), through the proxy
/// of its `through` line when it has one (started for this file, stopped after it); `None`
/// when interrupted. With the leak checks on, a spawned target's process group must come back
/// to its level from before the play within the bound (the one case judged alone).
#[allow(clippy::type_complexity)]
pub(super) fn play(
    target: &ServerUnderTest,
    file: &ScenarioFile,
    options: &PlayOptions,
) -> Result<Option<Result<Outcome, Divergence>>, Failure> {
    let runtime = crate::runtime::build(Some(1))
        .context("cannot start the runtime")
        .map_err(Failure::environment)?;
    let stop = signal::StopSignal::install_on(&runtime)?;
    let probe = options.leak_bound.and_then(|_| target.resource_probe());
    let liveness = target.liveness();
    let played = runtime.block_on(signal::unless_interrupted(stop, async {
        let before = probe.as_ref().and_then(|probe| probe());
        let mut played = scenario::play_file(file, target.addr(), options).await;
        if let (Ok(Ok(outcome)), Some(probe), Some(before), Some(bound)) =
            (&played, &probe, before, options.leak_bound)
        {
            if let Some(growth) = leaks::judge_alone(probe, before, bound).await {
                // A passing play got back every byte it expected.
                let expected = outcome.bytes_verified();
                played = Ok(Err(growth.divergence(bound, expected, outcome)));
            }
        }
        match played {
            Ok(Err(divergence)) => Ok(Err(blame_dying_server(liveness.as_ref(), divergence).await)),
            other => other,
        }
    }));
    let result = match played {
        None => None,
        Some(Ok(result)) => Some(result),
        Some(Err(e)) => {
            return Err(Failure::environment(
                anyhow::Error::new(e).context("cannot start the proxy of the `through` line"),
            ))
        }
    };
    Ok(result)
}

pub(super) fn never_reached(divergence: &Divergence) -> bool {
    divergence.sent == 0
        && matches!(
            divergence.kind,
            DivergenceKind::Refused | DivergenceKind::ConnectTimeout { .. }
        )
}

pub(super) fn unreachable(target: &ServerUnderTest, divergence: &Divergence) -> Failure {
    Failure::environment(anyhow::anyhow!(
        "cannot reach {}: {}",
        target.addr(),
        divergence.summary()
    ))
}
