//! The bounded pool of pipes that splice(2) bursts borrow on Linux, shared by the echo server's
//! fast path and the proxy's directions without toxics: lent only for a burst, the way the
//! server's portable path borrows buffers, at most a fixed number in existence, so splicing can
//! never use up the descriptors connections need. Also the one `splice` call both make.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex};

use crate::server::ServerStats;
use crate::sync::lock;

/// Who counts the pipes on loan: the server counts each as a buffer in use, so its
/// `buffers_in_use` still says that idle connections hold nothing; the proxy counts nothing.
pub(crate) trait PipeLoans: Send + Sync + std::fmt::Debug {
    /// A pipe was lent.
    fn lent(&self) {}
    /// A lent pipe came back (or was closed).
    fn returned(&self) {}
}

impl PipeLoans for ServerStats {
    fn lent(&self) {
        self.buffer_taken();
    }

    fn returned(&self) {
        self.buffer_returned();
    }
}

/// Counts nothing.
impl PipeLoans for () {}

/// One pipe: the kernel buffer a splice burst moves bytes through.
#[derive(Debug)]
struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
}

impl Pipe {
    /// A new non-blocking pipe holding at most about `capacity` bytes (rounded up to pages).
    fn new(capacity: usize) -> io::Result<Pipe> {
        let mut fds = [0 as RawFd; 2];
        // SAFETY: `fds` has room for the two descriptors pipe2 writes.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: pipe2 succeeded, so both are fresh descriptors that nothing else owns.
        let pipe = unsafe {
            Pipe {
                read: OwnedFd::from_raw_fd(fds[0]),
                write: OwnedFd::from_raw_fd(fds[1]),
            }
        };
        let size = libc::c_int::try_from(capacity).unwrap_or(libc::c_int::MAX);
        // Best effort: the splice length bounds what the pipe holds anyway.
        // SAFETY: F_SETPIPE_SZ on a pipe we own.
        unsafe { libc::fcntl(pipe.write.as_raw_fd(), libc::F_SETPIPE_SZ, size) };
        Ok(pipe)
    }
}

/// A bounded set of pipes for splice bursts.
///
/// At most `max` pipes exist at once (two file descriptors each), lent or free, so splicing can
/// never use up the descriptors connections need. A pipe is given back only empty; one that
/// still holds bytes (its connection failed mid-burst) is closed instead.
#[derive(Debug)]
pub(crate) struct PipePool {
    /// Free pipes, empty, ready to lend.
    free: Mutex<Vec<Pipe>>,
    /// Pipes in existence, lent or free; never more than `max`.
    count: Mutex<usize>,
    max: usize,
    capacity: usize,
    /// Whether SIGPIPE would hurt when this process started the pool (see [`SigpipeGuard`]).
    guard_sigpipe: bool,
    /// Told of every loan and return.
    loans: Arc<dyn PipeLoans>,
}

impl PipePool {
    /// A pool of at most `max` pipes, each sized to hold about `capacity` bytes.
    pub(crate) fn new(max: usize, capacity: usize, loans: Arc<dyn PipeLoans>) -> PipePool {
        PipePool {
            free: Mutex::new(Vec::new()),
            count: Mutex::new(0),
            max,
            capacity,
            guard_sigpipe: !sigpipe_ignored(),
            loans,
        }
    }

    /// Lends a pipe, or `None` when all `max` are lent (or the system has no descriptor left):
    /// the caller then uses a buffer.
    pub(crate) fn take(self: &Arc<Self>) -> Option<LentPipe> {
        let reused = lock(&self.free).pop();
        let pipe = match reused {
            Some(pipe) => pipe,
            None => {
                let mut count = lock(&self.count);
                if *count >= self.max {
                    return None;
                }
                let pipe = Pipe::new(self.capacity).ok()?;
                *count += 1;
                pipe
            }
        };
        self.loans.lent();
        Some(LentPipe {
            pipe: Some(pipe),
            held: 0,
            pool: Arc::clone(self),
        })
    }
}

