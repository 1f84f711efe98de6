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

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::io::{self, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use regex::Regex;

/// The readiness pattern used unless [`SpawnOptions::ready_pattern`] says otherwise: the line our
/// own `serve` command prints, with the address as the first capture group.
pub const DEFAULT_READY_PATTERN: &str = r"listening on (\S+)";

/// How long a server may take to become ready unless [`SpawnOptions::ready_timeout`] says otherwise.
pub const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(10);

/// How many times a `{port}` server is started on a fresh port before we give up.
pub const DEFAULT_PORT_ATTEMPTS: u32 = 5;

/// How much of the server's output (stdout and stderr together) is kept for failure reports.
pub const OUTPUT_TAIL_CAPACITY: usize = 64 * 1024;

/// What `{addr}` is replaced with: the server binds an ephemeral port and tells us which.
const EPHEMERAL_ADDR: &str = "127.0.0.1:0";

/// How much of the output tail an error's `Display` quotes; the full tail is in its field.
const DISPLAYED_TAIL: usize = 4 * 1024;

/// A line longer than this without a newline is not scanned for readiness; it is still recorded.
const MAX_SCANNED_LINE: usize = 64 * 1024;

/// How long `Drop` waits for the reader threads to see end-of-file after the group is killed.
const READER_JOIN_BOUND: Duration = Duration::from_secs(2);

/// How long an early exit waits for the readers to drain, so its report has the last words.
const DRAIN_ON_EXIT_BOUND: Duration = Duration::from_secs(1);

/// The longest single nap while polling for readiness or exit; the first naps are much shorter.
const MAX_POLL_INTERVAL: Duration = Duration::from_millis(25);

/// The longest a single connect probe may take before the next attempt.
const PROBE_CONNECT_TIMEOUT: Duration = Duration::from_millis(250);

/// Why a server could not be started or never became ready.
///
/// [`SpawnError::is_usage_error`] separates mistakes in the command or options (the caller's
/// fault; a CLI reports them as bad usage) from the environment failing us (cannot start, exited
/// early, never ready: `check` exits 3). A server that was ready and *then* died is not a
/// `SpawnError` but a [`TargetExited`], which the harness reports as a divergence.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpawnError {
    /// The command has an unbalanced quote or a trailing backslash.
    #[error("cannot split the command {command:?} into words")]
    BadCommand {
        /// The command as given.
        command: String,
        /// What the shell-words splitter said.
        #[source]
        source: shell_words::ParseError,
    },
    /// The command has no words at all.
    #[error("the command to spawn is empty")]
    EmptyCommand,
    /// The command uses `{name}` but nothing gives that placeholder a value.
    #[error("unknown placeholder {{{name}}} in the command (known: {known}; write {{{{ for a literal brace)")]
    UnknownPlaceholder {
        /// The placeholder's name, without braces.
        name: String,
        /// The placeholders that do have a value, for the message.
        known: String,
    },
    /// The caller tried to give `{addr}` or `{port}` a value of its own.
    #[error("placeholder {{{name}}} is filled in by the spawner and cannot be given a value")]
    ReservedPlaceholder {
        /// `addr` or `port`.
        name: String,
    },
    /// Two ways of finding the address were asked for at once.
    #[error("{reason}")]
    ConflictingOptions {
        /// Which ones, in a sentence.
        reason: &'static str,
    },
    /// The readiness pattern is not a valid regular expression.
    #[error("invalid readiness pattern {pattern:?}")]
    BadReadyPattern {
        /// The pattern as given.
        pattern: String,
        /// What the regex compiler said.
        #[source]
        source: regex::Error,
    },
    /// The readiness pattern is used to find the address but has no capture group for it.
    #[error("the readiness pattern {pattern:?} has no capture group for the address")]
    ReadyPatternWithoutCapture {
        /// The pattern as given.
        pattern: String,
    },
    /// The program could not be started at all (not found, not executable, ...).
    #[error("cannot start {program:?}")]
    CannotStart {
        /// The first word of the command.
        program: String,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// Something the spawner itself needs (a free port, a thread) was not available.
    #[error("{context}")]
    Io {
        /// What we were doing.
        context: &'static str,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// The server exited before it was ready, on every attempt we made.
    #[error(
        "the server exited ({status}) before it was ready, after {attempts} attempt(s){}",
        display_tail(output_tail)
    )]
    ExitedBeforeReady {
        /// How the last attempt ended.
        status: ExitStatus,
        /// How many times it was started (more than one only with `{port}`).
        attempts: u32,
        /// The last [`OUTPUT_TAIL_CAPACITY`] bytes of the last attempt's output.
        output_tail: String,
    },
    /// The server kept running but did not become ready within the timeout.
    #[error(
        "the server was not ready within {timeout:?}: {waiting_for}{}",
        display_tail(output_tail)
    )]
    NeverReady {
        /// The readiness timeout.
        timeout: Duration,
        /// What we were waiting for, in words (the pattern, or the address probed).
        waiting_for: String,
        /// The last [`OUTPUT_TAIL_CAPACITY`] bytes of its output.
        output_tail: String,
    },
    /// The readiness line matched, but what it captured is not an address we can connect to.
    #[error(
        "the readiness pattern captured {captured:?}, which is not a socket address{}",
        display_tail(output_tail)
    )]
    BadReadyAddress {
        /// The text of the first capture group.
        captured: String,
        /// The last [`OUTPUT_TAIL_CAPACITY`] bytes of its output.
        output_tail: String,
    },
}

impl SpawnError {
    /// Whether the fault is in the command or options rather than in the environment or the
    /// server: no process was started, and running again will fail the same way.
    pub fn is_usage_error(&self) -> bool {
        matches!(
            self,
            SpawnError::BadCommand { .. }
                | SpawnError::EmptyCommand
                | SpawnError::UnknownPlaceholder { .. }
                | SpawnError::ReservedPlaceholder { .. }
                | SpawnError::ConflictingOptions { .. }
                | SpawnError::BadReadyPattern { .. }
                | SpawnError::ReadyPatternWithoutCapture { .. }
        )
    }

    /// The server's last output, for the errors that happen after it was started.
    pub fn output_tail(&self) -> Option<&str> {
        match self {
            SpawnError::ExitedBeforeReady { output_tail, .. }
            | SpawnError::NeverReady { output_tail, .. }
            | SpawnError::BadReadyAddress { output_tail, .. } => Some(output_tail),
            _ => None,
        }
    }
}

/// A server that was ready and then exited: the harness turns this into a divergence.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "the server under test exited ({status}) during the run{}",
    display_tail(output_tail)
)]
pub struct TargetExited {
    /// How it ended.
    pub status: ExitStatus,
    /// The last [`OUTPUT_TAIL_CAPACITY`] bytes of its output.
    pub output_tail: String,
}

/// Quotes the end of a server's output under an error message, or nothing if it said nothing.
fn display_tail(tail: &str) -> String {
    if tail.is_empty() {
        return "; it printed nothing".to_owned();
    }
    let mut start = tail.len().saturating_sub(DISPLAYED_TAIL);
    while !tail.is_char_boundary(start) {
        start += 1;
    }
    let elided = if start > 0 { "[...]\n" } else { "" };
    format!(
        "\n--- last output of the server ---\n{elided}{}\n--- end of output ---",
        tail[start..].trim_end_matches('\n')
    )
}

