//! The fast path's scratch buffer: one per thread, for the echoes that are written back before
//! the connection task waits again (almost every small message), so they borrow nothing from
//! the shared [`BufferPool`](super::pool::BufferPool): no lock, no shared counter, no reference
//! count touched per message.
//!
//! It is never held across an `await`, so a thread's tasks take turns with it and memory stays
//! bounded per thread, not per connection. An echo that cannot be written back at once moves
//! what is left into a pooled buffer, which the connection then holds as before.

use std::cell::RefCell;

/// The largest scratch buffer a thread keeps; servers with larger buffers read into pooled
/// buffers only.
pub(crate) const SCRATCH_MAX: usize = 64 * 1024;

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's scratch buffer of `len` bytes (at most [`SCRATCH_MAX`]).
///
/// `f` must not call `with_scratch` again (it would find the buffer borrowed and panic); the
/// echo step that uses it is a plain function that does not.
pub(crate) fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [u8]) -> R) -> R {
    debug_assert!(len <= SCRATCH_MAX);
    SCRATCH.with(|scratch| {
        let mut scratch = scratch.borrow_mut();
        if scratch.len() < len {
            scratch.resize(len, 0);
        }
        f(&mut scratch[..len])
    })
}
