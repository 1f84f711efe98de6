//! The drain of the real binary, stopped by signals: `serve` on each path and `proxy` keep a
//! stream whole across SIGTERM, cut a connection still busy when `--grace` runs out and say so
//! in their last line, and stop at once on a second signal, with exit 0 every time.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use echo_harness::{EchoServer, ServerConfig};

use super::{busy_until_cut, pause_across, refused, PATHS};
use crate::common::{bin_path, wait_for_exit, WAIT};

/// A running `serve` or `proxy`, its address and its stderr lines; killed and reaped on drop.
struct Running {
    child: Child,
    addr: SocketAddr,
    stderr: mpsc::Receiver<String>,
}

impl Running {
    fn start(command: &str, args: &[&str]) -> Running {
        let mut child = Command::new(bin_path())
            .args([command, "--listen", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the binary");
        let (tx, stderr) = mpsc::channel();
        let lines = BufReader::new(child.stderr.take().unwrap()).lines();
        thread::spawn(move || lines.map_while(Result::ok).try_for_each(|l| tx.send(l)));
        let mut first = String::new();
        // Bounded: the child is killed on drop if the test panics, which ends this read.
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let mut running = Running {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            stderr,
        };
        running.addr = first
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
            .parse()
            .unwrap();
        running
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// Waits, bounded, for a stderr line starting with `prefix`.
    fn wait_line(&self, prefix: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return line,
                Ok(_) => {}
                Err(_) => panic!("no line starting with {prefix:?} within {WAIT:?}"),
            }
        }
    }

    /// Waits for exit 0 and returns the last stderr line.
    fn exit_0_with_last_line(&mut self) -> String {
        assert_eq!(wait_for_exit(&mut self.child).code(), Some(0));
        self.stderr.iter().last().unwrap_or_default()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// SIGTERM, then waits for the drain to begin with one connection open, and checks that new
/// clients are refused.
fn sigterm_and_drain(running: &Running, what: &str) {
    running.signal("TERM");
    let line = running.wait_line("draining");
    assert_eq!(
        line,
        format!("draining 1 {what} (signal again to stop now)")
    );
    assert!(
        refused(running.addr),
        "a new client was not refused during the drain"
    );
}

#[test]
fn a_stream_that_pauses_across_sigterm_comes_back_whole_from_serve_and_proxy() {
    let upstream = EchoServer::spawn(ServerConfig::ephemeral()).unwrap();
    let upstream = upstream.local_addr().to_string();
    let runs = PATHS
        .iter()
        .map(|(path, flags)| (*path, "serve", flags.to_vec(), "connection"))
        .chain([(
            "proxy",
            "proxy",
            vec!["--upstream", &upstream],
            "proxied connection",
        )]);
    for (name, command, args, what) in runs {
        let mut running = Running::start(command, &args);
        let seen = pause_across(running.addr, || sigterm_and_drain(&running, what));
        seen.check_prefix(name);
        assert_eq!(
            seen.back.len(),
            seen.sent.len(),
            "{name}: the stream was cut"
        );
        let last = running.exit_0_with_last_line();
        assert_eq!(
            last,
            format!("drained: 1 {what} ended; 0 cut by the grace period"),
            "{name}"
        );
    }
}

#[test]
fn a_connection_busy_when_grace_runs_out_is_cut_after_the_bytes_owed_and_counted() {
    let upstream = EchoServer::spawn(ServerConfig::ephemeral()).unwrap();
    let upstream = upstream.local_addr().to_string();
    let runs = [
        ("serve", vec!["--grace", "300ms"], "connection"),
        (
            "proxy",
            vec!["--grace", "300ms", "--upstream", &upstream],
            "proxied connection",
        ),
    ];
    for (command, args, what) in runs {
        let mut running = Running::start(command, &args);
        let seen = busy_until_cut(running.addr, || sigterm_and_drain(&running, what));
        assert!(
            seen.took >= Duration::from_millis(300),
            "{command}: {:?}",
            seen.took
        );
        seen.check_prefix(command);
        let last = running.exit_0_with_last_line();
        assert!(
            last.starts_with(&format!("1 {what} cut by the 300ms grace period")),
            "{command}: {last}"
        );
    }
}

#[test]
fn a_second_signal_stops_at_once_with_exit_0() {
    let upstream = EchoServer::spawn(ServerConfig::ephemeral()).unwrap();
    let upstream = upstream.local_addr().to_string();
    let runs = [
        ("serve", vec![], "connection"),
        ("proxy", vec!["--upstream", &upstream], "proxied connection"),
    ];
    for (command, args, what) in runs {
        // The default grace period (10 s): stopping at once must not wait it out.
        let mut running = Running::start(command, &args);
        let mut open = TcpStream::connect(running.addr).unwrap();
        open.set_read_timeout(Some(WAIT)).unwrap();
        open.write_all(b"held").unwrap();
        open.read_exact(&mut [0u8; 4]).unwrap();
        sigterm_and_drain(&running, what);
        let started = Instant::now();
        running.signal("INT");
        let last = running.exit_0_with_last_line();
        let took = started.elapsed();
        assert!(took < Duration::from_secs(2), "{command}: took {took:?}");
        assert_eq!(last, format!("stopped at once: 1 {what} cut"), "{command}");
    }
}
