//! The fast path's splice(2) bursts ([`ServerConfig::splice`](crate::ServerConfig::splice)): a
//! streaming connection's bytes move socket → pipe → socket inside the kernel, through a pipe
//! lent from the bounded [`PipePool`](crate::listener::pipes::PipePool) for one burst, at most one
//! buffer's worth at a time (so the memory bound is the buffers'). The splices themselves are
//! the pool's ([`LentPipe::fill_from`], [`LentPipe::drain_to`], which also keeps a SIGPIPE
//! from a peer that has gone away from killing a process with a C `main`).

use std::io;
use std::net::TcpStream;
use std::os::fd::AsRawFd;

use tokio::io::unix::AsyncFdReadyGuard;

use super::super::context::{end_of, ConnectionContext};
use super::super::stats::ConnectionEnd;
use super::{is_cut, Burst, Conn};
use crate::listener::pipes::LentPipe;

/// A burst whose first splice moves less than this is not bulk: the connection goes back to
/// reading into buffers, which is cheaper for small messages.
const BULK_MIN: usize = 4096;

impl<'a> Conn<'a> {
    /// Moves the burst socket → pipe → socket with splice(2), one buffer's worth at a time.
    pub(super) async fn splice_burst(
        &mut self,
        mut guard: AsyncFdReadyGuard<'a, TcpStream>,
        mut pipe: LentPipe,
        ctx: &ConnectionContext,
    ) -> Result<Burst, ConnectionEnd> {
        let socket = self.fd.as_raw_fd();
        let budget = self.chunk.unwrap_or(usize::MAX).min(ctx.pool.buffer_size());
        let mut first = true;
        loop {
            // Only EAGAIN ends a splice burst: a pipe can fill its slots with small segments
            // before the socket is drained, so a short splice proves nothing.
            let n = match guard.try_io(|_| pipe.fill_from(socket, budget)) {
                Ok(Ok(0)) => return Ok(Burst::Eof),
                Ok(Ok(n)) => n,
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                Ok(Err(e)) => return Err(end_of(&e)),
                Err(_would_block) => return Ok(Burst::More),
            };
            self.tally.read(n);
            self.clock.progress();
            if first && n < BULK_MIN {
                self.bulk = false;
            }
            first = false;
            self.drain(&mut pipe).await?;
            if is_cut(ctx) {
                return Ok(Burst::Cut);
            }
        }
    }

    /// Splices everything in the pipe out to the socket.
    async fn drain(&mut self, pipe: &mut LentPipe) -> Result<(), ConnectionEnd> {
        let socket = self.fd.as_raw_fd();
        while pipe.held > 0 {
            self.write_some(|_| pipe.drain_to(socket)).await?;
        }
        Ok(())
    }
}
