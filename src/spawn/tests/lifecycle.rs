//! A real server's life after it is ready: its output tail, dying mid-run, a polite shutdown,
//! and cleanup: dropping kills the group, and on Linux the server dies with us.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::*;
use crate::spawn::process::READER_JOIN_BOUND;
use crate::spawn::{SpawnOptions, OUTPUT_TAIL_CAPACITY};

#[test]
fn output_ring_of_a_real_child_keeps_the_last_64_kib() {
    let Some(python) = python() else { return };
    // 300 KiB of numbered lines, then a marker, then the ready line: the child must never
    // block on the pipe, and only the end survives.
    let script = r#"
import socket, sys
out = sys.stdout
for i in range(300 * 1024 // 16):
    out.write('line %010d\n' % i)
out.write('LAST-BEFORE-READY\n')
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1)
out.write('listening on %s:%d\n' % s.getsockname())
out.flush()
s.accept()
"#;
    let target = SpawnOptions::new(py(python, script, "")).spawn().unwrap();
    let tail = target.output_tail();
    assert!(tail.len() <= OUTPUT_TAIL_CAPACITY);
    assert!(tail.len() > OUTPUT_TAIL_CAPACITY - 64);
    assert!(!tail.contains("line 0000000000\n"));
    assert!(tail.contains(&format!("line {:010}\n", 300 * 1024 / 16 - 1)));
    assert!(tail
        .trim_end()
        .ends_with(&format!("listening on {}", target.addr())));
}

#[cfg(unix)]
#[test]
fn dropping_kills_the_whole_process_group() {
    let Some(python) = python() else { return };
    // The grandchild inherits the pipes, so this also proves the readers are released.
    let script = r#"
import socket, subprocess, time
p = subprocess.Popen(['sleep', '1000'])
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1)
print('grandchild %d' % p.pid, flush=True)
print('listening on %s:%d' % s.getsockname(), flush=True)
time.sleep(1000)
"#;
    let target = SpawnOptions::new(py(python, script, "")).spawn().unwrap();
    let child = i32::try_from(target.pid()).unwrap();
    let tail = target.output_tail();
    let grandchild: i32 = tail
        .lines()
        .find_map(|l| l.strip_prefix("grandchild "))
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no grandchild pid in {tail:?}"));
    assert!(!process_gone(child) && !process_gone(grandchild));
    let started = Instant::now();
    drop(target);
    assert!(started.elapsed() < READER_JOIN_BOUND + Duration::from_secs(1));
    assert!(wait_until_gone(child), "child {child} survived");
    assert!(
        wait_until_gone(grandchild),
        "grandchild {grandchild} survived"
    );
}

#[test]
fn a_server_that_dies_mid_run_is_detected() {
    let Some(python) = python() else { return };
    let script = r#"
import os, socket
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1)
print('listening on %s:%d' % s.getsockname(), flush=True)
s.accept()
print('segfault, pretend', flush=True)
os._exit(9)
"#;
    let target = SpawnOptions::new(py(python, script, "")).spawn().unwrap();
    assert!(target.is_alive());
    assert!(target.check_alive().is_ok());
    let _conn = TcpStream::connect_timeout(&target.addr(), BOUND).unwrap();
    let status = target.wait_for_exit(BOUND).expect("the server should exit");
    assert_eq!(status.code(), Some(9));
    assert!(!target.is_alive());
    assert_eq!(target.try_exit_status(), Some(status));
    let died = target.check_alive().unwrap_err();
    assert_eq!(died.status, status);
    assert!(died.output_tail.contains("segfault, pretend"), "{died:?}");
    assert!(died.to_string().contains("segfault, pretend"));
}

#[cfg(unix)]
#[test]
fn shutdown_asks_with_sigterm_then_kills() {
    use std::os::unix::process::ExitStatusExt;
    let Some(python) = python() else { return };
    let server = |on_term: &str| {
        format!(
            r#"
import signal, socket, sys, time
def term(*_):
    print('got TERM', flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, {on_term})
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1)
print('listening on %s:%d' % s.getsockname(), flush=True)
while True:
    time.sleep(1)
"#
        )
    };
    let polite = SpawnOptions::new(py(python, &server("term"), ""))
        .spawn()
        .unwrap();
    let status = polite.shutdown(BOUND);
    assert!(status.success(), "{status:?}");

    let stubborn = SpawnOptions::new(py(python, &server("signal.SIG_IGN"), ""))
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = stubborn.shutdown(Duration::from_millis(300));
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// Set for the child test process of `the_server_dies_when_we_die_without_cleanup`.
#[cfg(target_os = "linux")]
const ABORT_HELPER_ENV: &str = "ECHO_HARNESS_SPAWN_ABORT_HELPER";

/// Not a test of its own: the body of the process that the next test starts and watches.
/// It spawns a server, says its pid, and aborts, so that no destructor runs.
#[cfg(target_os = "linux")]
#[test]
#[ignore = "the helper process of the_server_dies_when_we_die_without_cleanup"]
fn helper_spawns_a_server_then_aborts() {
    if std::env::var_os(ABORT_HELPER_ENV).is_none() {
        return;
    }
    let python = python().expect("the caller checked for python3");
    let target = SpawnOptions::new(py(python, ECHO_SERVER, "{addr}"))
        .spawn()
        .unwrap();
    // The test harness prints the test's name on the same line, hence the search for it.
    println!("SERVER_PID={}", target.pid());
    std::io::stdout().flush().unwrap();
    std::process::abort();
}

#[cfg(target_os = "linux")]
#[test]
fn the_server_dies_when_we_die_without_cleanup() {
    // Drop never runs when check is SIGKILLed or crashes; PR_SET_PDEATHSIG covers that.
    let Some(_) = python() else { return };
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "helper_spawns_a_server_then_aborts",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ABORT_HELPER_ENV, "1")
        .stderr(Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success(), "the helper should have aborted");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let pid: i32 = stdout
        .lines()
        .find_map(|l| l.split_once("SERVER_PID=").map(|(_, pid)| pid.trim()))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no SERVER_PID in {stdout:?}"));
    assert!(wait_until_gone(pid), "server {pid} outlived its parent");
}

#[cfg(target_os = "linux")]
#[test]
fn children_outlive_the_thread_that_spawned_them() {
    // PDEATHSIG follows the forking thread: spawning from a thread that then ends must not
    // kill the server, because the fork happens on the long-lived spawner thread.
    let Some(python) = python() else { return };
    let command = py(python, ECHO_SERVER, "{addr}");
    let target = thread::spawn(move || SpawnOptions::new(command).spawn().unwrap())
        .join()
        .unwrap();
    // Give a wrongly delivered SIGKILL time to land before looking.
    assert!(target.wait_for_exit(Duration::from_millis(300)).is_none());
    echo_once(target.addr());
}
