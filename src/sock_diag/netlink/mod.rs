//! The NETLINK_SOCK_DIAG client: one request naming a socket's exact four-tuple, one answer.
//!
//! Without NLM_F_DUMP the kernel does not walk its tables: it looks the socket up the way an
//! arriving packet is matched (inet_diag_find_one_icsk) and answers with one inet_diag_msg, or an
//! NLMSG_ERROR carrying -ENOENT when there is no such socket. It handles the request in the
//! sender's context, so the answer is queued before `send` returns, and a query costs two system
//! calls however many sockets exist. The structs on the wire are in `wire`.

use std::io::{self, Read};
use std::mem::size_of;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use super::{same_endpoint, SocketInfo, TcpState};
use wire::{as_bytes, read_plain, InetDiagMsg, Request, SOCK_DIAG_BY_FAMILY};

mod wire;

/// How long a query waits for its answer. The answer is queued before `send` returns, so this
/// only bounds a kernel that does not answer at all.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(1);
/// Room for one answer: an inet_diag_msg and the few attributes the kernel adds unasked.
const RECEIVE_BUFFER: usize = 8192;

/// The kernel's answer to one query.
#[derive(Clone, Copy, Debug)]
enum Answer {
    Found(InetDiagMsg),
    NoSuchSocket,
}

/// One NETLINK_SOCK_DIAG socket and the sequence number of its last request.
pub(super) struct Netlink {
    socket: Socket,
    /// Numbers each request, so that an answer left over from an earlier query that failed
    /// half-way is recognized and skipped.
    sequence: u32,
    /// Where answers are received, allocated once.
    buffer: Vec<u8>,
}

impl Netlink {
    /// Opens the socket and asks one question, so that a kernel or sandbox that accepts the
    /// socket but refuses the query is found here, where /proc can still take over.
    pub(super) fn open() -> io::Result<Netlink> {
        let socket = Socket::new(
            Domain::from(libc::AF_NETLINK),
            Type::DGRAM,
            Some(Protocol::from(libc::NETLINK_SOCK_DIAG)),
        )?;
        socket.set_read_timeout(Some(ANSWER_TIMEOUT))?;
        connect_to_kernel(&socket)?;
        let mut netlink = Netlink {
            socket,
            sequence: 0,
            buffer: vec![0; RECEIVE_BUFFER],
        };
        let nowhere = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        netlink.query(nowhere, nowhere)?;
        Ok(netlink)
    }

    /// What the kernel says about the socket `local` with peer `remote` (same family).
    pub(super) fn query(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> io::Result<Option<SocketInfo>> {
        self.sequence = self.sequence.wrapping_add(1);
        let request = Request::new(self.sequence, local, remote);
        let bytes = as_bytes(&request);
        loop {
            match self.socket.send(bytes) {
                Ok(sent) if sent == bytes.len() => break,
                Ok(sent) => {
                    return Err(invalid(format!(
                        "netlink took {sent} of {} bytes",
                        bytes.len()
                    )))
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error),
            }
        }
        loop {
            let received = match (&self.socket).read(&mut self.buffer) {
                Ok(received) => received,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "the kernel did not answer a sock_diag query in {ANSWER_TIMEOUT:?}"
                        ),
                    ))
                }
                Err(error) => return Err(error),
            };
            match answer_to(self.sequence, &self.buffer[..received])? {
                Some(Answer::Found(message)) => return info_if_same(&message, local, remote),
                Some(Answer::NoSuchSocket) => return Ok(None),
                None => continue,
            }
        }
    }
}

