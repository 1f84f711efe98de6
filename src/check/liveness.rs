//! Whether the server under test is alive ([`Liveness`]), and blaming a divergence on its death:
//! what the socket said matters less than a dead process.

use std::sync::Arc;

use super::Check;
use crate::roundtrip::{Divergence, DivergenceKind};

/// Tells whether the server under test is still alive: `Some(status)` once it has died.
pub type Liveness = Arc<dyn Fn() -> Option<String> + Send + Sync>;

impl Check {
    /// This campaign's [`blame_dead_server`], with its own liveness probe.
    pub(super) fn blame_dead_server(&self, divergence: Divergence) -> Divergence {
        blame_dead_server(self.liveness.as_ref(), divergence)
    }
}

/// A divergence seen while the server process is dead is that death, whatever the socket said.
pub fn blame_dead_server(liveness: Option<&Liveness>, mut divergence: Divergence) -> Divergence {
    if let Some(status) = liveness.and_then(|alive| alive()) {
        divergence.kind = DivergenceKind::ServerDied { status };
        divergence.confirmed = true;
    }
    divergence
}
