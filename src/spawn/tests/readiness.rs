//! Starting real servers: each placeholder's way to readiness, `{port}` retries, and the
//! failures (never ready, early exit, no such program) with the output they carry.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use super::{echo_once, py, python, unique_temp_path, ECHO_SERVER};
use crate::spawn::options::EPHEMERAL_ADDR;
use crate::spawn::readiness::pick_free_port;
use crate::spawn::{SpawnError, SpawnOptions};

#[test]
fn addr_placeholder_reads_the_real_address_from_the_output() {
    let Some(python) = python() else { return };
    let target = SpawnOptions::new(py(python, ECHO_SERVER, "{addr}"))
        .spawn()
        .unwrap();
    assert_eq!(target.addr().ip(), Ipv4Addr::LOCALHOST);
    assert_ne!(target.addr().port(), 0);
    assert!(target.argv().iter().any(|a| a == EPHEMERAL_ADDR));
    echo_once(target.addr());
    assert!(target.is_alive());
    assert!(target.output_tail().contains("some noise first"));
}

#[test]
fn custom_ready_pattern_on_stderr_is_honoured() {
    let Some(python) = python() else { return };
    let script = r#"
import socket, sys
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(4)
sys.stderr.write('READY port=%d\n' % s.getsockname()[1]); sys.stderr.flush()
c, _ = s.accept()
"#;
    // A bare port is not an address: the pattern must capture host:port.
    let err = SpawnOptions::new(py(python, script, ""))
        .ready_pattern(r"READY port=(\d+)")
        .spawn()
        .unwrap_err();
    assert!(
        matches!(&err, SpawnError::BadReadyAddress { captured, .. } if captured.parse::<u16>().is_ok()),
        "{err:?}"
    );
    let script = script.replace(
        "'READY port=%d\\n' % s.getsockname()[1]",
        "'READY at %s:%d\\n' % s.getsockname()",
    );
    let target = SpawnOptions::new(py(python, &script, ""))
        .ready_pattern(r"^READY at (\S+)$")
        .spawn()
        .unwrap();
    assert_ne!(target.addr().port(), 0);
    assert!(target.output_tail().starts_with("READY at "));
}

#[test]
fn port_placeholder_waits_for_a_connect() {
    let Some(python) = python() else { return };
    let script = ECHO_SERVER.replace("print('listening", "pass  # print('listening");
    let target = SpawnOptions::new(py(python, &script, "127.0.0.1:{port}"))
        .spawn()
        .unwrap();
    assert_eq!(target.addr().ip(), Ipv4Addr::LOCALHOST);
    echo_once(target.addr());
}

#[test]
fn port_placeholder_retries_when_the_server_exits_early() {
    let Some(python) = python() else { return };
    // Fails with "address in use" the first time, as if someone had taken the port.
    let script = r#"
import os, socket, sys
marker = sys.argv[2]
if not os.path.exists(marker):
    open(marker, 'w').close()
    print('OSError: [Errno 98] Address already in use', flush=True)
    sys.exit(1)
s = socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(4)
while True:
    s.accept()[0].close()
"#;
    let marker = unique_temp_path("retry");
    let command = py(python, script, &format!("{{port}} {}", marker.display()));
    let target = SpawnOptions::new(command).spawn();
    let _ = std::fs::remove_file(&marker);
    let target = target.unwrap();
    assert!(target.is_alive());

    // A server that always fails uses up the attempts and says how many there were.
    let err = SpawnOptions::new(py(
        python,
        "import sys; print('in use'); sys.exit(1)",
        "{port}",
    ))
    .port_attempts(3)
    .spawn()
    .unwrap_err();
    match err {
        SpawnError::ExitedBeforeReady {
            attempts,
            output_tail,
            status,
        } => {
            assert_eq!(attempts, 3);
            assert_eq!(status.code(), Some(1));
            assert!(output_tail.contains("in use"));
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn explicit_target_addr_and_extra_placeholders() {
    let Some(python) = python() else { return };
    let port = pick_free_port().unwrap();
    let script = ECHO_SERVER.replace("print('listening", "pass  # print('listening");
    let target = SpawnOptions::new(py(python, &script, "{here}"))
        .placeholder("here", format!("127.0.0.1:{port}"))
        .target_addr(([127, 0, 0, 1], port).into())
        .spawn()
        .unwrap();
    assert_eq!(target.addr().port(), port);
    echo_once(target.addr());
}

#[test]
fn never_ready_fails_within_the_timeout_with_the_output() {
    let Some(python) = python() else { return };
    // Long enough for python to start and print under load (500 ms was not, on a busy 2-core
    // machine), far shorter than the child's 60 s sleep.
    let timeout = Duration::from_secs(2);
    let started = Instant::now();
    let err = SpawnOptions::new(py(
        python,
        "import time; print('warming up', flush=True); time.sleep(60)",
        "{addr}",
    ))
    .ready_timeout(timeout)
    .spawn()
    .unwrap_err();
    let elapsed = started.elapsed();
    match &err {
        SpawnError::NeverReady {
            timeout: t,
            output_tail,
            ..
        } => {
            assert_eq!(*t, timeout);
            assert!(output_tail.contains("warming up"), "{output_tail:?}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(!err.is_usage_error());
    assert!(elapsed >= timeout, "{elapsed:?}");
    // The timeout, plus killing and reaping; far less than the child's 60 s.
    assert!(elapsed < timeout + Duration::from_secs(3), "{elapsed:?}");

    // The same with a connect probe that never succeeds.
    let started = Instant::now();
    let err = SpawnOptions::new(py(python, "import time; time.sleep(60)", "{port}"))
        .ready_timeout(timeout)
        .spawn()
        .unwrap_err();
    assert!(matches!(err, SpawnError::NeverReady { .. }), "{err:?}");
    assert!(started.elapsed() < timeout + Duration::from_secs(3));
}

#[test]
fn early_exit_is_reported_with_status_and_output() {
    let Some(python) = python() else { return };
    let script =
        "import sys; print('bind failed: boom'); sys.stderr.write('on stderr\\n'); sys.exit(7)";
    let started = Instant::now();
    let err = SpawnOptions::new(py(python, script, "{addr}"))
        .spawn()
        .unwrap_err();
    match &err {
        SpawnError::ExitedBeforeReady {
            status,
            attempts,
            output_tail,
        } => {
            assert_eq!(status.code(), Some(7));
            assert_eq!(*attempts, 1);
            assert!(output_tail.contains("bind failed: boom"), "{output_tail:?}");
            assert!(output_tail.contains("on stderr"), "{output_tail:?}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("bind failed: boom"));
    // Not the 10 s readiness timeout: the exit is noticed as it happens.
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_program_that_does_not_exist_cannot_start() {
    let err = SpawnOptions::new("/nonexistent/echo-server-that-is-not-there {addr}")
        .spawn()
        .unwrap_err();
    assert!(matches!(err, SpawnError::CannotStart { .. }), "{err:?}");
    assert!(!err.is_usage_error());
}
