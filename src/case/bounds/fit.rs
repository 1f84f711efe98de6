//! [`CaseBounds::fit`]: the last step of both generators, which brings a generated connection
//! within the operation and pause budgets by enlarging its chunks and shrinking its pauses.

use std::time::Duration;

use super::CaseBounds;
use crate::case::{cycle_count, cycle_pause_nanos, ConnectionCase, Payload};

impl CaseBounds {
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
#[cfg(test)]
mod tests {
    use super::super::tests::conn;
    use super::*;
    use crate::case::{Case, PauseScale};

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
}
