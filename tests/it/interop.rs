//! Interoperability with code we did not write: a Python echo server talking to our client, and
//! plain Python and socat clients talking to our server, with multi-MiB payloads and half-close.
//! Each test prints `SKIPPED: <reason>` and passes when its tool is missing.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};

use echo_harness::{EchoClient, EchoServer, ServerConfig};

use crate::common::WAIT;

/// A child process killed and reaped on drop.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tool(name: &str) -> bool {
    let found = Command::new(name)
        .arg(if name == "socat" { "-V" } else { "--version" })
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        println!("SKIPPED: {name} is not installed");
    }
    found
}

const PYTHON_ECHO_SERVER: &str = r#"
import socket, sys, threading
def serve(conn):
    with conn:
        while True:
            data = conn.recv(65536)
            if not data:
                break
            conn.sendall(data)
        conn.shutdown(socket.SHUT_WR)
listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.bind(("127.0.0.1", 0))
listener.listen(64)
print("listening on %s:%d" % listener.getsockname(), flush=True)
while True:
    conn, _ = listener.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
"#;

/// Sends N pseudo-random bytes (seeded), half-closes, reads to EOF and prints OK or FAIL.
const PYTHON_CLIENT: &str = r#"
import random, socket, sys, threading
host, port, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = random.Random(7).randbytes(size)
s = socket.create_connection((host, port), timeout=10)
got = bytearray()
def read():
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return
        got.extend(chunk)
reader = threading.Thread(target=read)
reader.start()
s.sendall(data)
s.shutdown(socket.SHUT_WR)
reader.join(20)
print("OK" if bytes(got) == data else "FAIL %d of %d bytes" % (len(got), size), flush=True)
"#;

#[test]
fn our_client_against_an_independent_python_server() {
    if !tool("python3") {
        return;
    }
    let mut child = Reaped(
        Command::new("python3")
            .args(["-c", PYTHON_ECHO_SERVER])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut first = String::new();
    // The line arrives once the server listens; the read is bounded by the child's own exit.
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let addr = first
        .trim()
        .strip_prefix("listening on ")
        .expect("announcement")
        .to_string();
    let mut client = EchoClient::connect(addr.as_str(), WAIT).unwrap();
    client.echo(b"hello from rust\n").unwrap();
    let big: Vec<u8> = (0..6 * 1024 * 1024u32)
        .map(|i| (i * 7 % 256) as u8)
        .collect();
    client.echo(&big).unwrap();
    client.finish().expect("EOF after half-close");
}

#[test]
fn a_python_client_against_our_server_with_half_close() {
    if !tool("python3") {
        return;
    }
    let server = EchoServer::spawn(ServerConfig::ephemeral()).unwrap();
    let addr = server.local_addr();
    for size in ["0", "1", "8388608"] {
        let output = Command::new("python3")
            .args([
                "-c",
                PYTHON_CLIENT,
                "127.0.0.1",
                &addr.port().to_string(),
                size,
            ])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(
            stdout.trim(),
            "OK",
            "size {size}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn socat_against_our_server_with_half_close() {
    if !tool("socat") {
        return;
    }
    let server = EchoServer::spawn(ServerConfig::ephemeral()).unwrap();
    let payload: Vec<u8> = (0..3 * 1024 * 1024u32).map(|i| (i % 253) as u8).collect();
    // socat copies stdin to the socket, half-closes at stdin's EOF, and prints what comes back.
    let mut child = Reaped(
        Command::new("socat")
            .args(["-t", "10", "-", &format!("TCP:{}", server.local_addr())])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stdin = child.0.stdin.take().unwrap();
    let writer = {
        let payload = payload.clone();
        std::thread::spawn(move || stdin.write_all(&payload))
    };
    let mut echoed = Vec::new();
    std::io::Read::read_to_end(&mut child.0.stdout.take().unwrap(), &mut echoed).unwrap();
    writer.join().unwrap().unwrap();
    assert_eq!(echoed.len(), payload.len());
    assert!(echoed == payload);
}
