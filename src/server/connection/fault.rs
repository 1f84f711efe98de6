//! The bug that feature `fault-injection` plants, so that the fuzz targets can show they find
//! real bugs (issue 5). Never compiled into a normal build.
//!
//! It needs fragmentation to show. A read of fewer than `SHORT_READ` (8) bytes has its last
//! byte held back. If more bytes arrive within `HOLD`, the held byte is echoed after them, out of
//! order; if none do (the client is waiting for its echo) or the client half-closes, it is echoed
//! late but in order. So a client that writes each message in one go and waits for its echo
//! sees every byte right, however short its messages; one whose message reaches the server in
//! pieces, the first of them short, sees its bytes reordered.
//!
//! It lives apart from the echo loop, which only calls its three hooks, so that the server
//! proper knows nothing of testing.

use std::time::Duration;

use tokio::net::TcpStream;
use tokio::time::Instant;

use super::{write_all, ConnectionContext, ConnectionEnd, ConnectionTally};

/// Reads shorter than this have their last byte held back.
const SHORT_READ: usize = 8;
/// How long a held byte waits for more bytes to overtake it.
const HOLD: Duration = Duration::from_millis(1);

/// The byte held back, if any.
#[derive(Debug, Default)]
pub(super) struct Fault {
    held: Option<u8>,
}

impl Fault {
    /// How many bytes of `read` to echo now, and a held byte to echo after them.
    pub(super) fn hold_back(&mut self, read: &[u8]) -> (usize, Option<u8>) {
        if let Some(byte) = self.held.take() {
            return (read.len(), Some(byte));
        }
        match read.split_last() {
            Some((&last, _)) if read.len() < SHORT_READ => {
                self.held = Some(last);
                (read.len() - 1, None)
            }
            _ => (read.len(), None),
        }
    }

    /// Echoes the held byte unless more bytes arrive within `HOLD`.
    pub(super) async fn release_unless_more_comes(
        &mut self,
        stream: &TcpStream,
        tally: &ConnectionTally,
        last_progress: &mut Instant,
        ctx: &mut ConnectionContext,
    ) -> Result<(), ConnectionEnd> {
        if self.held.is_none() || tokio::time::timeout(HOLD, stream.readable()).await.is_ok() {
            return Ok(());
        }
        self.release(stream, tally, last_progress, ctx).await
    }

    /// Echoes the held byte now.
    pub(super) async fn release(
        &mut self,
        stream: &TcpStream,
        tally: &ConnectionTally,
        last_progress: &mut Instant,
        ctx: &mut ConnectionContext,
    ) -> Result<(), ConnectionEnd> {
        match self.held.take() {
            Some(byte) => write_all(stream, &[byte], tally, last_progress, ctx).await,
            None => Ok(()),
        }
    }
}