/// How to start a server under test and how to tell that it is ready; [`SpawnOptions::spawn`]
/// starts it.
///
/// ```no_run
/// # use echo_harness::spawn::SpawnOptions;
/// let target = SpawnOptions::new("my-echo-server --listen {addr}").spawn()?;
/// println!("testing {}", target.addr());
/// # Ok::<(), echo_harness::spawn::SpawnError>(())
/// ```
#[derive(Debug, Clone)]
pub struct SpawnOptions {
    command: String,
    ready_pattern: String,
    ready_timeout: Duration,
    port_attempts: u32,
    target_addr: Option<SocketAddr>,
    placeholders: BTreeMap<String, String>,
}

impl SpawnOptions {
    /// Options for running `command` (shell words, see the module docs for placeholders), with
    /// the default readiness pattern, timeout and port attempts.
    pub fn new(command: impl Into<String>) -> Self {
        SpawnOptions {
            command: command.into(),
            ready_pattern: DEFAULT_READY_PATTERN.to_owned(),
            ready_timeout: DEFAULT_READY_TIMEOUT,
            port_attempts: DEFAULT_PORT_ATTEMPTS,
            target_addr: None,
            placeholders: BTreeMap::new(),
        }
    }

    /// The regular expression a line of output must match for the server to count as ready; its
    /// first capture group is the address. Used with `{addr}`, or with neither placeholder and no
    /// [`target_addr`](Self::target_addr).
    pub fn ready_pattern(mut self, pattern: impl Into<String>) -> Self {
        self.ready_pattern = pattern.into();
        self
    }

    /// How long the server may take to become ready, per attempt.
    pub fn ready_timeout(mut self, timeout: Duration) -> Self {
        self.ready_timeout = timeout;
        self
    }

    /// How many times a `{port}` server is started on a fresh port when it exits before it is
    /// ready (at least 1).
    pub fn port_attempts(mut self, attempts: u32) -> Self {
        self.port_attempts = attempts.max(1);
        self
    }

    /// For a command with neither `{addr}` nor `{port}`: the address the server will listen on.
    /// It is ready once a connect to it succeeds.
    pub fn target_addr(mut self, addr: SocketAddr) -> Self {
        self.target_addr = Some(addr);
        self
    }

    /// Gives the placeholder `{name}` a value, e.g. `placeholder("upstream", "127.0.0.1:7000")`
    /// for a proxy under test. `addr` and `port` are reserved.
    pub fn placeholder(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.placeholders.insert(name.into(), value.into());
        self
    }

    /// The command as given, before substitution.
    pub fn command(&self) -> &str {
        &self.command
    }

    /// Checks the command and options without starting anything, so a caller can report a
    /// usage error before doing any other work. [`spawn`](Self::spawn) checks the same.
    pub fn validate(&self) -> Result<(), SpawnError> {
        self.plan().map(drop)
    }

    /// Starts the server and waits until it is ready (see the module docs), or fails with the
    /// reason and, once a process ran, its last output.
    pub fn spawn(&self) -> Result<SpawnedTarget, SpawnError> {
        let plan = self.plan()?;
        match plan.readiness {
            Readiness::AddressFromOutput => {
                let mut values = self.placeholders.clone();
                values.insert("addr".to_owned(), EPHEMERAL_ADDR.to_owned());
                self.start_once(&plan, &values, None)
                    .map_err(|e| e.into_spawn_error(1))
            }
            Readiness::ProbeGivenAddr(addr) => self
                .start_once(&plan, &self.placeholders, Some(addr))
                .map_err(|e| e.into_spawn_error(1)),
            Readiness::ProbePickedPort => {
                let mut attempt = 1;
                loop {
                    let port = pick_free_port().map_err(|source| SpawnError::Io {
                        context: "cannot find a free port for {port}",
                        source,
                    })?;
                    let mut values = self.placeholders.clone();
                    values.insert("port".to_owned(), port.to_string());
                    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
                    match self.start_once(&plan, &values, Some(addr)) {
                        Ok(target) => return Ok(target),
                        Err(AttemptError::Exited { .. }) if attempt < self.port_attempts => {
                            attempt += 1;
                        }
                        Err(e) => return Err(e.into_spawn_error(attempt)),
                    }
                }
            }
        }
    }

    /// Parses and checks everything that does not need a process.
    fn plan(&self) -> Result<Plan, SpawnError> {
        let words = shell_words::split(&self.command).map_err(|source| SpawnError::BadCommand {
            command: self.command.clone(),
            source,
        })?;
        if words.is_empty() {
            return Err(SpawnError::EmptyCommand);
        }
        for reserved in ["addr", "port"] {
            if self.placeholders.contains_key(reserved) {
                return Err(SpawnError::ReservedPlaceholder {
                    name: reserved.to_owned(),
                });
            }
        }
        let template = Template::parse(&words);
        for name in template.placeholder_names() {
            if name != "addr" && name != "port" && !self.placeholders.contains_key(name) {
                let known = ["addr", "port"]
                    .into_iter()
                    .chain(self.placeholders.keys().map(String::as_str))
                    .map(|k| format!("{{{k}}}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(SpawnError::UnknownPlaceholder {
                    name: name.to_owned(),
                    known,
                });
            }
        }
        let readiness = match (
            template.uses("addr"),
            template.uses("port"),
            self.target_addr,
        ) {
            (true, true, _) => {
                return Err(SpawnError::ConflictingOptions {
                    reason: "the command uses both {addr} and {port}; use one",
                })
            }
            (true, false, Some(_)) | (false, true, Some(_)) => {
                return Err(SpawnError::ConflictingOptions {
                    reason: "a target address was given, but the command's {addr} or {port} \
                             already decides the address",
                })
            }
            (true, false, None) | (false, false, None) => Readiness::AddressFromOutput,
            (false, true, None) => Readiness::ProbePickedPort,
            (false, false, Some(addr)) => Readiness::ProbeGivenAddr(addr),
        };
        let pattern = match readiness {
            Readiness::AddressFromOutput => {
                let regex = Regex::new(&self.ready_pattern).map_err(|source| {
                    SpawnError::BadReadyPattern {
                        pattern: self.ready_pattern.clone(),
                        source,
                    }
                })?;
                if regex.captures_len() < 2 {
                    return Err(SpawnError::ReadyPatternWithoutCapture {
                        pattern: self.ready_pattern.clone(),
                    });
                }
                Some(regex)
            }
            Readiness::ProbeGivenAddr(_) | Readiness::ProbePickedPort => None,
        };
        Ok(Plan {
            template,
            readiness,
            pattern,
        })
    }

    /// One start of the server and the wait for it to be ready. `probe` is the address to
    /// connect to; without it, the address comes from the output.
    fn start_once(
        &self,
        plan: &Plan,
        values: &BTreeMap<String, String>,
        probe: Option<SocketAddr>,
    ) -> Result<SpawnedTarget, AttemptError> {
        let argv = plan.template.render(values);
        let mut target = SpawnedTarget::start(argv, plan.pattern.clone())?;
        let deadline = deadline_after(self.ready_timeout);
        let addr = match probe {
            Some(addr) => {
                target.wait_for_connect(addr, deadline, self.ready_timeout)?;
                addr
            }
            None => {
                let waiting_for = format!("no line matched {:?}", self.ready_pattern);
                let captured =
                    target.wait_for_ready_line(deadline, waiting_for, self.ready_timeout)?;
                parse_ready_addr(&captured).ok_or_else(|| {
                    AttemptError::Failed(SpawnError::BadReadyAddress {
                        captured,
                        output_tail: target.output_tail(),
                    })
                })?
            }
        };
        target.addr = addr;
        Ok(target)
    }
}

