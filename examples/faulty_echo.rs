//! A TCP echo server with one deliberately planted bug per `--mode`, each a mistake real echo
//! servers make, so that tests can prove `echo-harness check --spawn` catches it (issue 3, part 6).
//! Mode `correct` is a correct server written independently of the library, for the
//! zero-false-alarm runs.
//!
//! This file is the entry point: it parses its arguments by hand, binds, prints
//! `listening on ADDR` (the real bound address) to stdout, and serves until it is killed. It uses
//! the standard library only (a thread per connection, blocking sockets), so that nothing it
//! shares with the library under test can hide a bug in either; the one exception is a
//! SO_SNDBUF setting (through socket2) that `short-send-drop` needs to make its bug visible.
//!
//! ```text
//! cargo run --example faulty_echo -- --mode MODE [--listen ADDR]
//! ```
//!
//! `--listen` defaults to `127.0.0.1:0`. A bad argument or an unknown mode is reported on stderr
//! with exit code 2; a failure to bind exits 1.
//!
//! # Modes
//! Every mode echoes correctly except for its one bug, and every mode ends its write side with a
//! shutdown once it has echoed what it is going to echo, unless the bug is about exactly that.
//!
//! | mode | the bug | what a harness should report |
//! | --- | --- | --- |
//! | `correct` | none | nothing |
//! | `first-recv-only` | echoes the first `read` of a connection, then reads and discards the rest | missing bytes, then EOF |
//! | `short-send-drop` | one non-blocking `write` per read, ignoring its count: what the kernel did not take is lost (its SO_SNDBUF is set to 8 KiB, as tuned servers do) | missing bytes (a mismatch at the first lost offset) when the client reads slowly or has small buffers |
//! | `nul-truncate` | treats each received chunk as a C string and echoes it only up to its first NUL byte | byte mismatch at the first NUL (missing bytes) |
//! | `lose-tail-on-half-close` | holds the latest chunk up to 10 ms hoping to coalesce it with the next; at EOF it forgets the chunk it holds | the last chunk missing, then EOF |
//! | `no-close-after-half-close` | echoes everything but never shuts down or closes after the client's FIN (the socket is leaked) | no EOF after half-close |
//! | `hold-until-eof` | collects the whole stream and echoes it only after the client's FIN | an interactive round stalls (no reply to the first message) |
//! | `reorder` | when a second chunk arrives within 1 ms of the first, writes the second before the first | byte mismatch at the start of the first swapped chunk |
//! | `one-client` | serves its first connection correctly, then never accepts again (the listener stays open, so clients connect and hang) | the second connection stalls without a byte (start it with `--listen {addr}`: the connect probe of `{port}` would be its one client) |
//! | `cross-talk` | writes every echo to the most recently accepted connection, a global "current client" (each connection's own once that one has ended) | bytes crossing from one connection to another: missing on one, extra on the other |
//! | `limit-64k` | a fixed 64 KiB per-connection budget: after echoing 65,536 bytes it closes the socket with input unread | the stream stops at byte 65,536 at the latest, then a reset or an early EOF, depending on timing (a reset may also discard echoed bytes the client had not read yet) |
//! | `crlf` | "text mode": every `\n` is echoed as `\r\n` | extra bytes (a mismatch at the first `\n`) |
//! | `serial` | the tutorial's loop: accept one connection, echo it correctly until its EOF, only then accept the next; connections never make progress at the same time | a connection that plays while an earlier one is held open (sent, echo unread, not half-closed) stalls, every time; the report names both |
//! | `die-on-reset` | a `read` or `write` that fails because the client reset (or the pipe broke) ends the whole process, exit code 141, as a C server killed by SIGPIPE does | after a client resets mid-stream, the server is dead: the next connection is refused (`not-served-after-reset`, or `server-died` under `--spawn`) |
//! | `reset-cuts-all` | a client's reset makes it shut down every open connection ("the network is gone, drop everyone") | connections in flight when another client resets are cut: an early EOF or a reset (`cut-after-reset`) |
//! | `leak-fd` | echoes correctly and shuts down its write side at EOF, but never closes the socket: a descriptor per connection is kept in a global list | every byte and every EOF come back; the process's descriptors grow with every case (`leaked`) |
//! | `leak-thread` | echoes correctly and closes, but each connection's thread never ends (it parks forever, holding nothing) | every byte and every EOF come back; the process's threads grow with every case (`leaked`) |

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::thread;
use std::time::Duration;

