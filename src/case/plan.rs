//! How a connection cuts its bytes: the [`WritePlan`] and [`ReadPlan`], the [`Cuts`] a cyclic
//! plan makes of one send or one expected echo, and the closed-form count of those cuts and of
//! their pauses, so that bounds checks need not walk a large payload cut by cut.

use std::ops::Range;
use std::time::Duration;

use super::DEFAULT_CHUNK_LEN;

/// How the client cuts what it writes, and the socket options it sets before connecting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WritePlan {
    /// Chunk sizes, used cyclically from the start of every send; never empty, each ≥ 1.
    pub chunks: Vec<usize>,
    /// Pauses after chunks, used cyclically; empty means no pauses.
    pub pauses: Vec<Duration>,
    /// TCP_NODELAY on the client socket.
    pub nodelay: bool,
    /// SO_SNDBUF of the client socket; `None` leaves the OS default.
    pub send_buffer: Option<u32>,
    /// SO_RCVBUF of the client socket; `None` leaves the OS default.
    pub recv_buffer: Option<u32>,
}

/// How the client reads the echo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadPlan {
    /// Read unit sizes, used cyclically from the start of every expected echo; never empty,
    /// each ≥ 1.
    pub sizes: Vec<usize>,
    /// Pauses after units, used cyclically; empty means no pauses.
    pub pauses: Vec<Duration>,
}

/// One cut of a send or of an expected echo: which bytes, and the pause that follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cut {
    /// The byte range of the payload (or of the expected echo) this cut covers.
    pub range: Range<usize>,
    /// Sleep this long after the cut (unscaled; zero after the last cut).
    pub pause: Duration,
}

/// An iterator over the cuts of `len` bytes by a cyclic plan; see [`WritePlan::cuts`].
#[derive(Debug, Clone)]
pub struct Cuts<'a> {
    sizes: &'a [usize],
    pauses: &'a [Duration],
    len: usize,
    pos: usize,
    index: usize,
}

impl Default for WritePlan {
    /// 64 KiB chunks, no pauses, NODELAY off, OS-default socket buffers.
    fn default() -> Self {
        Self {
            chunks: vec![DEFAULT_CHUNK_LEN],
            pauses: Vec::new(),
            nodelay: false,
            send_buffer: None,
            recv_buffer: None,
        }
    }
}

impl WritePlan {
    /// The chunks a send of `len` bytes is cut into, each with the pause that follows it.
    ///
    /// ```
    /// use echo_harness::case::WritePlan;
    /// use std::time::Duration;
    /// let plan = WritePlan {
    ///     chunks: vec![1, 3],
    ///     pauses: vec![Duration::from_millis(1)],
    ///     ..WritePlan::default()
    /// };
    /// let cuts: Vec<_> = plan.cuts(6).map(|c| c.range).collect();
    /// assert_eq!(cuts, [0..1, 1..4, 4..5, 5..6]);
    /// assert_eq!(plan.cuts(6).last().unwrap().pause, Duration::ZERO);
    /// ```
    pub fn cuts(&self, len: usize) -> Cuts<'_> {
        Cuts::new(&self.chunks, &self.pauses, len)
    }
}

impl Default for ReadPlan {
    /// 64 KiB units, no pauses.
    fn default() -> Self {
        Self {
            sizes: vec![DEFAULT_CHUNK_LEN],
            pauses: Vec::new(),
        }
    }
}

impl ReadPlan {
    /// The units an expected echo of `len` bytes is read in, each with the pause that follows.
    pub fn cuts(&self, len: usize) -> Cuts<'_> {
        Cuts::new(&self.sizes, &self.pauses, len)
    }
}

impl<'a> Cuts<'a> {
    fn new(sizes: &'a [usize], pauses: &'a [Duration], len: usize) -> Self {
        Self {
            sizes,
            pauses,
            len,
            pos: 0,
            index: 0,
        }
    }
}

