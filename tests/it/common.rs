//! Shared test fixtures: the binary under test, a `serve` child process that is always killed
//! and reaped, and waits that are always bounded.
//!
//! Used by the modules of this `it` binary and by `tests/detection.rs`, which includes this file
//! with `#[path]` (and allows the dead code of the parts it does not use).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// How long any wait in a test may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(10);

/// The `echo-harness` binary, ready for assert_cmd, with a timeout so no test can hang.
pub fn bin() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("echo-harness").expect("binary built");
    cmd.timeout(Duration::from_secs(30));
    cmd
}

/// Path of the `echo-harness` binary, for tests that manage the process themselves.
pub fn bin_path() -> std::path::PathBuf {
    assert_cmd::cargo::cargo_bin("echo-harness")
}

/// `target/PROFILE/examples/NAME`, found from the test binary in `target/PROFILE/deps`, and
/// checked to be newer than its source (a stale binary would test old code without a word).
/// Plain `cargo test` builds the examples; `cargo test --test X` does not, so the panic says
/// to run `cargo build --examples` first.
pub fn example(name: &str) -> std::path::PathBuf {
    use std::path::Path;
    let exe = std::env::current_exe().expect("current_exe");
    let path = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary in target/PROFILE/deps")
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let built = std::fs::metadata(&path).and_then(|m| m.modified());
    let Ok(built) = built else {
        panic!(
            "{} is missing: plain `cargo test` builds examples, `cargo test --test X` does \
             not; run `cargo build --examples` first",
            path.display()
        );
    };
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("examples/{name}.rs"));
    let edited = std::fs::metadata(&source).and_then(|m| m.modified());
    assert!(
        edited.map_or(true, |edited| edited <= built),
        "{} is older than {}: run `cargo build --examples` first",
        path.display(),
        source.display()
    );
    path
}

/// `path` single-quoted for a `--spawn` command line, so that neither spaces nor Windows
/// backslashes are taken apart by the shell-words split.
pub fn quoted(path: &std::path::Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

/// A running `echo-harness serve`, killed and reaped on drop (also when the test panics).
pub struct ServeProcess {
    pub child: Child,
    pub addr: SocketAddr,
    /// The rest of stdout, line by line, read by a background thread.
    pub lines: mpsc::Receiver<String>,
}

impl ServeProcess {
    /// Starts `echo-harness serve` with `args` (which should include `--listen 127.0.0.1:0`)
    /// and waits for its `listening on ADDR` line.
    pub fn start(args: &[&str]) -> ServeProcess {
        ServeProcess::start_command("serve", args)
    }

    /// Starts `echo-harness COMMAND` with `args` (any command that announces
    /// `listening on ADDR`, such as `serve` or `proxy`) and waits for that line.
    pub fn start_command(command: &str, args: &[&str]) -> ServeProcess {
        let args: Vec<&str> = std::iter::once(command)
            .chain(args.iter().copied())
            .collect();
        ServeProcess::start_program(&bin_path(), &args)
    }

    /// Starts `program` with `args` (a server that announces `listening on ADDR`, such as
    /// `examples/faulty_echo`) and waits for that line.
    pub fn start_program(program: &std::path::Path, args: &[&str]) -> ServeProcess {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start serve");
        let stdout = child.stdout.take().expect("stdout");
        let lines = read_lines(stdout);
        let mut process = ServeProcess {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            lines,
        };
        let first = process
            .lines
            .recv_timeout(WAIT)
            .expect("serve announces its address in time");
        process.addr = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
            .parse()
            .expect("a socket address");
        process
    }

    /// Waits, bounded, for the process to exit and returns its exit code.
    pub fn wait_exit(&mut self) -> Option<i32> {
        wait_for_exit(&mut self.child).code()
    }
}

/// Sockets that test servers keep open, neither reading nor closing, until the test process
/// ends: what a server that stops answering looks like, with nothing to wait out.
static HELD: std::sync::Mutex<Vec<std::net::TcpStream>> = std::sync::Mutex::new(Vec::new());

/// Keeps `stream` open, unanswered, until the test process ends (see [`HELD`]).
pub fn hold(stream: std::net::TcpStream) {
    HELD.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(stream);
}

/// Checks `condition` every 5 ms until it holds (`true`) or [`WAIT`] has passed (`false`): the
/// wait for a state that announces itself by no event a test can block on, such as a process's
/// exit (std has no wait with a timeout) or a server's counters going idle.
pub fn poll_until(mut condition: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        if condition() {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// Waits at most [`WAIT`] for `child` to exit and returns its status; past that it kills and
/// reaps it, and fails the test.
pub fn wait_for_exit(child: &mut Child) -> std::process::ExitStatus {
    let mut status = None;
    if !poll_until(|| {
        status = child.try_wait().expect("try_wait");
        status.is_some()
    }) {
        let _ = child.kill();
        let _ = child.wait();
        panic!("process {} did not exit within {WAIT:?}", child.id());
    }
    status.expect("the poll ends only once it is set")
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_lines(stdout: ChildStdout) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// An address on which nothing listens: bound to find a free port, then released.
pub fn refused_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// A deliberately wrong echo server on a thread: it answers each read with `answer(bytes)`.
/// It lives as long as the test process; each test starts its own on port 0.
/// The `--spawn` command of `examples/faulty_echo.rs` in `mode`, announcing its address.
pub fn faulty_spawn(mode: &str) -> String {
    let path = quoted(&example("faulty_echo"));
    format!("{path} --mode {mode} --listen {{addr}}")
}

pub fn faulty_server(answer: fn(&[u8]) -> Vec<u8>) -> SocketAddr {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            thread::spawn(move || {
                let mut buffer = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buffer) {
                    if n == 0 || stream.write_all(&answer(&buffer[..n])).is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

/// The path of the case `check --save` saved, from its `saved: PATH` line on stdout.
pub fn saved_path(stdout: &[u8]) -> std::path::PathBuf {
    let text = String::from_utf8_lossy(stdout);
    let saved = text
        .lines()
        .find_map(|l| l.strip_prefix("saved: "))
        .unwrap_or_else(|| panic!("no `saved:` line in check's output:\n{text}"));
    std::path::PathBuf::from(saved)
}