/// A pipe on loan from a [`PipePool`], with the bytes it holds now.
pub(crate) struct LentPipe {
    /// Always `Some` until drop hands it back.
    pipe: Option<Pipe>,
    pub(crate) held: usize,
    pool: Arc<PipePool>,
}

impl LentPipe {
    pub(crate) fn read_end(&self) -> RawFd {
        self.pipe.as_ref().map_or(-1, |p| p.read.as_raw_fd())
    }

    pub(crate) fn write_end(&self) -> RawFd {
        self.pipe.as_ref().map_or(-1, |p| p.write.as_raw_fd())
    }

    /// Moves up to `len` bytes from `socket` into the pipe (which should be empty, so that
    /// `EAGAIN` can only mean the socket has nothing); `Ok(0)` is the socket's EOF.
    pub(crate) fn fill_from(&mut self, socket: RawFd, len: usize) -> io::Result<usize> {
        let n = splice(socket, self.write_end(), len)?;
        self.held += n;
        Ok(n)
    }

    /// Moves what the pipe holds (as much as `socket` takes now) out to `socket`, without the
    /// SIGPIPE a splice to a socket whose peer has gone would raise: that is reported as
    /// `EPIPE`, as the sockets' own writes report it.
    pub(crate) fn drain_to(&mut self, socket: RawFd) -> io::Result<usize> {
        let _guard = self.pool.guard_sigpipe.then(SigpipeGuard::block);
        let n = splice(self.read_end(), socket, self.held)?;
        self.held -= n.min(self.held);
        Ok(n)
    }
}

/// `splice(2)` of up to `len` bytes from `from` to `to`, never blocking on the pipe.
fn splice(from: RawFd, to: RawFd, len: usize) -> io::Result<usize> {
    // SAFETY: the callers keep both descriptors open for the whole call; null offsets mean
    // "the file position", which is what sockets and pipes require.
    let n = unsafe {
        libc::splice(
            from,
            std::ptr::null_mut(),
            to,
            std::ptr::null_mut(),
            len,
            libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK,
        )
    };
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

/// Whether SIGPIPE is ignored in this process, as Rust's `main` arranges before it runs (a
/// program with a C `main`, such as a libFuzzer target, keeps the default: die).
fn sigpipe_ignored() -> bool {
    // SAFETY: a zeroed sigaction is a valid out-parameter; a null new action only queries.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(libc::SIGPIPE, std::ptr::null(), &mut old) == 0
            && old.sa_sigaction == libc::SIG_IGN
    }
}

/// SIGPIPE blocked on this thread while it lives. A splice into a socket whose peer has gone
/// raises SIGPIPE (splice has no `MSG_NOSIGNAL`, which the sockets' own writes use); blocked,
/// the signal stays pending instead, and the drop takes it back before restoring the mask, so
/// nothing outside sees it. Only a SIGPIPE that was not pending before is taken.
struct SigpipeGuard {
    old: libc::sigset_t,
    pending_before: bool,
}

impl SigpipeGuard {
    fn block() -> SigpipeGuard {
        // SAFETY: sigset_t out-parameters initialised by sigemptyset/pthread_sigmask/sigpending.
        unsafe {
            let set = sigpipe_set();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
            let mut pending: libc::sigset_t = std::mem::zeroed();
            libc::sigpending(&mut pending);
            SigpipeGuard {
                old,
                pending_before: libc::sigismember(&pending, libc::SIGPIPE) == 1,
            }
        }
    }
}

impl Drop for SigpipeGuard {
    fn drop(&mut self) {
        // SAFETY: as in `block`; a zero timeout only polls.
        unsafe {
            let set = sigpipe_set();
            if !self.pending_before {
                let mut pending: libc::sigset_t = std::mem::zeroed();
                libc::sigpending(&mut pending);
                if libc::sigismember(&pending, libc::SIGPIPE) == 1 {
                    let zero = libc::timespec {
                        tv_sec: 0,
                        tv_nsec: 0,
                    };
                    libc::sigtimedwait(&set, std::ptr::null_mut(), &zero);
                }
            }
            libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut());
        }
    }
}

