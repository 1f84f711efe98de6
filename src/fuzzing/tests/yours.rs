//! The target bodies against servers that are not the built-in one, through the public
//! [`Harness`] API as a user's fuzz target calls it: a correct tokio server and a blocking one
//! pass every seed; a fragmentation bug is found and its crash replays; a proxy that never
//! closes its upstream side is caught.

use std::sync::{Arc, LazyLock};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;
use crate::background::{Shutdown, StopFlag};
use crate::case::{CaseBounds, ConnectionCase, Conversation, Payload};

/// Serves `listener` until `shutdown`, handling each connection with `handle`.
async fn serve<H, F>(listener: TcpListener, shutdown: Shutdown, handle: H)
where
    H: Fn(tokio::net::TcpStream) -> F,
    F: std::future::Future<Output = ()> + Send + 'static,
{
    tokio::select! {
        _ = async {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(handle(socket));
            }
        } => {}
        _ = shutdown => {}
    }
}

/// Echoes every read; with `double_single_bytes`, a read of exactly one byte is echoed twice:
/// a bug that shows only when the stream is cut that finely.
async fn echo(mut socket: tokio::net::TcpStream, double_single_bytes: bool) {
    let mut buffer = vec![0u8; 4096];
    loop {
        match socket.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if socket.write_all(&buffer[..n]).await.is_err() {
                    return;
                }
                if n == 1 && double_single_bytes && socket.write_all(&buffer[..1]).await.is_err() {
                    return;
                }
            }
        }
    }
    let _ = socket.shutdown().await;
}

async fn correct(listener: TcpListener, shutdown: Shutdown) {
    serve(listener, shutdown, |s| echo(s, false)).await
}

async fn fragile(listener: TcpListener, shutdown: Shutdown) {
    serve(listener, shutdown, |s| echo(s, true)).await
}

fn blocking_echo(listener: std::net::TcpListener, stop: StopFlag) -> std::io::Result<()> {
    for stream in listener.incoming() {
        if stop.is_set() {
            return Ok(());
        }
        let mut stream = stream?;
        std::thread::spawn(move || {
            let mut back = stream.try_clone()?;
            std::io::copy(&mut stream, &mut back)?;
            back.shutdown(std::net::Shutdown::Write)
        });
    }
    Ok(())
}

/// A proxy that copies both ways; with `leak`, once the client has sent its last byte and had
/// its echo, it ends the client's side and keeps the upstream connection open for good (a
/// proxy that forgets its other side). The client sees a perfect echo either way.
async fn proxy(
    listener: TcpListener,
    upstream: std::net::SocketAddr,
    shutdown: Shutdown,
    leak: bool,
) {
    let kept = Arc::new(std::sync::Mutex::new(Vec::new()));
    serve(listener, shutdown, move |mut client| {
        let kept = Arc::clone(&kept);
        async move {
            let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await else {
                return;
            };
            if !leak {
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                return;
            }
            let (mut from_client, mut to_client) = client.into_split();
            let (mut from_server, mut to_server) = server.into_split();
            {
                let up = tokio::io::copy(&mut from_client, &mut to_server);
                tokio::pin!(up);
                let (mut sent, mut echoed) = (None, 0u64);
                let mut buffer = [0u8; 4096];
                while !matches!(sent, Some(sent) if echoed >= sent) {
                    tokio::select! {
                        n = &mut up, if sent.is_none() => sent = Some(n.unwrap_or(0)),
                        n = from_server.read(&mut buffer) => match n {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                if to_client.write_all(&buffer[..n]).await.is_err() {
                                    break;
                                }
                                echoed += n as u64;
                            }
                        },
                    }
                }
            }
            let _ = to_client.shutdown().await;
            crate::sync::lock(&kept).push((from_server, to_server));
        }
    })
    .await
}

/// The seeds of the targets a user's harness runs.
fn user_seeds() -> Vec<(FuzzTarget, Seed)> {
    [
        FuzzTarget::Roundtrip,
        FuzzTarget::RoundtripLifecycle,
        FuzzTarget::RawStream,
    ]
    .into_iter()
    .flat_map(|t| seeds(t).into_iter().map(move |s| (t, s)))
    .collect()
}

