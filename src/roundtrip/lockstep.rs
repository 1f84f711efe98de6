//! Lockstep: after writing each chunk, the client waits until the server has read every byte
//! sent, so that the server's reads are the plan's chunks exactly (a read may still split a
//! chunk, never join two).
//!
//! How a stream is cut on the way otherwise depends on timing: chunks written back to back may
//! reach the server as one read. Lockstep plays the plan's fragmentation at its finest, every
//! time, which makes a fragmentation bug found by chance (by a fuzzer, say) replay for certain.
//!
//! Two ways to know what the server has read:
//! - [`Lockstep::ServerReads`]: the built-in server's own count of bytes read on the connection.
//! - [`Lockstep::Kernel`], for **any** server on this machine (Linux): the server's kernel has
//!   acknowledged every byte (`TCP_INFO` of our own socket), and the server's socket holds none
//!   unread (its receive queue, asked of `NETLINK_SOCK_DIAG` for that one socket, or read from
//!   `/proc/net/tcp`). Nothing about the server need be known but that it runs here.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::server::ServerStats;
use crate::sock_diag::SockDiag;

/// How a client in lockstep learns that the server has read what it sent.
#[derive(Clone, Debug)]
pub enum Lockstep {
    /// The built-in server's counters.
    ServerReads(Arc<ServerStats>),
    /// The kernel's view of the server's socket, for any server on this machine (Linux only;
    /// elsewhere [`Lockstep::probe`] says it cannot).
    Kernel,
}

/// One connection's question, asked after every chunk: has the server read all `sent` bytes?
pub(crate) struct Probe {
    how: How,
    /// The client side's address, and the server side's as the client sees it.
    local: SocketAddr,
    peer: SocketAddr,
}

enum How {
    ServerReads(Arc<ServerStats>),
    Kernel(Box<SockDiag>),
}

impl Lockstep {
    /// The probe for the connection from `local` to `peer`. Fails where the kernel cannot be
    /// asked (not Linux, or neither netlink nor `/proc` available), saying why.
    pub(crate) fn probe(&self, local: SocketAddr, peer: SocketAddr) -> io::Result<Probe> {
        let how = match self {
            Lockstep::ServerReads(stats) => How::ServerReads(Arc::clone(stats)),
            Lockstep::Kernel => How::Kernel(Box::new(SockDiag::open().map_err(|e| {
                io::Error::new(e.kind(), format!("lockstep with any server: {e}"))
            })?)),
        };
        Ok(Probe { how, local, peer })
    }
}

impl Probe {
    /// Whether the server has read every one of the `sent` bytes of this connection (counted
    /// from its start). `socket` is the client's own socket.
    #[cfg_attr(not(target_os = "linux"), allow(unused_variables))]
    pub(crate) fn server_has_read(
        &mut self,
        #[cfg(unix)] socket: std::os::fd::BorrowedFd<'_>,
        sent: u64,
    ) -> io::Result<bool> {
        match &mut self.how {
            How::ServerReads(stats) => Ok(stats
                .connection(self.local)
                .is_some_and(|record| record.bytes_in >= sent)),
            How::Kernel(diag) => {
                #[cfg(target_os = "linux")]
                if crate::sock_diag::bytes_acked(socket)? < sent {
                    return Ok(false);
                }
                // The server's end: its own address is our peer, its peer is us. Gone means
                // closed, and a closed socket reads nothing more: waiting would be in vain.
                Ok(diag
                    .socket(self.peer, self.local)?
                    .is_none_or(|info| info.receive_queue == 0))
            }
        }
    }
}