/// The set holding SIGPIPE alone.
fn sigpipe_set() -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the set before sigaddset reads it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        set
    }
}

impl Drop for LentPipe {
    fn drop(&mut self) {
        let Some(pipe) = self.pipe.take() else { return };
        self.pool.loans.returned();
        if self.held == 0 {
            lock(&self.pool.free).push(pipe);
        } else {
            drop(pipe);
            *lock(&self.pool.count) -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pool_lends_at_most_max_pipes_and_reuses_empty_ones() {
        let stats = Arc::new(ServerStats::new(0));
        let pool = Arc::new(PipePool::new(
            2,
            4096,
            Arc::clone(&stats) as Arc<dyn PipeLoans>,
        ));
        let a = pool.take().expect("first");
        let b = pool.take().expect("second");
        assert!(pool.take().is_none(), "bounded");
        assert_eq!(stats.snapshot().buffers_in_use, 2);
        let a_fd = a.read_end();
        drop(a);
        let c = pool.take().expect("reused");
        assert_eq!(c.read_end(), a_fd);
        let mut b = b;
        b.held = 1; // a pipe that still holds bytes is closed, not reused
        drop(b);
        drop(c);
        assert_eq!(*pool.count.lock().unwrap(), 1);
        assert_eq!(stats.snapshot().buffers_in_use, 0);
    }

    const SIGPIPE_HELPER_ENV: &str = "ECHO_HARNESS_SIGPIPE_HELPER";

    /// Run by the test below in a child process of this test binary: with SIGPIPE at its
    /// default, as under a C `main`, splices into a socket already shut down for writing.
    #[test]
    #[ignore = "a helper: run by a_splice_to_a_gone_peer_is_epipe_not_a_sigpipe_death"]
    fn helper_splices_into_a_shut_socket_with_sigpipe_at_its_default() {
        if std::env::var_os(SIGPIPE_HELPER_ENV).is_none() {
            return;
        }
        // SAFETY: restores the default disposition; nothing else in this process runs.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
        let pool = Arc::new(PipePool::new(1, 4096, Arc::new(())));
        assert!(pool.guard_sigpipe, "the pool saw that SIGPIPE would kill");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let socket = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let _peer = listener.accept().unwrap();
        socket.shutdown(std::net::Shutdown::Write).unwrap();
        let mut pipe = pool.take().unwrap();
        let bytes = [7u8; 100];
        // SAFETY: writes from a live buffer into the pipe we hold.
        let n = unsafe { libc::write(pipe.write_end(), bytes.as_ptr().cast(), bytes.len()) };
        assert_eq!(n, 100);
        pipe.held = 100;
        let e = pipe
            .drain_to(socket.as_raw_fd())
            .expect_err("the socket is shut");
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe, "{e}");
        // SAFETY: out-parameters initialised by the calls.
        let (blocked, pending) = unsafe {
            let mut mask: libc::sigset_t = std::mem::zeroed();
            libc::pthread_sigmask(libc::SIG_SETMASK, std::ptr::null(), &mut mask);
            let mut pending: libc::sigset_t = std::mem::zeroed();
            libc::sigpending(&mut pending);
            (
                libc::sigismember(&mask, libc::SIGPIPE),
                libc::sigismember(&pending, libc::SIGPIPE),
            )
        };
        assert_eq!(
            (blocked, pending),
            (0, 0),
            "mask restored, nothing left pending"
        );
        println!("SPLICED_WITHOUT_DYING");
    }

    #[test]
    fn a_splice_to_a_gone_peer_is_epipe_not_a_sigpipe_death() {
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "helper_splices_into_a_shut_socket_with_sigpipe_at_its_default",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(SIGPIPE_HELPER_ENV, "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains("SPLICED_WITHOUT_DYING"),
            "{:?}\n{stdout}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
