//! A TCP proxy with one deliberately planted half-close bug per `--mode`, the classic mistakes
//! proxies make, so that tests can prove `echo-harness check --spawn '... {upstream}'` catches
//! them (issue 6, part 3). Mode `correct` is a correct proxy written independently of the
//! library, for the zero-false-alarm runs.
//!
//! This file is the entry point: it parses its arguments by hand, binds, prints
//! `listening on ADDR` (the real bound address) to stdout, and proxies until it is killed. It
//! uses the standard library only (two threads per connection, blocking sockets), so that
//! nothing it shares with the library under test can hide a bug in either.
//!
//! ```text
//! cargo run --example broken_proxy -- --upstream ADDR [--listen ADDR] [--mode MODE]
//! ```
//!
//! `--listen` defaults to `127.0.0.1:0`, `--mode` to `correct`. A bad argument or an unknown
//! mode is reported on stderr with exit code 2; a failure to bind exits 1. A connection whose
//! upstream cannot be reached is closed at once.
//!
//! # Modes
//! | mode | the bug | what a harness should report |
//! | --- | --- | --- |
//! | `correct` | none: each FIN becomes a shutdown of the other side's write half once everything before it is forwarded | nothing |
//! | `close-on-half-close` | on the client's FIN it closes both sockets at once, losing the echo still owed | missing bytes (an early EOF or a reset) |
//! | `drop-half-close` | never passes the client's FIN on (the server waits for more and never ends its echo) | no EOF after half-close (and an echo the server holds until EOF never comes) |

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Correct,
    CloseOnHalfClose,
    DropHalfClose,
}

fn main() -> ExitCode {
    let (listen, upstream, mode) = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("broken_proxy: {message}");
            eprintln!(
                "usage: broken_proxy --upstream ADDR [--listen ADDR] \
                 [--mode correct|close-on-half-close|drop-half-close]"
            );
            return ExitCode::from(2);
        }
    };
    let listener = match TcpListener::bind(listen) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("broken_proxy: cannot listen on {listen}: {e}");
            return ExitCode::from(1);
        }
    };
    let local = listener.local_addr().expect("bound address");
    println!("listening on {local}");
    let _ = io::stdout().flush();
    for client in listener.incoming() {
        let Ok(client) = client else { continue };
        thread::spawn(move || serve(client, upstream, mode));
    }
    ExitCode::SUCCESS
}

fn parse_args() -> Result<(SocketAddr, SocketAddr, Mode), String> {
    let mut listen = SocketAddr::from(([127, 0, 0, 1], 0));
    let mut upstream = None;
    let mut mode = Mode::Correct;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--listen" => listen = resolve(&value)?,
            "--upstream" => upstream = Some(resolve(&value)?),
            "--mode" => {
                mode = match value.as_str() {
                    "correct" => Mode::Correct,
                    "close-on-half-close" => Mode::CloseOnHalfClose,
                    "drop-half-close" => Mode::DropHalfClose,
                    other => return Err(format!("unknown mode {other:?}")),
                }
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let upstream = upstream.ok_or("--upstream is required")?;
    Ok((listen, upstream, mode))
}

fn resolve(text: &str) -> Result<SocketAddr, String> {
    text.to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| format!("invalid address {text:?}"))
}

fn serve(client: TcpStream, upstream: SocketAddr, mode: Mode) {
    let Ok(server) = TcpStream::connect_timeout(&upstream, Duration::from_secs(2)) else {
        return; // dropping the client closes it
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (Ok(client_in), Ok(server_out)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let up = thread::spawn(move || {
        copy(&client_in, &server_out);
        match mode {
            Mode::Correct => {
                let _ = server_out.shutdown(Shutdown::Write);
            }
            Mode::CloseOnHalfClose => {
                // The bug: the client is done, so "the connection is done".
                let _ = server_out.shutdown(Shutdown::Both);
                let _ = client_in.shutdown(Shutdown::Both);
            }
            // The bug: the FIN goes nowhere.
            Mode::DropHalfClose => {}
        }
    });
    copy(&server, &client);
    let _ = client.shutdown(Shutdown::Write);
    let _ = up.join();
}

/// Copies until EOF or an error.
fn copy(mut from: &TcpStream, mut to: &TcpStream) {
    let mut buffer = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buffer) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if to.write_all(&buffer[..n]).is_err() {
                    return;
                }
            }
        }
    }
}
