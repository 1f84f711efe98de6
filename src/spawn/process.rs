//! The child process itself: forking it in a process group of its own (on Linux with a
//! parent-death signal, from a thread that lives as long as the process), signalling the group,
//! and killing and reaping it when the [`SpawnedTarget`] goes away.

use std::io::{self, Read};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use regex::Regex;

use super::error::SpawnError;
use super::output::{read_output, OutputShared};
use super::target::{ChildSlot, SpawnedTarget};
use crate::sync::lock;

/// How long `Drop` waits for the reader threads to see end-of-file after the group is killed.
pub(super) const READER_JOIN_BOUND: Duration = Duration::from_secs(2);

impl SpawnedTarget {
    /// Starts the process and its reader threads; the caller waits for readiness.
    pub(super) fn start(
        argv: Vec<String>,
        pattern: Option<Regex>,
    ) -> Result<SpawnedTarget, SpawnError> {
        let program = argv[0].clone();
        let mut command = Command::new(&program);
        command
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            // Its own group, so one signal reaches everything it starts, and a Ctrl-C at the
            // terminal reaches only us: we decide when and how the server stops.
            command.process_group(0);
        }
        #[cfg(target_os = "linux")]
        linux::die_with_parent(&mut command);
        let mut child = fork_child(command).map_err(|source| SpawnError::CannotStart {
            program: program.clone(),
            source,
        })?;
        let pid = child.id();
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let output = Arc::new(OutputShared::new(pattern.is_some()));
        let mut target = SpawnedTarget {
            child: Mutex::new(ChildSlot { child, exit: None }),
            pid,
            argv,
            addr: SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
            output: Arc::clone(&output),
            readers: Vec::new(),
            drained_after_exit: AtomicBool::new(false),
        };
        // From here on `target`'s Drop cleans up if anything fails.
        let streams: [(&str, Option<Box<dyn Read + Send>>); 2] = [
            (
                "stdout",
                stdout.map(|s| Box::new(s) as Box<dyn Read + Send>),
            ),
            (
                "stderr",
                stderr.map(|s| Box::new(s) as Box<dyn Read + Send>),
            ),
        ];
        for (name, stream) in streams {
            let Some(stream) = stream else {
                output.stream_closed();
                continue;
            };
            let shared = Arc::clone(&output);
            let pattern = pattern.clone();
            let reader = thread::Builder::new()
                .name(format!("spawned-{pid}-{name}"))
                .spawn(move || read_output(stream, &shared, pattern.as_ref()));
            match reader {
                Ok(handle) => target.readers.push(handle),
                Err(source) => {
                    // The unread pipe would fill up and stall the server; better to fail now.
                    output.stream_closed();
                    return Err(SpawnError::Io {
                        context: "cannot start a thread to read the server's output",
                        source,
                    });
                }
            }
        }
        Ok(target)
    }

    /// SIGKILL to the group (or the child, elsewhere), then wait for the child.
    pub(super) fn kill_and_reap(&self) -> ExitStatus {
        #[cfg(unix)]
        self.signal_group(libc::SIGKILL);
        let mut slot = lock(&self.child);
        if let Some(status) = slot.exit {
            return status;
        }
        #[cfg(not(unix))]
        let _ = slot.child.kill();
        // After SIGKILL this returns promptly; an error means it was reaped elsewhere, and
        // there is no status to report but "killed", which the kill above made true.
        let status = match slot.child.wait() {
            Ok(status) => status,
            Err(_) => killed_status(),
        };
        slot.exit = Some(status);
        status
    }

    /// Sends `signal` to the whole process group. Done even after the child itself was reaped:
    /// its children may still be in the group, and the kernel does not reuse a group id while
    /// any member lives.
    #[cfg(unix)]
    pub(super) fn signal_group(&self, signal: libc::c_int) {
        let Ok(pgid) = libc::pid_t::try_from(self.pid) else {
            return;
        };
        // SAFETY: kill(2) has no memory-safety preconditions. A negative pid names the process
        // group the child leads (process_group(0) made its pgid equal to its pid). ESRCH (no
        // such group left) is the expected outcome once everything is gone.
        unsafe {
            libc::kill(-pgid, signal);
        }
    }
}

