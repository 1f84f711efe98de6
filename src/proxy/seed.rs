//! Where a connection's faults come from: one generator per toxic, connection and direction,
//! seeded from (the proxy's seed, the accept index, the direction, the toxic's position), so
//! that a saved seed gives the same slices, delays and decisions forever.
//!
//! # The derivation (frozen)
//! Built on the crate's frozen payload generator ([`crate::generator`]), never on a crate whose
//! output may change:
//!
//! ```text
//! fold(x)        = the first 8 bytes of generate(8, x), little-endian
//! toxic_seed     = fold(fold(fold(seed ^ 0x7072_6f78_792d_7478) ^ index) ^ (flow << 32 | position))
//!                  where flow is 1 for up (client to server) and 2 for down
//! the generator  = the stream generate(_, toxic_seed), read 8 bytes at a time
//! ```
//!
//! A toxic's first draw decides, once at accept, whether it acts on this connection and
//! direction (`draw % 1_000_000 < toxicity`); its later draws are its slice sizes, delays and
//! jitter, in stream order. **Do not change a constant or a step**: a saved seed would change
//! meaning. The golden vectors in the tests pin it.

use std::time::Duration;

use super::chain::Flow;
use crate::generator::GeneratedStream;

/// XORed into the seed first ("proxy-tx").
const SALT: u64 = 0x7072_6f78_792d_7478;

fn fold(x: u64) -> u64 {
    let mut bytes = [0u8; 8];
    GeneratedStream::new(x).fill(&mut bytes);
    u64::from_le_bytes(bytes)
}

/// The seed of the generator of the toxic at `position` of the chain, acting on `flow` of the
/// connection accepted `index`-th since the last restart.
pub fn toxic_seed(seed: u64, index: u64, flow: Flow, position: usize) -> u64 {
    let flow = match flow {
        Flow::Up => 1u64,
        Flow::Down => 2u64,
    };
    fold(fold(fold(seed ^ SALT) ^ index) ^ (flow << 32 | position as u64))
}

/// A toxic's own generator.
#[derive(Debug, Clone)]
pub(crate) struct ToxicRng {
    stream: GeneratedStream,
}

impl ToxicRng {
    pub(crate) fn new(seed: u64) -> ToxicRng {
        ToxicRng {
            stream: GeneratedStream::new(seed),
        }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        let mut bytes = [0u8; 8];
        self.stream.fill(&mut bytes);
        u64::from_le_bytes(bytes)
    }

    /// Uniform in `min..=max` (up to a bias of at most 2^-40 for the ranges the grammar allows).
    pub(crate) fn in_range(&mut self, min: u64, max: u64) -> u64 {
        let span = max.saturating_sub(min);
        if span == 0 {
            return min;
        }
        match span.checked_add(1) {
            Some(n) => min + self.next_u64() % n,
            None => self.next_u64(),
        }
    }

    /// A duration uniform in `min..=max`, to the nanosecond.
    pub(crate) fn duration(&mut self, min: Duration, max: Duration) -> Duration {
        let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(self.in_range(nanos(min), nanos(max)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_vectors_pin_the_derivation() {
        // If this fails, saved seeds changed meaning: put the derivation back.
        let got = [
            toxic_seed(0, 0, Flow::Up, 0),
            toxic_seed(0, 0, Flow::Down, 0),
            toxic_seed(42, 3, Flow::Up, 1),
        ];
        assert_eq!(got, GOLDEN, "{got:#x?}");
        let mut rng = ToxicRng::new(toxic_seed(7, 0, Flow::Up, 0));
        let draws: Vec<u64> = (0..4).map(|_| rng.in_range(1, 16)).collect();
        assert_eq!(draws, GOLDEN_DRAWS);
    }

    #[test]
    fn every_part_changes_the_seed() {
        let base = toxic_seed(1, 2, Flow::Up, 3);
        assert_ne!(base, toxic_seed(2, 2, Flow::Up, 3));
        assert_ne!(base, toxic_seed(1, 3, Flow::Up, 3));
        assert_ne!(base, toxic_seed(1, 2, Flow::Down, 3));
        assert_ne!(base, toxic_seed(1, 2, Flow::Up, 4));
    }

    const GOLDEN: [u64; 3] = [
        0x4dc5_2f51_bfda_e35b,
        0xb0e9_4fbc_55d4_c3f3,
        0x84e9_f81f_241f_d35a,
    ];
    const GOLDEN_DRAWS: [u64; 4] = [9, 16, 11, 15];
}
