//! The seeded plan of one direction: which toxics of the chain act on it, decided at accept
//! from the proxy's seed, the connection's accept index, the direction and each toxic's
//! position, each toxic with its own generator for what it draws later. The same inputs give
//! the same plan, so [`ToxicChain::acting_on`] can answer without running anything.

use std::time::Duration;

use super::{Flow, ResetAfter, Toxic, ToxicChain, ToxicKind};
use crate::proxy::seed::{toxic_seed, ToxicRng};

/// The toxics acting on one direction of one connection, each with its own generator, in chain
/// order: the outcome of the toxicity decisions at accept.
#[derive(Debug, Clone)]
pub(crate) struct FlowPlan {
    pub(crate) toxics: Vec<(Toxic, ToxicRng)>,
}

/// Decides, for `flow` of connection `index` under `seed`, which toxics of `chain` act.
pub(crate) fn plan(chain: &ToxicChain, seed: u64, index: u64, flow: Flow) -> FlowPlan {
    let toxics = chain
        .toxics()
        .iter()
        .enumerate()
        .filter(|(_, t)| t.direction.covers(flow))
        .filter_map(|(position, toxic)| {
            let mut rng = ToxicRng::new(toxic_seed(seed, index, flow, position));
            let roll = rng.next_u64() % 1_000_000;
            (roll < u64::from(toxic.toxicity)).then_some((*toxic, rng))
        })
        .collect();
    FlowPlan { toxics }
}

impl ToxicChain {
    /// The toxics acting on `flow` of the connection accepted `index`-th (since the last
    /// restart) by a proxy with `seed`: the toxicity decisions that connection gets, without
    /// running anything. The proxy's record of the connection holds the same list.
    pub fn acting_on(&self, seed: u64, index: u64, flow: Flow) -> Vec<Toxic> {
        plan(self, seed, index, flow).toxics()
    }
}

impl FlowPlan {
    pub(crate) fn toxics(&self) -> Vec<Toxic> {
        self.toxics.iter().map(|(t, _)| *t).collect()
    }

    pub(crate) fn reset_after(&self) -> Option<Duration> {
        self.toxics
            .iter()
            .filter_map(|(t, _)| match t.kind {
                ToxicKind::Reset(ResetAfter::Time(d)) => Some(d),
                _ => None,
            })
            .min()
    }
}
