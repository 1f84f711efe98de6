//! `echo-harness proxy`: the fault-injection proxy between a listen address and an upstream,
//! with a toxic chain from the command line, until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;

use super::{logging, signal, value, Failure};
use crate::{bind_listener, ExitCode, Proxy, ProxyConfig};

#[derive(Debug, clap::Args)]
pub(crate) struct ProxyArgs {
    /// Address to listen on; port 0 picks a free port. The real address is printed as
    /// `listening on ADDR` once the proxy accepts connections.
    #[arg(long, short, default_value = "127.0.0.1:8081", value_parser = value::address)]
    listen: SocketAddr,

    /// The server every connection is forwarded to. It need not be up yet: each connection
    /// that cannot reach it is reset on its own (logged with -v).
    #[arg(long, short, value_name = "ADDR", value_parser = value::address)]
    upstream: SocketAddr,

    /// Seed of every connection's faults: the same seed and the same accept order give the
    /// same slices, delays and toxicity decisions.
    #[arg(long, value_name = "N", default_value_t = 0)]
    seed: u64,

    /// Most bytes held per direction of a connection (read and not yet written).
    #[arg(long, value_name = "BYTES", default_value = "64KiB", value_parser = value::size)]
    buffer_size: usize,

    /// On the first SIGINT/SIGTERM the listener closes (new clients are refused) and open
    /// connections are proxied on until their client ends them, for at most DUR; the ones still
    /// open then are closed after everything already read is written back. A second signal
    /// stops at once. The default fits a developer at a terminal (Ctrl-C waits at most 10 s,
    /// and Ctrl-C again stops now) and a stream on loopback or a LAN, which finishes well
    /// within it; it also fits inside the 30 s an orchestrator waits before SIGKILL.
    #[arg(long, value_name = "DUR", default_value = "10s", value_parser = value::duration)]
    grace: Duration,

    /// Log each connection (accept index, the toxics the seed turned on, bytes, how it ended)
    /// to stderr; -vv for more.
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,

    /// The toxics, applied in order, e.g. `up:slice=1..16,delay=0..1ms latency=5ms@0.5`
    /// (the arguments are joined with spaces and parsed as one chain). None: a plain proxy.
    #[arg(value_name = "TOXIC")]
    toxics: Vec<String>,
}

pub(crate) fn proxy(args: ProxyArgs) -> Result<ExitCode, Failure> {
    logging::init(args.verbose);
    let text = args.toxics.join(" ");
    let chain = value::toxic_chain(&text, "<toxics>", "nothing was started")?;
    if args.buffer_size == 0 {
        return Err(Failure::usage(anyhow::anyhow!(
            "--buffer-size must be at least 1"
        )));
    }
    let config = ProxyConfig {
        listen: args.listen,
        chain,
        seed: args.seed,
        buffer_size: args.buffer_size,
        shutdown_grace: args.grace,
        ..ProxyConfig::new(args.upstream)
    };
    let listener = bind_listener(config.listen, 1024).map_err(Failure::environment)?;
    let runtime = crate::runtime::build(None)
        .context("cannot start the runtime")
        .map_err(Failure::environment)?;
    tracing::debug!(
        "forwarding to {} with seed {}; toxics: {}",
        config.upstream,
        config.seed,
        if config.chain.is_empty() {
            "none".to_string()
        } else {
            config.chain.to_string()
        }
    );
    let mut proxy = Proxy::new(config);
    proxy.say_drain_to(signal::say);
    signal::serve_until_stopped(
        runtime,
        listener,
        "proxy",
        |listener, stop| proxy.run(listener, stop),
        || proxy.stop_now(),
    )?;
    Ok(ExitCode::Success)
}