/// Every mode, with its name on the command line and the line `--help` shows for it.
const MODES: &[(Mode, &str, &str)] = &[
    (
        Mode::Correct,
        "correct",
        "no bug: echo everything, shut down the write side after EOF",
    ),
    (
        Mode::FirstRecvOnly,
        "first-recv-only",
        "echo only the first read of each connection",
    ),
    (
        Mode::ShortSendDrop,
        "short-send-drop",
        "one non-blocking write per read; drop what it did not take",
    ),
    (
        Mode::NulTruncate,
        "nul-truncate",
        "echo each chunk only up to its first NUL byte",
    ),
    (
        Mode::LoseTailOnHalfClose,
        "lose-tail-on-half-close",
        "hold the latest chunk 10 ms; forget it at EOF",
    ),
    (
        Mode::NoCloseAfterHalfClose,
        "no-close-after-half-close",
        "never shut down or close after the client's FIN",
    ),
    (
        Mode::HoldUntilEof,
        "hold-until-eof",
        "echo nothing until the client's FIN, then everything",
    ),
    (
        Mode::Reorder,
        "reorder",
        "swap two chunks that arrive within 1 ms of each other",
    ),
    (
        Mode::OneClient,
        "one-client",
        "serve the first connection, then never accept again",
    ),
    (
        Mode::CrossTalk,
        "cross-talk",
        "write every echo to the most recently accepted connection",
    ),
    (
        Mode::Limit64k,
        "limit-64k",
        "close the connection, input unread, after echoing 64 KiB",
    ),
    (Mode::Crlf, "crlf", "echo every \\n as \\r\\n"),
    (
        Mode::Serial,
        "serial",
        "serve one connection at a time, each until its EOF, in accept order",
    ),
    (
        Mode::DieOnReset,
        "die-on-reset",
        "exit (code 141, as on SIGPIPE) when a client resets a connection",
    ),
    (
        Mode::ResetCutsAll,
        "reset-cuts-all",
        "shut down every open connection when a client resets one",
    ),
    (
        Mode::LeakFd,
        "leak-fd",
        "echo and shut down correctly, but never close the socket",
    ),
    (
        Mode::LeakThread,
        "leak-thread",
        "echo and close correctly, but never end the connection's thread",
    ),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Correct,
    FirstRecvOnly,
    ShortSendDrop,
    NulTruncate,
    LoseTailOnHalfClose,
    NoCloseAfterHalfClose,
    HoldUntilEof,
    Reorder,
    OneClient,
    CrossTalk,
    Limit64k,
    Crlf,
    Serial,
    DieOnReset,
    ResetCutsAll,
    LeakFd,
    LeakThread,
}

const USAGE: &str = "usage: faulty_echo --mode MODE [--listen ADDR]";

/// How long `lose-tail-on-half-close` holds a chunk, waiting for another to coalesce it with.
const COALESCE_WINDOW: Duration = Duration::from_millis(10);

/// How close together two chunks must arrive for `reorder` to swap them.
const REORDER_WINDOW: Duration = Duration::from_millis(1);

/// The per-connection budget of `limit-64k`.
const CONNECTION_BUDGET: usize = 64 * 1024;

/// How many leaked sockets `no-close-after-half-close` keeps; the oldest is closed beyond this, so
/// a long campaign does not run the process out of file descriptors.
const MAX_LEAKED_SOCKETS: usize = 256;

/// The send buffer `short-send-drop` asks for (Linux doubles it): small enough that a client
/// which pauses its reading, or reads through a small receive buffer, makes writes short.
#[cfg(unix)]
const SMALL_SEND_BUFFER: usize = 8 * 1024;

/// The read size of every mode; big enough that one write of it can be short on loopback.
const READ_SIZE: usize = 64 * 1024;

