//! The real binary, driven the way a user or a script drives it: `serve` on port 0 plus `client`
//! with piped stdin, and every user-facing error with its exit code and message.

use std::io::{Read, Write};

use predicates::prelude::*;

use crate::common::{self, bin, faulty_server, refused_addr, ServeProcess};

#[test]
fn serve_and_client_echo_piped_lines() {
    let server = ServeProcess::start(&["--listen", "127.0.0.1:0"]);
    bin()
        .args(["client", "--connect", &server.addr.to_string()])
        .write_stdin("hello\nworld\n")
        .assert()
        .success()
        .stdout("Server echoed: hello\nServer echoed: world\n");
}

#[test]
fn client_sends_bytes_that_are_not_utf8_and_prints_them_escaped() {
    let server = ServeProcess::start(&["--listen", "127.0.0.1:0"]);
    bin()
        .args(["client", "--connect", &server.addr.to_string()])
        .write_stdin(&b"caf\xe9 \x1b[2J\r\nlast line without newline"[..])
        .assert()
        .success()
        .stdout("Server echoed: caf\\xe9 \\x1b[2J\nServer echoed: last line without newline\n");
}

#[test]
fn client_stops_at_exit_and_sends_nothing_after_it() {
    // A server that counts what it receives shows that the line after `exit` was never sent.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(common::WAIT)).unwrap();
        let mut received = Vec::new();
        let mut buffer = [0u8; 256];
        loop {
            match stream.read(&mut buffer) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    received.extend_from_slice(&buffer[..n]);
                    stream.write_all(&buffer[..n]).unwrap();
                }
            }
        }
        received
    });
    bin()
        .args(["client", "--connect", &addr.to_string()])
        .write_stdin("first\nexit\nnever sent\n")
        .assert()
        .success()
        .stdout("Server echoed: first\n");
    assert_eq!(server.join().unwrap(), b"first\n");
}

#[test]
fn client_exits_1_when_the_echo_differs() {
    let addr = faulty_server(|bytes| bytes.to_ascii_uppercase());
    bin()
        .args(["client", "--connect", &addr.to_string()])
        .write_stdin("hello\n")
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::starts_with("echo-harness: error: "))
        .stderr(predicate::str::contains(
            "different bytes came back at offset 0",
        ));
}

#[test]
fn client_exits_3_when_the_connection_is_refused() {
    bin()
        .args(["client", "--connect", &refused_addr().to_string()])
        .write_stdin("hello\n")
        .assert()
        .code(3)
        .stderr(predicate::str::contains("cannot connect to 127.0.0.1:"))
        .stderr(predicate::str::contains("refused"));
}

#[test]
fn bad_address_exits_2() {
    bin()
        .args(["serve", "--listen", "not-an-address"])
        .assert()
        .code(2)
        .stderr(predicate::str::starts_with("echo-harness: error: "))
        .stderr(predicate::str::contains("invalid address 'not-an-address'"));
    bin()
        .args(["client", "--connect", "127.0.0.1:99999"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("invalid address"));
}

#[test]
fn bad_flags_and_durations_exit_2() {
    bin().args(["serve", "--no-such-flag"]).assert().code(2);
    bin()
        .args(["serve", "--idle-timeout", "soon"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("invalid duration 'soon'"));
    bin()
        .args(["serve", "--listen", "127.0.0.1:0", "--max-connections", "0"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "--max-connections must be at least 1",
        ));
    bin().assert().code(2);
}

#[test]
fn help_and_version_exit_0() {
    bin()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("Exit codes"));
    bin()
        .args(["serve", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("--idle-timeout"));
    bin()
        .arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn address_in_use_exits_3() {
    let server = ServeProcess::start(&["--listen", "127.0.0.1:0"]);
    bin()
        .args(["serve", "--listen", &server.addr.to_string()])
        .assert()
        .code(3)
        .stderr(predicate::str::contains(format!(
            "cannot listen on {}",
            server.addr
        )))
        .stderr(predicate::str::contains("in use"));
}

#[test]
fn serve_verbose_logs_each_echo_escaped() {
    let mut child = std::process::Command::new(common::bin_path())
        .args(["serve", "--listen", "127.0.0.1:0", "-v"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut first).unwrap();
    let addr = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    bin()
        .args(["client", "--connect", &addr])
        .write_stdin(&b"bell\x07\n"[..])
        .assert()
        .success();
    terminate(&child);
    let output = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("echoed 6 bytes: bell\\x07\\n"), "{log}");
    assert!(!log.contains('\x07'), "raw control byte in the log");
}

#[cfg(unix)]
#[test]
fn serve_stops_on_sigterm_and_sigint_with_exit_0() {
    for signal in [libc_signal::TERM, libc_signal::INT] {
        let mut server = ServeProcess::start(&["--listen", "127.0.0.1:0", "--grace", "200ms"]);
        // An open connection keeps the server draining for `--grace` at most.
        let _open = std::net::TcpStream::connect(server.addr).unwrap();
        libc_signal::send(server.child.id(), signal);
        assert_eq!(server.wait_exit(), Some(0), "signal {signal}");
    }
}

fn terminate(child: &std::process::Child) {
    #[cfg(unix)]
    libc_signal::send(child.id(), libc_signal::TERM);
    #[cfg(not(unix))]
    let _ = child;
}

/// Sending a signal without a libc dependency: the `kill` command is on every Unix.
#[cfg(unix)]
mod libc_signal {
    pub const TERM: &str = "TERM";
    pub const INT: &str = "INT";

    pub fn send(pid: u32, signal: &str) {
        let status = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }
}
