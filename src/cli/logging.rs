//! Logging setup for the commands: `tracing` events to stderr, filtered by `-v` or `RUST_LOG`.

use std::io::IsTerminal;

/// Installs the subscriber: warnings by default, `-v` for debug (each echo, each connection),
/// `-vv` for trace. `RUST_LOG` overrides both.
pub(crate) fn init(verbosity: u8) {
    let default = match verbosity {
        0 => "warn",
        1 => "warn,echo_harness=debug",
        _ => "warn,echo_harness=trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // A second init (tests calling commands twice) is harmless; ignore it.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}
