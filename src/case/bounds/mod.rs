//! [`CaseBounds`]: the one description of "which cases to generate" that drives both generators,
//! proptest's ([`crate::strategy`]) and arbitrary's, and the check that a case stays inside it.
//!
//! Both generators share the shape tables of `draw` (how often a payload is tiny, literal, large
//! or exactly the maximum; how often a chunk is 1 byte) and the same [`CaseBounds::fit`] step
//! that keeps a generated case cheap to play, so "one definition, two generators" holds by
//! construction, and the coverage test in [`crate::strategy`] holds both to it.
//!
//! This file holds the bounds themselves, their presets and their builders. `check` holds
//! [`CaseBounds::check`] and its [`BoundsViolation`]s, `fit` the [`CaseBounds::fit`] step, and
//! `draw` the shape tables and the hold that both generators draw.

use std::ops::RangeInclusive;
use std::time::Duration;

use super::{
    PauseScale, MAX_CHUNK_LEN, MAX_CONNECTIONS, MAX_CONNECTION_BYTES, MAX_PAUSE, MAX_PLAN_ENTRIES,
    MAX_ROUNDS, MAX_SOCKET_BUFFER, MIN_SOCKET_BUFFER,
};

mod check;
mod draw;
mod fit;

pub use check::{BoundsViolation, Side};
pub(crate) use draw::{
    LenClass, SizeClass, ABORT_PERCENT, BUFFER_WEIGHTS, CONVERSATION_WEIGHTS, LEN_CLASSES,
    NO_PAUSES_PERCENT, SIZE_CLASSES,
};

/// What generated cases may contain. Bounds are for generation only: a case outside them (a
/// hand-written scenario, say) is still valid and plays as written.
///
/// Start from a preset and adjust with the builder methods, which clamp to the hard limits of
/// [`crate::case`]:
///
/// ```
/// use echo_harness::case::CaseBounds;
/// let bounds = CaseBounds::default().max_connections(2).max_payload_len(1 << 20);
/// assert_eq!(bounds.max_connections, 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CaseBounds {
    /// Most connections in one case (`check --connections`).
    pub max_connections: usize,
    /// Most bytes one connection sends, all rounds together (`check --max-size`). Generators
    /// reach it exactly now and then.
    pub max_payload_len: usize,
    /// Longest literal payload; longer payloads are `generated`, which need no storage (and cost
    /// nothing to draw, where proptest pays for every literal byte).
    pub max_literal_len: usize,
    /// Most rounds of an interactive conversation.
    pub max_rounds: usize,
    /// Largest write chunk and read unit.
    pub max_chunk_len: usize,
    /// Most entries in one cyclic list of a plan.
    pub max_plan_len: usize,
    /// Most write chunks, and separately most read units, one connection may take. Generators
    /// enlarge chunks to stay under it, so a 4 MiB payload is not written a byte at a time. It
    /// never binds below what the largest chunks need: see [`CaseBounds::effective_max_ops`].
    pub max_ops: usize,
    /// Longest single pause, as written in the plan (before the pause scale).
    pub max_pause: Duration,
    /// Most pause time one connection's writer and reader take together, as written.
    pub max_pause_total: Duration,
    /// Smallest socket buffer asked for; at least [`MIN_SOCKET_BUFFER`].
    pub min_socket_buffer: u32,
    /// Largest socket buffer asked for.
    pub max_socket_buffer: u32,
    /// The pause scale every generated case carries.
    pub pause_scale: PauseScale,
    /// Of the cases with two connections or more, the share in percent that hold one
    /// connection open while another plays ([`Hold`](super::Hold)).
    pub hold_percent: u32,
    /// The share of cases, in percent, in which one connection (a stream or a close of two
    /// bytes or more) is turned into an [`Abort`](super::Conversation::Abort): it resets
    /// mid-stream while the others play on.
    pub abort_percent: u32,
}

