//! `examples/broken_proxy.rs` does what its modes say, so that tests of `check --spawn
//! '... {upstream}'` can rely on it: `correct` passes both FINs, `close-on-half-close` loses the
//! echo still owed at the client's FIN, `drop-half-close` never passes that FIN on.
//!
//! The upstream here holds its whole echo until it reads EOF, so each bug shows every time,
//! whatever the timing.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::Duration;

use crate::common::{self, WAIT};

/// `target/PROFILE/examples/broken_proxy` (see `common::example`).
fn broken_proxy() -> PathBuf {
    common::example("broken_proxy")
}

/// The running example, killed and reaped on drop.
struct Running {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(mode: &str, upstream: SocketAddr) -> Running {
    let mut child = Command::new(broken_proxy())
        .args(["--listen", "127.0.0.1:0", "--mode", mode])
        .args(["--upstream", &upstream.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start broken_proxy");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .parse()
        .unwrap();
    Running { child, addr }
}

/// An echo server that reads until EOF, then echoes everything and closes.
fn hold_until_eof_upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            thread::spawn(move || {
                let mut all = Vec::new();
                if stream.read_to_end(&mut all).is_ok() {
                    let _ = stream.write_all(&all);
                }
            });
        }
    });
    addr
}

/// Sends `payload`, half-closes, and reads for at most 500 ms: what came back, and whether EOF
/// (or a reset) ended it.
fn play(proxy: SocketAddr, payload: &[u8]) -> (Vec<u8>, bool) {
    let mut stream = TcpStream::connect_timeout(&proxy, WAIT).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    stream.write_all(payload).unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    let mut back = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return (back, true),
            Ok(n) => back.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return (back, false)
            }
            // A signal to the test process is no end of the stream (this failed 1 in 60 runs).
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return (back, true),
        }
    }
}

#[test]
fn each_mode_does_what_it_says() {
    let upstream = hold_until_eof_upstream();
    let payload = b"the echo is owed after the FIN".repeat(100);

    let correct = start("correct", upstream);
    assert_eq!(play(correct.addr, &payload), (payload.clone(), true));

    let closing = start("close-on-half-close", upstream);
    let (back, ended) = play(closing.addr, &payload);
    assert!(back.is_empty(), "{} bytes came back", back.len());
    assert!(ended, "closed at the client's FIN");

    let dropping = start("drop-half-close", upstream);
    let (back, ended) = play(dropping.addr, &payload);
    assert!(
        back.is_empty(),
        "the upstream never saw the FIN, so it never echoed"
    );
    assert!(!ended, "no EOF within 500 ms");
}

#[test]
fn bad_arguments_exit_2() {
    for args in [
        &["--mode", "nonsense", "--upstream", "127.0.0.1:9"][..],
        &[],
    ] {
        let status = Command::new(broken_proxy())
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(2), "{args:?}");
    }
}
