//! What the echo is checked against: [`SentLog`], everything a connection has handed to its
//! writer in one play, and [`Expected`], what one expectation compares with; and [`mismatch`],
//! the divergence (with the hexdump windows cut once) when the check fails. Shared by the
//! player's lanes and the fuzzing [`Session`](super::Session).

use super::divergence::{DivergenceKind, MismatchEvidence};
use crate::case::Payload;
use crate::hexdump;

/// A mismatch at stream offset `offset` of an expected stretch `start..end`, where
/// `expected(from, to)` gives the expected bytes of any part of it and `wrong` holds the
/// received bytes from the offset on. The windows of the hexdumps are cut here, once.
pub(crate) fn mismatch(
    expected: impl Fn(u64, u64) -> Vec<u8>,
    start: u64,
    end: u64,
    offset: u64,
    wrong: &[u8],
) -> DivergenceKind {
    let (w_start, w_len) = hexdump::window(offset - start, end - start, 16, 32);
    let window_start = start + w_start;
    let expected_window = expected(window_start, window_start + w_len);
    let mut received_window = expected(window_start, offset);
    received_window.extend_from_slice(&wrong[..wrong.len().min(32)]);
    let expected_byte = if offset < end {
        expected(offset, offset + 1).first().copied().unwrap_or(0)
    } else {
        0
    };
    DivergenceKind::Mismatch {
        offset,
        expected: expected_byte,
        actual: wrong.first().copied().unwrap_or(0),
        evidence: Box::new(MismatchEvidence {
            expected_window,
            received_window,
            window_start,
            crossed_from: None,
        }),
    }
}

/// What a connection has handed to its writer in one play, in stream order: what its echo is
/// checked against, read back from any offset without materialising a generated payload.
/// It borrows the payloads from the script being played, so a send costs no copy.
#[derive(Debug, Default)]
pub(crate) struct SentLog<'a> {
    /// Every send: where it starts in the stream, the payload, and how many times it repeats.
    segments: Vec<(u64, &'a Payload, u32)>,
    total: u64,
}

impl<'a> SentLog<'a> {
    /// Appends `repeat` copies of `payload`.
    pub(crate) fn push(&mut self, payload: &'a Payload, repeat: u32) {
        self.segments.push((self.total, payload, repeat));
        self.total += payload.len() as u64 * u64::from(repeat);
    }

    /// Bytes handed over so far.
    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    /// Sends so far.
    pub(crate) fn sends(&self) -> usize {
        self.segments.len()
    }

    /// Every send: `(stream offset, payload)`, for telling whose bytes crossed over.
    pub(crate) fn segments(&self) -> impl Iterator<Item = (u64, &'a Payload)> + '_ {
        self.segments.iter().map(|(start, p, _)| (*start, *p))
    }

    /// The sent bytes from stream offset `offset` on, `len` of them at most, as pieces of the
    /// payloads: `(payload, offset in it, length)`. Fewer than `len` when less was sent.
    fn pieces(
        &self,
        mut offset: u64,
        len: usize,
    ) -> impl Iterator<Item = (&'a Payload, usize, usize)> + '_ {
        let mut left = len;
        let mut i = self
            .segments
            .partition_point(|(start, ..)| *start <= offset)
            .saturating_sub(1);
        std::iter::from_fn(move || {
            while left > 0 {
                let (start, payload, repeat) = *self.segments.get(i)?;
                let size = payload.len() as u64;
                if size == 0 || offset >= start + size * u64::from(repeat) {
                    i += 1;
                    continue;
                }
                let at = ((offset - start) % size) as usize;
                let n = (payload.len() - at).min(left);
                left -= n;
                offset += n as u64;
                return Some((payload, at, n));
            }
            None
        })
    }

    /// Where `received`, which claims to be the stream from `offset` on, first goes wrong: the
    /// index of the first byte that differs or lies past what was sent; `None` if all match.
    /// Compared a payload at a time, without producing the expected bytes.
    pub(crate) fn first_mismatch(&self, offset: u64, received: &[u8]) -> Option<usize> {
        let mut checked = 0;
        for (payload, at, n) in self.pieces(offset, received.len()) {
            if let Some(bad) = payload.first_mismatch(at, &received[checked..checked + n]) {
                return Some(checked + bad);
            }
            checked += n;
        }
        (checked < received.len()).then_some(checked)
    }

    /// The bytes from stream offset `offset` on, as many as fit in `out` (and were sent).
    pub(crate) fn fill(&self, offset: u64, out: &mut [u8]) {
        let mut filled = 0;
        for (payload, at, n) in self.pieces(offset, out.len()) {
            filled += payload.fill_at(at, &mut out[filled..filled + n]);
        }
    }
}

/// What an expectation checks the echo against: everything the connection sent ([`SentLog`]),
/// or exact bytes starting at a stream offset.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Expected<'a> {
    /// An echo of the sends.
    Sent,
    /// These bytes, from this stream offset on.
    Bytes(&'a Payload, u64),
}

impl Expected<'_> {
    /// Where `received`, the stream from `offset` on, first goes wrong; see
    /// [`SentLog::first_mismatch`].
    pub(crate) fn first_mismatch(
        self,
        sent: &SentLog,
        offset: u64,
        received: &[u8],
    ) -> Option<usize> {
        match self {
            Expected::Sent => sent.first_mismatch(offset, received),
            Expected::Bytes(p, base) => p.first_mismatch((offset - base) as usize, received),
        }
    }

    /// The expected bytes of the stream range `from..to`.
    pub(crate) fn bytes(self, sent: &SentLog, from: u64, to: u64) -> Vec<u8> {
        let mut out = vec![0u8; usize::try_from(to.saturating_sub(from)).unwrap_or(0)];
        match self {
            Expected::Sent => sent.fill(from, &mut out),
            Expected::Bytes(p, base) => {
                p.fill_at((from - base) as usize, &mut out);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sent_log_reads_back_and_compares_across_sends_and_repetitions() {
        let payloads = [
            Payload::Literal(b"ab".to_vec()),
            Payload::Literal(Vec::new()),
            Payload::generated(5, 9),
        ];
        let mut sent = SentLog::default();
        sent.push(&payloads[0], 3);
        sent.push(&payloads[1], 2);
        sent.push(&payloads[2], 1);
        let generated = Payload::generated(5, 9).bytes().into_owned();
        let mut whole = b"ababab".to_vec();
        whole.extend_from_slice(&generated);
        assert_eq!((sent.total(), sent.sends()), (11, 3));
        for from in 0..whole.len() {
            let mut out = vec![0; whole.len() - from];
            sent.fill(from as u64, &mut out);
            assert_eq!(out, whole[from..], "from {from}");
            assert_eq!(sent.first_mismatch(from as u64, &whole[from..]), None);
            for bad in from..whole.len() {
                let mut wrong = whole[from..].to_vec();
                wrong[bad - from] ^= 0x40;
                assert_eq!(
                    sent.first_mismatch(from as u64, &wrong),
                    Some(bad - from),
                    "from {from}, bad {bad}"
                );
            }
        }
        // Past what was sent is a mismatch at the first extra byte.
        let mut long = whole.clone();
        long.push(b'!');
        assert_eq!(sent.first_mismatch(0, &long), Some(whole.len()));
        let starts: Vec<u64> = sent.segments().map(|(start, _)| start).collect();
        assert_eq!(starts, [0, 6, 6]);
    }
}
