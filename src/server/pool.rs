//! The pool of echo buffers that connections borrow while their socket has data.
//!
//! An idle connection holds no buffer: it waits for readability with nothing allocated, borrows a
//! buffer when bytes arrive, and gives it back once the socket has nothing more to read. So the
//! memory of 10,000 mostly idle connections is their sockets and task state, not 10,000 buffers.
//! The pool keeps at most `max_idle` free buffers; beyond that a returned buffer is freed, so the
//! pool itself never grows without bound either.

use std::sync::{Arc, Mutex};

use super::stats::ServerStats;

/// A bounded free-list of equally sized byte buffers.
#[derive(Debug)]
pub(crate) struct BufferPool {
    /// Free buffers, ready to lend. Never longer than `max_idle`.
    free: Mutex<Vec<Box<[u8]>>>,
    buffer_size: usize,
    max_idle: usize,
    /// Counts lent buffers, so tests and `stats()` can see that idle connections hold none.
    stats: Arc<ServerStats>,
}

impl BufferPool {
    pub(crate) fn new(buffer_size: usize, max_idle: usize, stats: Arc<ServerStats>) -> BufferPool {
        BufferPool {
            free: Mutex::new(Vec::new()),
            buffer_size: buffer_size.max(1),
            max_idle,
            stats,
        }
    }

    /// Lends a buffer; it goes back to the pool when the returned guard is dropped.
    pub(crate) fn take(self: &Arc<Self>) -> PooledBuffer {
        let reused = self
            .free
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .pop();
        let bytes = reused.unwrap_or_else(|| vec![0u8; self.buffer_size].into_boxed_slice());
        self.stats.buffer_taken();
        PooledBuffer {
            bytes: Some(bytes),
            pool: Arc::clone(self),
        }
    }

    /// Bytes per buffer: also the most a connection holds, on any path.
    #[cfg_attr(
        any(not(target_os = "linux"), feature = "fault-injection"),
        allow(dead_code)
    )]
    pub(crate) fn buffer_size(&self) -> usize {
        self.buffer_size
    }

    fn give_back(&self, bytes: Box<[u8]>) {
        self.stats.buffer_returned();
        let mut free = self
            .free
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if free.len() < self.max_idle {
            free.push(bytes);
        }
    }
}

/// A buffer on loan from a [`BufferPool`].
#[derive(Debug)]
pub(crate) struct PooledBuffer {
    /// Always `Some` until drop hands it back.
    bytes: Option<Box<[u8]>>,
    pool: Arc<BufferPool>,
}

impl std::ops::Deref for PooledBuffer {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.bytes.as_deref().unwrap_or_default()
    }
}

impl std::ops::DerefMut for PooledBuffer {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.bytes.as_deref_mut().unwrap_or_default()
    }
}

impl Drop for PooledBuffer {
    fn drop(&mut self) {
        if let Some(bytes) = self.bytes.take() {
            self.pool.give_back(bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_reused_and_the_free_list_is_bounded() {
        let stats = Arc::new(ServerStats::new(0));
        let pool = Arc::new(BufferPool::new(16, 1, Arc::clone(&stats)));
        let a = pool.take();
        let b = pool.take();
        assert_eq!(a.len(), 16);
        assert_eq!(stats.snapshot().buffers_in_use, 2);
        let a_ptr = a.as_ptr();
        drop(a);
        drop(b);
        assert_eq!(stats.snapshot().buffers_in_use, 0);
        assert_eq!(pool.free.lock().unwrap().len(), 1, "free list capped");
        let c = pool.take();
        assert_eq!(c.as_ptr(), a_ptr, "first returned buffer is reused");
    }
}