impl Iterator for Cuts<'_> {
    type Item = Cut;

    fn next(&mut self) -> Option<Cut> {
        if self.pos >= self.len {
            return None;
        }
        // An empty or zero-sized plan is invalid; cut one byte at a time rather than loop.
        let size = self
            .sizes
            .get(self.index % self.sizes.len().max(1))
            .copied()
            .unwrap_or(1)
            .max(1);
        let end = self.pos + size.min(self.len - self.pos);
        let pause = if end < self.len && !self.pauses.is_empty() {
            self.pauses[self.index % self.pauses.len()]
        } else {
            Duration::ZERO
        };
        let range = self.pos..end;
        self.pos = end;
        self.index += 1;
        Some(Cut { range, pause })
    }
}

/// How many cuts `len` bytes make with the cyclic `sizes`, in O(`sizes.len()`).
pub(crate) fn cycle_count(sizes: &[usize], len: usize) -> u64 {
    let sizes: Vec<u64> = sizes.iter().map(|&s| s.max(1) as u64).collect();
    if sizes.is_empty() || len == 0 {
        return len as u64;
    }
    let cycle: u64 = sizes.iter().sum();
    let len = len as u64;
    let mut count = len / cycle * sizes.len() as u64;
    let mut rest = len % cycle;
    for s in sizes {
        if rest == 0 {
            break;
        }
        rest = rest.saturating_sub(s);
        count += 1;
    }
    count
}

/// The sum of the pauses taken while cutting `len` bytes, in nanoseconds.
pub(crate) fn cycle_pause_nanos(sizes: &[usize], pauses: &[Duration], len: usize) -> u128 {
    if pauses.is_empty() {
        return 0;
    }
    // A pause follows every cut but the last.
    let gaps = cycle_count(sizes, len).saturating_sub(1) as u128;
    let n = pauses.len() as u128;
    let per_cycle: u128 = pauses.iter().map(Duration::as_nanos).sum();
    let partial: u128 = pauses[..(gaps % n) as usize]
        .iter()
        .map(Duration::as_nanos)
        .sum();
    gaps / n * per_cycle + partial
}
#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn cuts_cycle_and_restart_per_send() {
        let plan = WritePlan {
            chunks: vec![2, 1],
            pauses: vec![ms(1), ms(2), ms(3)],
            ..WritePlan::default()
        };
        let cuts: Vec<_> = plan.cuts(7).collect();
        let ranges: Vec<_> = cuts.iter().map(|c| c.range.clone()).collect();
        assert_eq!(ranges, [0..2, 2..3, 3..5, 5..6, 6..7]);
        let pauses: Vec<_> = cuts.iter().map(|c| c.pause).collect();
        assert_eq!(pauses, [ms(1), ms(2), ms(3), ms(1), Duration::ZERO]);
        assert_eq!(plan.cuts(0).count(), 0);
        assert_eq!(
            plan.cuts(1).collect::<Vec<_>>(),
            [Cut {
                range: 0..1,
                pause: Duration::ZERO
            }]
        );
    }

    #[test]
    fn counting_formulas_agree_with_the_iterator() {
        let plans: &[(&[usize], &[u64])] = &[
            (&[1], &[]),
            (&[3], &[1]),
            (&[2, 5, 1], &[1, 0, 7]),
            (&[4096, 1], &[2, 3]),
            (&[7, 7, 7, 7], &[5]),
        ];
        for (sizes, pauses) in plans {
            let pauses: Vec<Duration> = pauses.iter().map(|&p| ms(p)).collect();
            let plan = ReadPlan {
                sizes: sizes.to_vec(),
                pauses: pauses.clone(),
            };
            for len in (0..60).chain([4097, 4098, 9000]) {
                let cuts: Vec<_> = plan.cuts(len).collect();
                assert_eq!(
                    cycle_count(sizes, len),
                    cuts.len() as u64,
                    "{sizes:?} {len}"
                );
                let sum: u128 = cuts.iter().map(|c| c.pause.as_nanos()).sum();
                assert_eq!(
                    cycle_pause_nanos(sizes, &pauses, len),
                    sum,
                    "{sizes:?} {len}"
                );
                assert_eq!(cuts.last().map_or(len, |c| c.range.end), len);
            }
        }
    }
}