/// Everything about a command that was worked out before starting it.
struct Plan {
    template: Template,
    readiness: Readiness,
    /// The compiled readiness pattern, when readiness is read from the output.
    pattern: Option<Regex>,
}

/// How we learn that the server is ready and where it listens.
#[derive(Debug, Clone, Copy)]
enum Readiness {
    /// A line of output matches the pattern; the first capture group is the address.
    AddressFromOutput,
    /// We choose a free port for `{port}` and connect to it.
    ProbePickedPort,
    /// The caller told us the address; we connect to it.
    ProbeGivenAddr(SocketAddr),
}

/// How one start went wrong: an early exit is told apart because `{port}` retries it.
enum AttemptError {
    Exited {
        status: ExitStatus,
        output_tail: String,
    },
    Failed(SpawnError),
}

impl AttemptError {
    fn into_spawn_error(self, attempts: u32) -> SpawnError {
        match self {
            AttemptError::Exited {
                status,
                output_tail,
            } => SpawnError::ExitedBeforeReady {
                status,
                attempts,
                output_tail,
            },
            AttemptError::Failed(e) => e,
        }
    }
}

impl From<SpawnError> for AttemptError {
    fn from(e: SpawnError) -> Self {
        AttemptError::Failed(e)
    }
}

/// A command split into words, each word a sequence of literal text and placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Template {
    words: Vec<Vec<Piece>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Placeholder(String),
}

impl Template {
    /// Finds `{name}` (name: a letter or `_`, then letters, digits, `_` or `-`) in each word;
    /// `{{` is a literal `{`, and any other brace is literal text.
    fn parse(words: &[String]) -> Template {
        let words = words
            .iter()
            .map(|word| {
                let mut pieces = Vec::new();
                let mut literal = String::new();
                let mut rest = word.as_str();
                while let Some(open) = rest.find('{') {
                    literal.push_str(&rest[..open]);
                    let after = &rest[open + 1..];
                    if let Some(stripped) = after.strip_prefix('{') {
                        literal.push('{');
                        rest = stripped;
                    } else if let Some(name) = placeholder_name(after) {
                        if !literal.is_empty() {
                            pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                        }
                        pieces.push(Piece::Placeholder(name.to_owned()));
                        rest = &after[name.len() + 1..];
                    } else {
                        literal.push('{');
                        rest = after;
                    }
                }
                literal.push_str(rest);
                if !literal.is_empty() || pieces.is_empty() {
                    pieces.push(Piece::Literal(literal));
                }
                pieces
            })
            .collect();
        Template { words }
    }

    fn placeholder_names(&self) -> impl Iterator<Item = &str> {
        self.words.iter().flatten().filter_map(|piece| match piece {
            Piece::Placeholder(name) => Some(name.as_str()),
            Piece::Literal(_) => None,
        })
    }

    fn uses(&self, name: &str) -> bool {
        self.placeholder_names().any(|n| n == name)
    }

    /// The argv with every placeholder replaced; `plan` has checked that each one has a value.
    fn render(&self, values: &BTreeMap<String, String>) -> Vec<String> {
        self.words
            .iter()
            .map(|pieces| {
                pieces
                    .iter()
                    .map(|piece| match piece {
                        Piece::Literal(text) => text.as_str(),
                        Piece::Placeholder(name) => values.get(name).map_or("", String::as_str),
                    })
                    .collect()
            })
            .collect()
    }
}

