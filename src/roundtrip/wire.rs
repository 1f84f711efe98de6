//! What the player and the fuzzing session share: opening a client socket the way a plan asks,
//! the no-progress clock, and the evidence of a mismatch.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;

use super::divergence::{Divergence, DivergenceKind, MismatchEvidence};
use super::PlayOptions;
use crate::case::{Payload, WritePlan};
use crate::hexdump;

/// Starts a play through a proxy: its accept order counts from 0 again, with the seed the
/// options give. Without a proxy, nothing.
pub(crate) fn restart_proxy(options: &PlayOptions) {
    if let Some(through) = &options.through {
        through.restart();
    }
}

/// Opens the `index`th connection of a play (from 0) to `addr` with the socket options of
/// `write`, within the connect timeout. Refused and timed-out connects are their own
/// divergence kinds. Through a proxy it returns only once the proxy has accepted this
/// connection, so the next one is accepted after it (the accept order seeds its faults).
pub(crate) async fn open(
    write: &WritePlan,
    index: usize,
    addr: SocketAddr,
    options: &PlayOptions,
) -> Result<TcpStream, DivergenceKind> {
    let stream = connect(write, addr, options.connect_timeout).await?;
    if let Some(through) = &options.through {
        let accepted = through
            .proxy
            .wait_accepted(index as u64 + 1, options.connect_timeout)
            .await;
        if !accepted {
            return Err(DivergenceKind::ConnectTimeout {
                waited: options.connect_timeout,
            });
        }
    }
    Ok(stream)
}

/// How many reads the built-in server needed for the client connection from `local_addr`,
/// when the options name its counters. Through a proxy, the server's peer is the proxy's
/// upstream socket of that connection, which the proxy's counters name.
pub(crate) fn server_reads(options: &PlayOptions, local_addr: SocketAddr) -> Option<u64> {
    let stats = options.server_stats.as_ref()?;
    let peer = match &options.through {
        Some(through) => {
            through
                .proxy
                .stats()
                .connection_from(local_addr)?
                .upstream_local?
        }
        None => local_addr,
    };
    stats.connection(peer).map(|record| record.reads)
}

async fn connect(
    write: &WritePlan,
    addr: SocketAddr,
    connect_timeout: Duration,
) -> Result<TcpStream, DivergenceKind> {
    let io = |e: std::io::Error| DivergenceKind::Io {
        kind: e.kind(),
        message: e.to_string(),
    };
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(io)?;
    // Buffer sizes go on before connecting, so the window scale is negotiated with them.
    if let Some(size) = write.send_buffer {
        socket.set_send_buffer_size(size).map_err(io)?;
    }
    if let Some(size) = write.recv_buffer {
        socket.set_recv_buffer_size(size).map_err(io)?;
    }
    socket.set_nodelay(write.nodelay).map_err(io)?;
    match tokio::time::timeout(connect_timeout, socket.connect(addr)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            Err(DivergenceKind::Refused)
        }
        Ok(Err(e)) => Err(io(e)),
        Err(_) => Err(DivergenceKind::ConnectTimeout {
            waited: connect_timeout,
        }),
    }
}

/// When either direction of a connection last moved a byte, shared by its writer and reader.
pub(crate) struct Progress {
    base: Instant,
    last_nanos: AtomicU64,
}

impl Progress {
    pub(crate) fn new() -> Progress {
        Progress {
            base: Instant::now(),
            last_nanos: AtomicU64::new(0),
        }
    }

    pub(crate) fn touch(&self) {
        self.touch_at(Instant::now());
    }

    /// Counts `at`, possibly in the future, as the last progress: a pause the plan asks for
    /// holds the deadline off for its whole length, even when it is longer than the timeout.
    pub(crate) fn touch_at(&self, at: Instant) {
        let nanos =
            u64::try_from(at.saturating_duration_since(self.base).as_nanos()).unwrap_or(u64::MAX);
        self.last_nanos.fetch_max(nanos, Ordering::Relaxed);
    }

    pub(crate) fn deadline(&self, timeout: Duration) -> Instant {
        self.base + Duration::from_nanos(self.last_nanos.load(Ordering::Relaxed)) + timeout
    }
}

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
        if counts && best.map_or(true, |(best_len, ..)| len > best_len) {
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
            if len > 0 && best.map_or(true, |(_, best_len)| len > best_len) {
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
