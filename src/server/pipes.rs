//! The bounded pool of pipes that the Linux fast path's splice(2) bursts borrow, the way the
//! portable path borrows buffers from [`BufferPool`](super::pool::BufferPool): lent only for a
//! burst, at most a fixed number in existence, so splicing can never use up the descriptors
//! connections need.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex};

use super::stats::ServerStats;
use crate::sync::lock;

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
    /// A lent pipe counts as a buffer in use, so `buffers_in_use` still says that idle
    /// connections hold nothing.
    stats: Arc<ServerStats>,
}

impl PipePool {
    pub(crate) fn new(max: usize, capacity: usize, stats: Arc<ServerStats>) -> PipePool {
        PipePool {
            free: Mutex::new(Vec::new()),
            count: Mutex::new(0),
            max,
            capacity,
            stats,
        }
    }

    /// Lends a pipe, or `None` when all `max` are lent (or the system has no descriptor left):
    /// the caller then uses a buffer.
    pub(super) fn take(self: &Arc<Self>) -> Option<LentPipe> {
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
        self.stats.buffer_taken();
        Some(LentPipe {
            pipe: Some(pipe),
            held: 0,
            pool: Arc::clone(self),
        })
    }
}

/// A pipe on loan from a [`PipePool`], with the bytes it holds now.
pub(super) struct LentPipe {
    /// Always `Some` until drop hands it back.
    pipe: Option<Pipe>,
    pub(super) held: usize,
    pool: Arc<PipePool>,
}

impl LentPipe {
    pub(super) fn read_end(&self) -> RawFd {
        self.pipe.as_ref().map_or(-1, |p| p.read.as_raw_fd())
    }

    pub(super) fn write_end(&self) -> RawFd {
        self.pipe.as_ref().map_or(-1, |p| p.write.as_raw_fd())
    }
}

impl Drop for LentPipe {
    fn drop(&mut self) {
        let Some(pipe) = self.pipe.take() else { return };
        self.pool.stats.buffer_returned();
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
        let pool = Arc::new(PipePool::new(2, 4096, Arc::clone(&stats)));
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
}
