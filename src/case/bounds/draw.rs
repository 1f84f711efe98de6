//! What both generators, proptest's and arbitrary's, draw alike: the weight tables of the shape
//! of a case (payload lengths, chunk sizes, conversation kinds, pauses, socket buffers) and the
//! hold between two connections. Sharing them is what makes "one definition, two generators"
//! hold by construction.

use std::ops::RangeInclusive;

use super::CaseBounds;
use crate::case::{ConnectionCase, ConversationKind, Hold};

impl CaseBounds {
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
pub(crate) const CONVERSATION_WEIGHTS: [(u32, ConversationKind); 3] = [
    (40, ConversationKind::Stream),
    (35, ConversationKind::Interactive),
    (25, ConversationKind::Close),
];

/// Chance in percent that a plan has no pauses at all, and that a socket buffer is left at the
/// OS default, at the minimum, or anywhere in the range.
pub(crate) const NO_PAUSES_PERCENT: u32 = 50;
/// Weights of `None`, the minimum, and any size, for each socket buffer.
pub(crate) const BUFFER_WEIGHTS: [u32; 3] = [50, 20, 30];
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_add_up_to_one_hundred() {
        assert_eq!(LEN_CLASSES.iter().map(|w| w.0).sum::<u32>(), 100);
        assert_eq!(SIZE_CLASSES.iter().map(|w| w.0).sum::<u32>(), 100);
        assert_eq!(CONVERSATION_WEIGHTS.iter().map(|w| w.0).sum::<u32>(), 100);
        assert_eq!(BUFFER_WEIGHTS.iter().sum::<u32>(), 100);
    }
}