/// If `text` (what follows a `{`) starts with `name}`, the name.
fn placeholder_name(text: &str) -> Option<&str> {
    let close = text.find('}')?;
    let name = &text[..close];
    let mut chars = name.chars();
    let first = chars.next()?;
    let valid = (first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    valid.then_some(name)
}

/// A port that was free a moment ago: bind port 0 on loopback, read the port, let it go. Another
/// process may take it before the server does; `{port}` retries for that reason.
fn pick_free_port() -> io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// Turns the captured text into an address to connect to: a socket address, or a `host:port`
/// that resolves. A wildcard address becomes the loopback address of the same family.
fn parse_ready_addr(captured: &str) -> Option<SocketAddr> {
    let addr = captured
        .parse::<SocketAddr>()
        .ok()
        .or_else(|| captured.to_socket_addrs().ok()?.next())?;
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    Some(SocketAddr::new(ip, addr.port()))
}

/// A server under test, running as a child process in its own process group.
///
/// Dropping it kills the whole group and reaps the child (see the module docs). It is `Send` and
/// `Sync`: the harness can share it behind an `Arc` and ask [`is_alive`](Self::is_alive) from any
/// connection's task.
pub struct SpawnedTarget {
    /// The child, behind a mutex so that liveness can be polled through `&self`. The exit status
    /// is kept once seen, because a reaped child cannot be asked again.
    child: Mutex<ChildSlot>,
    /// The child's pid, which on unix is also its process group id.
    pid: u32,
    /// The command line actually run, after substitution, for reports.
    argv: Vec<String>,
    /// Where the server listens; set once it is ready.
    addr: SocketAddr,
    /// The output ring and readiness state, shared with the reader threads.
    output: Arc<OutputShared>,
    /// The stdout and stderr readers; joined in `Drop` once the pipes close, within a bound.
    readers: Vec<JoinHandle<()>>,
    /// Set once a caller has waited for the output to drain after the exit, so that the wait
    /// (bounded by [`DRAIN_ON_EXIT_BOUND`]) is paid once, not by every check.
    drained_after_exit: AtomicBool,
}

struct ChildSlot {
    child: Child,
    /// `Some` once the child has been reaped.
    exit: Option<ExitStatus>,
}

impl fmt::Debug for SpawnedTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpawnedTarget")
            .field("pid", &self.pid)
            .field("argv", &self.argv)
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl SpawnedTarget {
    /// Where the server listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The child's process id (on unix also its process group id).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The command line that was run, after placeholders were substituted.
    pub fn argv(&self) -> &[String] {
        &self.argv
    }

    /// The last [`OUTPUT_TAIL_CAPACITY`] bytes the server wrote to stdout and stderr, in arrival
    /// order, decoded lossily.
    pub fn output_tail(&self) -> String {
        lock(&self.output.state).ring.to_string_lossy()
    }

    /// How the server exited, if it has; reaps it when it has. Never blocks.
    pub fn try_exit_status(&self) -> Option<ExitStatus> {
        let mut slot = lock(&self.child);
        if slot.exit.is_none() {
            // An error here means the child is not ours to wait for any more (someone reaped
            // it behind our back); we cannot tell how it ended, so we say it has not.
            if let Ok(Some(status)) = slot.child.try_wait() {
                slot.exit = Some(status);
            }
        }
        slot.exit
    }

    /// Whether the server is still running.
    pub fn is_alive(&self) -> bool {
        self.try_exit_status().is_none()
    }

    /// `Ok` while the server runs; once it has exited, how, with its last output. This is what a
    /// harness calls when a connection fails, to tell "the server is buggy" from "the server died".
    pub fn check_alive(&self) -> Result<(), TargetExited> {
        match self.try_exit_status() {
            None => Ok(()),
            Some(status) => {
                // Once only: a grandchild holding the pipes would otherwise cost every caller
                // the whole bound.
                if !self.drained_after_exit.swap(true, Ordering::Relaxed) {
                    self.wait_readers_drained(DRAIN_ON_EXIT_BOUND);
                }
                Err(TargetExited {
                    status,
                    output_tail: self.output_tail(),
                })
            }
        }
    }

    /// Waits up to `timeout` for the server to exit on its own; its status if it did.
    pub fn wait_for_exit(&self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = deadline_after(timeout);
        let mut nap = Duration::from_millis(1);
        loop {
            if let Some(status) = self.try_exit_status() {
                return Some(status);
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            thread::sleep(nap.min(deadline - now));
            nap = (nap * 2).min(MAX_POLL_INTERVAL);
        }
    }

    /// Stops the server politely: SIGTERM to its process group, up to `grace` for it to exit,
    /// then SIGKILL. Returns how it ended. (Other platforms have no SIGTERM; the child is killed.)
    /// Whatever is left of the group is killed when `self` is dropped at the end.
    pub fn shutdown(self, grace: Duration) -> ExitStatus {
        if let Some(status) = self.try_exit_status() {
            return status;
        }
        #[cfg(unix)]
        {
            self.signal_group(libc::SIGTERM);
            if let Some(status) = self.wait_for_exit(grace) {
                return status;
            }
        }
        #[cfg(not(unix))]
        let _ = grace;
        self.kill_and_reap()
    }

    /// Starts the process and its reader threads; the caller waits for readiness.
    fn start(argv: Vec<String>, pattern: Option<Regex>) -> Result<SpawnedTarget, SpawnError> {
        let program = argv[0].clone();
        let mut command = Command::new(&program);
        command
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            // Its own group, so one signal reaches everything it starts, and a Ctrl-C at the
            // terminal reaches only us: we decide when and how the server stops.
            command.process_group(0);
        }
        #[cfg(target_os = "linux")]
        linux::die_with_parent(&mut command);
        let mut child = fork_child(command).map_err(|source| SpawnError::CannotStart {
            program: program.clone(),
            source,
        })?;
        let pid = child.id();
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let output = Arc::new(OutputShared::new(pattern.is_some()));
        let mut target = SpawnedTarget {
            child: Mutex::new(ChildSlot { child, exit: None }),
            pid,
            argv,
            addr: SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
            output: Arc::clone(&output),
            readers: Vec::new(),
            drained_after_exit: AtomicBool::new(false),
        };
        // From here on `target`'s Drop cleans up if anything fails.
        let streams: [(&str, Option<Box<dyn Read + Send>>); 2] = [
            (
                "stdout",
                stdout.map(|s| Box::new(s) as Box<dyn Read + Send>),
            ),
            (
                "stderr",
                stderr.map(|s| Box::new(s) as Box<dyn Read + Send>),
            ),
        ];
        for (name, stream) in streams {
            let Some(stream) = stream else {
                output.stream_closed();
                continue;
            };
            let shared = Arc::clone(&output);
            let pattern = pattern.clone();
            let reader = thread::Builder::new()
                .name(format!("spawned-{pid}-{name}"))
                .spawn(move || read_output(stream, &shared, pattern.as_ref()));
            match reader {
                Ok(handle) => target.readers.push(handle),
                Err(source) => {
                    // The unread pipe would fill up and stall the server; better to fail now.
                    output.stream_closed();
                    return Err(SpawnError::Io {
                        context: "cannot start a thread to read the server's output",
                        source,
                    });
                }
            }
        }
        Ok(target)
    }

    /// Waits until a line matches the readiness pattern; returns its first capture group.
    fn wait_for_ready_line(
        &self,
        deadline: Instant,
        waiting_for: String,
        timeout: Duration,
    ) -> Result<String, AttemptError> {
        loop {
            let mut state = lock(&self.output.state);
            if state.ready_capture.is_none() {
                // Checked and waited for under one lock, so no line can slip in between. Woken
                // by every chunk of output; the timeout is only there to notice an exit.
                let nap = deadline
                    .saturating_duration_since(Instant::now())
                    .min(MAX_POLL_INTERVAL);
                state = self
                    .output
                    .changed
                    .wait_timeout(state, nap)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            if let Some(captured) = state.ready_capture.take() {
                return Ok(captured);
            }
            drop(state);
            self.fail_if_exited()?;
            if Instant::now() >= deadline {
                return Err(self.never_ready(timeout, waiting_for));
            }
        }
    }

    /// Waits until a TCP connect to `addr` succeeds.
    fn wait_for_connect(
        &self,
        addr: SocketAddr,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<(), AttemptError> {
        let mut nap = Duration::from_millis(1);
        loop {
            self.fail_if_exited()?;
            let now = Instant::now();
            if now >= deadline {
                return Err(self.never_ready(timeout, format!("no connection to {addr} succeeded")));
            }
            let connect_timeout = (deadline - now).min(PROBE_CONNECT_TIMEOUT);
            if let Ok(probe) = TcpStream::connect_timeout(&addr, connect_timeout) {
                drop(probe);
                // Someone answered; if our child died meanwhile, it was not our child.
                return self.fail_if_exited();
            }
            let now = Instant::now();
            if now >= deadline {
                continue;
            }
            thread::sleep(nap.min(deadline - now));
            nap = (nap * 2).min(MAX_POLL_INTERVAL);
        }
    }

    fn fail_if_exited(&self) -> Result<(), AttemptError> {
        match self.check_alive() {
            Ok(()) => Ok(()),
            Err(TargetExited {
                status,
                output_tail,
            }) => Err(AttemptError::Exited {
                status,
                output_tail,
            }),
        }
    }

    fn never_ready(&self, timeout: Duration, waiting_for: String) -> AttemptError {
        AttemptError::Failed(SpawnError::NeverReady {
            timeout,
            waiting_for,
            output_tail: self.output_tail(),
        })
    }

    /// Waits up to `bound` for both reader threads to reach end-of-file; whether they did.
    fn wait_readers_drained(&self, bound: Duration) -> bool {
        let state = lock(&self.output.state);
        let (state, _) = self
            .output
            .changed
            .wait_timeout_while(state, bound, |s| s.open_streams > 0)
            .unwrap_or_else(PoisonError::into_inner);
        state.open_streams == 0
    }

    /// SIGKILL to the group (or the child, elsewhere), then wait for the child.
    fn kill_and_reap(&self) -> ExitStatus {
        #[cfg(unix)]
        self.signal_group(libc::SIGKILL);
        let mut slot = lock(&self.child);
        if let Some(status) = slot.exit {
            return status;
        }
        #[cfg(not(unix))]
        let _ = slot.child.kill();
        // After SIGKILL this returns promptly; an error means it was reaped elsewhere, and
        // there is no status to report but "killed", which the kill above made true.
        let status = match slot.child.wait() {
            Ok(status) => status,
            Err(_) => killed_status(),
        };
        slot.exit = Some(status);
        status
    }

    /// Sends `signal` to the whole process group. Done even after the child itself was reaped:
    /// its children may still be in the group, and the kernel does not reuse a group id while
    /// any member lives.
    #[cfg(unix)]
    fn signal_group(&self, signal: libc::c_int) {
        let Ok(pgid) = libc::pid_t::try_from(self.pid) else {
            return;
        };
        // SAFETY: kill(2) has no memory-safety preconditions. A negative pid names the process
        // group the child leads (process_group(0) made its pgid equal to its pid). ESRCH (no
        // such group left) is the expected outcome once everything is gone.
        unsafe {
            libc::kill(-pgid, signal);
        }
    }
}

impl Drop for SpawnedTarget {
    fn drop(&mut self) {
        self.kill_and_reap();
        let drained = self.wait_readers_drained(READER_JOIN_BOUND);
        for reader in self.readers.drain(..) {
            // A reader whose pipe is still held open by an escaped grandchild would block the
            // join forever; it is detached instead and ends when that pipe closes.
            if drained || reader.is_finished() {
                let _ = reader.join();
            }
        }
    }
}

/// The exit status of a process killed by SIGKILL, for a child reaped by someone else.
fn killed_status() -> ExitStatus {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        ExitStatus::from_raw(libc::SIGKILL)
    }
    #[cfg(windows)]
    {
        use std::os::windows::process::ExitStatusExt;
        ExitStatus::from_raw(1)
    }
    #[cfg(not(any(unix, windows)))]
    {
        unreachable!("std::process is not available on this platform")
    }
}

/// Forks the child; on Linux from the one long-lived spawner thread (see the module docs).
fn fork_child(command: Command) -> io::Result<Child> {
    #[cfg(target_os = "linux")]
    {
        linux::spawn_from_long_lived_thread(command)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let mut command = command;
        command.spawn()
    }
}

#[cfg(target_os = "linux")]
mod linux {
    //! The Linux-only part: the parent-death signal and the thread that must outlive every child.

    use std::io;
    use std::os::unix::process::CommandExt;
    use std::process::{Child, Command};
    use std::sync::mpsc;
    use std::sync::OnceLock;
    use std::thread;

    type SpawnRequest = (Command, mpsc::SyncSender<io::Result<Child>>);

    /// The spawner thread's inbox; `None` if the thread could not be started, in which case
    /// children are forked from the caller's thread and PDEATHSIG follows that thread instead.
    static SPAWNER: OnceLock<Option<mpsc::Sender<SpawnRequest>>> = OnceLock::new();

    /// Makes the child get SIGKILL when the thread that forks it exits (with the process, since
    /// that thread is the spawner).
    pub(super) fn die_with_parent(command: &mut Command) {
        let parent = std::process::id();
        // SAFETY: the closure runs in the forked child before exec and only makes
        // async-signal-safe system calls (prctl, getppid); it does not allocate.
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(
                    libc::PR_SET_PDEATHSIG,
                    libc::SIGKILL as libc::c_ulong,
                    0,
                    0,
                    0,
                ) == -1
                {
                    return Err(io::Error::last_os_error());
                }
                // If we died between fork and prctl, the signal will never come: give up now.
                if u32::try_from(libc::getppid()).ok() != Some(parent) {
                    return Err(io::Error::from_raw_os_error(libc::ESRCH));
                }
                Ok(())
            });
        }
    }

    pub(super) fn spawn_from_long_lived_thread(mut command: Command) -> io::Result<Child> {
        let spawner = SPAWNER.get_or_init(|| {
            let (requests, inbox) = mpsc::channel::<SpawnRequest>();
            thread::Builder::new()
                .name("echo-harness-spawner".to_owned())
                .spawn(move || {
                    // Runs until the process ends: the static sender is never dropped.
                    for (mut command, reply) in inbox {
                        let _ = reply.send(command.spawn());
                    }
                })
                .ok()
                .map(|_| requests)
        });
        let Some(spawner) = spawner else {
            return command.spawn();
        };
        let (reply, answer) = mpsc::sync_channel(1);
        if let Err(mpsc::SendError((mut command, _))) = spawner.send((command, reply)) {
            return command.spawn();
        }
        answer
            .recv()
            .unwrap_or_else(|_| Err(io::Error::other("the spawner thread is gone")))
    }
}

