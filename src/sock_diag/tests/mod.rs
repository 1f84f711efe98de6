//! Live loopback sockets, asked about through both sources: netlink must open here (otherwise a
//! broken netlink path would fall back to /proc unnoticed), and /proc must say the same.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::thread;
use std::time::{Duration, Instant};

use super::*;

mod cost;

/// The bound on every wait for the kernel to catch up (loopback delivery, delayed ACKs).
const WAIT: Duration = Duration::from_secs(5);

/// Both sources, named for messages.
fn sources() -> [(&'static str, SockDiag); 2] {
    let netlink = SockDiag::open_netlink().expect("netlink sock_diag opens on Linux");
    let proc = SockDiag::open_proc().expect("/proc/net/tcp is readable");
    [("netlink", netlink), ("/proc", proc)]
}

/// A connection on `host`, port 0: (client, accepted server side, listener), or None when
/// `host` cannot be bound here (no IPv6).
fn connection(host: &str) -> Option<(TcpStream, TcpStream, TcpListener)> {
    let listener = TcpListener::bind((host, 0)).ok()?;
    let client = TcpStream::connect(listener.local_addr().ok()?).expect("connect");
    let (server, _) = listener.accept().expect("accept");
    Some((client, server, listener))
}

/// An IPv4 client of a dual-stack listener on `[::]`, port 0: (client, server, listener), or
/// None when there is no IPv6 here.
fn dual_stack_connection() -> Option<(TcpStream, TcpStream, TcpListener)> {
    let listener = TcpListener::bind("[::]:0").ok()?;
    let port = listener.local_addr().ok()?.port();
    // Not dual-stack where net.ipv6.bindv6only is set: then there is nothing to connect to.
    let client = TcpStream::connect(("127.0.0.1", port)).ok()?;
    let (server, _) = listener.accept().expect("accept");
    Some((client, server, listener))
}

/// The two ends of `stream`: (its own address, its peer's).
fn ends(stream: &TcpStream) -> (SocketAddr, SocketAddr) {
    (
        stream.local_addr().expect("local_addr"),
        stream.peer_addr().expect("peer_addr"),
    )
}

/// Asks until the answer is `wanted` or [`WAIT`] has passed, and returns the last answer: the
/// kernel's queues and states settle a little after the calls that change them.
fn settle(
    diag: &mut SockDiag,
    (local, remote): (SocketAddr, SocketAddr),
    wanted: Option<SocketInfo>,
) -> Option<SocketInfo> {
    let deadline = Instant::now() + WAIT;
    loop {
        let answer = diag.socket(local, remote).expect("query");
        if answer == wanted || Instant::now() >= deadline {
            return answer;
        }
        thread::sleep(Duration::from_millis(1));
    }
}

/// Reads `bytes_acked` until it is `wanted` or [`WAIT`] has passed; returns the last reading.
fn settle_acked(stream: &TcpStream, wanted: u64) -> u64 {
    let deadline = Instant::now() + WAIT;
    loop {
        let acked = bytes_acked(stream.as_fd()).expect("TCP_INFO");
        if acked == wanted || Instant::now() >= deadline {
            return acked;
        }
        thread::sleep(Duration::from_millis(1));
    }
}

fn info(state: TcpState, receive_queue: u32, send_queue: u32) -> Option<SocketInfo> {
    Some(SocketInfo {
        state,
        receive_queue,
        send_queue,
    })
}

/// Checks that both sources come to say `wanted` about `tuple`, within [`WAIT`].
fn assert_settles(tuple: (SocketAddr, SocketAddr), wanted: Option<SocketInfo>, what: &str) {
    for (name, mut diag) in sources() {
        assert_eq!(settle(&mut diag, tuple, wanted), wanted, "{name}: {what}");
    }
}

/// Writes bytes the server does not read: its socket holds them, the client's kernel hears them
/// acknowledged, and once read they are gone; then the same the other way.
fn unread_bytes_are_queued_until_read(host: &str) {
    const SENT: usize = 10_000;
    let Some((mut client, mut server, _listener)) = connection(host) else {
        eprintln!("skipped: cannot bind {host} here");
        return;
    };
    client.write_all(&[0x5a; SENT]).expect("write");
    let queued = info(TcpState::Established, SENT as u32, 0);
    assert_settles(ends(&server), queued, &format!("{host}, the server"));
    // The client opened the connection: its SYN counts as one more acknowledged.
    let acked = SENT as u64 + 1;
    assert_eq!(settle_acked(&client, acked), acked, "{host}");
    let idle = info(TcpState::Established, 0, 0);
    assert_settles(ends(&client), idle, &format!("{host}, the client"));

    server.read_exact(&mut [0; SENT]).expect("read");
    assert_settles(
        ends(&server),
        idle,
        &format!("{host}, the server once it read"),
    );

    // The other way: an accepted socket's count has no SYN in it.
    server.write_all(&[0xa5; SENT / 2]).expect("write");
    let acked = SENT as u64 / 2;
    assert_eq!(settle_acked(&server, acked), acked, "{host}, the server");
    let queued = info(TcpState::Established, SENT as u32 / 2, 0);
    assert_settles(ends(&client), queued, &format!("{host}, the client"));
}

#[test]
fn unread_ipv4_bytes_are_queued_until_read() {
    unread_bytes_are_queued_until_read("127.0.0.1");
}

#[test]
fn unread_ipv6_bytes_are_queued_until_read() {
    unread_bytes_are_queued_until_read("::1");
}

#[test]
fn a_half_closed_client_is_fin_wait2_while_its_server_is_close_wait() {
    let (client, mut server, _listener) = connection("127.0.0.1").expect("bind 127.0.0.1");
    client.shutdown(Shutdown::Write).expect("shutdown");
    assert_settles(ends(&client), info(TcpState::FinWait2, 0, 0), "the client");
    // Until the server reads the end of the stream, the FIN counts as one unread.
    assert_settles(ends(&server), info(TcpState::CloseWait, 1, 0), "the server");
    assert_eq!(
        server.read(&mut [0; 1]).expect("read"),
        0,
        "the end of the stream"
    );
    assert_settles(
        ends(&server),
        info(TcpState::CloseWait, 0, 0),
        "the FIN read",
    );
}

#[test]
fn a_socket_that_does_not_exist_is_none() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let listening = listener.local_addr().expect("local_addr");
    let free = TcpListener::bind("127.0.0.1:0")
        .and_then(|free| free.local_addr())
        .expect("port");
    let peer: SocketAddr = "127.0.0.1:9".parse().expect("address");
    for (name, mut diag) in sources() {
        assert_eq!(
            diag.socket(free, peer).expect("query"),
            None,
            "{name}: a free port"
        );
        // The kernel's lookup falls back to the listener, which is not this connection.
        assert_eq!(
            diag.socket(listening, peer).expect("query"),
            None,
            "{name}: a listener's port"
        );
    }
}

