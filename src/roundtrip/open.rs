//! Opening a play's connections: a client socket with the options its write plan asks for,
//! within the connect timeout, and — through a proxy — one at a time in the proxy's accept
//! order, which seeds its faults ([`restart_proxy`], [`open`]). Also where the built-in
//! server's record of a connection is found, which through a proxy is keyed by the proxy's
//! upstream socket ([`server_reads`]).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpSocket, TcpStream};

use super::divergence::DivergenceKind;
use super::PlayOptions;
use crate::case::WritePlan;

/// Starts a play through a proxy: its accept order counts from 0 again, with the seed the
/// options give. Without a proxy, nothing.
pub(crate) fn restart_proxy(options: &PlayOptions) {
    if let Some(through) = &options.through {
        through.restart();
    }
}

/// Opens the `index`th connection of a play (from 0) to `addr` with the socket options of
/// `write`, within the connect timeout. Refused and timed-out connects are their own
/// divergence kinds. Through a proxy it returns only once the proxy has accepted this
/// connection, so the next one is accepted after it (the accept order seeds its faults).
pub(crate) async fn open(
    write: &WritePlan,
    index: usize,
    addr: SocketAddr,
    options: &PlayOptions,
) -> Result<TcpStream, DivergenceKind> {
    let stream = connect(write, addr, options.connect_timeout).await?;
    if let Some(through) = &options.through {
        let accepted = through
            .proxy
            .wait_accepted(index as u64 + 1, options.connect_timeout)
            .await;
        if !accepted {
            return Err(DivergenceKind::ConnectTimeout {
                waited: options.connect_timeout,
            });
        }
    }
    Ok(stream)
}

/// How many reads the built-in server needed for the client connection from `local_addr`,
/// when the options name its counters. Through a proxy, the server's peer is the proxy's
/// upstream socket of that connection, which the proxy's counters name.
pub(crate) fn server_reads(options: &PlayOptions, local_addr: SocketAddr) -> Option<u64> {
    let stats = options.server_stats.as_ref()?;
    let peer = match &options.through {
        Some(through) => {
            through
                .proxy
                .stats()
                .connection_from(local_addr)?
                .upstream_local?
        }
        None => local_addr,
    };
    stats.connection(peer).map(|record| record.reads)
}

async fn connect(
    write: &WritePlan,
    addr: SocketAddr,
    connect_timeout: Duration,
) -> Result<TcpStream, DivergenceKind> {
    let io = |e: std::io::Error| DivergenceKind::Io {
        kind: e.kind(),
        message: e.to_string(),
    };
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(io)?;
    // Buffer sizes go on before connecting, so the window scale is negotiated with them.
    if let Some(size) = write.send_buffer {
        socket.set_send_buffer_size(size).map_err(io)?;
    }
    if let Some(size) = write.recv_buffer {
        socket.set_recv_buffer_size(size).map_err(io)?;
    }
    socket.set_nodelay(write.nodelay).map_err(io)?;
    match tokio::time::timeout(connect_timeout, socket.connect(addr)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            Err(DivergenceKind::Refused)
        }
        Ok(Err(e)) => Err(io(e)),
        Err(_) => Err(DivergenceKind::ConnectTimeout {
            waited: connect_timeout,
        }),
    }
}
