//! What a query costs, netlink and /proc, as found and with ~200 more sockets open, and what one
//! `bytes_acked` costs; whether bytes written on loopback are already queued at the peer, and
//! acknowledged, when `write` returns; and how long a write waits for its ACK when the server
//! leaves it unread and when it reads it at once.
//! A measurement, printed, not a pass/fail figure:
//! `cargo test --release --lib sock_diag_query_cost -- --ignored --nocapture`.

use super::*;

const NETLINK_QUERIES: u32 = 10_000;
/// Fewer: a /proc query takes milliseconds on a machine with a large socket hash table.
const PROC_QUERIES: u32 = 200;
const BYTES_ACKED_CALLS: u32 = 100_000;
const OTHER_CONNECTIONS: usize = 100;
const WRITES: u32 = 1000;
const UNREAD_WRITES: u32 = 20;

/// TCP sockets on this machine: the lines of both tables, headers left out.
fn tcp_sockets() -> usize {
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .map(|table| {
            std::fs::read_to_string(table).map_or(0, |text| text.lines().count().saturating_sub(1))
        })
        .sum()
}

/// Nanoseconds per query of `tuple` over `queries` queries, each checked to be `wanted`.
fn ns_per_query(
    diag: &mut SockDiag,
    queries: u32,
    tuple: (SocketAddr, SocketAddr),
    wanted: Option<SocketInfo>,
) -> u128 {
    let start = Instant::now();
    for _ in 0..queries {
        assert_eq!(diag.socket(tuple.0, tuple.1).expect("query"), wanted);
    }
    start.elapsed().as_nanos() / u128::from(queries)
}

#[test]
#[ignore = "a measurement: run with --ignored --nocapture"]
fn sock_diag_query_cost() {
    let (mut client, mut server, _listener) = connection("127.0.0.1").expect("bind 127.0.0.1");
    client.write_all(&[7; 1000]).expect("write");
    let tuple = ends(&server);
    let wanted = info(TcpState::Established, 1000, 0);
    let [(_, mut netlink), (_, mut proc)] = sources();
    assert_eq!(settle(&mut netlink, tuple, wanted), wanted);
    assert_eq!(settle_acked(&client, 1001), 1001, "1000 bytes and the SYN");

    for crowd in [false, true] {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("local_addr");
        let _others: Vec<(TcpStream, TcpStream)> = (0..if crowd { OTHER_CONNECTIONS } else { 0 })
            .map(|_| {
                let client = TcpStream::connect(address).expect("connect");
                (client, listener.accept().expect("accept").0)
            })
            .collect();
        let sockets = tcp_sockets();
        let by_netlink = ns_per_query(&mut netlink, NETLINK_QUERIES, tuple, wanted);
        let by_proc = ns_per_query(&mut proc, PROC_QUERIES, tuple, wanted);
        println!(
            "socket() with {sockets} TCP sockets on the machine{}: netlink {by_netlink} ns, \
             /proc {by_proc} ns",
            if crowd { " (200 of them ours)" } else { "" }
        );
    }

    let start = Instant::now();
    for _ in 0..BYTES_ACKED_CALLS {
        assert_eq!(bytes_acked(client.as_fd()).expect("TCP_INFO"), 1001);
    }
    let per_call = start.elapsed().as_nanos() / u128::from(BYTES_ACKED_CALLS);
    println!("bytes_acked: {per_call} ns/call");

    // Right after write returns: are the bytes in the server's receive queue yet, and has the
    // server's kernel acknowledged them? (The server reads each chunk before the next write.)
    server.read_exact(&mut [0; 1000]).expect("read");
    let (mut queued, mut acked) = (0, 0);
    let mut sent = 1001;
    for _ in 0..WRITES {
        client.write_all(&[9; 100]).expect("write");
        sent += 100;
        let answer = netlink.socket(tuple.0, tuple.1).expect("query");
        queued += u32::from(answer.map(|info| info.receive_queue) == Some(100));
        acked += u32::from(bytes_acked(client.as_fd()).expect("TCP_INFO") == sent);
        server.read_exact(&mut [0; 100]).expect("read");
    }
    println!("right after write(): queued at the server {queued}/{WRITES}, acknowledged {acked}/{WRITES}");

    // How long until the server's kernel acknowledges a chunk: left unread, and read at once.
    for read_first in [false, true] {
        let mut waits = Vec::new();
        for _ in 0..UNREAD_WRITES {
            client.write_all(&[3; 100]).expect("write");
            sent += 100;
            let start = Instant::now();
            if read_first {
                server.read_exact(&mut [0; 100]).expect("read");
            }
            assert_eq!(settle_acked(&client, sent), sent);
            waits.push(start.elapsed());
            if !read_first {
                server.read_exact(&mut [0; 100]).expect("read");
            }
        }
        waits.sort();
        println!(
            "ACK of a 100-byte write {}: median {:?}, max {:?} over {UNREAD_WRITES}",
            if read_first {
                "read at once"
            } else {
                "left unread"
            },
            waits[waits.len() / 2],
            waits[waits.len() - 1]
        );
    }
}