/// A 12-byte message written as 1 byte, then 5, then the rest: under lockstep the server's
/// first read is the single byte.
fn one_byte_first() -> Vec<u8> {
    let mut conn = ConnectionCase::new(
        "c0",
        Conversation::Interactive {
            messages: vec![Payload::Literal((0..12u8).collect())],
        },
    );
    conn.write.chunks = vec![1, 5];
    conn.read.sizes = vec![CaseBounds::fuzzing().max_chunk_len];
    encode_connection(&conn, &roundtrip_bounds())
}

#[test]
fn a_correct_server_of_yours_passes_every_seed_tokio_and_blocking() {
    static TOKIO: LazyLock<Harness> = LazyLock::new(|| Harness::tokio(correct));
    static BLOCKING: LazyLock<Harness> = LazyLock::new(|| Harness::blocking(blocking_echo));
    for harness in [&*TOKIO, &*BLOCKING] {
        for (target, seed) in user_seeds() {
            assert_eq!(
                harness.fuzz(target, &seed.bytes),
                InputVerdict::Passed,
                "{harness:?} {target} {}",
                seed.name
            );
        }
    }
}

#[test]
fn a_fragmentation_bug_of_yours_is_caught_and_its_crash_replays() {
    static H: LazyLock<Harness> = LazyLock::new(|| Harness::tokio(fragile));
    let crash = one_byte_first();
    // On the kept connection the fuzzer meets the bug when the chunks happen to stay apart;
    // the replay, in lockstep with your server's socket, meets it every time.
    // The regression test a user keeps: the crash fails again on a fresh connection.
    for _ in 0..5 {
        let failure = H.reproduce(FuzzTarget::Roundtrip, &crash).unwrap_err();
        assert!(
            matches!(&failure, FuzzFailure::Divergence(d) if d.kind.name() == "mismatch"),
            "{failure}"
        );
    }
    // Bytes sent in one go never show it.
    assert_eq!(
        H.reproduce(FuzzTarget::RawStream, &[7; 12]).unwrap(),
        InputVerdict::Passed
    );
}

#[test]
fn a_proxy_of_yours_is_fuzzed_with_the_echo_server_behind_it() {
    static GOOD: LazyLock<Harness> =
        LazyLock::new(|| Harness::tokio_proxy(|l, up, s| proxy(l, up, s, false)));
    static LEAKY: LazyLock<Harness> =
        LazyLock::new(|| Harness::tokio_proxy(|l, up, s| proxy(l, up, s, true)));
    let seed = &seeds(FuzzTarget::RoundtripLifecycle)[0].bytes;
    assert_eq!(
        GOOD.reproduce(FuzzTarget::RoundtripLifecycle, seed)
            .unwrap(),
        InputVerdict::Passed
    );
    let failure = LEAKY
        .reproduce(FuzzTarget::RoundtripLifecycle, seed)
        .unwrap_err();
    assert!(matches!(failure, FuzzFailure::Leaked { .. }), "{failure}");
}

#[test]
fn a_folder_of_kept_crashes_replays_with_one_call() {
    static FRAGILE: LazyLock<Harness> = LazyLock::new(|| Harness::tokio(fragile));
    static CORRECT: LazyLock<Harness> = LazyLock::new(|| Harness::tokio(correct));
    let folder = tempfile::tempdir().unwrap();
    std::fs::write(folder.path().join("crash-1"), one_byte_first()).unwrap();
    std::fs::write(folder.path().join(".hidden"), b"not a crash").unwrap();
    let still = FRAGILE
        .reproduce_folder(FuzzTarget::Roundtrip, folder.path())
        .unwrap();
    assert!(!still.fixed());
    let text = still.to_string();
    assert!(text.contains("FAIL ") && text.contains("crash-1"), "{text}");
    assert!(
        text.ends_with(&format!(
            "0 fixed, 1 not: 1 crash files of roundtrip in {}",
            folder.path().display()
        )),
        "{text}"
    );
    CORRECT
        .reproduce_folder(FuzzTarget::Roundtrip, folder.path())
        .unwrap()
        .assert_fixed();
    let empty = tempfile::tempdir().unwrap();
    let err = CORRECT
        .reproduce_folder(FuzzTarget::Roundtrip, empty.path())
        .unwrap_err();
    assert!(err.to_string().contains("no crash file"), "{err}");
}
