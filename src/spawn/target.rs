//! [`SpawnedTarget`]: a running server under test, and what callers may ask of it (where it
//! listens, its output, whether it still runs, a polite shutdown).

use std::fmt;
use std::net::SocketAddr;
use std::process::{Child, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::error::TargetExited;
use super::output::OutputShared;
use super::readiness::{deadline_after, MAX_POLL_INTERVAL};
use crate::sync::lock;

/// How long an early exit waits for the readers to drain, so its report has the last words.
const DRAIN_ON_EXIT_BOUND: Duration = Duration::from_secs(1);

/// A server under test, running as a child process in its own process group.
///
/// Dropping it kills the whole group and reaps the child (see the module docs). It is `Send` and
/// `Sync`: the harness can share it behind an `Arc` and ask [`is_alive`](Self::is_alive) from any
/// connection's task.
pub struct SpawnedTarget {
    /// The child, behind a mutex so that liveness can be polled through `&self`. The exit status
    /// is kept once seen, because a reaped child cannot be asked again.
    pub(super) child: Mutex<ChildSlot>,
    /// The child's pid, which on unix is also its process group id.
    pub(super) pid: u32,
    /// The command line actually run, after substitution, for reports.
    pub(super) argv: Vec<String>,
    /// Where the server listens; set once it is ready.
    pub(super) addr: SocketAddr,
    /// The output ring and readiness state, shared with the reader threads.
    pub(super) output: Arc<OutputShared>,
    /// The stdout and stderr readers; joined in `Drop` once the pipes close, within a bound.
    pub(super) readers: Vec<JoinHandle<()>>,
    /// Set once a caller has waited for the output to drain after the exit, so that the wait
    /// (bounded by [`DRAIN_ON_EXIT_BOUND`]) is paid once, not by every check.
    pub(super) drained_after_exit: AtomicBool,
}

pub(super) struct ChildSlot {
    pub(super) child: Child,
    /// `Some` once the child has been reaped.
    pub(super) exit: Option<ExitStatus>,
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

    /// The last [`OUTPUT_TAIL_CAPACITY`](super::OUTPUT_TAIL_CAPACITY) bytes the server wrote to
    /// stdout and stderr, in arrival order, decoded lossily.
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

    /// Waits up to `bound` for both reader threads to reach end-of-file; whether they did.
    pub(super) fn wait_readers_drained(&self, bound: Duration) -> bool {
        let state = lock(&self.output.state);
        let (state, _) = self
            .output
            .changed
            .wait_timeout_while(state, bound, |s| s.open_streams > 0)
            .unwrap_or_else(PoisonError::into_inner);
        state.open_streams == 0
    }
}