fn main() -> ExitCode {
    let (mode, listen) = match parse_args(std::env::args().skip(1)) {
        Ok(Parsed::Run { mode, listen }) => (mode, listen),
        Ok(Parsed::Help) => {
            print!("{}", help());
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("faulty_echo: {message}\n{USAGE}\n(--help lists the modes)");
            return ExitCode::from(2);
        }
    };
    let listener = match TcpListener::bind(listen) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("faulty_echo: cannot listen on {listen}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let announced = listener.local_addr().and_then(|addr| {
        let mut stdout = io::stdout().lock();
        writeln!(stdout, "listening on {addr}")?;
        stdout.flush()
    });
    if let Err(e) = announced {
        eprintln!("faulty_echo: cannot announce the address: {e}");
        return ExitCode::FAILURE;
    }
    serve(mode, &listener);
    ExitCode::SUCCESS
}

enum Parsed {
    Run { mode: Mode, listen: SocketAddr },
    Help,
}

fn parse_args(args: impl Iterator<Item = String>) -> Result<Parsed, String> {
    let mut mode = None;
    let mut listen = None;
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_owned(), Some(value.to_owned()))
            }
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Parsed::Help),
            "--mode" => {
                let name = value("--mode")?;
                let found = MODES.iter().find(|(_, n, _)| *n == name);
                mode = Some(found.ok_or_else(|| format!("unknown mode {name:?}"))?.0);
            }
            "--listen" => {
                let text = value("--listen")?;
                let addr = text
                    .to_socket_addrs()
                    .ok()
                    .and_then(|mut addrs| addrs.next())
                    .ok_or_else(|| format!("--listen {text:?} is not an address"))?;
                listen = Some(addr);
            }
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }
    Ok(Parsed::Run {
        mode: mode.ok_or("--mode is required")?,
        listen: listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0))),
    })
}

fn help() -> String {
    let mut text = format!(
        "faulty_echo: a TCP echo server with one planted bug, for testing echo-harness\n\n\
         {USAGE}\n\n\
         --listen ADDR  where to listen (default 127.0.0.1:0); prints `listening on ADDR`\n\
         --mode MODE    which bug to plant:\n"
    );
    for (_, name, what) in MODES {
        text.push_str(&format!("  {name:<27} {what}\n"));
    }
    text
}

/// Accepts connections for `mode` until the process is killed.
fn serve(mode: Mode, listener: &TcpListener) {
    if mode == Mode::OneClient {
        if let Some(conn) = accept(listener) {
            let _ = echo_correct(conn);
        }
        // The bug: the listener stays open, so the kernel completes new handshakes into the
        // backlog, but nobody ever accepts them.
        loop {
            thread::park();
        }
    }
    if mode == Mode::Serial {
        // The bug: no thread per connection. The next client waits in the backlog until this
        // one has ended, however long it holds its connection open.
        loop {
            if let Some(conn) = accept(listener) {
                let _ = echo_correct(conn);
            }
        }
    }
    let handler: fn(TcpStream, u64) -> io::Result<()> = match mode {
        Mode::Correct | Mode::OneClient | Mode::Serial => |conn, _| echo_correct(conn),
        Mode::FirstRecvOnly => |conn, _| echo_first_recv_only(conn),
        Mode::ShortSendDrop => |conn, _| echo_short_send_drop(conn),
        Mode::NulTruncate => |conn, _| echo_nul_truncate(conn),
        Mode::LoseTailOnHalfClose => |conn, _| echo_lose_tail_on_half_close(conn),
        Mode::NoCloseAfterHalfClose => |conn, _| echo_no_close_after_half_close(conn),
        Mode::HoldUntilEof => |conn, _| echo_hold_until_eof(conn),
        Mode::Reorder => |conn, _| echo_reorder(conn),
        Mode::CrossTalk => echo_cross_talk,
        Mode::Limit64k => |conn, _| echo_limit_64k(conn),
        Mode::Crlf => |conn, _| echo_crlf(conn),
        Mode::DieOnReset => |conn, _| echo_die_on_reset(conn),
        Mode::ResetCutsAll => echo_reset_cuts_all,
        Mode::LeakFd => |conn, _| echo_leak_fd(conn),
        Mode::LeakThread => |conn, _| echo_leak_thread(conn),
    };
    static NEXT_ID: AtomicU64 = AtomicU64::new(0);
    loop {
        let Some(conn) = accept(listener) else {
            continue;
        };
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        if mode == Mode::CrossTalk {
            cross_talk_register(&conn, id);
        }
        // A connection's error only ends that connection.
        let spawned = thread::Builder::new().spawn(move || {
            let _ = handler(conn, id);
        });
        if spawned.is_err() {
            // Out of threads: the connection was dropped; back off instead of spinning.
            thread::sleep(Duration::from_millis(10));
        }
    }
}

