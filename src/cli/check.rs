//! `echo-harness check`: a seeded randomized campaign against any echo server — the built-in
//! one (a self-test), an address, or a server this command starts itself.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use super::junit::CheckJunit;
use super::target::{output_tail_text, LeakArgs, ServerUnderTest, TargetArgs};
use super::{print_line, signal, value, Failure};
use crate::case::CaseBounds;
use crate::proxy::{Proxy, ProxyConfig, ToxicChain};
use crate::{Check, DivergenceKind, ExitCode, Verdict};

/// Bump when a field of the JSON output changes meaning or goes away.
const JSON_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, clap::Args)]
pub(crate) struct CheckArgs {
    #[command(flatten)]
    target: TargetArgs,

    /// Seed of the case sequence (default: random, printed first). The same seed plays the same
    /// cases in the same order.
    #[arg(long, value_name = "N")]
    seed: Option<u64>,

    /// Most cases to play (default 100, or unlimited with --duration).
    #[arg(long, value_name = "N")]
    cases: Option<u32>,

    /// Stop starting new cases after DUR (with --cases too: whichever comes first).
    #[arg(long, value_name = "DUR", value_parser = value::duration)]
    duration: Option<Duration>,

    /// Cases played at once, each on its own connections [default: 8]. A case spends nearly
    /// all its time waiting (on its planned pauses, the kernel, the server), so 8 side by side
    /// play several times as many cases a second at little CPU cost. The cases and their order
    /// stay the seed's, a failure seen beside other cases counts only once it fails again played
    /// alone, and the case reported is the lowest failing index. 1 plays one case at a time.
    /// With --spawn, cases play in windows of N (4 at most) and descriptors and threads are
    /// judged between them;
    /// with --through, always 1 (the proxy seeds one play at a time).
    #[arg(long, value_name = "N")]
    jobs: Option<u32>,

    /// Most bytes one connection sends in a case, e.g. 64KiB, 4MiB.
    #[arg(long, value_name = "BYTES", default_value = "4MiB", value_parser = value::size)]
    max_size: usize,

    /// Most connections one case holds open at once.
    #[arg(long, value_name = "N", default_value_t = 4)]
    connections: usize,

    /// No-progress timeout: a connection fails when no byte moved either way for DUR. A failure
    /// whose only evidence is time is played again at 4x DUR before it counts.
    #[arg(long, value_name = "DUR", default_value = "2s", value_parser = value::duration)]
    timeout: Duration,

    /// Longest time spent shrinking a failure to a minimal case.
    #[arg(long, value_name = "DUR", default_value = "30s", value_parser = value::duration)]
    shrink_time: Duration,

    /// Folder where a failing case is saved as a scenario file.
    #[arg(long, value_name = "DIR", default_value = "echo-harness-failures")]
    save: PathBuf,

    /// Play every case through an in-process fault-injection proxy in front of the target,
    /// with this toxic chain (the grammar of `echo-harness proxy`), e.g. 'up:slice=1..16'. Each
    /// case gets a proxy seed of its own; a failure is saved with it, in a `through` line, and
    /// `replay` rebuilds the proxy.
    #[arg(long, value_name = "CHAIN")]
    through: Option<String>,

    /// Print one JSON object (with `schema_version`) instead of text; no progress bar.
    #[arg(long)]
    json: bool,

    /// Also write the run as JUnit XML to FILE (for CI): a testcase per case played, the failing
    /// one with the full report. Written on failure and on Ctrl-C too; a FILE that cannot be
    /// created exits 2 before anything runs.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,

    #[command(flatten)]
    leaks: LeakArgs,
}

pub(crate) fn check(args: CheckArgs) -> Result<ExitCode, Failure> {
    if args.connections == 0 {
        return Err(Failure::usage(anyhow::anyhow!(
            "--connections must be at least 1"
        )));
    }
    if args.cases == Some(0) {
        return Err(Failure::usage(anyhow::anyhow!(
            "--cases must be at least 1"
        )));
    }
    if args.jobs == Some(0) {
        return Err(Failure::usage(anyhow::anyhow!("--jobs must be at least 1")));
    }
    let chain = match &args.through {
        Some(text) => Some(value::toxic_chain(text, "--through", "nothing was run")?),
        None => None,
    };
    let Some(path) = &args.junit else {
        return run_campaign(&args, chain, None);
    };
    let mut junit = CheckJunit::create(path)?;
    let result = run_campaign(&args, chain, Some(&mut junit));
    junit.finish(result)
}

