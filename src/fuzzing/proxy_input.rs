//! How `proxy_roundtrip` reads an input — a length byte, the bytes of a [`ToxicChain`], then a
//! case — and the way back ([`encode_proxy_input`]); with the bounds of its cases
//! ([`proxy_bounds`]) and the scaling of the decoded chain's delays.

use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};

use super::{encode_case, lifecycle_bounds, MAX_INPUT_LEN};
use crate::case::{Case, CaseBounds};
use crate::proxy::Through;
use crate::proxy::{DurationRange, Toxic, ToxicChain, ToxicKind};

/// The bounds of `proxy_roundtrip`'s cases: `roundtrip_lifecycle`'s, with at most two
/// connections (the proxy doubles every connection's sockets and tasks) and payloads of at most
/// 8 KiB (a `slice` toxic sleeps between slices, at least a millisecond each on tokio's timer).
pub fn proxy_bounds() -> CaseBounds {
    lifecycle_bounds()
        .max_connections(2)
        .max_payload_len(8 * 1024)
}

/// How `proxy_roundtrip` reads an input: the first byte is the length of the chain's bytes,
/// which follow it (decoded by [`ToxicChain`]'s `arbitrary`), and the rest is the case. The
/// proxy's seed is 0: the input decides everything, so a replay meets the same faults.
pub(super) fn proxy_input(data: &[u8]) -> Option<(Case, Through)> {
    let (&len, rest) = data.split_first()?;
    if data.len() > MAX_INPUT_LEN {
        return None;
    }
    let (chain_bytes, case_bytes) = rest.split_at(usize::from(len).min(rest.len()));
    let chain = ToxicChain::arbitrary(&mut Unstructured::new(chain_bytes)).ok()?;
    // A blackhole keeps its connection open by design (it never passes the FIN on, and the
    // proxy cannot tell a client's close from its half-close), and the harness has no way to
    // close it: every such input would leak a connection. It is left out of the chain.
    // Delays are scaled by PROXY_DELAY_SCALE, the way plans' pauses are, in the decoded
    // chain itself: a saved artifact waits what the fuzzer waited.
    let kept = chain
        .toxics()
        .iter()
        .filter(|t| !matches!(t.kind, ToxicKind::Blackhole { .. }))
        .map(|t| Toxic {
            kind: scaled_delays(t.kind),
            ..*t
        })
        .collect();
    let chain = ToxicChain::new(kept)?;
    let case = Case::arbitrary_with(&mut Unstructured::new(case_bytes), &proxy_bounds()).ok()?;
    Some((case, Through { seed: 0, chain }))
}

/// How much of a decoded toxic's delays `proxy_roundtrip` keeps: a slice toxic waits after
/// every slice, and at full length an 8 KiB case in small slices would wait for a tenth of a
/// second.
const PROXY_DELAY_SCALE: u32 = 100;

/// `kind` with its delays (slice delays, latency and jitter, slow-close) divided by
/// [`PROXY_DELAY_SCALE`].
fn scaled_delays(kind: ToxicKind) -> ToxicKind {
    let scale = |d: Duration| d / PROXY_DELAY_SCALE;
    match kind {
        ToxicKind::Slice { size, delay } => ToxicKind::Slice {
            size,
            delay: DurationRange {
                min: scale(delay.min),
                max: scale(delay.max),
            },
        },
        ToxicKind::Latency { latency, jitter } => ToxicKind::Latency {
            latency: scale(latency),
            jitter: scale(jitter),
        },
        ToxicKind::SlowClose { delay } => ToxicKind::SlowClose {
            delay: scale(delay),
        },
        other => other,
    }
}

/// The bytes `proxy_roundtrip` decodes into `chain_bytes`' chain and `case`.
pub fn encode_proxy_input(chain_bytes: &[u8], case: &Case) -> Vec<u8> {
    let len = u8::try_from(chain_bytes.len()).expect("chain bytes fit in one length byte");
    let mut out = vec![len];
    out.extend_from_slice(chain_bytes);
    out.extend_from_slice(&encode_case(case, &proxy_bounds()));
    out
}

#[cfg(test)]
mod tests {
    /// `proxy_roundtrip` reads its chain from the front of the input; a destructive chain may
    /// fail the case but not the target, and its artifact becomes a scenario with the chain in
    /// a `through` line, which `run` plays through a proxy again.
    #[cfg(not(feature = "fault-injection"))]
    #[test]
    fn proxy_roundtrip_decodes_its_chain_and_tolerates_destruction() {
        use super::*;
        use crate::fuzzing::{
            artifact_to_scenario, proxy_roundtrip, seeds, FuzzTarget, InputVerdict,
        };
        use crate::scenario;

        let chains = seeds::proxy_chains();
        let (_, case) = seeds::lifecycle_cases().swap_remove(0);
        for (name, chain_bytes) in &chains {
            let input = encode_proxy_input(chain_bytes, &case);
            let (decoded, through) = proxy_input(&input).expect(name);
            assert_eq!(decoded, case, "{name}");
            let kinds: Vec<&str> = through
                .chain
                .toxics()
                .iter()
                .map(|t| t.kind.name())
                .collect();
            match *name {
                "no-toxics" => assert!(kinds.is_empty()),
                kind => assert_eq!(kinds, [kind]),
            }
            assert_eq!(proxy_roundtrip(&input), InputVerdict::Passed, "{name}");
            let file = artifact_to_scenario(FuzzTarget::ProxyRoundtrip, &input).unwrap();
            assert_eq!(file.through.as_ref(), Some(&through));
            let reparsed = scenario::parse(&scenario::print(&file)).unwrap();
            assert_eq!(reparsed, file, "{name}");
        }
    }
}
