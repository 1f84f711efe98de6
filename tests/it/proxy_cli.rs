//! `echo-harness proxy` as a user runs it: it announces its address, echoes pass through it cut
//! by its toxics, it stops on SIGTERM with exit 0, logs each connection with -v, and refuses a
//! bad chain or address with exit 2 before starting anything.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::{Command, Stdio};

use echo_harness::{EchoServer, ServerConfig};
use predicates::prelude::*;

use crate::common::{self, bin, ServeProcess, WAIT};

fn echo_through(addr: std::net::SocketAddr, payload: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect_timeout(&addr, WAIT).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.write_all(payload).unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    let mut back = Vec::new();
    stream.read_to_end(&mut back).unwrap();
    back
}

#[cfg(unix)]
fn sigterm(pid: u32) {
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
}

#[cfg(unix)]
#[test]
fn proxy_announces_its_address_passes_echoes_and_stops_on_sigterm() {
    let server = EchoServer::spawn(ServerConfig::ephemeral()).unwrap();
    let upstream = server.local_addr().to_string();
    let mut proxy = ServeProcess::start_command(
        "proxy",
        &[
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            &upstream,
            "--seed",
            "7",
            "--grace",
            "200ms",
            "up:slice=1..4",
            "down:latency=1ms",
        ],
    );
    let payload: Vec<u8> = (0..5000u32).map(|i| (i * 7) as u8).collect();
    assert_eq!(echo_through(proxy.addr, &payload), payload);
    // An open connection keeps the proxy draining for `--grace` at most.
    let _open = TcpStream::connect(proxy.addr).unwrap();
    sigterm(proxy.child.id());
    assert_eq!(proxy.wait_exit(), Some(0));
}

#[cfg(unix)]
#[test]
fn proxy_verbose_logs_each_connection_and_an_unreachable_upstream() {
    let refused = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let mut child = Command::new(common::bin_path())
        .args([
            "proxy",
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            &refused,
            "-v",
        ])
        .args(["slice=1..4@0.5"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let addr: std::net::SocketAddr = first
        .trim()
        .strip_prefix("listening on ")
        .expect("announcement")
        .parse()
        .unwrap();
    // The upstream being down is no startup error: this connection fails on its own.
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    // The proxy logs the connection and the unreachable upstream before it resets the
    // client, so once this read returns the log lines are written.
    let _ = stream.read(&mut [0u8; 8]);
    sigterm(child.id());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("connection #0 from"), "{log}");
    assert!(log.contains("slice=1..4@0.5 o"), "{log}");
    assert!(
        log.contains(&format!("upstream {refused} unreachable")),
        "{log}"
    );
}

#[test]
fn a_bad_chain_exits_2_with_a_caret_at_line_and_column() {
    bin()
        .args(["proxy", "--upstream", "127.0.0.1:9", "--listen", "127.0.0.1:0"])
        .args(["up:slice=1..16", "latency=5"])
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains(
            "error: invalid duration `5`\n --> <toxics>:1:24\n  |\n1 | up:slice=1..16 latency=5\n  |                        ^ expected a duration such as `250us`, `5ms` or `2s`",
        ))
        .stderr(predicate::str::contains(
            "echo-harness: error: invalid toxic chain; nothing was started",
        ));
}

#[test]
fn an_unknown_toxic_is_named() {
    bin()
        .args(["proxy", "--upstream", "127.0.0.1:9", "jitterbug=1"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown toxic `jitterbug`"))
        .stderr(predicate::str::contains("<toxics>:1:1"));
}

#[test]
fn a_bad_address_exits_2() {
    bin()
        .args(["proxy", "--upstream", "nowhere"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("invalid address 'nowhere'"));
    bin()
        .args([
            "proxy",
            "--listen",
            "127.0.0.1:99999",
            "--upstream",
            "127.0.0.1:9",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--listen"));
    bin()
        .args(["proxy"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--upstream"));
}

#[test]
fn a_zero_buffer_size_exits_2() {
    bin()
        .args(["proxy", "--upstream", "127.0.0.1:9", "--buffer-size", "0"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--buffer-size must be at least 1"));
}
