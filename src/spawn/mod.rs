//! Running the server under test as a child process: [`SpawnOptions`] describes how to start it
//! and how to tell that it is ready, and [`SpawnedTarget`] owns the running process until it is
//! dropped.
//!
//! This is the machinery behind `check --spawn 'CMD'` (and, with an `{upstream}` placeholder,
//! behind checking somebody else's proxy). It exists so that a campaign can test any echo server
//! without leaving stray processes behind, and so that a server which never comes up, or dies
//! half-way, is reported with what it said on its way out.
//!
//! # Starting
//! CMD is split like shell words ([`shell_words::split`]) and the first word is started
//! *directly*, without a shell, in a process group of its own (on unix), with stdin closed and
//! stdout and stderr captured.
//!
//! # Placeholders and readiness
//! Placeholders are substituted inside each word after splitting, so a substituted value never
//! splits into several words. `{{` stands for a literal `{`; any other brace that does not open a
//! `{name}` is kept as it is. An unknown `{name}` is an error rather than being passed through,
//! because a typo like `{adr}` would otherwise show up much later as a confusing "never ready".
//!
//! | CMD contains | the server is given | it is ready when | its address is |
//! | --- | --- | --- | --- |
//! | `{addr}` | `127.0.0.1:0` | a line of its output matches the readiness pattern | the pattern's first capture group |
//! | `{port}` | a port we found free | a TCP connect to `127.0.0.1:PORT` succeeds | `127.0.0.1:PORT` |
//! | neither, with [`SpawnOptions::target_addr`] | nothing | a TCP connect to that address succeeds | that address |
//! | neither, without it | nothing | a line matches the readiness pattern | the first capture group |
//!
//! The last row covers servers that pick their own port and announce it. The readiness pattern
//! defaults to [`DEFAULT_READY_PATTERN`] and is matched against whole lines (a line must end in a
//! newline to be seen) of stdout and stderr alike. A captured `0.0.0.0` or `::` is turned into the
//! matching loopback address, since that is where a client on this machine reaches such a server.
//!
//! The connect probe of the `{port}` and explicit-address cases opens one connection and closes it
//! without sending anything: the server sees one extra, empty client before the campaign starts.
//! With `{port}`, a server that exits before it is ready (typically because someone else took the
//! port between our check and its `bind`) is started again on a new port, up to
//! [`SpawnOptions::port_attempts`] times. A foreign process that grabs the port *and* listens on it
//! could still answer the probe; we then check that our child is still alive, which catches the
//! usual case (our server exits with "address in use") but not a server that logs the failure and
//! carries on.
//!
//! Every wait is bounded by [`SpawnOptions::ready_timeout`]; nothing sleeps a fixed time hoping the
//! server is up. A server that exits first, or never says it is ready, is a [`SpawnError`] that
//! carries the tail of its output.
//!
//! [`SpawnOptions::spawn`] blocks until the server is ready or the timeout has passed: async
//! code calls it through `tokio::task::spawn_blocking`, which is safe here because the fork does
//! not happen on the calling thread (see Cleanup).
//!
//! # Output
//! Two reader threads drain stdout and stderr continuously into one ring buffer that keeps the
//! last [`OUTPUT_TAIL_CAPACITY`] bytes, in the order the chunks arrived, so a chatty server never
//! blocks on a full pipe and a failure report can quote what it said last
//! ([`SpawnedTarget::output_tail`]).
//!
//! # Cleanup
//! Dropping a [`SpawnedTarget`] sends SIGKILL to its whole process group (on other platforms it
//! kills the child alone), reaps the child, and joins the reader threads within a bound (a
//! grandchild that left the group could keep the pipes open forever; its reader is then left to
//! finish on its own). [`SpawnedTarget::shutdown`] asks politely first (SIGTERM, then SIGKILL
//! after a grace period).
//!
//! Being in its own group, the server does not get the terminal's Ctrl-C: the caller catches
//! SIGINT and drops the target, which kills the group. A caller that does not catch it dies of it,
//! and then the parent-death signal below still takes the server down on Linux.
//!
//! On Linux the child is also started with `PR_SET_PDEATHSIG = SIGKILL`, so it dies when we die
//! without running any destructor (a crash, SIGKILL, an unhandled signal). The kernel sends that
//! signal when the *thread* that forked the child exits, not the process, so children are forked
//! by one dedicated thread that lives as long as the process; otherwise a server spawned from a
//! short-lived worker (tokio's blocking pool retires idle threads after a few seconds) would be
//! killed in the middle of a campaign. The death signal reaches the direct child only: its own
//! children in the group are cleaned up by `Drop`, not by the kernel.

// Where each part lives: the options and the start sequence (with the `{port}` retry) in
// `options`, the command's words and placeholders in `template`, waiting for readiness in
// `readiness`, the output ring and its reader threads in `output`, forking, signalling and
// reaping in `process`, the public face of a running server in `target`, the errors in `error`.
mod error;
mod options;
mod output;
mod process;
mod readiness;
mod target;
mod template;

#[cfg(test)]
mod tests;

pub use error::{SpawnError, TargetExited};
pub use options::{
    SpawnOptions, DEFAULT_PORT_ATTEMPTS, DEFAULT_READY_PATTERN, DEFAULT_READY_TIMEOUT,
};
pub use output::OUTPUT_TAIL_CAPACITY;
pub use target::SpawnedTarget;