/// State shared between the reader threads and the [`SpawnedTarget`].
struct OutputShared {
    state: Mutex<OutputState>,
    /// Notified on every chunk of output and on every end-of-file, so waiting for readiness or
    /// for the readers to finish needs no polling of the pipes.
    changed: Condvar,
}

struct OutputState {
    ring: OutputRing,
    /// Whether the readers still look for the readiness line: only until the first match.
    scanning: bool,
    /// The first capture group of the first matching line, until the waiter takes it.
    ready_capture: Option<String>,
    /// How many of stdout and stderr have not reached end-of-file yet.
    open_streams: usize,
}

impl OutputShared {
    fn new(scanning: bool) -> Self {
        OutputShared {
            state: Mutex::new(OutputState {
                ring: OutputRing::new(OUTPUT_TAIL_CAPACITY),
                scanning,
                ready_capture: None,
                open_streams: 2,
            }),
            changed: Condvar::new(),
        }
    }

    fn stream_closed(&self) {
        lock(&self.state).open_streams -= 1;
        self.changed.notify_all();
    }
}

/// One reader thread: drains `stream` into the ring until end-of-file, and looks for the
/// readiness line in it while nobody has found it yet.
fn read_output(mut stream: Box<dyn Read + Send>, shared: &OutputShared, pattern: Option<&Regex>) {
    let mut chunk = vec![0u8; 8 * 1024];
    // This stream's unfinished line, kept per stream so that lines are never spliced together
    // from stdout and stderr.
    let mut line = Vec::new();
    loop {
        let n = match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let data = &chunk[..n];
        let scanning = {
            let mut state = lock(&shared.state);
            state.ring.push(data);
            state.scanning
        };
        if let (true, Some(pattern)) = (scanning, pattern) {
            line.extend_from_slice(data);
            if let Some(captured) = find_ready_line(&mut line, pattern) {
                let mut state = lock(&shared.state);
                if state.scanning {
                    state.scanning = false;
                    state.ready_capture = Some(captured);
                }
            }
            if line.len() > MAX_SCANNED_LINE {
                line.clear();
            }
        } else {
            line = Vec::new();
        }
        shared.changed.notify_all();
    }
    shared.stream_closed();
}

/// Takes the complete lines off the front of `pending` and returns the first capture group of
/// the first one that matches; the unfinished last line stays in `pending`.
fn find_ready_line(pending: &mut Vec<u8>, pattern: &Regex) -> Option<String> {
    let mut found = None;
    let mut consumed = 0;
    while let Some(newline) = pending[consumed..].iter().position(|&b| b == b'\n') {
        let line = &pending[consumed..consumed + newline];
        consumed += newline + 1;
        let text = String::from_utf8_lossy(line);
        if let Some(group) = pattern
            .captures(text.trim_end_matches('\r'))
            .and_then(|c| c.get(1))
        {
            found = Some(group.as_str().to_owned());
            break;
        }
    }
    pending.drain(..consumed);
    found
}

/// The last `capacity` bytes written into it.
struct OutputRing {
    bytes: VecDeque<u8>,
    capacity: usize,
}

impl OutputRing {
    fn new(capacity: usize) -> Self {
        OutputRing {
            bytes: VecDeque::with_capacity(capacity),
            capacity,
        }
    }

