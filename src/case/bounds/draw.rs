//! What both generators, proptest's and arbitrary's, draw alike: the weight tables of the shape
//! of a case (payload lengths, chunk sizes, conversation kinds, pauses, socket buffers) and the
//! hold between two connections. Sharing them is what makes "one definition, two generators"
//! hold by construction.

use std::ops::RangeInclusive;

use super::CaseBounds;
use crate::case::{ConnectionCase, Conversation, ConversationKind, Hold};

/// The default [`CaseBounds::abort_percent`]. One case in four rolls an abort (about one in
/// five gets one: the connection it lands on needs two bytes or more to reset between), so a
/// server that falls over when a client resets is met within the first 20 cases or so of a
/// `check`, while three cases in four play every connection to its end as before.
pub(crate) const ABORT_PERCENT: u32 = 25;

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

    /// Turns one connection into an [`Abort`](Conversation::Abort) when a `roll` of 0 to 99
    /// lands in the top `abort_percent` (so a roll of 0, what an exhausted fuzz input gives,
    /// never aborts): the first stream or close of two bytes or more from connection
    /// `pick_conn % n` on, which resets after `1 + pick_after % (len - 1)` echoed bytes (so a
    /// pick of 0 resets after the first byte). Drawn after the hold, which it leaves as it is:
    /// the aborted connection still sends first.
    pub(crate) fn draw_abort(
        &self,
        connections: &mut [ConnectionCase],
        roll: u32,
        pick_conn: usize,
        pick_after: usize,
    ) {
        let n = connections.len();
        if n == 0 || roll + self.abort_percent.min(100) < 100 {
            return;
        }
        let eligible = |c: &ConnectionCase| {
            matches!(
                &c.conversation,
                Conversation::Stream { payload } | Conversation::Close { payload }
                    if payload.len() >= 2
            )
        };
        let Some(i) = (0..n)
            .map(|k| (pick_conn % n + k) % n)
            .find(|&i| eligible(&connections[i]))
        else {
            return;
        };
        let conversation = &mut connections[i].conversation;
        if let Conversation::Stream { payload } | Conversation::Close { payload } = conversation {
            let payload = std::mem::replace(payload, crate::case::Payload::Literal(Vec::new()));
            let after = 1 + pick_after % (payload.len() - 1);
            *conversation = Conversation::Abort { payload, after };
        }
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

/// Conversation kinds with weights, simplest first. [`ConversationKind::Abort`] is not among
/// them: an abort is drawn once per case, last, from a stream or a close
/// ([`CaseBounds::draw_abort`]), so that fuzz inputs made before aborts keep their meaning.
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
