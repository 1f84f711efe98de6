//! Whose bytes came back: for a mismatch, whether the wrong bytes are another connection's
//! ([`explain_crossing`]), so the report can say that bytes crossed between connections.

use super::divergence::{Divergence, DivergenceKind};
use crate::case::Payload;

/// How many leading bytes of each payload a crossing is looked for in: enough for any case the
/// generators make, bounded for a hand-written giant.
const CROSSING_SCAN: usize = 16 * 1024 * 1024;

/// Fewer wrong bytes than this, matched inside a longer payload, could match by chance.
const CROSSING_MIN_MATCH: usize = 4;

/// For a mismatch: are the wrong bytes another connection's? `others` are the bytes the other
/// connections sent: each `(name, stream offset, payload)`. When the start of the wrong bytes
/// is found in one of them, the divergence names it (`crossed_from`).
///
/// The wrong bytes often come from more than one place (a server that writes to the wrong
/// socket writes a short message of one connection, then the next of another), so the longest
/// run that matches from the first wrong byte on wins. A run counts when it is long enough not
/// to be chance, or when it is at least two bytes and ends exactly where that payload ends (a
/// whole short message, or the tail of a long one, followed by someone else's bytes).
pub(crate) fn explain_crossing<'a>(
    divergence: &mut Divergence,
    others: impl IntoIterator<Item = (&'a str, u64, &'a Payload)>,
) {
    let DivergenceKind::Mismatch {
        offset, evidence, ..
    } = &mut divergence.kind
    else {
        return;
    };
    let skip = usize::try_from(*offset - evidence.window_start).unwrap_or(usize::MAX);
    let Some(wrong) = evidence.received_window.get(skip..) else {
        return;
    };
    if wrong.len() < 2 {
        return;
    }
    let mut best: Option<(usize, &str, u64)> = None;
    for (name, start, payload) in others {
        if name == divergence.connection {
            continue;
        }
        let Some((at, len)) = longest_prefix_in(payload, wrong) else {
            continue;
        };
        let counts = len >= CROSSING_MIN_MATCH || (len >= 2 && at + len == payload.len());
        if counts && best.is_none_or(|(best_len, ..)| len > best_len) {
            best = Some((len, name, start + at as u64));
        }
    }
    if let Some((_, name, at)) = best {
        evidence.crossed_from = Some((name.to_string(), at));
    }
}

/// The longest prefix of `needle` that occurs in (a bounded head of) `payload`: its position
/// and length, the first position among equals.
fn longest_prefix_in(payload: &Payload, needle: &[u8]) -> Option<(usize, usize)> {
    const WINDOW: usize = 256 * 1024;
    let limit = payload.len().min(CROSSING_SCAN);
    let mut best: Option<(usize, usize)> = None;
    let mut start = 0;
    while start < limit {
        // Windows overlap by the needle's length, so no match is cut in two.
        let end = (start + WINDOW + needle.len()).min(payload.len());
        let window = payload.chunk(start..end);
        for i in 0..(end - start).min(WINDOW) {
            let len = window[i..]
                .iter()
                .zip(needle)
                .take_while(|(a, b)| a == b)
                .count();
            if len > 0 && best.is_none_or(|(_, best_len)| len > best_len) {
                best = Some((start + i, len));
                if len == needle.len() {
                    return best;
                }
            }
        }
        start += WINDOW;
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roundtrip::sent::mismatch;

    /// A mismatch on connection `c2` at offset 0, with `received` as the wrong bytes.
    fn mismatch_on_c2(received: &[u8]) -> Divergence {
        let kind = mismatch(
            |from, to| vec![0xee; (to - from) as usize],
            0,
            64,
            0,
            received,
        );
        Divergence::new("c2", kind, 64, received.len() as u64, 64)
    }

    fn crossed_from(divergence: &Divergence) -> Option<(String, u64)> {
        match &divergence.kind {
            DivergenceKind::Mismatch { evidence, .. } => evidence.crossed_from.clone(),
            _ => None,
        }
    }

    #[test]
    fn wrong_bytes_from_two_connections_name_the_first() {
        // What CI caught: c2 received c0's whole two-byte message, then c1's bytes.
        let c0 = Payload::Literal(vec![0xca, 0x8b]);
        let c1 = Payload::generated(58_527, 17);
        let c1_bytes = c1.chunk(100..130).into_owned();
        let mut received = c0.chunk(0..2).into_owned();
        received.extend_from_slice(&c1_bytes);
        let mut divergence = mismatch_on_c2(&received);
        explain_crossing(&mut divergence, [("c0", 0, &c0), ("c1", 0, &c1)]);
        assert_eq!(crossed_from(&divergence), Some(("c0".into(), 0)));
    }

    #[test]
    fn the_longest_matching_run_wins_and_offsets_count_from_the_stream() {
        let first = Payload::generated(1_000, 1);
        let second = Payload::generated(5_000, 2);
        let received = second.chunk(300..332).into_owned();
        let mut divergence = mismatch_on_c2(&received);
        explain_crossing(
            &mut divergence,
            [("c0", 0, &first), ("c1", 0, &first), ("c1", 1_000, &second)],
        );
        assert_eq!(crossed_from(&divergence), Some(("c1".into(), 1_300)));
    }

    #[test]
    fn a_short_chance_match_inside_a_payload_is_not_a_crossing() {
        // Two bytes found in the middle of a long payload are chance, not evidence.
        let long = Payload::Literal(b"..........xy..........".to_vec());
        let mut divergence = mismatch_on_c2(b"xyQQQQQQ");
        explain_crossing(&mut divergence, [("c0", 0, &long)]);
        assert_eq!(crossed_from(&divergence), None);
        // Its own bytes are never "another connection's".
        let mut divergence = mismatch_on_c2(b"..........");
        explain_crossing(&mut divergence, [("c2", 0, &long)]);
        assert_eq!(crossed_from(&divergence), None);
    }
}
