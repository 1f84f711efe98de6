//! `echo-harness serve`: the echo server on an address, until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;

use super::{logging, signal, value, Failure};
use crate::{bind_listener, EchoServer, ExitCode, ServerConfig};

/// File descriptors kept free for everything that is not a client connection (listener,
/// stdio, logging, the runtime's own, and the fast path's pipes: at most 64, two each).
const RESERVED_FDS: u64 = 64 + 2 * 64;

#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on; port 0 picks a free port. The real address is printed as
    /// `listening on ADDR` once the server accepts connections.
    #[arg(long, short, default_value = "127.0.0.1:8080", value_parser = value::address)]
    listen: SocketAddr,

    /// Most connections served at once; the next one is accepted and closed at once. Default:
    /// the open-files limit (raised to its hard limit at start) minus 64.
    #[arg(long, value_name = "N")]
    max_connections: Option<usize>,

    /// Close a connection on which no byte moved either way for this long (`off` disables).
    #[arg(long, value_name = "DUR", default_value = "5m", value_parser = value::optional_duration)]
    idle_timeout: value::MaybeDuration,

    /// On the first SIGINT/SIGTERM the listener closes (new clients are refused) and open
    /// connections are served on until their client ends them, for at most DUR; the ones still
    /// open then are closed after everything already read is written back. A second signal
    /// stops at once. The default fits a developer at a terminal (Ctrl-C waits at most 10 s,
    /// and Ctrl-C again stops now) and a stream on loopback or a LAN, which finishes well
    /// within it; it also fits inside the 30 s an orchestrator waits before SIGKILL.
    #[arg(long, value_name = "DUR", default_value = "10s", value_parser = value::duration)]
    grace: Duration,

    /// Worker threads of the server's runtime: 1 is a single-threaded runtime; default one
    /// per core.
    #[arg(long, value_name = "N")]
    threads: Option<usize>,

    /// Serve on the portable path (read into a buffer, write it back), as on systems other
    /// than Linux, instead of the Linux fast path. For comparisons and testing.
    #[arg(long)]
    portable: bool,

    /// On the fast path, echo streaming connections with splice(2) through pipes (less server
    /// CPU per byte; slower over loopback).
    #[arg(long)]
    splice: bool,

    /// Log each connection and each echo (`echoed N bytes: ...`, escaped) to stderr; -vv for more.
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,
}

pub(crate) fn serve(args: ServeArgs) -> Result<ExitCode, Failure> {
    logging::init(args.verbose);
    let max_connections = match args.max_connections {
        Some(0) => {
            return Err(Failure::usage(anyhow::anyhow!(
                "--max-connections must be at least 1"
            )))
        }
        Some(n) => n,
        None => default_max_connections(),
    };
    let config = ServerConfig {
        listen: args.listen,
        max_connections,
        idle_timeout: args.idle_timeout.0,
        shutdown_grace: args.grace,
        fast_path: !args.portable,
        splice: args.splice,
        ..ServerConfig::default()
    };
    let listener = bind_listener(config.listen, config.backlog).map_err(Failure::environment)?;
    if args.threads == Some(0) {
        return Err(Failure::usage(anyhow::anyhow!(
            "--threads must be at least 1"
        )));
    }
    let runtime = crate::runtime::build(args.threads)
        .context("cannot start the runtime")
        .map_err(Failure::environment)?;
    let mut server = EchoServer::new(config);
    server.say_drain_to(signal::say);
    tracing::debug!("max connections {max_connections}");
    signal::serve_until_stopped(
        runtime,
        listener,
        "server",
        |listener, stop| server.run(listener, stop),
        || server.stop_now(),
    )?;
    Ok(ExitCode::Success)
}

/// Raises the soft open-files limit to the hard limit and derives the connection limit from it.
fn default_max_connections() -> usize {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) if limit > RESERVED_FDS => {
            usize::try_from(limit - RESERVED_FDS).unwrap_or(usize::MAX)
        }
        // No limit to read (Windows), or one too small to matter: fall back to the library's.
        _ => ServerConfig::default().max_connections,
    }
}
