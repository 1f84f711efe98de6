//! Tests that start real child processes (python3 servers; skipped without python3): starting
//! and readiness in `readiness`, output, death and cleanup in `lifecycle`. The tests of the pure
//! parts sit next to the code they test.

mod lifecycle;
mod readiness;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

/// A generous bound for anything that should take milliseconds, so a loaded CI machine
/// does not turn into a false failure.
const BOUND: Duration = Duration::from_secs(10);

/// `python3`, if this machine has it; the process tests skip without it.
fn python() -> Option<&'static str> {
    static FOUND: OnceLock<bool> = OnceLock::new();
    let found = *FOUND.get_or_init(|| {
        Command::new("python3")
            .args(["-c", "pass"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    if found {
        Some("python3")
    } else {
        println!("SKIPPED: python3 is not available to run the test servers");
        None
    }
}

/// `python3 -c SCRIPT ARGS...` as one command string. Scripts avoid braces, which would be
/// read as placeholders.
fn py(python: &str, script: &str, args: &str) -> String {
    format!("{python} -c {} {args}", shell_words::quote(script))
}

/// An echo server on the `host:port` of argv[1], announcing its real address.
const ECHO_SERVER: &str = r#"
import socket, sys
host, port = sys.argv[1].rsplit(':', 1)
s = socket.socket()
s.bind((host, int(port)))
s.listen(16)
print('some noise first', flush=True)
print('listening on %s:%d' % s.getsockname(), flush=True)
while True:
    c, _ = s.accept()
    while True:
        d = c.recv(65536)
        if not d:
            break
        c.sendall(d)
    c.close()
"#;

fn echo_once(addr: SocketAddr) {
    let mut conn = TcpStream::connect_timeout(&addr, BOUND).expect("connect");
    conn.set_read_timeout(Some(BOUND)).unwrap();
    conn.write_all(b"ping\0pong").unwrap();
    conn.shutdown(std::net::Shutdown::Write).unwrap();
    let mut back = Vec::new();
    conn.read_to_end(&mut back).unwrap();
    assert_eq!(back, b"ping\0pong");
}

/// Whether `pid` is gone: no such process, or a zombie nobody has reaped yet (an orphaned
/// grandchild waits for init, which in a container may never come).
#[cfg(unix)]
fn process_gone(pid: i32) -> bool {
    #[cfg(target_os = "linux")]
    if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        let state = stat.rsplit(')').next().unwrap_or("").trim_start();
        return state.starts_with('Z') || state.starts_with('X');
    }
    // SAFETY: kill with signal 0 only checks for existence.
    let alive = unsafe { libc::kill(pid, 0) } == 0;
    !alive
}

#[cfg(unix)]
fn wait_until_gone(pid: i32) -> bool {
    let deadline = Instant::now() + BOUND;
    while Instant::now() < deadline {
        if process_gone(pid) {
            return true;
        }
        thread::sleep(Duration::from_millis(10));
    }
    false
}

fn unique_temp_path(tag: &str) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("spawn-test-{tag}-{}-{n}", std::process::id()))
}
