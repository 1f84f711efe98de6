//! The `echo-harness` binary's entry point: it parses the arguments and hands off to the
//! library's `cli` module, then turns the outcome into an exit code and one line on stderr.

use clap::Parser;
use echo_harness::cli::{self, Cli};
use echo_harness::ExitCode;

fn main() -> std::process::ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // `--help` and `--version` are "errors" to clap; they print to stdout and exit 0.
            if !e.use_stderr() {
                let _ = e.print();
                return ExitCode::Success.into();
            }
            // clap's message starts with `error:`; give it the prefix every other error has.
            eprint!("echo-harness: {}", e.render());
            return ExitCode::Usage.into();
        }
    };
    match cli::run(cli) {
        Ok(code) => code.into(),
        // A closed stdout ends the command quietly and successfully.
        Err(failure) if failure.code == ExitCode::Success => ExitCode::Success.into(),
        Err(failure) => {
            eprintln!("echo-harness: error: {}", cli::one_line(&failure.error));
            failure.code.into()
        }
    }
}
