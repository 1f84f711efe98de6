//! [`CaseBounds`]: the one description of "which cases to generate" that drives both generators,
//! proptest's ([`crate::strategy`]) and arbitrary's, and the check that a case stays inside it.
//!
//! Both generators share the shape tables below (how often a payload is tiny, literal, large or
//! exactly the maximum; how often a chunk is 1 byte) and the same [`CaseBounds::fit`] step that
//! keeps a generated case cheap to play, so "one definition, two generators" holds by
//! construction, and the coverage test in [`crate::strategy`] holds both to it.

use std::fmt;
use std::ops::RangeInclusive;
use std::time::Duration;

use super::{
    cycle_count, cycle_pause_nanos, Case, ConnectionCase, Hold, InvalidCase, PauseScale, Payload,
    MAX_CHUNK_LEN, MAX_CONNECTIONS, MAX_CONNECTION_BYTES, MAX_PAUSE, MAX_PLAN_ENTRIES, MAX_ROUNDS,
    MAX_SOCKET_BUFFER, MIN_SOCKET_BUFFER,
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
    /// connection open while another plays ([`Hold`]).
    pub hold_percent: u32,
}

/// Which half of a connection's plans a violation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The writer ([`super::WritePlan`]).
    Write,
    /// The reader ([`super::ReadPlan`]).
    Read,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Write => "write",
            Side::Read => "read",
        })
    }
}