impl Default for CaseBounds {
    /// The bounds of `check`: up to 4 connections; payloads up to 4 MiB (more than 1 MiB on
    /// about one connection in twenty, one case in ten); chunks up to 64 KiB; pauses up to 2 ms
    /// each and 25 ms per connection; socket buffers from 2 KiB to 256 KiB; pauses as written;
    /// a connection that resets mid-stream in about one case in five.
    fn default() -> Self {
        Self {
            max_connections: 4,
            max_payload_len: 4 << 20,
            max_literal_len: 1024,
            max_rounds: 8,
            max_chunk_len: 64 * 1024,
            max_plan_len: 6,
            max_ops: 4096,
            max_pause: Duration::from_millis(2),
            max_pause_total: Duration::from_millis(25),
            min_socket_buffer: MIN_SOCKET_BUFFER,
            max_socket_buffer: 256 * 1024,
            pause_scale: PauseScale::ONE,
            hold_percent: 50,
            abort_percent: ABORT_PERCENT,
        }
    }
}

/// Builder methods: each sets one bound, clamped to the hard limits.
impl CaseBounds {
    /// The bounds of the fuzz targets: small and fast (up to 3 connections, 64 KiB per
    /// connection, at most 256 operations a side), with pauses scaled by 1/100 so that a 1 ms
    /// pause in a plan sleeps 10 µs.
    pub fn fuzzing() -> Self {
        Self {
            max_connections: 3,
            max_payload_len: 64 * 1024,
            max_literal_len: 4096,
            max_rounds: 6,
            max_chunk_len: 16 * 1024,
            max_plan_len: 4,
            max_ops: 256,
            max_pause: Duration::from_millis(1),
            max_pause_total: Duration::from_millis(4),
            min_socket_buffer: MIN_SOCKET_BUFFER,
            max_socket_buffer: 64 * 1024,
            pause_scale: PauseScale::new(1, 100).unwrap_or(PauseScale::ONE),
            hold_percent: 50,
            abort_percent: ABORT_PERCENT,
        }
    }

    /// Sets [`CaseBounds::hold_percent`] (0 to 100).
    pub fn hold_percent(mut self, percent: u32) -> Self {
        self.hold_percent = percent.min(100);
        self
    }

    /// Sets [`CaseBounds::abort_percent`] (0 to 100; 0 generates no aborts).
    pub fn abort_percent(mut self, percent: u32) -> Self {
        self.abort_percent = percent.min(100);
        self
    }

