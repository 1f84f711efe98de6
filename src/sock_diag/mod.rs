//! Asks the kernel about one TCP socket, named by its four-tuple: its state and its queues.
//!
//! The harness uses it to play in lockstep with a server it did not write: after writing a chunk
//! it waits until the server's socket has an empty receive queue (the server read every byte)
//! before it writes the next, so the server's reads are exactly the chunks written. It also finds
//! sockets a server never closed (the client's side left in FIN_WAIT2).
//!
//! On Linux a query is one NETLINK_SOCK_DIAG request for the exact four-tuple (`netlink`); where
//! netlink is refused (a sandbox, WSL1) it searches `/proc/net/tcp` and `/proc/net/tcp6`
//! (`proc_net`), whose cost grows with the number of sockets. Elsewhere there is nothing to ask.
//! [`bytes_acked`] is the cheap question about one of our own sockets: how much of what we sent
//! the peer's kernel has acknowledged.

use std::fmt;
use std::io;
use std::net::SocketAddr;

#[cfg(target_os = "linux")]
mod netlink;
#[cfg(target_os = "linux")]
mod proc_net;
#[cfg(all(test, target_os = "linux"))]
mod tests;

/// A TCP socket's state as the kernel numbers it (TCP_ESTABLISHED = 1 ... TCP_CLOSING = 11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
// Only the Linux sources construct states; elsewhere `open` fails before any is made.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub(crate) enum TcpState {
    Established,
    SynSent,
    SynRecv,
    FinWait1,
    FinWait2,
    TimeWait,
    Close,
    CloseWait,
    LastAck,
    Listen,
    Closing,
    /// A number outside 1..=11 (the kernel's internal TCP_NEW_SYN_RECV is 12).
    Other(u8),
}

impl TcpState {
    /// The state's name as `ss` and netstat print it: `FIN_WAIT2`, `CLOSE_WAIT`, ...
    pub(crate) fn name(self) -> &'static str {
        match self {
            TcpState::Established => "ESTABLISHED",
            TcpState::SynSent => "SYN_SENT",
            TcpState::SynRecv => "SYN_RECV",
            TcpState::FinWait1 => "FIN_WAIT1",
            TcpState::FinWait2 => "FIN_WAIT2",
            TcpState::TimeWait => "TIME_WAIT",
            TcpState::Close => "CLOSE",
            TcpState::CloseWait => "CLOSE_WAIT",
            TcpState::LastAck => "LAST_ACK",
            TcpState::Listen => "LISTEN",
            TcpState::Closing => "CLOSING",
            TcpState::Other(_) => "UNKNOWN",
        }
    }
}

#[cfg(target_os = "linux")]
impl TcpState {
    /// The state the kernel numbers `number` (include/net/tcp_states.h).
    fn from_kernel(number: u8) -> TcpState {
        match number {
            1 => TcpState::Established,
            2 => TcpState::SynSent,
            3 => TcpState::SynRecv,
            4 => TcpState::FinWait1,
            5 => TcpState::FinWait2,
            6 => TcpState::TimeWait,
            7 => TcpState::Close,
            8 => TcpState::CloseWait,
            9 => TcpState::LastAck,
            10 => TcpState::Listen,
            11 => TcpState::Closing,
            other => TcpState::Other(other),
        }
    }
}

/// What the kernel says about one socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SocketInfo {
    pub state: TcpState,
    /// Bytes received and not yet read by the socket's owner (for a non-listening socket).
    /// A FIN counts as one until the owner has read the end of the stream: the kernel reports
    /// `rcv_nxt - copied_seq`, and the FIN takes a sequence number.
    pub receive_queue: u32,
    /// Bytes sent and not yet acknowledged by the peer.
    pub send_queue: u32,
}

/// A reusable handle for queries (on Linux, one NETLINK_SOCK_DIAG socket, opened once).
pub(crate) struct SockDiag {
    source: Source,
}

/// Where the answers come from. Empty off Linux, where [`SockDiag::open`] never succeeds.
enum Source {
    #[cfg(target_os = "linux")]
    Netlink(netlink::Netlink),
    #[cfg(target_os = "linux")]
    Proc(proc_net::ProcNet),
}

