//! Readiness: how we learn that a started server is ready and where it listens (a matching line
//! of output, or a connect probe), within a deadline; and how a start that failed is told apart
//! from one whose server exited early, which `{port}` retries.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::process::ExitStatus;
use std::sync::PoisonError;
use std::thread;
use std::time::{Duration, Instant};

use regex::Regex;

use super::error::{SpawnError, TargetExited};
use super::target::SpawnedTarget;
use crate::sync::lock;

/// The longest single nap while polling for readiness or exit; the first naps are much shorter.
pub(super) const MAX_POLL_INTERVAL: Duration = Duration::from_millis(25);

/// The longest a single connect probe may take before the next attempt.
const PROBE_CONNECT_TIMEOUT: Duration = Duration::from_millis(250);

/// How we learn that the server is ready and where it listens.
#[derive(Debug, Clone, Copy)]
pub(super) enum Readiness {
    /// A line of output matches the pattern; the first capture group is the address.
    AddressFromOutput,
    /// We choose a free port for `{port}` and connect to it.
    ProbePickedPort,
    /// The caller told us the address; we connect to it.
    ProbeGivenAddr(SocketAddr),
}

/// How one start went wrong: an early exit is told apart because `{port}` retries it.
pub(super) enum AttemptError {
    Exited {
        status: ExitStatus,
        output_tail: String,
    },
    Failed(SpawnError),
}

impl AttemptError {
    pub(super) fn into_spawn_error(self, attempts: u32) -> SpawnError {
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

impl SpawnedTarget {
    /// Waits until a line matches the readiness pattern; returns its first capture group.
    pub(super) fn wait_for_ready_line(
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
    pub(super) fn wait_for_connect(
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
}

/// A port that was free a moment ago: bind port 0 on loopback, read the port, let it go. Another
/// process may take it before the server does; `{port}` retries for that reason.
pub(super) fn pick_free_port() -> io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// Turns the captured text into an address to connect to: a socket address, or a `host:port`
/// that resolves. A wildcard address becomes the loopback address of the same family.
pub(super) fn parse_ready_addr(captured: &str) -> Option<SocketAddr> {
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

/// Takes the complete lines off the front of `pending` and returns the first capture group of
/// the first one that matches; the unfinished last line stays in `pending`.
pub(super) fn find_ready_line(pending: &mut Vec<u8>, pattern: &Regex) -> Option<String> {
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

/// `timeout` from now, or a year from now for a timeout too large to add (`Duration::MAX`).
pub(super) fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(365 * 24 * 3600))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spawn::DEFAULT_READY_PATTERN;

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
}
