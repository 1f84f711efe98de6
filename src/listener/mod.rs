//! A listening socket's life, the same for the echo server and the proxy: binding it, serving it
//! with the one accept loop ([`accept`]), draining it without losing a byte ([`drain`]), and
//! running it on a thread of its own ([`background`]); on Linux, the pipes both splice through
//! ([`pipes`]).

pub(crate) mod accept;
pub(crate) mod background;
pub(crate) mod drain;
#[cfg(target_os = "linux")]
pub(crate) mod pipes;

use std::io;
use std::net::SocketAddr;

pub(crate) use accept::serve;
pub(crate) use drain::{linger, Drain, Say, StopNow};

/// Binds `addr` for serving: SO_REUSEADDR (not on Windows), IPv6 only for an IPv6 address,
/// `backlog`, non-blocking, so that either runtime flavour can adopt it.
pub(crate) fn bind(addr: SocketAddr, backlog: u32) -> io::Result<std::net::TcpListener> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    // SO_REUSEADDR lets a restarted server bind while old connections sit in TIME_WAIT. On
    // Windows it would allow two live listeners on one port, so it stays off there.
    #[cfg(not(windows))]
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        // Serve exactly the address asked for: `[::1]` should not also mean 127.0.0.1.
        socket.set_only_v6(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}
