//! Lockstep on the session ([`Session::lockstep`]): after writing each chunk, the session
//! waits until the server has read every byte sent (see [`Lockstep`]).

use std::io;

use super::round::check_deadline;
use super::{CaseProgress, Session};
use crate::roundtrip::divergence::DivergenceKind;
use crate::roundtrip::lockstep::Lockstep;

impl Session {
    /// Plays in lockstep with the server: after writing each chunk, wait until the server has
    /// read every byte sent, so that the server's reads are the plan's chunks exactly (a read
    /// may still split a chunk, never join two). [`Lockstep::ServerReads`] for the built-in
    /// server, [`Lockstep::Kernel`] for any server on this machine; the latter fails where the
    /// kernel cannot be asked (not Linux), saying why, and the session then plays on as it
    /// was.
    pub fn lockstep(&mut self, how: Lockstep) -> io::Result<()> {
        let peer = self.stream.peer_addr()?;
        let probe = how.probe(&self.stream, self.local_addr, peer, self.sent_before)?;
        self.lockstep = Some(probe);
        Ok(())
    }

    /// In lockstep, waits until the server has read everything sent on this connection.
    pub(super) fn wait_for_server(
        &mut self,
        progress: &CaseProgress,
    ) -> Result<(), DivergenceKind> {
        let Some(probe) = &mut self.lockstep else {
            return Ok(());
        };
        // Counted from the connection's start: earlier cases on it sent bytes too.
        let sent = self.sent_before + progress.sent;
        loop {
            match probe.server_has_read(&self.stream, sent) {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                // The kernel stopped answering: play on without lockstep rather than fail a
                // case for the harness's own trouble.
                Err(e) => {
                    tracing::warn!("lockstep is off for this connection: {e}");
                    self.lockstep = None;
                    return Ok(());
                }
            }
            check_deadline(progress)?;
            std::thread::yield_now();
        }
    }
}
