//! The walk back along a shrink's trail, against a server that echoes only its first read.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::thread;
use std::time::Duration;

use super::*;
use crate::case::{Conversation, Payload};
use crate::roundtrip;

/// A server that echoes the first `read` of each connection and discards the rest: two
/// writes that arrive apart lose the second.
fn first_read_only() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener.local_addr().expect("local address");
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            thread::spawn(move || {
                let mut buf = [0u8; 65536];
                let n = conn.read(&mut buf).unwrap_or(0);
                let _ = conn.write_all(&buf[..n]);
                while matches!(conn.read(&mut buf), Ok(n) if n > 0) {}
            });
        }
    });
    addr
}

/// A stream of `bytes` in writes of `chunk` bytes, `pause` apart.
fn stream(bytes: &[u8], chunk: usize, pause: Option<Duration>) -> Case {
    let mut case = Case::single(Conversation::Stream {
        payload: Payload::Literal(bytes.to_vec()),
    });
    let write = &mut case.connections[0].write;
    write.chunks = vec![chunk];
    write.pauses = pause.into_iter().collect();
    write.nodelay = true;
    case
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minimal_case_that_does_not_fail_again_gives_way_to_the_last_one_that_does() {
    let addr = first_read_only();
    let check = Check::new(addr);
    let options = PlayOptions::default();
    let apart = Some(Duration::from_millis(30));
    let original = stream(b"abcd", 1, apart);
    let divergence = roundtrip::play(&original, addr, &options)
        .await
        .expect_err("writes 30 ms apart lose all but the first");
    // The shrink kept `smaller`, then `joined`, which failed once by chance: as one write,
    // the server's first read gets it all and nothing is lost.
    let smaller = stream(b"ab", 1, apart);
    let joined = stream(b"ab", 2, None);
    assert!(roundtrip::play(&joined, addr, &options).await.is_ok());
    let shrunk = Shrunk {
        minimal: (joined, divergence.clone()),
        trail: vec![
            (original.clone(), divergence.clone()),
            (smaller.clone(), divergence.clone()),
        ],
        steps: 2,
        hit_bound: false,
    };
    let (found, plays) = check
        .confirm_minimal(&original, &divergence, &shrunk, &options)
        .await;
    let (case, failed) = found.expect("the case before the minimal one fails again");
    assert_eq!(case, smaller);
    assert!(failed.confirmed, "{failed}");
    assert_eq!(
        plays,
        CANDIDATE_TRIES + 1,
        "three tries of the minimal case, one of the next"
    );

    // When nothing but the original fails again, there is no minimal case to report.
    let shrunk = Shrunk {
        trail: vec![(original.clone(), divergence.clone())],
        ..shrunk
    };
    let (found, _) = check
        .confirm_minimal(&original, &divergence, &shrunk, &options)
        .await;
    assert!(found.is_none(), "{found:?}");
}