/// How a case leaves its [`CaseBounds`]; see [`CaseBounds::check`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BoundsViolation {
    /// The case breaks a hard limit, so it is no case at all.
    #[error(transparent)]
    Invalid(#[from] InvalidCase),
    /// More connections than `max_connections`.
    #[error("{count} connections, bounds allow {max}")]
    TooManyConnections {
        /// How many.
        count: usize,
        /// The bound.
        max: usize,
    },
    /// A connection sends more than `max_payload_len`.
    #[error("connection {connection}: sends {len} bytes, bounds allow {max}")]
    PayloadTooLong {
        /// The connection.
        connection: String,
        /// Bytes sent.
        len: u64,
        /// The bound.
        max: usize,
    },
    /// A literal payload longer than `max_literal_len`.
    #[error("connection {connection}: literal of {len} bytes, bounds allow {max}")]
    LiteralTooLong {
        /// The connection.
        connection: String,
        /// Its length.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// More rounds than `max_rounds`.
    #[error("connection {connection}: {rounds} rounds, bounds allow {max}")]
    TooManyRounds {
        /// The connection.
        connection: String,
        /// Its rounds.
        rounds: usize,
        /// The bound.
        max: usize,
    },
    /// A plan entry, list or socket buffer out of bounds.
    #[error("connection {connection}: {side} plan: {problem}")]
    Plan {
        /// The connection.
        connection: String,
        /// Which plan.
        side: Side,
        /// What is out of bounds.
        problem: String,
    },
    /// More chunks or units than [`CaseBounds::effective_max_ops`].
    #[error("connection {connection}: {ops} {side} operations, bounds allow {max}")]
    TooManyOps {
        /// The connection.
        connection: String,
        /// Which side.
        side: Side,
        /// How many.
        ops: u64,
        /// The bound.
        max: u64,
    },
    /// The writer's and reader's pauses add up to more than `max_pause_total`.
    #[error("connection {connection}: pauses add up to {total:?}, bounds allow {max:?}")]
    PauseBudget {
        /// The connection.
        connection: String,
        /// Its pause total.
        total: Duration,
        /// The bound.
        max: Duration,
    },
}

impl Default for CaseBounds {
    /// The bounds of `check`: up to 4 connections; payloads up to 4 MiB (more than 1 MiB on
    /// about one connection in twenty, one case in ten); chunks up to 64 KiB; pauses up to 2 ms
    /// each and 25 ms per connection; socket buffers from 2 KiB to 256 KiB; pauses as written.
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
        }
    }

    /// Sets [`CaseBounds::hold_percent`] (0 to 100).
    pub fn hold_percent(mut self, percent: u32) -> Self {
        self.hold_percent = percent.min(100);
        self
    }

    /// The hold a generator draws for `connections`, from a `roll` of 0 to 99 and two picks:
    /// none unless there are two connections or more and the roll lands in the top
    /// `hold_percent` (so a roll of 0, what an exhausted fuzz input gives, never holds). The
    /// outer connection comes before the inner one, so a server that serves connections one at
    /// a time in accept order is stuck on it; it sends something to be held on, and the inner
    /// one sends at least a byte, so that such a server leaves an echo unanswered (an inner
    /// connection that sends nothing would show only a missing EOF).
    pub(crate) fn draw_hold(
        &self,
        connections: &[ConnectionCase],
        roll: u32,
        pick_outer: usize,
        pick_inner: usize,
    ) -> Option<Hold> {
        let n = connections.len();
        if n < 2 || roll + self.hold_percent.min(100) < 100 {
            return None;
        }
        let outer = pick_outer % (n - 1);
        let inner = outer + 1 + pick_inner % (n - 1 - outer);
        let sends = !connections[outer].conversation.payloads().is_empty()
            && connections[inner].conversation.total_len() > 0;
        sends.then_some(Hold { outer, inner })
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
        }
    }

    /// The operation bound that [`CaseBounds::check`] applies: `max_ops`, or more if even chunks
    /// of `max_chunk_len` could not cut `max_payload_len` bytes in `max_rounds` sends that often.
    pub fn effective_max_ops(&self) -> u64 {
        let b = self.normalized();
        let floor = b.max_payload_len.div_ceil(b.max_chunk_len) + b.max_rounds;
        b.max_ops.max(floor) as u64
    }

    /// Checks that `case` is valid and within these bounds; names the first violation.
    pub fn check(&self, case: &Case) -> Result<(), BoundsViolation> {
        case.validate()?;
        let b = self.normalized();
        if case.connections.len() > b.max_connections {
            return Err(BoundsViolation::TooManyConnections {
                count: case.connections.len(),
                max: b.max_connections,
            });
        }
        case.connections
            .iter()
            .try_for_each(|conn| b.check_connection(conn))
    }

    fn check_connection(&self, conn: &ConnectionCase) -> Result<(), BoundsViolation> {
        let name = || conn.name.clone();
        let len = conn.conversation.total_len();
        if len > self.max_payload_len as u64 {
            return Err(BoundsViolation::PayloadTooLong {
                connection: name(),
                len,
                max: self.max_payload_len,
            });
        }
        let payloads = conn.conversation.payloads();
        if payloads.len() > self.max_rounds {
            return Err(BoundsViolation::TooManyRounds {
                connection: name(),
                rounds: payloads.len(),
                max: self.max_rounds,
            });
        }
        for p in payloads {
            if let Payload::Literal(bytes) = p {
                if bytes.len() > self.max_literal_len {
                    return Err(BoundsViolation::LiteralTooLong {
                        connection: name(),
                        len: bytes.len(),
                        max: self.max_literal_len,
                    });
                }
            }
        }
        let plan = |side, problem| BoundsViolation::Plan {
            connection: name(),
            side,
            problem,
        };
        for (side, sizes, pauses) in [
            (Side::Write, &conn.write.chunks, &conn.write.pauses),
            (Side::Read, &conn.read.sizes, &conn.read.pauses),
        ] {
            if sizes.len() > self.max_plan_len || pauses.len() > self.max_plan_len {
                return Err(plan(
                    side,
                    format!("more than {} entries", self.max_plan_len),
                ));
            }
            if let Some(s) = sizes.iter().find(|&&s| s > self.max_chunk_len) {
                return Err(plan(side, format!("size {s} above {}", self.max_chunk_len)));
            }
            if let Some(p) = pauses.iter().find(|&&p| p > self.max_pause) {
                return Err(plan(
                    side,
                    format!("pause {p:?} above {:?}", self.max_pause),
                ));
            }
        }
        let range = self.min_socket_buffer..=self.max_socket_buffer;
        for (what, size) in [
            ("send buffer", conn.write.send_buffer),
            ("receive buffer", conn.write.recv_buffer),
        ] {
            if let Some(size) = size.filter(|s| !range.contains(s)) {
                return Err(plan(
                    Side::Write,
                    format!("{what} {size} outside {range:?}"),
                ));
            }
        }
        let max = self.effective_max_ops();
        for (side, ops) in [
            (Side::Write, conn.write_count()),
            (Side::Read, conn.read_count()),
        ] {
            if ops > max {
                return Err(BoundsViolation::TooManyOps {
                    connection: name(),
                    side,
                    ops,
                    max,
                });
            }
        }
        let total = conn.pause_total();
        if total > self.max_pause_total {
            return Err(BoundsViolation::PauseBudget {
                connection: name(),
                total,
                max: self.max_pause_total,
            });
        }
        Ok(())
    }

    /// Brings a generated connection within the operation and pause budgets, the two bounds that
    /// couple its payload to its plans. Both generators end with it, and proptest applies it
    /// after every shrinking step, so shrunk cases stay in bounds too.
    ///
    /// - Too many operations on a side: the largest entries are raised to `max_chunk_len`, one
    ///   at a time, until the count fits; small entries (the 1-byte chunks) survive.
    /// - Too much pause: every pause is scaled down by the same factor, to whole microseconds.
    pub(crate) fn fit(&self, conn: &mut ConnectionCase) {
        let max_ops = self.effective_max_ops();
        let lens: Vec<usize> = conn
            .conversation
            .payloads()
            .iter()
            .map(Payload::len)
            .collect();
        for sizes in [&mut conn.write.chunks, &mut conn.read.sizes] {
            let count = |sizes: &[usize]| lens.iter().map(|&l| cycle_count(sizes, l)).sum::<u64>();
            while count(sizes) > max_ops {
                let Some(i) = largest_below(sizes, self.max_chunk_len) else {
                    break;
                };
                sizes[i] = self.max_chunk_len;
            }
        }
        let total: u128 = lens
            .iter()
            .map(|&l| {
                cycle_pause_nanos(&conn.write.chunks, &conn.write.pauses, l)
                    + cycle_pause_nanos(&conn.read.sizes, &conn.read.pauses, l)
            })
            .sum();
        let budget = self.max_pause_total.as_nanos();
        if total > budget {
            for p in conn
                .write
                .pauses
                .iter_mut()
                .chain(conn.read.pauses.iter_mut())
            {
                let scaled = p.as_nanos() * budget / total;
                *p = Duration::from_micros((scaled / 1000) as u64);
            }
        }
    }
}

