//! The target a verdict command tests — the built-in server, an address, or a server the
//! command starts itself — shared by `check`, `run` and `replay`, so they take the same flags
//! and report a target the same way.

use std::net::SocketAddr;
use std::sync::{Arc, Once};
use std::time::Duration;

use super::{print_line, value, Failure};
use crate::check::Liveness;
use crate::leaks::{self, ResourceProbe};
use crate::spawn::{SpawnOptions, SpawnedTarget, DEFAULT_READY_PATTERN};
use crate::{EchoServer, ServerConfig, ServerHandle, ServerStats};

#[derive(Debug, clap::Args)]
pub(crate) struct TargetArgs {
    /// The echo server to test. Without --target or --spawn, the built-in server is tested.
    #[arg(long, value_name = "ADDR", value_parser = value::address, conflicts_with = "spawn", global = true)]
    pub(crate) target: Option<SocketAddr>,

    /// Start the server under test: CMD is split like shell words and run directly, in its own
    /// process group, killed on exit. With `{addr}` in CMD it is given 127.0.0.1:0 and its real
    /// address is read from its output (see --ready); with `{port}` a free port is chosen.
    /// With `{upstream}` CMD is a proxy under test: `{upstream}` is the address of a built-in
    /// echo server started for it, and every case goes through the proxy to that server.
    #[arg(long, value_name = "CMD", global = true)]
    pub(crate) spawn: Option<String>,

    /// With --spawn: the regex whose first group is the spawned server's address.
    #[arg(long, value_name = "REGEX", default_value = DEFAULT_READY_PATTERN, requires = "spawn", global = true)]
    pub(crate) ready: String,
}

/// The leak checks' flags, shared by `check`, `run` and `replay`.
#[derive(Debug, clap::Args)]
pub(crate) struct LeakArgs {
    /// How long the target may take to let go after a case: to close its side of every
    /// connection the case closed (on Linux, for a loopback target), and with --spawn for its
    /// process group's descriptors and threads to come back to their level.
    #[arg(long, value_name = "DUR", default_value = "1s", value_parser = value::duration)]
    leak_bound: Duration,

    /// Do not check that the target let go (sockets left open, descriptors, threads).
    #[arg(long, conflicts_with = "leak_bound")]
    no_leak_checks: bool,
}

impl LeakArgs {
    /// The bound, or `None` when the checks are off.
    pub(crate) fn bound(&self) -> Option<Duration> {
        (!self.no_leak_checks).then_some(self.leak_bound)
    }
}

/// What a command tests, kept alive for the whole run: dropping it stops the built-in server
/// or kills the spawned process group.
pub(crate) enum ServerUnderTest {
    Builtin(ServerHandle),
    Address(SocketAddr),
    Spawned {
        target: Arc<SpawnedTarget>,
        command: String,
        /// The built-in server behind a spawned proxy (`{upstream}`); it outlives the proxy,
        /// since fields drop in order.
        upstream: Option<ServerHandle>,
    },
}

/// The placeholder that makes a spawned command a proxy under test.
const UPSTREAM_PLACEHOLDER: &str = "{upstream}";

impl ServerUnderTest {
    /// Starts (or just names) the target the flags describe. Bad flags are usage errors; a
    /// server that cannot start or never becomes ready is an environment error.
    pub(crate) fn start(args: &TargetArgs) -> Result<ServerUnderTest, Failure> {
        if let Some(addr) = args.target {
            return Ok(ServerUnderTest::Address(addr));
        }
        if let Some(command) = &args.spawn {
            let mut options = SpawnOptions::new(command.clone()).ready_pattern(args.ready.clone());
            let proxy_under_test = command.contains(UPSTREAM_PLACEHOLDER);
            // Usage errors first, before an upstream server is started for nothing.
            let mut check = options.clone();
            if proxy_under_test {
                check = check.placeholder("upstream", "127.0.0.1:1");
            }
            check.validate().map_err(Failure::usage)?;
            let upstream = if proxy_under_test {
                let server = builtin_server()?;
                options = options.placeholder("upstream", server.local_addr().to_string());
                Some(server)
            } else {
                None
            };
            return match options.spawn() {
                Ok(spawned) => Ok(ServerUnderTest::Spawned {
                    target: Arc::new(spawned),
                    command: command.clone(),
                    upstream,
                }),
                Err(e) if e.is_usage_error() => Err(Failure::usage(e)),
                Err(e) => Err(Failure::environment(e)),
            };
        }
        Ok(ServerUnderTest::Builtin(builtin_server()?))
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        match self {
            ServerUnderTest::Builtin(server) => server.local_addr(),
            ServerUnderTest::Address(addr) => *addr,
            ServerUnderTest::Spawned { target, .. } => target.addr(),
        }
    }

