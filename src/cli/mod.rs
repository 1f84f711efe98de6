//! The command-line tool: arguments, one function per command, and the mapping of every failure
//! to an [`ExitCode`]. `main.rs` parses and calls [`run`]; everything else lives here.

mod bench;
mod check;
mod client;
mod generate;
mod junit;
mod logging;
mod proxy;
mod run;
mod serve;
mod signal;
mod target;
mod value;

use clap::{Parser, Subcommand};

use crate::ExitCode;

/// TCP echo server, client and round-trip harness: proof that every byte survives the trip.
///
/// Exit codes: 0 success; 1 a check failed (the target misbehaved); 2 usage error or bad input;
/// 3 environment error (cannot bind, refused before the first exchange, cannot start a process);
/// 130 interrupted.
#[derive(Debug, Parser)]
#[command(name = "echo-harness", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the echo server (default 127.0.0.1:8080). Stops on SIGINT/SIGTERM, exit 0.
    Serve(serve::ServeArgs),
    /// The tutorial's interactive client: each line of stdin is sent and must come back.
    Client(client::ClientArgs),
    /// A seeded randomized campaign against an echo server: every byte must come back
    /// unchanged, however the stream is cut. Exit 1 with a minimised, saved case on failure.
    Check(check::CheckArgs),
    /// Play scenario files against a target (the built-in server by default), a verdict each.
    Run(run::RunArgs),
    /// Rerun one saved failure: exit 1 if it still reproduces, 0 if the case now passes.
    Replay(run::ReplayArgs),
    /// A fault-injection proxy in front of a server: seeded toxics cut, delay, limit, reset or
    /// black-hole the stream (default listen 127.0.0.1:8081). Stops on SIGINT/SIGTERM, exit 0.
    Proxy(proxy::ProxyArgs),
    /// Load generator: request/response, streams or held connections against an echo server
    /// (the built-in one by default), every byte that comes back verified. Exit 1 on a wrong byte.
    Bench(bench::BenchArgs),
    /// Write a man page (roff) or a shell completion script to stdout, from these definitions.
    Generate(generate::GenerateArgs),
}

/// A failed command: the error to print and the exit code it stands for.
#[derive(Debug)]
pub struct Failure {
    /// What the process exits with.
    pub code: ExitCode,
    /// What is printed, as one line, behind the `echo-harness: error:` prefix.
    pub error: anyhow::Error,
}

impl Failure {
    /// Bad input: a bad flag, address or file (exit 2).
    pub fn usage(error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            code: ExitCode::Usage,
            error: error.into(),
        }
    }

    /// The environment failed before the first exchange (exit 3).
    pub fn environment(error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            code: ExitCode::Environment,
            error: error.into(),
        }
    }

    /// The target misbehaved (exit 1).
    pub fn check(error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            code: ExitCode::CheckFailed,
            error: error.into(),
        }
    }

    /// Stop quietly with success: stdout was closed by its reader.
    fn stdout_closed() -> Failure {
        Failure {
            code: ExitCode::Success,
            error: anyhow::anyhow!("stdout closed"),
        }
    }
}

/// Runs the command `cli` names.
pub fn run(cli: Cli) -> Result<ExitCode, Failure> {
    match cli.command {
        Command::Serve(args) => serve::serve(args),
        Command::Client(args) => client::client(args),
        Command::Check(args) => check::check(args),
        Command::Run(args) => run::run(args),
        Command::Replay(args) => run::replay(args),
        Command::Proxy(args) => proxy::proxy(args),
        Command::Bench(args) => bench::bench(args),
        Command::Generate(args) => generate::generate(args),
    }
}

/// Renders an error and its causes as one line, `outer: inner: root`, leaving out a cause whose
/// text the line already carries (library errors often quote their source in their message).
pub fn one_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

/// Writes a line to stdout. A closed stdout (`echo-harness ... | head`) is not an error worth a
/// message: the reader has gone, so the caller stops quietly.
pub(crate) fn print_line(line: std::fmt::Arguments<'_>) -> Result<(), Failure> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    stdout_written(
        out.write_fmt(line)
            .and_then(|()| out.write_all(b"\n"))
            .and_then(|()| out.flush()),
    )
}

/// Writes `bytes` to stdout as they are, with [`print_line`]'s handling of a closed stdout.
pub(crate) fn write_stdout(bytes: &[u8]) -> Result<(), Failure> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    stdout_written(out.write_all(bytes).and_then(|()| out.flush()))
}

/// What a write to stdout means for the command: a closed stdout stops it quietly.
fn stdout_written(result: std::io::Result<()>) -> Result<(), Failure> {
    match result {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(Failure::stdout_closed()),
        Err(e) => Err(Failure::environment(anyhow::anyhow!(
            "cannot write to stdout: {e}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn one_line_joins_causes_and_skips_repeats() {
        let root = std::io::Error::other("refused");
        let error = anyhow::Error::new(root)
            .context("cannot connect: refused")
            .context("client");
        assert_eq!(one_line(&error), "client: cannot connect: refused");
        let error = anyhow::anyhow!("a").context("b");
        assert_eq!(one_line(&error), "b: a");
    }
}
