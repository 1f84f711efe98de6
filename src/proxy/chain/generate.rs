//! The generators of toxic chains: [`chain_strategy`] for proptest and the `arbitrary` impls
//! for the fuzz targets, over the same value space (small sizes and delays, so that generated
//! chains stay fast to play). `Direction`'s `Arbitrary` is derived where it is defined.
//! Everything generated is within the grammar's bounds: it prints as text that parses back.

use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use proptest::prelude::*;

use super::{
    Direction, DurationRange, ResetAfter, SizeRange, Toxic, ToxicChain, ToxicKind, MAX_SIZE,
    TOXICITY_ALWAYS,
};

/// Sizes the generators use: small, so that generated chains stay fast to play.
const GEN_MAX_SLICE: u64 = 64;

fn gen_duration_us(max_us: u64) -> impl Strategy<Value = Duration> {
    (0..=max_us).prop_map(Duration::from_micros)
}

fn data_preserving_kind() -> impl Strategy<Value = ToxicKind> {
    prop_oneof![
        (1..=GEN_MAX_SLICE, 0..=GEN_MAX_SLICE, 0..=500u64, 0..=500u64).prop_map(
            |(min, extra, d1, d2)| ToxicKind::Slice {
                size: SizeRange {
                    min,
                    max: min + extra
                },
                delay: DurationRange {
                    min: Duration::from_micros(d1.min(d2)),
                    max: Duration::from_micros(d1.max(d2)),
                },
            }
        ),
        (gen_duration_us(2_000), gen_duration_us(1_000))
            .prop_map(|(latency, jitter)| ToxicKind::Latency { latency, jitter }),
        (256 * 1024..=MAX_SIZE).prop_map(|rate| ToxicKind::Bandwidth { rate }),
        gen_duration_us(2_000).prop_map(|delay| ToxicKind::SlowClose { delay }),
    ]
}

fn destructive_kind() -> impl Strategy<Value = ToxicKind> {
    prop_oneof![
        (0..=MAX_SIZE).prop_map(|bytes| ToxicKind::Limit { bytes }),
        (0..=MAX_SIZE).prop_map(|n| ToxicKind::Reset(ResetAfter::Bytes(n))),
        (0..=3_600_000_000u64)
            .prop_map(|us| ToxicKind::Reset(ResetAfter::Time(Duration::from_micros(us)))),
        (0..=MAX_SIZE).prop_map(|after| ToxicKind::Blackhole { after }),
    ]
}

fn toxic_strategy(kind: BoxedStrategy<ToxicKind>) -> impl Strategy<Value = Toxic> {
    let direction = prop_oneof![
        Just(Direction::Up),
        Just(Direction::Down),
        Just(Direction::Both)
    ];
    let toxicity = prop_oneof![
        3 => Just(TOXICITY_ALWAYS),
        1 => 0..=TOXICITY_ALWAYS,
    ];
    (direction, kind, toxicity).prop_map(|(direction, kind, toxicity)| Toxic {
        direction,
        kind,
        toxicity,
    })
}

/// Chains of up to 4 toxics. With `destructive == false`, only toxics that keep every byte and
/// the FIN (`slice`, `latency`, `bandwidth` of at least 256 KiB/s, `slow-close`), with small
/// sizes and delays so that a chain plays fast; with `true`, `limit`, `reset` and `blackhole`
/// too, over their whole ranges.
pub fn chain_strategy(destructive: bool) -> impl Strategy<Value = ToxicChain> {
    let kind = if destructive {
        prop_oneof![data_preserving_kind(), destructive_kind()].boxed()
    } else {
        data_preserving_kind().boxed()
    };
    proptest::collection::vec(toxic_strategy(kind), 0..=4).prop_map(|toxics| ToxicChain { toxics })
}

impl<'a> Arbitrary<'a> for ToxicKind {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let us = |u: &mut Unstructured<'a>, max: u64| -> arbitrary::Result<Duration> {
            Ok(Duration::from_micros(u.int_in_range(0..=max)?))
        };
        Ok(match u.int_in_range(0..=7u8)? {
            0 | 1 => {
                let min = u.int_in_range(1..=GEN_MAX_SLICE)?;
                let max = min + u.int_in_range(0..=GEN_MAX_SLICE)?;
                let (a, b) = (us(u, 500)?, us(u, 500)?);
                ToxicKind::Slice {
                    size: SizeRange { min, max },
                    delay: DurationRange {
                        min: a.min(b),
                        max: a.max(b),
                    },
                }
            }
            2 => ToxicKind::Latency {
                latency: us(u, 2_000)?,
                jitter: us(u, 1_000)?,
            },
            3 => ToxicKind::Bandwidth {
                rate: u.int_in_range(256 * 1024..=MAX_SIZE)?,
            },
            4 => ToxicKind::SlowClose {
                delay: us(u, 2_000)?,
            },
            5 => ToxicKind::Limit {
                bytes: u.int_in_range(0..=MAX_SIZE)?,
            },
            6 => {
                if u.arbitrary()? {
                    ToxicKind::Reset(ResetAfter::Bytes(u.int_in_range(0..=MAX_SIZE)?))
                } else {
                    ToxicKind::Reset(ResetAfter::Time(us(u, 3_600_000_000)?))
                }
            }
            _ => ToxicKind::Blackhole {
                after: u.int_in_range(0..=MAX_SIZE)?,
            },
        })
    }
}

impl<'a> Arbitrary<'a> for Toxic {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let direction = u.arbitrary()?;
        let kind = u.arbitrary()?;
        let toxicity = if u.ratio(3, 4)? {
            TOXICITY_ALWAYS
        } else {
            u.int_in_range(0..=TOXICITY_ALWAYS)?
        };
        Ok(Toxic {
            direction,
            kind,
            toxicity,
        })
    }
}

impl<'a> Arbitrary<'a> for ToxicChain {
    /// Up to 4 toxics of any kind (destructive ones included); filter with
    /// [`ToxicChain::is_destructive`] where only data-preserving chains make sense.
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let n = u.int_in_range(0..=4usize)?;
        let toxics = (0..n)
            .map(|_| u.arbitrary())
            .collect::<arbitrary::Result<Vec<Toxic>>>()?;
        Ok(ToxicChain { toxics })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arbitrary_chains_print_back_to_themselves() {
        let data: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let mut u = Unstructured::new(&data);
        for _ in 0..64 {
            let Ok(chain) = ToxicChain::arbitrary(&mut u) else {
                break;
            };
            assert_eq!(ToxicChain::parse(&chain.to_string()), Ok(chain));
        }
    }
}
