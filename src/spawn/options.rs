//! [`SpawnOptions`]: what to start and how to tell it is ready, checked into a plan before
//! anything starts, and [`SpawnOptions::spawn`], which starts it (again on a fresh port, for
//! `{port}`, when it exits early).

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use regex::Regex;

use super::error::SpawnError;
use super::readiness::{deadline_after, parse_ready_addr, pick_free_port, AttemptError, Readiness};
use super::target::SpawnedTarget;
use super::template::Template;

/// The readiness pattern used unless [`SpawnOptions::ready_pattern`] says otherwise: the line our
/// own `serve` command prints, with the address as the first capture group.
pub const DEFAULT_READY_PATTERN: &str = r"listening on (\S+)";

/// How long a server may take to become ready unless [`SpawnOptions::ready_timeout`] says otherwise.
pub const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(10);

/// How many times a `{port}` server is started on a fresh port before we give up.
pub const DEFAULT_PORT_ATTEMPTS: u32 = 5;

/// What `{addr}` is replaced with: the server binds an ephemeral port and tells us which.
pub(super) const EPHEMERAL_ADDR: &str = "127.0.0.1:0";

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