    /// Sets [`CaseBounds::max_connections`] (1 to [`MAX_CONNECTIONS`]).
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.clamp(1, MAX_CONNECTIONS);
        self
    }

    /// Sets [`CaseBounds::max_payload_len`] (up to [`MAX_CONNECTION_BYTES`]).
    pub fn max_payload_len(mut self, n: usize) -> Self {
        self.max_payload_len = n.min(MAX_CONNECTION_BYTES as usize);
        self
    }

    /// Sets [`CaseBounds::max_literal_len`].
    pub fn max_literal_len(mut self, n: usize) -> Self {
        self.max_literal_len = n;
        self
    }

    /// Sets [`CaseBounds::max_rounds`] (1 to [`MAX_ROUNDS`]).
    pub fn max_rounds(mut self, n: usize) -> Self {
        self.max_rounds = n.clamp(1, MAX_ROUNDS);
        self
    }

    /// Sets [`CaseBounds::max_chunk_len`] (1 to [`MAX_CHUNK_LEN`]).
    pub fn max_chunk_len(mut self, n: usize) -> Self {
        self.max_chunk_len = n.clamp(1, MAX_CHUNK_LEN);
        self
    }

    /// Sets [`CaseBounds::max_plan_len`] (1 to [`MAX_PLAN_ENTRIES`]).
    pub fn max_plan_len(mut self, n: usize) -> Self {
        self.max_plan_len = n.clamp(1, MAX_PLAN_ENTRIES);
        self
    }

    /// Sets [`CaseBounds::max_ops`] (at least 1).
    pub fn max_ops(mut self, n: usize) -> Self {
        self.max_ops = n.max(1);
        self
    }

    /// Sets [`CaseBounds::max_pause`] (up to [`MAX_PAUSE`]); zero turns pauses off.
    pub fn max_pause(mut self, d: Duration) -> Self {
        self.max_pause = d.min(MAX_PAUSE);
        self
    }

    /// Sets [`CaseBounds::max_pause_total`].
    pub fn max_pause_total(mut self, d: Duration) -> Self {
        self.max_pause_total = d;
        self
    }

    /// Sets the socket buffer range, clamped to [`MIN_SOCKET_BUFFER`]..=[`MAX_SOCKET_BUFFER`].
    pub fn socket_buffers(mut self, range: RangeInclusive<u32>) -> Self {
        self.min_socket_buffer = (*range.start()).clamp(MIN_SOCKET_BUFFER, MAX_SOCKET_BUFFER);
        self.max_socket_buffer = (*range.end()).clamp(self.min_socket_buffer, MAX_SOCKET_BUFFER);
        self
    }

    /// Sets [`CaseBounds::pause_scale`].
    pub fn pause_scale(mut self, scale: PauseScale) -> Self {
        self.pause_scale = scale;
        self
    }

    /// These bounds with every field brought within the hard limits and consistent with the
    /// others. The fields are public, so the generators work from this rather than trust them.
    pub fn normalized(&self) -> Self {
        let min_buf = self
            .min_socket_buffer
            .clamp(MIN_SOCKET_BUFFER, MAX_SOCKET_BUFFER);
        Self {
            max_connections: self.max_connections.clamp(1, MAX_CONNECTIONS),
            max_payload_len: self.max_payload_len.min(MAX_CONNECTION_BYTES as usize),
            max_literal_len: self
                .max_literal_len
                .min(self.max_payload_len.min(MAX_CONNECTION_BYTES as usize)),
            max_rounds: self.max_rounds.clamp(1, MAX_ROUNDS),
            max_chunk_len: self.max_chunk_len.clamp(1, MAX_CHUNK_LEN),
            max_plan_len: self.max_plan_len.clamp(1, MAX_PLAN_ENTRIES),
            max_ops: self.max_ops.max(1),
            max_pause: self.max_pause.min(MAX_PAUSE),
            max_pause_total: self.max_pause_total,
            min_socket_buffer: min_buf,
            max_socket_buffer: self.max_socket_buffer.clamp(min_buf, MAX_SOCKET_BUFFER),
            pause_scale: self.pause_scale,
            hold_percent: self.hold_percent.min(100),
            abort_percent: self.abort_percent.min(100),
        }
    }

    /// The operation bound that [`CaseBounds::check`] applies: `max_ops`, or more if even chunks
    /// of `max_chunk_len` could not cut `max_payload_len` bytes in `max_rounds` sends that often.
    pub fn effective_max_ops(&self) -> u64 {
        let b = self.normalized();
        let floor = b.max_payload_len.div_ceil(b.max_chunk_len) + b.max_rounds;
        b.max_ops.max(floor) as u64
    }
}
#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::case::{ConnectionCase, Conversation, Payload, WritePlan};

    /// A stream connection of `len` generated bytes with this write plan; shared by the
    /// tests of `check` and `fit`.
    pub(super) fn conn(len: usize, chunks: Vec<usize>, pauses_ms: Vec<u64>) -> ConnectionCase {
        let mut c = ConnectionCase::new(
            "c0",
            Conversation::Stream {
                payload: Payload::generated(len, 1),
            },
        );
        c.write = WritePlan {
            chunks,
            pauses: pauses_ms.into_iter().map(Duration::from_millis).collect(),
            ..WritePlan::default()
        };
        c
    }

    #[test]
    fn builders_clamp_to_hard_limits() {
        let b = CaseBounds::default()
            .max_connections(0)
            .max_chunk_len(usize::MAX)
            .socket_buffers(1..=1);
        assert_eq!(b.max_connections, 1);
        assert_eq!(b.max_chunk_len, MAX_CHUNK_LEN);
        assert_eq!(
            (b.min_socket_buffer, b.max_socket_buffer),
            (MIN_SOCKET_BUFFER, MIN_SOCKET_BUFFER)
        );
        assert_eq!(CaseBounds::default().effective_max_ops(), 4096);
        let tiny_chunks = CaseBounds::default().max_chunk_len(1);
        assert_eq!(tiny_chunks.effective_max_ops(), (4 << 20) + 8);
    }
}