/// The index of the largest entry smaller than `max`.
fn largest_below(sizes: &[usize], max: usize) -> Option<usize> {
    sizes
        .iter()
        .enumerate()
        .filter(|(_, &s)| s < max)
        .max_by_key(|(_, &s)| s)
        .map(|(i, _)| i)
}

/// The kinds of payload length both generators draw from, with their weights (in percent).
///
/// Small and literal payloads are common because most bugs show in a few bytes and they shrink
/// well; large generated ones are frequent enough that more than 1 MiB on a connection happens in
/// a few percent of connections under the default bounds; exactly the maximum is its own class,
/// so the edge is reached, not merely approached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LenClass {
    /// A literal of 0 to 16 bytes.
    Tiny,
    /// A literal up to `max_literal_len`.
    Literal,
    /// Generated, up to 64 KiB.
    Medium,
    /// Generated, up to the maximum.
    Large,
    /// Generated, exactly the maximum.
    Max,
}

/// Weights of [`LenClass`], simplest first (proptest shrinks toward earlier entries).
pub(crate) const LEN_CLASSES: [(u32, LenClass); 5] = [
    (30, LenClass::Tiny),
    (20, LenClass::Literal),
    (42, LenClass::Medium),
    (5, LenClass::Large),
    (3, LenClass::Max),
];

impl LenClass {
    /// Whether the payload is literal, and the range of lengths for a payload of at most `max`
    /// bytes.
    pub(crate) fn range(self, max: usize, bounds: &CaseBounds) -> (bool, RangeInclusive<usize>) {
        let literal_max = bounds.max_literal_len.min(max);
        match self {
            LenClass::Tiny => (true, 0..=literal_max.min(16)),
            LenClass::Literal => (true, 0..=literal_max),
            LenClass::Medium => (false, 0..=max.min(64 * 1024)),
            LenClass::Large => (false, 0..=max),
            LenClass::Max => (false, max..=max),
        }
    }
}

/// The kinds of chunk (and read unit) size, with weights; the largest chunk, the simplest plan,
/// comes first. Small sizes are frequent because fragmentation bugs need them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SizeClass {
    /// Exactly `max_chunk_len`.
    Max,
    /// 1 to 16 bytes.
    Small,
    /// 1 to `max_chunk_len`.
    Any,
}

/// Weights of [`SizeClass`].
pub(crate) const SIZE_CLASSES: [(u32, SizeClass); 3] = [
    (25, SizeClass::Max),
    (40, SizeClass::Small),
    (35, SizeClass::Any),
];

impl SizeClass {
    /// The range of sizes of this class.
    pub(crate) fn range(self, bounds: &CaseBounds) -> RangeInclusive<usize> {
        let max = bounds.max_chunk_len;
        match self {
            SizeClass::Max => max..=max,
            SizeClass::Small => 1..=max.min(16),
            SizeClass::Any => 1..=max,
        }
    }
}

