//! Lockstep ([`Session::lockstep`]): after writing each chunk, the session waits until the
//! built-in server has read every byte sent, so that the server's reads are the plan's chunks.

use std::sync::Arc;

use super::round::check_deadline;
use super::{CaseProgress, Session};
use crate::roundtrip::divergence::DivergenceKind;
use crate::server::ServerStats;

impl Session {
    /// Plays in lockstep with the built-in server whose counters are `stats`: after writing
    /// each chunk, wait until the server has read every byte sent, so that the server's reads
    /// are the plan's chunks exactly (a read may still split a chunk, never join two).
    ///
    /// How a stream is cut on the way otherwise depends on timing: chunks written back to back
    /// may reach the server as one read. Lockstep plays the plan's fragmentation at its finest,
    /// every time, which makes a fragmentation bug found by chance replay for certain.
    pub fn lockstep(mut self, stats: Arc<ServerStats>) -> Session {
        self.lockstep = Some(stats);
        self
    }

    /// In lockstep, waits until the server has read everything sent on this connection.
    pub(super) fn wait_for_server(&self, progress: &CaseProgress) -> Result<(), DivergenceKind> {
        let Some(stats) = &self.lockstep else {
            return Ok(());
        };
        // The server's count covers earlier cases on this connection too.
        let base = self.sent_before;
        loop {
            let read = stats
                .connection(self.local_addr)
                .map_or(0, |record| record.bytes_in);
            if read >= base + progress.sent {
                return Ok(());
            }
            check_deadline(progress)?;
            std::thread::yield_now();
        }
    }
}