impl Drop for SpawnedTarget {
    fn drop(&mut self) {
        self.kill_and_reap();
        let drained = self.wait_readers_drained(READER_JOIN_BOUND);
        for reader in self.readers.drain(..) {
            // A reader whose pipe is still held open by an escaped grandchild would block the
            // join forever; it is detached instead and ends when that pipe closes.
            if drained || reader.is_finished() {
                let _ = reader.join();
            }
        }
    }
}

/// The exit status of a process killed by SIGKILL, for a child reaped by someone else.
fn killed_status() -> ExitStatus {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        ExitStatus::from_raw(libc::SIGKILL)
    }
    #[cfg(windows)]
    {
        use std::os::windows::process::ExitStatusExt;
        ExitStatus::from_raw(1)
    }
    #[cfg(not(any(unix, windows)))]
    {
        unreachable!("std::process is not available on this platform")
    }
}

/// Forks the child; on Linux from the one long-lived spawner thread (see the module docs).
fn fork_child(command: Command) -> io::Result<Child> {
    #[cfg(target_os = "linux")]
    {
        linux::spawn_from_long_lived_thread(command)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let mut command = command;
        command.spawn()
    }
}

#[cfg(target_os = "linux")]
mod linux {
    //! The Linux-only part: the parent-death signal and the thread that must outlive every child.

    use std::io;
    use std::os::unix::process::CommandExt;
    use std::process::{Child, Command};
    use std::sync::mpsc;
    use std::sync::OnceLock;
    use std::thread;

    type SpawnRequest = (Command, mpsc::SyncSender<io::Result<Child>>);

    /// The spawner thread's inbox; `None` if the thread could not be started, in which case
    /// children are forked from the caller's thread and PDEATHSIG follows that thread instead.
    static SPAWNER: OnceLock<Option<mpsc::Sender<SpawnRequest>>> = OnceLock::new();

    /// Makes the child get SIGKILL when the thread that forks it exits (with the process, since
    /// that thread is the spawner).
    pub(super) fn die_with_parent(command: &mut Command) {
        let parent = std::process::id();
        // SAFETY: the closure runs in the forked child before exec and only makes
        // async-signal-safe system calls (prctl, getppid); it does not allocate.
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(
                    libc::PR_SET_PDEATHSIG,
                    libc::SIGKILL as libc::c_ulong,
                    0,
                    0,
                    0,
                ) == -1
                {
                    return Err(io::Error::last_os_error());
                }
                // If we died between fork and prctl, the signal will never come: give up now.
                if u32::try_from(libc::getppid()).ok() != Some(parent) {
                    return Err(io::Error::from_raw_os_error(libc::ESRCH));
                }
                Ok(())
            });
        }
    }

    pub(super) fn spawn_from_long_lived_thread(mut command: Command) -> io::Result<Child> {
        let spawner = SPAWNER.get_or_init(|| {
            let (requests, inbox) = mpsc::channel::<SpawnRequest>();
            thread::Builder::new()
                .name("echo-harness-spawner".to_owned())
                .spawn(move || {
                    // Runs until the process ends: the static sender is never dropped.
                    for (mut command, reply) in inbox {
                        let _ = reply.send(command.spawn());
                    }
                })
                .ok()
                .map(|_| requests)
        });
        let Some(spawner) = spawner else {
            return command.spawn();
        };
        let (reply, answer) = mpsc::sync_channel(1);
        if let Err(mpsc::SendError((mut command, _))) = spawner.send((command, reply)) {
            return command.spawn();
        }
        answer
            .recv()
            .unwrap_or_else(|_| Err(io::Error::other("the spawner thread is gone")))
    }
}