impl SockDiag {
    /// Opens the netlink socket; on other systems, or when netlink is refused, a handle that
    /// reads /proc/net/tcp and /proc/net/tcp6 instead (say which in `Debug`). Err only when
    /// neither can work (e.g. not Linux): io::ErrorKind::Unsupported with a message saying why.
    pub(crate) fn open() -> io::Result<SockDiag> {
        #[cfg(target_os = "linux")]
        {
            let refused = match SockDiag::open_netlink() {
                Ok(diag) => return Ok(diag),
                Err(refused) => refused,
            };
            SockDiag::open_proc().map_err(|unreadable| {
                io::Error::new(
                    io::ErrorKind::Unsupported,
                    format!(
                        "cannot ask the kernel about sockets: netlink sock_diag was refused \
                         ({refused}) and {unreadable}"
                    ),
                )
            })
        }
        #[cfg(not(target_os = "linux"))]
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "asking the kernel about a socket needs Linux (netlink sock_diag or /proc/net/tcp)",
        ))
    }

    /// The netlink handle, or why netlink is refused.
    #[cfg(target_os = "linux")]
    fn open_netlink() -> io::Result<SockDiag> {
        let source = Source::Netlink(netlink::Netlink::open()?);
        Ok(SockDiag { source })
    }

    /// The /proc handle, or why /proc/net/tcp cannot be read.
    #[cfg(target_os = "linux")]
    fn open_proc() -> io::Result<SockDiag> {
        let source = Source::Proc(proc_net::ProcNet::open()?);
        Ok(SockDiag { source })
    }

    /// The socket whose own address is `local` and whose peer is `remote` (IPv4 or IPv6,
    /// both must be the same family), or None when there is no such socket.
    pub(crate) fn socket(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> io::Result<Option<SocketInfo>> {
        if local.is_ipv4() != remote.is_ipv4() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("a socket's two ends are of one address family, not {local} and {remote}"),
            ));
        }
        // A place, not a reference, so that off Linux the empty match is exhaustive.
        match self.source {
            #[cfg(target_os = "linux")]
            Source::Netlink(ref mut netlink) => netlink.query(local, remote),
            #[cfg(target_os = "linux")]
            Source::Proc(ref mut proc) => proc.query(local, remote),
        }
    }
}

impl Source {
    /// What the answers are read from, for `Debug`.
    fn name(&self) -> &'static str {
        match *self {
            #[cfg(target_os = "linux")]
            Source::Netlink(_) => "netlink sock_diag",
            #[cfg(target_os = "linux")]
            Source::Proc(_) => "/proc/net/tcp and /proc/net/tcp6",
        }
    }
}

impl fmt::Debug for SockDiag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SockDiag({})", self.source.name())
    }
}

/// Whether two endpoints are one, an IPv4 address and its IPv4-mapped IPv6 form alike: a
/// dual-stack IPv6 socket serving an IPv4 peer is listed under mapped addresses.
#[cfg(target_os = "linux")]
fn same_endpoint(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() == b.port() && a.ip().to_canonical() == b.ip().to_canonical()
}

/// The start of struct tcp_info (linux/tcp.h) up to tcpi_bytes_acked. Our own definition:
/// libc's varies by C library (uClibc's has no tcpi_bytes_acked, nor do older libc releases,
/// which follow glibc's header), and a prefix is all `getsockopt` needs.
#[cfg(target_os = "linux")]
#[repr(C)]
#[derive(Default)]
struct TcpInfoPrefix {
    /// tcpi_state ... tcpi_snd_wscale/rcv_wscale and the flag bits: eight bytes.
    flags: [u8; 8],
    /// tcpi_rto ... tcpi_total_retrans: 24 words.
    counters: [u32; 24],
    pacing_rate: u64,
    max_pacing_rate: u64,
    bytes_acked: u64,
}

#[cfg(target_os = "linux")]
const _: () = assert!(
    std::mem::offset_of!(TcpInfoPrefix, bytes_acked) == 120
        && std::mem::size_of::<TcpInfoPrefix>() == 128
);

/// Bytes of this socket's stream the peer's kernel has acknowledged (TCP_INFO's
/// tcpi_bytes_acked, Linux 4.1+), read with getsockopt on our own socket: cheap, no netlink.
///
/// The kernel counts sequence numbers: on a connection this socket opened (`connect`) its SYN
/// is one more than the bytes, and a FIN is one more once acknowledged; an accepted socket's
/// SYN-ACK is not counted. So compare a reading with one taken before the write.
#[cfg(target_os = "linux")]
pub(crate) fn bytes_acked(socket: std::os::fd::BorrowedFd<'_>) -> io::Result<u64> {
    use std::os::fd::AsRawFd;

    /// 128: the size const-asserted below the struct.
    const SIZE: libc::socklen_t = std::mem::size_of::<TcpInfoPrefix>() as libc::socklen_t;

    let mut info = TcpInfoPrefix::default();
    let mut len = SIZE;
    // SAFETY: `info` is a live, writable TcpInfoPrefix of `len` bytes, all of whose fields are
    // integers (any bytes the kernel writes are a valid value), and `len` points to its size;
    // the kernel writes at most `len` bytes and stores back how many it wrote.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut TcpInfoPrefix).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // An older kernel fills a shorter struct and leaves the field we read as our zero.
    if len < SIZE {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("TCP_INFO gave {len} bytes, too few for tcpi_bytes_acked (Linux 4.1+)"),
        ));
    }
    Ok(info.bytes_acked)
}
