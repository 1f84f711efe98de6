//! Whether the target let go of what a case used: the sockets of the case's connections, and a
//! spawned target's descriptors and threads.
//!
//! A server can echo every byte and still leak a descriptor, a thread or a socket per
//! connection; it passes every echo check and falls over after a day. Two checks follow every
//! case:
//!
//! - `sockets`: every connection the case closed must be closed by the target too, within a
//!   bound ([`DEFAULT_LEAK_BOUND`]). The player asks the kernel (netlink sock_diag, or
//!   /proc/net/tcp) about each connection's own four-tuple: a client socket still in FIN_WAIT1/2
//!   after the bound is one whose peer never closed (the server's side sits in CLOSE_WAIT).
//!   Linux only, for a target on loopback, not through a proxy of ours (whose sockets those
//!   would be). It polls: a target that closed at once costs one query per connection.
//! - `group` and `growth`: with a target process group (`check --spawn`), its open descriptors
//!   and threads ([`ResourceLevel`], from /proc) must come back to their level from before a
//!   case within the bound. One case is not enough to call a leak in a campaign (lazy
//!   cleanup, pools that grow then plateau): the settled level must have grown in each of
//!   [`GROWTH_CASES`] cases in a row, by at least that much in all. A shrink candidate or a
//!   replay is judged alone: its level after against its level before.
//!
//! Where the kernel cannot be asked (not Linux, no /proc, netlink and /proc both refused) the
//! checks are off, and a warning says so once per process.

mod group;
mod growth;
pub(crate) mod sockets;

use std::fmt;
use std::sync::{Arc, Once};
use std::time::Duration;

pub use group::process_group_level;
pub(crate) use growth::{judge_alone, settle, GrowthWatch};

/// How long the target may take to let go of what a case used, by default (`--leak-bound`).
pub const DEFAULT_LEAK_BOUND: Duration = Duration::from_secs(1);

/// In how many cases in a row a process group's settled level must have grown, and by how much
/// in all at least, before a campaign calls it a leak.
pub const GROWTH_CASES: u32 = 8;

/// What a process group holds: open descriptors and threads, summed over its processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ResourceLevel {
    /// Open file descriptors (entries of /proc/PID/fd), over all processes of the group.
    pub descriptors: u64,
    /// Threads (the `Threads:` line of /proc/PID/status), over all processes of the group.
    pub threads: u64,
}

impl ResourceLevel {
    /// Whether neither count is above `other`'s.
    pub fn within(&self, other: &ResourceLevel) -> bool {
        self.descriptors <= other.descriptors && self.threads <= other.threads
    }
}

/// What grew in a process group: `(from, to)` for each count that did, over `cases` cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceGrowth {
    /// Open descriptors, when they grew.
    pub descriptors: Option<(u64, u64)>,
    /// Threads, when they grew.
    pub threads: Option<(u64, u64)>,
    /// Over how many cases: in a campaign the cases in a row that each grew; 1 for a case
    /// judged alone (a shrink step, a replay).
    pub cases: u32,
}

/// Measures the target's [`ResourceLevel`] now; `None` when it cannot (the process is gone).
/// The CLI makes one for a spawned process group ([`process_group_level`]); the library's
/// [`Check`](crate::Check) knows nothing of processes.
pub type ResourceProbe = Arc<dyn Fn() -> Option<ResourceLevel> + Send + Sync>;

/// Says once per process, for each `what`, that a leak check is off and why: a line on stderr
/// (the CLI's `check` installs no log subscriber) and a tracing warning.
pub(crate) fn warn_off_once(once: &'static Once, what: &str, why: &dyn fmt::Display) {
    once.call_once(|| {
        eprintln!("echo-harness: warning: {what} are off: {why}");
        tracing::warn!("{what} are off: {why}");
    });
}