/// Starts the target, plays the campaign and reports it (recording it in `junit` too).
fn run_campaign(
    args: &CheckArgs,
    chain: Option<ToxicChain>,
    mut junit: Option<&mut CheckJunit>,
) -> Result<ExitCode, Failure> {
    let runtime = crate::runtime::build(Some(1))
        .context("cannot start the runtime")
        .map_err(Failure::environment)?;
    let stop = signal::StopSignal::install_on(&runtime)?;
    let target = ServerUnderTest::start(&args.target)?;
    if let Some(junit) = junit.as_deref_mut() {
        junit.target(&target);
    }
    let proxy = match &chain {
        Some(chain) => Some(Arc::new(
            Proxy::spawn(ProxyConfig {
                chain: chain.clone(),
                ..ProxyConfig::new(target.addr())
            })
            .context("cannot start the --through proxy")
            .map_err(Failure::environment)?,
        )),
        None => None,
    };
    let mut campaign = Check::new(target.addr())
        .cases_or_duration(args.cases, args.duration)
        .bounds(
            CaseBounds::default()
                .max_payload_len(args.max_size)
                .max_connections(args.connections),
        )
        .timeout(args.timeout)
        .shrink_time(args.shrink_time)
        .jobs(args.jobs.unwrap_or(crate::check::DEFAULT_JOBS));
    if let Some(seed) = args.seed {
        campaign = campaign.seed(seed);
    }
    if let Some(stats) = target.server_stats() {
        campaign = campaign.server_stats(stats);
    }
    if let Some(liveness) = target.liveness() {
        campaign = campaign.liveness(liveness);
    }
    campaign = match args.leaks.bound() {
        Some(bound) => campaign.leak_bound(bound),
        None => campaign.no_leak_checks(),
    };
    if let Some(probe) = target
        .resource_probe()
        .filter(|_| args.leaks.bound().is_some())
    {
        campaign = campaign.resource_probe(probe);
    }
    if let (Some(proxy), Some(chain)) = (&proxy, &chain) {
        campaign = campaign.through(Arc::clone(proxy), chain.clone());
        if args.jobs.is_some_and(|jobs| jobs > 1) {
            eprintln!(
                "echo-harness: note: --through plays one case at a time (--jobs 1): the proxy \
                 restarts its accept order with each case's seed, so cases at once would share it"
            );
        }
    }
    let seed = campaign.resolve_seed();
    let clock = junit.as_deref_mut().map(|junit| junit.start(seed));
    if !args.json {
        print_line(format_args!("seed: {seed}"))?;
        print_line(format_args!("target: {}", target.describe()))?;
        if let (Some(proxy), Some(chain)) = (&proxy, &chain) {
            print_line(format_args!(
                "through: a proxy at {} with `{chain}`",
                proxy.local_addr()
            ))?;
        }
    }
    let bar = progress_bar(args);
    if bar.is_some() || clock.is_some() {
        let bar = bar.clone();
        campaign = campaign.progress(Arc::new(move |progress| {
            if let Some(clock) = &clock {
                clock.case_passed(progress.case_elapsed);
            }
            if let Some(bar) = &bar {
                bar.set_position(u64::from(progress.cases));
                bar.set_message(format!("{} verified", human_bytes(progress.bytes_verified)));
            }
        }));
    }

    let verdict = runtime.block_on(signal::unless_interrupted(stop, campaign.run_async()));
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let Some(verdict) = verdict else {
        // The target (a spawned process group) is killed when `target` drops.
        if args.json {
            print_json(&serde_json::json!({
                "schema_version": JSON_SCHEMA_VERSION,
                "verdict": "interrupted",
                "seed": seed,
            }))?;
        } else {
            eprintln!("echo-harness: interrupted (seed {seed}); no verdict");
        }
        return Ok(ExitCode::Interrupted);
    };
    report(args, &target, &verdict, junit)
}

impl Check {
    /// `--cases` and `--duration` as the CLI takes them.
    fn cases_or_duration(self, cases: Option<u32>, duration: Option<Duration>) -> Check {
        let check = match cases {
            Some(cases) => self.cases(cases),
            None => self,
        };
        match duration {
            Some(duration) => check.duration(duration),
            None => check,
        }
    }
}