    /// How reports and saved files name the target (recorded, never executed).
    pub(crate) fn describe(&self) -> String {
        match self {
            ServerUnderTest::Builtin(server) => {
                format!("built-in server at {}", server.local_addr())
            }
            ServerUnderTest::Address(addr) => addr.to_string(),
            ServerUnderTest::Spawned {
                target,
                command,
                upstream: None,
            } => format!("spawned `{command}` at {}", target.addr()),
            ServerUnderTest::Spawned {
                target,
                command,
                upstream: Some(server),
            } => format!(
                "spawned `{command}` at {}, in front of the built-in server at {}",
                target.addr(),
                server.local_addr()
            ),
        }
    }

    /// The built-in server's counters, when it is the target.
    pub(crate) fn server_stats(&self) -> Option<Arc<ServerStats>> {
        match self {
            ServerUnderTest::Builtin(server) => Some(server.stats()),
            _ => None,
        }
    }

    /// A probe that says how the spawned server died, when it has.
    pub(crate) fn liveness(&self) -> Option<Liveness> {
        match self {
            ServerUnderTest::Spawned { target, .. } => {
                let target = Arc::clone(target);
                Some(Arc::new(move || {
                    target.try_exit_status().map(|status| status.to_string())
                }))
            }
            _ => None,
        }
    }

    /// Measures a spawned server's process group (descriptors and threads). `None` for other
    /// targets; for a spawned one whose /proc cannot be read, `None` and a warning that the
    /// checks of its descriptors and threads are off.
    pub(crate) fn resource_probe(&self) -> Option<ResourceProbe> {
        let ServerUnderTest::Spawned { target, .. } = self else {
            return None;
        };
        let pgid = target.pid();
        if let Err(why) = leaks::process_group_level(pgid) {
            static OFF: Once = Once::new();
            let what = "the leak checks of the spawned server's descriptors and threads";
            leaks::warn_off_once(&OFF, what, &why);
            return None;
        }
        Some(Arc::new(move || leaks::process_group_level(pgid).ok()))
    }

    /// The last 64 KiB of a spawned server's output, for a failure's report.
    pub(crate) fn output_tail(&self) -> Option<String> {
        match self {
            ServerUnderTest::Spawned { target, .. } => Some(target.output_tail()),
            _ => None,
        }
    }
}

/// Prints a spawned server's last output under a failure report, when it said anything: what
/// `check`, `replay` and `bench` show after a divergence.
pub(crate) fn print_output_tail(output: Option<&str>) -> Result<(), Failure> {
    match output_tail_text(output) {
        Some(text) => print_line(format_args!("{text}")),
        None => Ok(()),
    }
}

/// The lines [`print_output_tail`] prints, if any (`check --junit` puts them in its report too).
pub(crate) fn output_tail_text(output: Option<&str>) -> Option<String> {
    output
        .filter(|o| !o.is_empty())
        .map(|output| format!("server output (last {} bytes):\n{output}", output.len()))
}

/// The built-in server as a target or as the upstream of a proxy under test: one worker
/// thread, so it leaves the other core to the client side.
fn builtin_server() -> Result<ServerHandle, Failure> {
    EchoServer::spawn(ServerConfig {
        worker_threads: Some(1),
        // When a run ends, a connection of a failed case may still be open (a stall): the
        // verdict is known, so its drain need not hold the exit up for the default grace.
        shutdown_grace: std::time::Duration::from_millis(100),
        ..ServerConfig::ephemeral()
    })
    .map_err(Failure::environment)
}
