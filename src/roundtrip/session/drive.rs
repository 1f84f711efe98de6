//! A session driven by someone else's event loop ([`Session::drive_with`]): instead of blocking
//! in the kernel, every wait of the session — for its socket, for the server in lockstep, a
//! pause — is handed to a [`Drive`], which runs the loop the server lives on meanwhile.
//!
//! The fuzz harness runs the built-in server on its own current-thread runtime and drives it
//! from the session's waits, so an input costs system calls but no thread wake-up, and the
//! server reads each chunk exactly when the session waits for it to (see
//! [`Session::lockstep`]).

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use tokio::io::Interest;

use super::round::{check_deadline, stall_or};
use super::{CaseProgress, Session};
use crate::roundtrip::divergence::DivergenceKind;

/// An event loop a session's waits run: the harness's runtime with the server on it.
pub(crate) trait Drive: Send + std::fmt::Debug {
    /// Runs the loop until the session's socket may be ready for `interest` (the last try
    /// found it not ready), or until `deadline`: `Ok(false)`.
    fn ready(&mut self, interest: Interest, deadline: Instant) -> io::Result<bool>;
    /// Runs the loop until `done` says so (`Ok(true)`) or until `deadline` (`Ok(false)`).
    fn until(
        &mut self,
        done: &mut dyn FnMut() -> io::Result<bool>,
        deadline: Instant,
    ) -> io::Result<bool>;
    /// Runs the loop for `duration`: a pause of the plan, during which the server runs.
    fn pause(&mut self, duration: Duration);
}

impl Session {
    /// Hands every wait of this session to `driver` from now on; the socket becomes
    /// non-blocking.
    pub(crate) fn drive_with(&mut self, driver: Box<dyn Drive>) -> io::Result<()> {
        self.stream.set_nonblocking(true)?;
        self.driver = Some(driver);
        Ok(())
    }

    /// The session's socket, for a driver to register (it must not read or write it).
    pub(crate) fn socket(&self) -> &std::net::TcpStream {
        &self.stream
    }

    /// Writes all of `bytes`; driven, a full socket buffer runs the loop until it drains.
    pub(super) fn write_bytes(
        &mut self,
        mut bytes: &[u8],
        progress: &CaseProgress,
    ) -> Result<(), DivergenceKind> {
        let Some(driver) = &mut self.driver else {
            return self
                .stream
                .write_all(bytes)
                .map_err(|e| stall_or(&e, "writing", progress));
        };
        while !bytes.is_empty() {
            match self.stream.write(bytes) {
                Ok(0) => {
                    let e = io::Error::from(io::ErrorKind::WriteZero);
                    return Err(stall_or(&e, "writing", progress));
                }
                Ok(n) => bytes = &bytes[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    wait(driver.as_mut(), Interest::WRITABLE, progress)?;
                }
                Err(e) => return Err(stall_or(&e, "writing", progress)),
            }
        }
        Ok(())
    }

    /// Driven, a read that found nothing runs the loop until the echo may have come; `Ok(false)`
    /// when the session blocks in the kernel instead (its read timed out: a stall).
    pub(super) fn wait_readable(&mut self, progress: &CaseProgress) -> Result<bool, DivergenceKind> {
        match &mut self.driver {
            Some(driver) => wait(driver.as_mut(), Interest::READABLE, progress).map(|()| true),
            None => Ok(false),
        }
    }

    /// Waits out a scaled pause: driven, the loop runs meanwhile.
    pub(super) fn pause(&mut self, duration: Duration) {
        match &mut self.driver {
            Some(driver) if !duration.is_zero() => driver.pause(duration),
            Some(_) => {}
            None => super::round::pause(duration),
        }
    }

    /// Whether the socket holds bytes beyond the echo (`Ok(n)` of them, copied to the read
    /// buffer; `Ok(0)`: EOF), without waiting: `Err(WouldBlock)` when it holds none.
    pub(super) fn read_now(&mut self, len: usize) -> io::Result<usize> {
        if self.driver.is_some() {
            // Driven, the socket is non-blocking already.
            return self.stream.read(&mut self.read_buffer[..len]);
        }
        self.stream.set_nonblocking(true)?;
        let read = self.stream.read(&mut self.read_buffer[..len]);
        self.stream.set_nonblocking(false)?;
        read
    }
}

/// Runs `driver` until the socket may be ready for `interest`, within the case's deadline.
fn wait(
    driver: &mut dyn Drive,
    interest: Interest,
    progress: &CaseProgress,
) -> Result<(), DivergenceKind> {
    let during = if interest.is_readable() {
        "reading"
    } else {
        "writing"
    };
    match driver.ready(interest, progress.deadline) {
        Ok(true) => check_deadline(progress),
        Ok(false) => Err(DivergenceKind::Stalled {
            waited: progress.limit,
        }),
        Err(e) => Err(stall_or(&e, during, progress)),
    }
}