#[test]
fn addresses_of_two_families_are_refused() {
    let v4: SocketAddr = "127.0.0.1:1".parse().expect("address");
    let v6: SocketAddr = "[::1]:1".parse().expect("address");
    for (name, mut diag) in sources() {
        let error = diag.socket(v4, v6).expect_err("mixed families");
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{name}: {error}");
    }
}

#[test]
fn open_prefers_netlink_and_debug_says_which() {
    let diag = SockDiag::open().expect("open");
    assert_eq!(format!("{diag:?}"), "SockDiag(netlink sock_diag)");
    let proc = SockDiag::open_proc().expect("open /proc");
    assert!(format!("{proc:?}").contains("/proc/net/tcp6"), "{proc:?}");
}

/// /proc and netlink side by side on the same sockets, once they have settled: an
/// established pair with unread bytes, a half-closed pair, IPv6, and a dual-stack socket asked
/// about in both address forms.
#[test]
fn proc_says_what_netlink_says() {
    let (mut client, server, _listener) = connection("127.0.0.1").expect("bind 127.0.0.1");
    client.write_all(&[1; 3000]).expect("write");
    let (half_closed, close_wait, _listener2) = connection("127.0.0.1").expect("bind 127.0.0.1");
    half_closed.shutdown(Shutdown::Write).expect("shutdown");
    let mut netlink = SockDiag::open_netlink().expect("netlink");
    let mut tuples = vec![
        ends(&client),
        ends(&server),
        ends(&half_closed),
        ends(&close_wait),
    ];
    assert_eq!(settle_acked(&client, 3001), 3001, "3000 bytes and the SYN");
    for (tuple, settled) in [
        (ends(&half_closed), info(TcpState::FinWait2, 0, 0)),
        (ends(&close_wait), info(TcpState::CloseWait, 1, 0)),
    ] {
        assert_eq!(settle(&mut netlink, tuple, settled), settled);
    }
    let _ipv6 = connection("::1").map(|(mut client6, server6, listener6)| {
        client6.write_all(&[2; 500]).expect("write");
        assert_eq!(settle_acked(&client6, 501), 501, "500 bytes and the SYN");
        tuples.extend([ends(&client6), ends(&server6)]);
        (client6, server6, listener6)
    });
    let dual_stack = dual_stack_connection();
    if let Some((client4, server6, _)) = &dual_stack {
        let (local, remote) = ends(server6); // the ::ffff:127.0.0.1 forms
        let v4 = |address: SocketAddr| SocketAddr::new(address.ip().to_canonical(), address.port());
        tuples.extend([(local, remote), (v4(local), v4(remote)), ends(client4)]);
    }

    let mut proc = SockDiag::open_proc().expect("/proc");
    for (local, remote) in tuples {
        let from_netlink = netlink.socket(local, remote).expect("netlink");
        assert!(
            from_netlink.is_some(),
            "{local} -> {remote}: netlink finds no socket"
        );
        let from_proc = proc.socket(local, remote).expect("/proc");
        assert_eq!(from_proc, from_netlink, "{local} -> {remote}");
    }
}
