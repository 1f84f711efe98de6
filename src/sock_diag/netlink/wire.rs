//! The kernel's side of the conversation, from linux/inet_diag.h and linux/sock_diag.h: the
//! request and answer layouts as `#[repr(C)]` structs, and their bytes. libc has the netlink
//! header (`nlmsghdr`) but none of these.

use std::mem::size_of;
use std::net::{IpAddr, SocketAddr};

/// SOCK_DIAG_BY_FAMILY (linux/sock_diag.h), which libc does not define.
pub(super) const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// INET_DIAG_NOCOOKIE (linux/inet_diag.h), in both cookie words: any socket with the tuple.
const INET_DIAG_NOCOOKIE: u32 = !0;
/// The idiag_states mask (bit n for state n): every state.
const ALL_STATES: u32 = !0;

/// struct inet_diag_sockid (linux/inet_diag.h).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub(super) struct InetDiagSockId {
    /// The socket's own port, in network byte order.
    pub(super) sport: u16,
    /// The peer's port, in network byte order.
    pub(super) dport: u16,
    /// `__be32[4]` in the header: the address's bytes in network order, an IPv4 address in the
    /// first four. Bytes here, in the same place (offset 4, and the struct stays 4-aligned).
    pub(super) src: [u8; 16],
    pub(super) dst: [u8; 16],
    interface: u32,
    cookie: [u32; 2],
}

/// struct inet_diag_req_v2 (linux/inet_diag.h).
#[repr(C)]
#[derive(Clone, Copy)]
pub(super) struct InetDiagReqV2 {
    family: u8,
    protocol: u8,
    /// Which extensions (INET_DIAG_INFO, ...) to attach: none, the message has the queues.
    extensions: u8,
    pad: u8,
    states: u32,
    id: InetDiagSockId,
}

/// struct inet_diag_msg (linux/inet_diag.h).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub(super) struct InetDiagMsg {
    pub(super) family: u8,
    pub(super) state: u8,
    timer: u8,
    retransmits: u8,
    pub(super) id: InetDiagSockId,
    expires: u32,
    pub(super) rqueue: u32,
    pub(super) wqueue: u32,
    uid: u32,
    inode: u32,
}

/// One request datagram: the netlink header and its body, contiguous as the kernel reads them.
#[repr(C)]
#[derive(Clone, Copy)]
pub(super) struct Request {
    header: libc::nlmsghdr,
    body: InetDiagReqV2,
}

// The header's sizes, each the sum of its fields' sizes: no padding anywhere (see `Plain`).
const _: () = assert!(size_of::<libc::nlmsghdr>() == 16);
const _: () = assert!(size_of::<InetDiagSockId>() == 2 + 2 + 16 + 16 + 4 + 8);
const _: () = assert!(size_of::<InetDiagReqV2>() == 4 + 4 + 48);
const _: () = assert!(size_of::<InetDiagMsg>() == 4 + 48 + 5 * 4);
const _: () = assert!(size_of::<Request>() == 16 + 56);

/// `#[repr(C)]` structs of integers with no padding: every byte of a value is initialized, and
/// any bytes are a value.
///
/// # Safety
/// Implement only for such types (the size assertions above check the padding).
pub(super) unsafe trait Plain: Copy {}
// SAFETY: integers only, no padding (asserted above).
unsafe impl Plain for libc::nlmsghdr {}
// SAFETY: integers only, no padding (asserted above).
unsafe impl Plain for InetDiagMsg {}
// SAFETY: integers only, no padding (asserted above).
unsafe impl Plain for Request {}

/// The bytes of `value`, as the kernel reads them.
pub(super) fn as_bytes<T: Plain>(value: &T) -> &[u8] {
    // SAFETY: T has no padding (Plain), so all size_of::<T>() bytes behind the reference are
    // initialized, and the slice borrows `value` for its lifetime.
    unsafe { std::slice::from_raw_parts((value as *const T).cast::<u8>(), size_of::<T>()) }
}

/// A T from the start of `bytes`, or None when there are too few.
pub(super) fn read_plain<T: Plain>(bytes: &[u8]) -> Option<T> {
    if bytes.len() < size_of::<T>() {
        return None;
    }
    // SAFETY: the length is checked above, read_unaligned needs no alignment, and any bytes are
    // a T (Plain).
    Some(unsafe { bytes.as_ptr().cast::<T>().read_unaligned() })
}

impl Request {
    /// A lookup of the TCP socket `local` with peer `remote`, numbered `sequence`.
    pub(super) fn new(sequence: u32, local: SocketAddr, remote: SocketAddr) -> Request {
        let family = if local.is_ipv4() {
            libc::AF_INET
        } else {
            libc::AF_INET6
        };
        // A link-local IPv6 socket is found only on its interface.
        let interface = match local {
            SocketAddr::V6(v6) => v6.scope_id(),
            SocketAddr::V4(_) => 0,
        };
        Request {
            header: libc::nlmsghdr {
                nlmsg_len: size_of::<Request>() as u32,
                nlmsg_type: SOCK_DIAG_BY_FAMILY,
                // No NLM_F_DUMP: look up this one socket rather than list them all.
                nlmsg_flags: libc::NLM_F_REQUEST as u16,
                nlmsg_seq: sequence,
                nlmsg_pid: 0,
            },
            body: InetDiagReqV2 {
                family: family as u8,
                protocol: libc::IPPROTO_TCP as u8,
                extensions: 0,
                pad: 0,
                states: ALL_STATES,
                id: InetDiagSockId {
                    sport: local.port().to_be(),
                    dport: remote.port().to_be(),
                    src: address_bytes(local.ip()),
                    dst: address_bytes(remote.ip()),
                    interface,
                    cookie: [INET_DIAG_NOCOOKIE; 2],
                },
            },
        }
    }
}

/// An address as inet_diag_sockid holds it: network order, an IPv4 address in the first four.
fn address_bytes(ip: IpAddr) -> [u8; 16] {
    let mut bytes = [0; 16];
    match ip {
        IpAddr::V4(v4) => bytes[..4].copy_from_slice(&v4.octets()),
        IpAddr::V6(v6) => bytes = v6.octets(),
    }
    bytes
}