/// Conversation kinds with weights, simplest first.
pub(crate) const CONVERSATION_WEIGHTS: [(u32, super::ConversationKind); 3] = [
    (40, super::ConversationKind::Stream),
    (35, super::ConversationKind::Interactive),
    (25, super::ConversationKind::Close),
];

/// Chance in percent that a plan has no pauses at all, and that a socket buffer is left at the
/// OS default, at the minimum, or anywhere in the range.
pub(crate) const NO_PAUSES_PERCENT: u32 = 50;
/// Weights of `None`, the minimum, and any size, for each socket buffer.
pub(crate) const BUFFER_WEIGHTS: [u32; 3] = [50, 20, 30];

#[cfg(test)]
mod tests {
    use super::super::{Conversation, WritePlan};
    use super::*;

    fn conn(len: usize, chunks: Vec<usize>, pauses_ms: Vec<u64>) -> ConnectionCase {
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
    fn fit_raises_large_chunks_first_and_keeps_one_byte_chunks() {
        let bounds = CaseBounds::default().max_ops(100).max_chunk_len(1000);
        let mut c = conn(50_000, vec![1, 10, 20], vec![]);
        c.read.sizes = vec![1000];
        bounds.fit(&mut c);
        assert_eq!(c.write.chunks[0], 1, "{:?}", c.write.chunks);
        assert!(c.write_count() <= bounds.effective_max_ops());
        let case = Case {
            connections: vec![c],
            pause_scale: PauseScale::ONE,
            hold: None,
        };
        assert_eq!(bounds.check(&case), Ok(()));
    }

    #[test]
    fn fit_scales_pauses_into_the_budget() {
        let bounds = CaseBounds::default().max_pause_total(Duration::from_millis(10));
        let mut c = conn(100, vec![1], vec![2, 1]);
        assert!(c.pause_total() > Duration::from_millis(10));
        bounds.fit(&mut c);
        assert!(
            c.pause_total() <= Duration::from_millis(10),
            "{:?}",
            c.pause_total()
        );
        assert!(c.write.pauses.iter().all(|p| p.subsec_nanos() % 1000 == 0));
    }

    #[test]
    fn check_names_each_violation() {
        let bounds = CaseBounds::default();
        let single = |c: ConnectionCase| Case {
            connections: vec![c],
            pause_scale: PauseScale::ONE,
            hold: None,
        };
        let too_long = single(conn(bounds.max_payload_len + 1, vec![65536], vec![]));
        assert!(matches!(
            bounds.check(&too_long),
            Err(BoundsViolation::PayloadTooLong { .. })
        ));
        let ops = single(conn(1 << 20, vec![1], vec![]));
        assert!(matches!(
            bounds.check(&ops),
            Err(BoundsViolation::TooManyOps {
                side: Side::Write,
                ..
            })
        ));
        let pauses = single(conn(100, vec![1], vec![2]));
        assert!(matches!(
            bounds.check(&pauses),
            Err(BoundsViolation::PauseBudget { .. })
        ));
        let big_pause = single(conn(1, vec![1], vec![3]));
        assert!(matches!(
            bounds.check(&big_pause),
            Err(BoundsViolation::Plan {
                side: Side::Write,
                ..
            })
        ));
        let mut buf = conn(1, vec![1], vec![]);
        buf.write.recv_buffer = Some(bounds.max_socket_buffer + 1);
        let err = bounds.check(&single(buf)).unwrap_err();
        assert!(err.to_string().contains("receive buffer"), "{err}");
        let mut many = single(conn(1, vec![1], vec![]));
        for i in 1..=bounds.max_connections {
            let mut c = many.connections[0].clone();
            c.name = format!("c{i}");
            many.connections.push(c);
        }
        assert!(matches!(
            bounds.check(&many),
            Err(BoundsViolation::TooManyConnections { .. })
        ));
        let mut invalid = single(conn(1, vec![1], vec![]));
        invalid.connections[0].write.chunks.clear();
        assert!(matches!(
            bounds.check(&invalid),
            Err(BoundsViolation::Invalid(_))
        ));
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

    #[test]
    fn weights_add_up_to_one_hundred() {
        assert_eq!(LEN_CLASSES.iter().map(|w| w.0).sum::<u32>(), 100);
        assert_eq!(SIZE_CLASSES.iter().map(|w| w.0).sum::<u32>(), 100);
        assert_eq!(CONVERSATION_WEIGHTS.iter().map(|w| w.0).sum::<u32>(), 100);
        assert_eq!(BUFFER_WEIGHTS.iter().sum::<u32>(), 100);
    }
}
