//! `echo-harness client`: the tutorial's interactive client, fixed. Each line of stdin is sent,
//! newline included, and must come back byte for byte before the next one is sent.

use std::io::{BufRead, IsTerminal};
use std::net::SocketAddr;
use std::time::Duration;

use super::{print_line, value, Failure};
use crate::{escape_bytes, EchoClient, ExitCode};

#[derive(Debug, clap::Args)]
pub(crate) struct ClientArgs {
    /// The echo server to talk to.
    #[arg(long, short, default_value = "127.0.0.1:8080", value_parser = value::address)]
    connect: SocketAddr,

    /// How long connecting, and each wait for the echo, may take without progress.
    #[arg(long, value_name = "DUR", default_value = "5s", value_parser = value::duration)]
    timeout: Duration,
}

/// Sends each line of stdin (with its `\n`; a last line without one is sent as it is) and prints
/// `Server echoed: <line>` once the whole line came back. A line that is just `exit` (or the end
/// of input) quits. Bytes that are not UTF-8 are sent as they are and printed escaped.
pub(crate) fn client(args: ClientArgs) -> Result<ExitCode, Failure> {
    let mut client =
        EchoClient::connect(args.connect, args.timeout).map_err(Failure::environment)?;
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!(
            "connected to {}; type a line to echo it, `exit` or end of input to quit",
            args.connect
        );
    }
    let mut input = stdin.lock();
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = input
            .read_until(b'\n', &mut line)
            .map_err(|e| Failure::environment(anyhow::anyhow!("cannot read stdin: {e}")))?;
        if n == 0 {
            break;
        }
        let text = without_line_end(&line);
        if text == b"exit" {
            break;
        }
        client
            .echo(&line)
            .map_err(|e| Failure::check(anyhow::anyhow!("{}: {e}", args.connect)))?;
        print_line(format_args!("Server echoed: {}", escape_bytes(text)))?;
    }
    Ok(ExitCode::Success)
}

fn without_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}
