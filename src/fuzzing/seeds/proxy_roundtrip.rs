//! The `proxy_roundtrip` seeds: one chain of each kind of toxic (and none), each in front of two
//! of the lifecycle cases.

use super::{lifecycle_cases, Seed};
use crate::fuzzing::encode_proxy_input;

/// The curated seeds of `proxy_roundtrip`.
pub(super) fn seeds() -> Vec<Seed> {
    let cases = lifecycle_cases();
    let case = |name: &str| {
        cases
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, c)| c.clone())
            .expect("a lifecycle case")
    };
    proxy_chains()
        .into_iter()
        .flat_map(|(chain_name, chain_bytes)| {
            ["stream", "stream-and-close"].map(|case_name| Seed {
                name: proxy_seed_name(chain_name, case_name),
                bytes: encode_proxy_input(&chain_bytes, &case(case_name)),
            })
        })
        .collect()
}

/// A seed file name from a chain's and a case's (leaked: seed names are `&'static`, and
/// there are a dozen of them).
fn proxy_seed_name(chain: &str, case: &str) -> &'static str {
    Box::leak(format!("{chain}--{case}").into_boxed_str())
}

/// One chain of each kind of toxic, as the bytes `arbitrary` decodes it from: found by
/// searching the crate's frozen generator, so they are the same on every machine and in
/// every version that keeps the decoder.
pub(in crate::fuzzing) fn proxy_chains() -> Vec<(&'static str, Vec<u8>)> {
    use arbitrary::{Arbitrary, Unstructured};

    use crate::proxy::{Direction, ResetAfter, ToxicChain, ToxicKind, TOXICITY_ALWAYS};
    type Wanted = fn(&ToxicKind) -> bool;
    // The destructive ones act within the first bytes of the seeds' cases, so that the
    // fuzzer starts from faults that bite.
    let wanted: [(&'static str, Wanted); 6] = [
        ("slice", |k| matches!(k, ToxicKind::Slice { .. })),
        ("latency", |k| matches!(k, ToxicKind::Latency { .. })),
        ("bandwidth", |k| matches!(k, ToxicKind::Bandwidth { .. })),
        ("slow-close", |k| matches!(k, ToxicKind::SlowClose { .. })),
        (
            "limit",
            |k| matches!(k, ToxicKind::Limit { bytes } if *bytes < 8),
        ),
        (
            "reset",
            |k| matches!(k, ToxicKind::Reset(ResetAfter::Bytes(bytes)) if *bytes < 8),
        ),
    ];
    let mut chains = vec![("no-toxics", Vec::new())];
    for (name, is_wanted) in wanted {
        // The first generated input, shortest first, that decodes to exactly one such
        // toxic, acting both ways on every connection. (A short input runs out early and
        // `arbitrary` reads zeros after its end: that is what makes the small limits.)
        let found = (4..=24usize)
            .flat_map(|len| (0..20_000u64).map(move |seed| crate::generator::generate(len, seed)))
            .find(|bytes| {
                ToxicChain::arbitrary(&mut Unstructured::new(bytes)).is_ok_and(|chain| {
                    matches!(chain.toxics(), [t] if is_wanted(&t.kind)
                        && t.direction == Direction::Both
                        && t.toxicity == TOXICITY_ALWAYS)
                })
            })
            .expect("the generator makes every kind of toxic");
        chains.push((name, found));
    }
    chains
}
