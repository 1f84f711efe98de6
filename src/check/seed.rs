//! What a seed stands for: the sequence of cases a campaign plays ([`CaseSequence`]), the proxy's
//! seed for each case, and a fresh seed for a campaign that was given none.

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use crate::case::{Case, CaseBounds};
use crate::strategy::case_strategy;

/// The sequence of cases a seed stands for: what `check --seed N` plays, in order.
///
/// ```
/// use echo_harness::{case::CaseBounds, check::CaseSequence};
/// let first: Vec<_> = CaseSequence::new(7, &CaseBounds::default()).take(3).collect();
/// let again: Vec<_> = CaseSequence::new(7, &CaseBounds::default()).take(3).collect();
/// assert_eq!(first, again);
/// ```
pub struct CaseSequence {
    strategy: proptest::strategy::BoxedStrategy<Case>,
    runner: TestRunner,
}

impl CaseSequence {
    /// The cases of `seed` within `bounds`.
    pub fn new(seed: u64, bounds: &CaseBounds) -> CaseSequence {
        CaseSequence {
            strategy: case_strategy(bounds),
            runner: seeded_runner(seed),
        }
    }

    /// The next case as a proptest value tree, which can shrink it.
    pub fn next_tree(&mut self) -> Option<Box<dyn ValueTree<Value = Case>>> {
        // The strategy rejects nothing; should it ever, that draw is skipped.
        self.strategy.new_tree(&mut self.runner).ok()
    }
}

impl Iterator for CaseSequence {
    type Item = Case;

    fn next(&mut self) -> Option<Case> {
        // Draws until one succeeds; the strategy never rejects, so this is one draw.
        (0..1000)
            .find_map(|_| self.next_tree())
            .map(|tree| tree.current())
    }
}

/// The proxy's seed for the case at `index` of the campaign with `seed`: a splitmix64 step of
/// both, so neighbouring cases get unrelated faults.
pub(super) fn proxy_seed(seed: u64, index: u32) -> u64 {
    let mut z = seed ^ u64::from(index).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A runner whose random generator is fully determined by `seed`.
fn seeded_runner(seed: u64) -> TestRunner {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = Config {
        // The campaign persists failures as scenario files, not proptest's regression files.
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
}

/// A seed from the clock and the process, for campaigns without `--seed`.
pub(super) fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    hasher.write_u32(std::process::id());
    hasher.finish()
}