/// Connects `socket` to the kernel (port 0), so that only the kernel's messages reach it: a
/// connected netlink socket refuses unicasts from any other port.
fn connect_to_kernel(socket: &Socket) -> io::Result<()> {
    // SAFETY: sockaddr_nl is integers only, and all zeroes is a value: port 0 (the kernel), no
    // multicast groups.
    let mut kernel: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    kernel.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    let length = size_of::<libc::sockaddr_nl>() as libc::socklen_t;
    // SAFETY: `kernel` is a valid sockaddr_nl of `length` bytes, read by connect only.
    let rc = unsafe {
        libc::connect(
            socket.as_raw_fd(),
            (&kernel as *const libc::sockaddr_nl).cast(),
            length,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The answer to request `sequence` in one received datagram, or None when the datagram holds
/// only answers to earlier requests.
fn answer_to(sequence: u32, mut datagram: &[u8]) -> io::Result<Option<Answer>> {
    const HEADER: usize = size_of::<libc::nlmsghdr>();
    let received = datagram.len();
    while !datagram.is_empty() {
        let header: libc::nlmsghdr = read_plain(datagram).ok_or_else(|| {
            invalid(format!(
                "netlink answer ends in {} bytes, too few for a header",
                datagram.len()
            ))
        })?;
        let length = header.nlmsg_len as usize;
        if length < HEADER || length > datagram.len() {
            return Err(invalid(format!(
                "netlink message of {length} bytes in the {} left of a {received}-byte read: \
                 truncated or malformed",
                datagram.len()
            )));
        }
        let body = &datagram[HEADER..length];
        // Messages are 4-aligned; the last one's padding may be absent.
        datagram = &datagram[length.next_multiple_of(4).min(datagram.len())..];
        // Only the answer to this request counts. (Its nlmsg_pid is our own port, the
        // destination; that the kernel sent it is ensured by `connect_to_kernel`.)
        if header.nlmsg_seq != sequence {
            continue;
        }
        match header.nlmsg_type {
            SOCK_DIAG_BY_FAMILY => {
                let message = read_plain(body).ok_or_else(|| {
                    invalid(format!("sock_diag answer of {} bytes, too few", body.len()))
                })?;
                return Ok(Some(Answer::Found(message)));
            }
            kind if i32::from(kind) == libc::NLMSG_ERROR => {
                let code = body
                    .get(..4)
                    .ok_or_else(|| invalid("netlink error without a code"))?;
                match -i32::from_ne_bytes([code[0], code[1], code[2], code[3]]) {
                    // An acknowledgement, which this request did not ask for: not the answer.
                    0 => continue,
                    libc::ENOENT => return Ok(Some(Answer::NoSuchSocket)),
                    errno => return Err(io::Error::from_raw_os_error(errno)),
                }
            }
            kind if i32::from(kind) == libc::NLMSG_DONE => return Ok(Some(Answer::NoSuchSocket)),
            kind => return Err(invalid(format!("unexpected netlink message type {kind}"))),
        }
    }
    Ok(None)
}

/// The message as a [`SocketInfo`] when it is about the socket asked for. The kernel's lookup,
/// like a packet's, falls back to a listener on `local` when no connection matches; that
/// listener is not the socket asked for.
fn info_if_same(
    message: &InetDiagMsg,
    local: SocketAddr,
    remote: SocketAddr,
) -> io::Result<Option<SocketInfo>> {
    let id = &message.id;
    let ip = |bytes: &[u8; 16]| match i32::from(message.family) {
        libc::AF_INET => Ok(IpAddr::from(Ipv4Addr::new(
            bytes[0], bytes[1], bytes[2], bytes[3],
        ))),
        libc::AF_INET6 => Ok(IpAddr::from(Ipv6Addr::from(*bytes))),
        other => Err(invalid(format!(
            "sock_diag answered about address family {other}"
        ))),
    };
    let found_local = SocketAddr::new(ip(&id.src)?, u16::from_be(id.sport));
    let found_remote = SocketAddr::new(ip(&id.dst)?, u16::from_be(id.dport));
    if !same_endpoint(found_local, local) || !same_endpoint(found_remote, remote) {
        return Ok(None);
    }
    Ok(Some(SocketInfo {
        state: TcpState::from_kernel(message.state),
        receive_queue: message.rqueue,
        send_queue: message.wqueue,
    }))
}

/// An answer that does not parse: an InvalidData error saying what was wrong.
fn invalid(why: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A datagram of netlink messages `(type, sequence, body)`, each padded to 4 bytes.
    fn datagram(messages: &[(u16, u32, &[u8])]) -> Vec<u8> {
        let mut bytes = Vec::new();
        for &(kind, sequence, body) in messages {
            let header = libc::nlmsghdr {
                nlmsg_len: (16 + body.len()) as u32,
                nlmsg_type: kind,
                nlmsg_flags: 0,
                nlmsg_seq: sequence,
                nlmsg_pid: 0,
            };
            bytes.extend_from_slice(as_bytes(&header));
            bytes.extend_from_slice(body);
            bytes.resize(bytes.len().next_multiple_of(4), 0);
        }
        bytes
    }

    fn error(errno: i32) -> Vec<u8> {
        (-errno).to_ne_bytes().to_vec()
    }

    #[test]
    fn enoent_is_no_such_socket_and_other_errors_are_errors() {
        let answer = answer_to(7, &datagram(&[(2, 7, &error(libc::ENOENT))])).unwrap();
        assert!(matches!(answer, Some(Answer::NoSuchSocket)));
        let denied = answer_to(7, &datagram(&[(2, 7, &error(libc::EPERM))])).unwrap_err();
        assert_eq!(denied.raw_os_error(), Some(libc::EPERM));
    }

    #[test]
    fn answers_to_earlier_requests_are_skipped() {
        let mut message = [0u8; size_of::<InetDiagMsg>()];
        message[1] = 8; // idiag_state: CLOSE_WAIT
        message[56..60].copy_from_slice(&5u32.to_ne_bytes()); // idiag_rqueue
        let stale = datagram(&[(2, 6, &error(libc::ENOENT))]);
        assert!(answer_to(7, &stale).unwrap().is_none());
        let both = datagram(&[
            (SOCK_DIAG_BY_FAMILY, 6, &[0; 72]),
            (SOCK_DIAG_BY_FAMILY, 7, &message),
        ]);
        let Some(Answer::Found(found)) = answer_to(7, &both).unwrap() else {
            panic!("the answer to request 7 was not found");
        };
        assert_eq!((found.state, found.rqueue), (8, 5));
    }

    #[test]
    fn truncated_answers_are_errors_not_panics() {
        let whole = datagram(&[(SOCK_DIAG_BY_FAMILY, 7, &[0; 72])]);
        for cut in [1, 15, 16, 40, whole.len() - 1] {
            let error = answer_to(7, &whole[..cut]).unwrap_err();
            assert_eq!(
                error.kind(),
                io::ErrorKind::InvalidData,
                "cut at {cut}: {error}"
            );
        }
        let short_body = datagram(&[(SOCK_DIAG_BY_FAMILY, 7, &[0; 20])]);
        assert!(answer_to(7, &short_body)
            .unwrap_err()
            .to_string()
            .contains("too few"));
    }
}