    fn push(&mut self, data: &[u8]) {
        let data = &data[data.len().saturating_sub(self.capacity)..];
        let overflow = (self.bytes.len() + data.len()).saturating_sub(self.capacity);
        self.bytes.drain(..overflow);
        self.bytes.extend(data);
    }

    fn to_string_lossy(&self) -> String {
        let (front, back) = self.bytes.as_slices();
        let mut all = Vec::with_capacity(front.len() + back.len());
        all.extend_from_slice(front);
        all.extend_from_slice(back);
        String::from_utf8_lossy(&all).into_owned()
    }
}

/// `timeout` from now, or a year from now for a timeout too large to add (`Duration::MAX`).
fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(365 * 24 * 3600))
}

/// Locks a mutex, ignoring poisoning: every critical section here leaves the data consistent.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::OnceLock;

    /// A generous bound for anything that should take milliseconds, so a loaded CI machine
    /// does not turn into a false failure.
    const BOUND: Duration = Duration::from_secs(10);

    /// `python3`, if this machine has it; the process tests skip without it.
    fn python() -> Option<&'static str> {
        static FOUND: OnceLock<bool> = OnceLock::new();
        let found = *FOUND.get_or_init(|| {
            Command::new("python3")
                .args(["-c", "pass"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        });
        if found {
            Some("python3")
        } else {
            println!("SKIPPED: python3 is not available to run the test servers");
            None
        }
    }

    /// `python3 -c SCRIPT ARGS...` as one command string. Scripts avoid braces, which would be
    /// read as placeholders.
    fn py(python: &str, script: &str, args: &str) -> String {
        format!("{python} -c {} {args}", shell_words::quote(script))
    }

    /// An echo server on the `host:port` of argv[1], announcing its real address.
    const ECHO_SERVER: &str = r#"
import socket, sys
host, port = sys.argv[1].rsplit(':', 1)
s = socket.socket()
s.bind((host, int(port)))
s.listen(16)
print('some noise first', flush=True)
print('listening on %s:%d' % s.getsockname(), flush=True)
while True:
    c, _ = s.accept()
    while True:
        d = c.recv(65536)
        if not d:
            break
        c.sendall(d)
    c.close()
"#;

    fn echo_once(addr: SocketAddr) {
        let mut conn = TcpStream::connect_timeout(&addr, BOUND).expect("connect");
        conn.set_read_timeout(Some(BOUND)).unwrap();
        conn.write_all(b"ping\0pong").unwrap();
        conn.shutdown(std::net::Shutdown::Write).unwrap();
        let mut back = Vec::new();
        conn.read_to_end(&mut back).unwrap();
        assert_eq!(back, b"ping\0pong");
    }

    /// Whether `pid` is gone: no such process, or a zombie nobody has reaped yet (an orphaned
    /// grandchild waits for init, which in a container may never come).
    #[cfg(unix)]
    fn process_gone(pid: i32) -> bool {
        #[cfg(target_os = "linux")]
        if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            // The state follows the parenthesised command name.
            let state = stat.rsplit(')').next().unwrap_or("").trim_start();
            return state.starts_with('Z') || state.starts_with('X');
        }
        // SAFETY: kill with signal 0 only checks for existence.
        let alive = unsafe { libc::kill(pid, 0) } == 0;
        !alive
    }

    #[cfg(unix)]
    fn wait_until_gone(pid: i32) -> bool {
        let deadline = Instant::now() + BOUND;
        while Instant::now() < deadline {
            if process_gone(pid) {
                return true;
            }
            thread::sleep(Duration::from_millis(10));
        }
        false
    }

    fn unique_temp_path(tag: &str) -> std::path::PathBuf {
        use std::sync::atomic::{AtomicU32, Ordering};
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        std::env::temp_dir().join(format!("spawn-test-{tag}-{}-{n}", std::process::id()))
    }

    // --- pure parts ---

    #[test]
    fn template_finds_placeholders_inside_words_and_keeps_other_braces() {
        let words: Vec<String> = [
            "srv",
            "--listen={addr}",
            "{}",
            "{{port}",
            "a{1,2}b",
            "{up}/{x-y}",
        ]
        .map(String::from)
        .to_vec();
        let template = Template::parse(&words);
        let names: Vec<&str> = template.placeholder_names().collect();
        assert_eq!(names, ["addr", "up", "x-y"]);
        let values = BTreeMap::from([
            ("addr".to_owned(), "127.0.0.1:0".to_owned()),
            ("up".to_owned(), "u v".to_owned()),
            ("x-y".to_owned(), "z".to_owned()),
        ]);
        assert_eq!(
            template.render(&values),
            [
                "srv",
                "--listen=127.0.0.1:0",
                "{}",
                "{port}",
                "a{1,2}b",
                "u v/z"
            ]
        );
    }

    #[test]
    fn usage_errors_are_found_before_anything_starts() {
        let check = |options: SpawnOptions| options.validate().unwrap_err();
        assert!(matches!(
            check(SpawnOptions::new("srv 'unclosed")),
            SpawnError::BadCommand { .. }
        ));
        assert!(matches!(
            check(SpawnOptions::new("  ")),
            SpawnError::EmptyCommand
        ));
        let err = check(SpawnOptions::new("srv {adr}"));
        assert!(matches!(&err, SpawnError::UnknownPlaceholder { name, .. } if name == "adr"));
        assert!(err.to_string().contains("{adr}"), "{err}");
        assert!(matches!(
            check(SpawnOptions::new("srv {addr}").placeholder("port", "1")),
            SpawnError::ReservedPlaceholder { .. }
        ));
        assert!(matches!(
            check(SpawnOptions::new("srv {addr} {port}")),
            SpawnError::ConflictingOptions { .. }
        ));
        assert!(matches!(
            check(SpawnOptions::new("srv {port}").target_addr(([127, 0, 0, 1], 1).into())),
            SpawnError::ConflictingOptions { .. }
        ));
        assert!(matches!(
            check(SpawnOptions::new("srv {addr}").ready_pattern("(")),
            SpawnError::BadReadyPattern { .. }
        ));
        assert!(matches!(
            check(SpawnOptions::new("srv {addr}").ready_pattern("listening")),
            SpawnError::ReadyPatternWithoutCapture { .. }
        ));
        for err in [
            check(SpawnOptions::new("srv {adr}")),
            check(SpawnOptions::new("")),
        ] {
            assert!(err.is_usage_error());
        }
        // The pattern is irrelevant when readiness is a connect probe.
        SpawnOptions::new("srv {port}")
            .ready_pattern("no group")
            .validate()
            .unwrap();
        SpawnOptions::new("proxy {addr} {upstream}")
            .placeholder("upstream", "127.0.0.1:9")
            .validate()
            .unwrap();
    }

    #[test]
    fn ready_address_is_parsed_and_wildcards_become_loopback() {
        assert_eq!(
            parse_ready_addr("127.0.0.1:80"),
            Some(([127, 0, 0, 1], 80).into())
        );
        assert_eq!(
            parse_ready_addr("0.0.0.0:81"),
            Some(([127, 0, 0, 1], 81).into())
        );
        assert_eq!(
            parse_ready_addr("[::]:82"),
            Some(SocketAddr::new(Ipv6Addr::LOCALHOST.into(), 82))
        );
        assert_eq!(parse_ready_addr("not-an-address"), None);
    }

    #[test]
    fn ready_lines_are_matched_whole_and_partial_lines_wait() {
        let pattern = Regex::new(DEFAULT_READY_PATTERN).unwrap();
        let mut pending = b"hello\nlistening on 127.0.0".to_vec();
        assert_eq!(find_ready_line(&mut pending, &pattern), None);
        assert_eq!(pending, b"listening on 127.0.0");
        pending.extend_from_slice(b".1:5\r\nmore");
        assert_eq!(
            find_ready_line(&mut pending, &pattern).as_deref(),
            Some("127.0.0.1:5")
        );
        assert_eq!(pending, b"more");
    }

    #[test]
    fn output_ring_keeps_only_the_last_capacity_bytes() {
        let mut ring = OutputRing::new(8);
        ring.push(b"abc");
        ring.push(b"defgh");
        assert_eq!(ring.to_string_lossy(), "abcdefgh");
        ring.push(b"ij");
        assert_eq!(ring.to_string_lossy(), "cdefghij");
        ring.push(b"0123456789");
        assert_eq!(ring.to_string_lossy(), "23456789");
    }

    #[test]
    fn error_display_quotes_only_the_end_of_a_long_tail() {
        let err = SpawnError::NeverReady {
            timeout: Duration::from_secs(1),
            waiting_for: "a line".into(),
            output_tail: format!("{}THE END\n", "x".repeat(10_000)),
        };
        let text = err.to_string();
        assert!(text.contains("[...]") && text.contains("THE END"), "{text}");
        assert!(text.len() < DISPLAYED_TAIL + 200);
        assert!(!err.is_usage_error());
    }

    // --- real child processes ---

    #[test]
    fn addr_placeholder_reads_the_real_address_from_the_output() {
        let Some(python) = python() else { return };
        let target = SpawnOptions::new(py(python, ECHO_SERVER, "{addr}"))
            .spawn()
            .unwrap();
        assert_eq!(target.addr().ip(), Ipv4Addr::LOCALHOST);
        assert_ne!(target.addr().port(), 0);
        assert!(target.argv().iter().any(|a| a == EPHEMERAL_ADDR));
        echo_once(target.addr());
        assert!(target.is_alive());
        assert!(target.output_tail().contains("some noise first"));
    }

    #[test]
    fn custom_ready_pattern_on_stderr_is_honoured() {
        let Some(python) = python() else { return };
        let script = r#"
import socket, sys
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(4)
sys.stderr.write('READY port=%d\n' % s.getsockname()[1]); sys.stderr.flush()
c, _ = s.accept()
"#;
        // A bare port is not an address: the pattern must capture host:port.
        let err = SpawnOptions::new(py(python, script, ""))
            .ready_pattern(r"READY port=(\d+)")
            .spawn()
            .unwrap_err();
        assert!(
            matches!(&err, SpawnError::BadReadyAddress { captured, .. } if captured.parse::<u16>().is_ok()),
            "{err:?}"
        );
        let script = script.replace(
            "'READY port=%d\\n' % s.getsockname()[1]",
            "'READY at %s:%d\\n' % s.getsockname()",
        );
        let target = SpawnOptions::new(py(python, &script, ""))
            .ready_pattern(r"^READY at (\S+)$")
            .spawn()
            .unwrap();
        assert_ne!(target.addr().port(), 0);
        assert!(target.output_tail().starts_with("READY at "));
    }

    #[test]
    fn port_placeholder_waits_for_a_connect() {
        let Some(python) = python() else { return };
        let script = ECHO_SERVER.replace("print('listening", "pass  # print('listening");
        let target = SpawnOptions::new(py(python, &script, "127.0.0.1:{port}"))
            .spawn()
            .unwrap();
        assert_eq!(target.addr().ip(), Ipv4Addr::LOCALHOST);
        echo_once(target.addr());
    }

    #[test]
    fn port_placeholder_retries_when_the_server_exits_early() {
        let Some(python) = python() else { return };
        // Fails with "address in use" the first time, as if someone had taken the port.
        let script = r#"
import os, socket, sys
marker = sys.argv[2]
if not os.path.exists(marker):
    open(marker, 'w').close()
    print('OSError: [Errno 98] Address already in use', flush=True)
    sys.exit(1)
s = socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(4)
while True:
    s.accept()[0].close()
"#;
        let marker = unique_temp_path("retry");
        let command = py(python, script, &format!("{{port}} {}", marker.display()));
        let target = SpawnOptions::new(command).spawn();
        let _ = std::fs::remove_file(&marker);
        let target = target.unwrap();
        assert!(target.is_alive());

        // A server that always fails uses up the attempts and says how many there were.
        let err = SpawnOptions::new(py(
            python,
            "import sys; print('in use'); sys.exit(1)",
            "{port}",
        ))
        .port_attempts(3)
        .spawn()
        .unwrap_err();
        match err {
            SpawnError::ExitedBeforeReady {
                attempts,
                output_tail,
                status,
            } => {
                assert_eq!(attempts, 3);
                assert_eq!(status.code(), Some(1));
                assert!(output_tail.contains("in use"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn explicit_target_addr_and_extra_placeholders() {
        let Some(python) = python() else { return };
        let port = pick_free_port().unwrap();
        let script = ECHO_SERVER.replace("print('listening", "pass  # print('listening");
        let target = SpawnOptions::new(py(python, &script, "{here}"))
            .placeholder("here", format!("127.0.0.1:{port}"))
            .target_addr(([127, 0, 0, 1], port).into())
            .spawn()
            .unwrap();
        assert_eq!(target.addr().port(), port);
        echo_once(target.addr());
    }

    #[test]
    fn never_ready_fails_within_the_timeout_with_the_output() {
        let Some(python) = python() else { return };
        let timeout = Duration::from_millis(500);
        let started = Instant::now();
        let err = SpawnOptions::new(py(
            python,
            "import time; print('warming up', flush=True); time.sleep(60)",
            "{addr}",
        ))
        .ready_timeout(timeout)
        .spawn()
        .unwrap_err();
        let elapsed = started.elapsed();
        match &err {
            SpawnError::NeverReady {
                timeout: t,
                output_tail,
                ..
            } => {
                assert_eq!(*t, timeout);
                assert!(output_tail.contains("warming up"), "{output_tail:?}");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(!err.is_usage_error());
        assert!(elapsed >= timeout, "{elapsed:?}");
        // The timeout, plus killing and reaping; far less than the child's 60 s.
        assert!(elapsed < timeout + Duration::from_secs(3), "{elapsed:?}");

        // The same with a connect probe that never succeeds.
        let started = Instant::now();
        let err = SpawnOptions::new(py(python, "import time; time.sleep(60)", "{port}"))
            .ready_timeout(timeout)
            .spawn()
            .unwrap_err();
        assert!(matches!(err, SpawnError::NeverReady { .. }), "{err:?}");
        assert!(started.elapsed() < timeout + Duration::from_secs(3));
    }

    #[test]
    fn early_exit_is_reported_with_status_and_output() {
        let Some(python) = python() else { return };
        let script =
            "import sys; print('bind failed: boom'); sys.stderr.write('on stderr\\n'); sys.exit(7)";
        let started = Instant::now();
        let err = SpawnOptions::new(py(python, script, "{addr}"))
            .spawn()
            .unwrap_err();
        match &err {
            SpawnError::ExitedBeforeReady {
                status,
                attempts,
                output_tail,
            } => {
                assert_eq!(status.code(), Some(7));
                assert_eq!(*attempts, 1);
                assert!(output_tail.contains("bind failed: boom"), "{output_tail:?}");
                assert!(output_tail.contains("on stderr"), "{output_tail:?}");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(err.to_string().contains("bind failed: boom"));
        // Not the 10 s readiness timeout: the exit is noticed as it happens.
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_program_that_does_not_exist_cannot_start() {
        let err = SpawnOptions::new("/nonexistent/echo-server-that-is-not-there {addr}")
            .spawn()
            .unwrap_err();
        assert!(matches!(err, SpawnError::CannotStart { .. }), "{err:?}");
        assert!(!err.is_usage_error());
    }

    #[test]
    fn output_ring_of_a_real_child_keeps_the_last_64_kib() {
        let Some(python) = python() else { return };
        // 300 KiB of numbered lines, then a marker, then the ready line: the child must never
        // block on the pipe, and only the end survives.
        let script = r#"
import socket, sys
out = sys.stdout
for i in range(300 * 1024 // 16):
    out.write('line %010d\n' % i)
out.write('LAST-BEFORE-READY\n')
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1)
out.write('listening on %s:%d\n' % s.getsockname())
out.flush()
s.accept()
"#;
        let target = SpawnOptions::new(py(python, script, "")).spawn().unwrap();
        let tail = target.output_tail();
        assert!(tail.len() <= OUTPUT_TAIL_CAPACITY);
        assert!(tail.len() > OUTPUT_TAIL_CAPACITY - 64);
        assert!(!tail.contains("line 0000000000\n"));
        assert!(tail.contains(&format!("line {:010}\n", 300 * 1024 / 16 - 1)));
        assert!(tail
            .trim_end()
            .ends_with(&format!("listening on {}", target.addr())));
    }

    #[cfg(unix)]
    #[test]
    fn dropping_kills_the_whole_process_group() {
        let Some(python) = python() else { return };
        // The grandchild inherits the pipes, so this also proves the readers are released.
        let script = r#"
import socket, subprocess, time
p = subprocess.Popen(['sleep', '1000'])
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1)
print('grandchild %d' % p.pid, flush=True)
print('listening on %s:%d' % s.getsockname(), flush=True)
time.sleep(1000)
"#;
        let target = SpawnOptions::new(py(python, script, "")).spawn().unwrap();
        let child = i32::try_from(target.pid()).unwrap();
        let tail = target.output_tail();
        let grandchild: i32 = tail
            .lines()
            .find_map(|l| l.strip_prefix("grandchild "))
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("no grandchild pid in {tail:?}"));
        assert!(!process_gone(child) && !process_gone(grandchild));
        let started = Instant::now();
        drop(target);
        assert!(started.elapsed() < READER_JOIN_BOUND + Duration::from_secs(1));
        assert!(wait_until_gone(child), "child {child} survived");
        assert!(
            wait_until_gone(grandchild),
            "grandchild {grandchild} survived"
        );
    }

    #[test]
    fn a_server_that_dies_mid_run_is_detected() {
        let Some(python) = python() else { return };
        let script = r#"
import os, socket
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1)
print('listening on %s:%d' % s.getsockname(), flush=True)
s.accept()
print('segfault, pretend', flush=True)
os._exit(9)
"#;
        let target = SpawnOptions::new(py(python, script, "")).spawn().unwrap();
        assert!(target.is_alive());
        assert!(target.check_alive().is_ok());
        let _conn = TcpStream::connect_timeout(&target.addr(), BOUND).unwrap();
        let status = target.wait_for_exit(BOUND).expect("the server should exit");
        assert_eq!(status.code(), Some(9));
        assert!(!target.is_alive());
        assert_eq!(target.try_exit_status(), Some(status));
        let died = target.check_alive().unwrap_err();
        assert_eq!(died.status, status);
        assert!(died.output_tail.contains("segfault, pretend"), "{died:?}");
        assert!(died.to_string().contains("segfault, pretend"));
    }

    #[cfg(unix)]
    #[test]
    fn shutdown_asks_with_sigterm_then_kills() {
        use std::os::unix::process::ExitStatusExt;
        let Some(python) = python() else { return };
        let server = |on_term: &str| {
            format!(
                r#"
import signal, socket, sys, time
def term(*_):
    print('got TERM', flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, {on_term})
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1)
print('listening on %s:%d' % s.getsockname(), flush=True)
while True:
    time.sleep(1)
"#
            )
        };
        let polite = SpawnOptions::new(py(python, &server("term"), ""))
            .spawn()
            .unwrap();
        let status = polite.shutdown(BOUND);
        assert!(status.success(), "{status:?}");

        let stubborn = SpawnOptions::new(py(python, &server("signal.SIG_IGN"), ""))
            .spawn()
            .unwrap();
        let started = Instant::now();
        let status = stubborn.shutdown(Duration::from_millis(300));
        assert_eq!(status.signal(), Some(libc::SIGKILL));
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    /// Set for the child test process of `the_server_dies_when_we_die_without_cleanup`.
    #[cfg(target_os = "linux")]
    const ABORT_HELPER_ENV: &str = "ECHO_HARNESS_SPAWN_ABORT_HELPER";

    /// Not a test of its own: the body of the process that the next test starts and watches.
    /// It spawns a server, says its pid, and aborts, so that no destructor runs.
    #[cfg(target_os = "linux")]
    #[test]
    #[ignore = "the helper process of the_server_dies_when_we_die_without_cleanup"]
    fn helper_spawns_a_server_then_aborts() {
        if std::env::var_os(ABORT_HELPER_ENV).is_none() {
            return;
        }
        let python = python().expect("the caller checked for python3");
        let target = SpawnOptions::new(py(python, ECHO_SERVER, "{addr}"))
            .spawn()
            .unwrap();
        // The test harness prints the test's name on the same line, hence the search for it.
        println!("SERVER_PID={}", target.pid());
        std::io::stdout().flush().unwrap();
        std::process::abort();
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_server_dies_when_we_die_without_cleanup() {
        // Drop never runs when check is SIGKILLed or crashes; PR_SET_PDEATHSIG covers that.
        let Some(_) = python() else { return };
        let output = Command::new(std::env::current_exe().unwrap())
            .args([
                "helper_spawns_a_server_then_aborts",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(ABORT_HELPER_ENV, "1")
            .stderr(Stdio::null())
            .output()
            .unwrap();
        assert!(!output.status.success(), "the helper should have aborted");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let pid: i32 = stdout
            .lines()
            .find_map(|l| l.split_once("SERVER_PID=").map(|(_, pid)| pid.trim()))
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no SERVER_PID in {stdout:?}"));
        assert!(wait_until_gone(pid), "server {pid} outlived its parent");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn children_outlive_the_thread_that_spawned_them() {
        // PDEATHSIG follows the forking thread: spawning from a thread that then ends must not
        // kill the server, because the fork happens on the long-lived spawner thread.
        let Some(python) = python() else { return };
        let command = py(python, ECHO_SERVER, "{addr}");
        let target = thread::spawn(move || SpawnOptions::new(command).spawn().unwrap())
            .join()
            .unwrap();
        // Give a wrongly delivered SIGKILL time to land before looking.
        assert!(target.wait_for_exit(Duration::from_millis(300)).is_none());
        echo_once(target.addr());
    }
}