/// One accepted connection, or `None` after a transient failure (with a pause, so that running
/// out of file descriptors does not become a busy loop).
fn accept(listener: &TcpListener) -> Option<TcpStream> {
    match listener.accept() {
        Ok((conn, _)) => Some(conn),
        Err(_) => {
            thread::sleep(Duration::from_millis(10));
            None
        }
    }
}

/// `read`, retried when a signal interrupts it.
fn read_some(conn: &mut TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match conn.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Whether a read failed only because its timeout ran out.
fn timed_out(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// The reference behaviour: echo every byte; after the client's FIN, finish writing and shut
/// down the write side.
fn echo_correct(mut conn: TcpStream) -> io::Result<()> {
    let mut buf = vec![0u8; READ_SIZE];
    loop {
        let n = read_some(&mut conn, &mut buf)?;
        if n == 0 {
            break;
        }
        conn.write_all(&buf[..n])?;
    }
    conn.shutdown(Shutdown::Write)
}

fn echo_first_recv_only(mut conn: TcpStream) -> io::Result<()> {
    let mut buf = vec![0u8; READ_SIZE];
    let n = read_some(&mut conn, &mut buf)?;
    conn.write_all(&buf[..n])?;
    // The bug: everything after the first read is read and thrown away.
    while read_some(&mut conn, &mut buf)? > 0 {}
    conn.shutdown(Shutdown::Write)
}

fn echo_short_send_drop(mut conn: TcpStream) -> io::Result<()> {
    shrink_send_buffer(&conn);
    let mut buf = vec![0u8; READ_SIZE];
    loop {
        let n = read_some(&mut conn, &mut buf)?;
        if n == 0 {
            break;
        }
        // The bug, as in an event loop on a non-blocking socket: one send per chunk, its count
        // ignored. When the send buffer is full (the client reads slowly), the rest is gone.
        conn.set_nonblocking(true)?;
        let _ = conn.write(&buf[..n]);
        conn.set_nonblocking(false)?;
    }
    conn.shutdown(Shutdown::Write)
}

/// Sets a small SO_SNDBUF on the accepted socket, as servers tuned for many connections do.
///
/// Without it the bug would hide on Linux loopback: the kernel grows the send buffer of a
/// connection to megabytes (a client that never reads, with a 2 KiB receive buffer, still lets
/// the server queue about 2 MiB before the first short write). std has no setter for SO_SNDBUF;
/// socket2, a dependency of the crate, has a portable one.
fn shrink_send_buffer(conn: &TcpStream) {
    // A failure only makes the bug harder to see, so it is ignored.
    let _ = socket2::SockRef::from(conn).set_send_buffer_size(SMALL_SEND_BUFFER);
}

fn echo_nul_truncate(mut conn: TcpStream) -> io::Result<()> {
    let mut buf = vec![0u8; READ_SIZE];
    loop {
        let n = read_some(&mut conn, &mut buf)?;
        if n == 0 {
            break;
        }
        // The bug: the chunk is handled as a C string, so it ends at its first NUL.
        let chunk = &buf[..n];
        let c_string = chunk.split(|&b| b == 0).next().unwrap_or(chunk);
        conn.write_all(c_string)?;
    }
    conn.shutdown(Shutdown::Write)
}

fn echo_lose_tail_on_half_close(mut conn: TcpStream) -> io::Result<()> {
    let mut buf = vec![0u8; READ_SIZE];
    // The chunk held back in the hope that another arrives to be written with it.
    let mut held: Vec<u8> = Vec::new();
    loop {
        conn.set_read_timeout((!held.is_empty()).then_some(COALESCE_WINDOW))?;
        match read_some(&mut conn, &mut buf) {
            // The bug: at EOF the held chunk is forgotten instead of written.
            Ok(0) => break,
            Ok(n) => {
                conn.write_all(&held)?;
                held.clear();
                held.extend_from_slice(&buf[..n]);
            }
            Err(e) if timed_out(&e) => {
                conn.write_all(&held)?;
                held.clear();
            }
            Err(e) => return Err(e),
        }
    }
    conn.shutdown(Shutdown::Write)
}

/// The sockets `no-close-after-half-close` never closed, oldest first.
static LEAKED: Mutex<VecDeque<TcpStream>> = Mutex::new(VecDeque::new());

fn echo_no_close_after_half_close(mut conn: TcpStream) -> io::Result<()> {
    let mut buf = vec![0u8; READ_SIZE];
    loop {
        let n = read_some(&mut conn, &mut buf)?;
        if n == 0 {
            break;
        }
        conn.write_all(&buf[..n])?;
    }
    // The bug: no shutdown, no close. The socket is kept (bounded, see MAX_LEAKED_SOCKETS) so
    // the client never sees our FIN; the thread itself ends.
    let mut leaked = LEAKED.lock().unwrap_or_else(PoisonError::into_inner);
    leaked.push_back(conn);
    if leaked.len() > MAX_LEAKED_SOCKETS {
        leaked.pop_front();
    }
    Ok(())
}

fn echo_hold_until_eof(mut conn: TcpStream) -> io::Result<()> {
    let mut all = Vec::new();
    // The bug: the whole stream is read before a single byte is answered.
    conn.read_to_end(&mut all)?;
    conn.write_all(&all)?;
    conn.shutdown(Shutdown::Write)
}

fn echo_reorder(mut conn: TcpStream) -> io::Result<()> {
    let mut buf = vec![0u8; READ_SIZE];
    loop {
        conn.set_read_timeout(None)?;
        let n = read_some(&mut conn, &mut buf)?;
        if n == 0 {
            break;
        }
        let first = buf[..n].to_vec();
        conn.set_read_timeout(Some(REORDER_WINDOW))?;
        match read_some(&mut conn, &mut buf) {
            Ok(0) => {
                conn.write_all(&first)?;
                break;
            }
            // The bug: two chunks that arrive together are handed to the writer in the wrong
            // order (as when two workers race and the second one wins).
            Ok(m) => {
                conn.write_all(&buf[..m])?;
                conn.write_all(&first)?;
            }
            Err(e) if timed_out(&e) => conn.write_all(&first)?,
            Err(e) => return Err(e),
        }
    }
    conn.shutdown(Shutdown::Write)
}

/// `cross-talk`'s global "current client": the most recently accepted connection still open,
/// with its id, which is where every connection's echo goes.
static CURRENT_CLIENT: Mutex<Option<(u64, TcpStream)>> = Mutex::new(None);

fn cross_talk_register(conn: &TcpStream, id: u64) {
    if let Ok(clone) = conn.try_clone() {
        *CURRENT_CLIENT
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some((id, clone));
    }
}

fn echo_cross_talk(mut conn: TcpStream, id: u64) -> io::Result<()> {
    let mut buf = vec![0u8; READ_SIZE];
    loop {
        let n = read_some(&mut conn, &mut buf)?;
        if n == 0 {
            break;
        }
        // The bug: the reply goes to the "current client", which is this connection only as
        // long as no other one was accepted after it.
        let current = CURRENT_CLIENT
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .and_then(|(_, stream)| stream.try_clone().ok());
        let mut out = match current {
            Some(stream) => stream,
            None => conn.try_clone()?,
        };
        // The other client may be gone; its bytes are then simply lost.
        let _ = out.write_all(&buf[..n]);
    }
    let mut current = CURRENT_CLIENT
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if current
        .as_ref()
        .is_some_and(|(current_id, _)| *current_id == id)
    {
        *current = None;
    }
    drop(current);
    conn.shutdown(Shutdown::Write)
}

fn echo_limit_64k(mut conn: TcpStream) -> io::Result<()> {
    let mut buf = vec![0u8; READ_SIZE];
    let mut echoed = 0;
    loop {
        let n = read_some(&mut conn, &mut buf)?;
        if n == 0 {
            return conn.shutdown(Shutdown::Write);
        }
        let fits = n.min(CONNECTION_BUDGET - echoed);
        conn.write_all(&buf[..fits])?;
        echoed += fits;
        if echoed == CONNECTION_BUDGET {
            // The bug: the buffer is full, so the connection is dropped. Closing with input
            // still unread makes the kernel answer with a reset.
            return Ok(());
        }
    }
}

fn echo_crlf(mut conn: TcpStream) -> io::Result<()> {
    let mut buf = vec![0u8; READ_SIZE];
    let mut out = Vec::with_capacity(2 * READ_SIZE);
    loop {
        let n = read_some(&mut conn, &mut buf)?;
        if n == 0 {
            break;
        }
        // The bug: a "text mode" translation of line endings.
        out.clear();
        for &b in &buf[..n] {
            if b == b'\n' {
                out.push(b'\r');
            }
            out.push(b);
        }
        conn.write_all(&out)?;
    }
    conn.shutdown(Shutdown::Write)
}

/// Whether an error means the client reset the connection (or it broke under a write).
fn is_reset(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

/// The bug: a C server that never ignored SIGPIPE dies on its first write to a reset
/// connection, and takes every other client with it. Rust ignores SIGPIPE, so the write fails
/// with `BrokenPipe` (or a read with `ConnectionReset`); this exits as that server would.
fn echo_die_on_reset(conn: TcpStream) -> io::Result<()> {
    match echo_correct(conn) {
        Err(e) if is_reset(&e) => std::process::exit(141),
        other => other,
    }
}

/// The open connections of `reset-cuts-all`, by id: handles to shut down.
static OPEN: Mutex<Vec<(u64, TcpStream)>> = Mutex::new(Vec::new());

/// The bug: a reset on one connection is taken for a broken network, and every open connection
/// is shut down, both ways.
fn echo_reset_cuts_all(conn: TcpStream, id: u64) -> io::Result<()> {
    let open = || OPEN.lock().unwrap_or_else(PoisonError::into_inner);
    if let Ok(handle) = conn.try_clone() {
        open().push((id, handle));
    }
    let result = echo_correct(conn);
    let mut all = open();
    all.retain(|(other, _)| *other != id);
    if matches!(&result, Err(e) if is_reset(e)) {
        for (_, other) in all.iter() {
            let _ = other.shutdown(Shutdown::Both);
        }
    }
    result
}

/// How many descriptors `leak-fd` keeps, and threads `leak-thread` leaves behind; beyond this a
/// long campaign gets clean connections, so the process does not run out of either.
const MAX_LEAKS: u64 = 4096;

/// The sockets `leak-fd` never closes.
static NEVER_CLOSED: Mutex<Vec<TcpStream>> = Mutex::new(Vec::new());

fn echo_leak_fd(conn: TcpStream) -> io::Result<()> {
    // A second descriptor of the same socket: the echo (and its shutdown) goes through the first,
    // which is closed, while this one keeps the socket open.
    let kept = conn.try_clone()?;
    echo_correct(conn)?;
    // The bug: the socket is shut down (the client gets every byte and its EOF) but never
    // closed, as when a connection object is kept in a registry nobody prunes.
    let mut never_closed = NEVER_CLOSED.lock().unwrap_or_else(PoisonError::into_inner);
    if (never_closed.len() as u64) < MAX_LEAKS {
        never_closed.push(kept);
    }
    Ok(())
}

fn echo_leak_thread(conn: TcpStream) -> io::Result<()> {
    static LEFT_BEHIND: AtomicU64 = AtomicU64::new(0);
    let echoed = echo_correct(conn);
    // The bug: the connection is over and its socket closed, but its thread never ends, as a
    // worker waiting on a channel whose sender was leaked.
    if LEFT_BEHIND.fetch_add(1, Ordering::Relaxed) < MAX_LEAKS {
        loop {
            thread::park();
        }
    }
    echoed
}