fn report(
    args: &CheckArgs,
    target: &ServerUnderTest,
    verdict: &Verdict,
    junit: Option<&mut CheckJunit>,
) -> Result<ExitCode, Failure> {
    let Some(failure) = &verdict.failure else {
        if let Some(junit) = junit {
            junit.verdict(verdict, "");
        }
        if args.json {
            print_json(&summary_json(verdict, serde_json::Value::Null))?;
        } else {
            print_line(format_args!("{verdict}"))?;
            if !verdict.unconfirmed.is_empty() {
                print_line(format_args!(
                    "note: {} failures passed when played again (timing-only ones slower, ones seen beside other cases alone; not counted)",
                    verdict.unconfirmed.len()
                ))?;
            }
        }
        return Ok(ExitCode::Success);
    };
    // Nothing was ever exchanged: the target was not there to begin with.
    let never_reached = failure.case_index == 0
        && failure.original_divergence.sent == 0
        && matches!(
            failure.original_divergence.kind,
            DivergenceKind::Refused | DivergenceKind::ConnectTimeout { .. }
        );
    if never_reached {
        return Err(Failure::environment(anyhow::anyhow!(
            "cannot reach {}: {}",
            target.addr(),
            failure.original_divergence.summary()
        )));
    }
    let server_output = target.output_tail();
    let file = verdict
        .scenario_file(&target.describe())
        .expect("a failing verdict has a minimal case");
    let saved = verdict.write_scenario(&args.save, &file);
    // The report as printed: the verdict (the shrunk case included) and the server's output.
    let mut printed = verdict.to_string();
    if let Some(tail) = output_tail_text(server_output.as_deref()) {
        printed = format!("{printed}\n{tail}");
    }
    if let Some(junit) = junit {
        let saved_line = match &saved {
            Ok(Some(path)) => format!("saved: {}", path.display()),
            Ok(None) => String::new(),
            Err(e) => format!("not saved: {e:#}"),
        };
        let report = format!("target: {}\n{printed}\n{saved_line}", target.describe());
        junit.verdict(verdict, &report);
    }
    if args.json {
        let failure_json = serde_json::json!({
            "kind": failure.divergence.kind.name(),
            "connection": failure.divergence.connection,
            "summary": failure.divergence.summary(),
            "report": failure.divergence.to_string(),
            "confirmed": failure.divergence.confirmed,
            "case_index": failure.case_index,
            "shrink_steps": failure.shrink_steps,
            "shrink_ms": failure.shrink_elapsed.as_millis() as u64,
            "shrink_hit_bound": failure.shrink_hit_bound,
            "minimal_connections": failure.minimal.connections.len(),
            "minimal_bytes": failure.minimal.total_len(),
            "through": failure.through.as_ref().map(|t| serde_json::json!({
                "seed": t.seed,
                "chain": t.chain.to_string(),
            })),
            "scenario": file.to_string(),
            "saved": saved.as_ref().ok().and_then(Option::as_ref).map(|p| p.display().to_string()),
            "server_output": server_output,
        });
        print_json(&summary_json(verdict, failure_json))?;
    } else {
        print_line(format_args!("{printed}"))?;
        match &saved {
            Ok(Some(path)) => print_line(format_args!("saved: {}", path.display()))?,
            Ok(None) => {}
            Err(e) => eprintln!("echo-harness: warning: cannot save the failing case: {e}"),
        }
    }
    Ok(ExitCode::CheckFailed)
}

fn summary_json(verdict: &Verdict, failure: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "schema_version": JSON_SCHEMA_VERSION,
        "verdict": if verdict.passed() { "passed" } else { "failed" },
        "seed": verdict.seed,
        "target": verdict.target.to_string(),
        "cases": verdict.cases,
        "connections": verdict.connections,
        "bytes_verified": verdict.bytes_verified,
        "elapsed_ms": verdict.elapsed.as_millis() as u64,
        "jobs": verdict.jobs,
        "unconfirmed": verdict.unconfirmed.len(),
        "server_saw_fragments": { "multi_read": verdict.fragmented.0, "multi_chunk": verdict.fragmented.1 },
        "failure": failure,
    })
}

fn print_json(value: &serde_json::Value) -> Result<(), Failure> {
    print_line(format_args!("{value}"))
}

fn progress_bar(args: &CheckArgs) -> Option<indicatif::ProgressBar> {
    if args.json || !std::io::stdout().is_terminal() {
        return None;
    }
    let bar = match (args.cases, args.duration) {
        (None, Some(_)) => indicatif::ProgressBar::new_spinner(),
        (cases, _) => {
            indicatif::ProgressBar::new(u64::from(cases.unwrap_or(crate::check::DEFAULT_CASES)))
        }
    };
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{spinner} {pos}/{len} cases {msg} [{elapsed}]")
    {
        bar.set_style(style);
    }
    Some(bar)
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}
