//! Whether the server under test is alive ([`Liveness`]), and blaming a divergence on its death:
//! what the socket said matters less than a dead process.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Check;
use crate::roundtrip::{Divergence, DivergenceKind};

/// Tells whether the server under test is still alive: `Some(status)` once it has died.
pub type Liveness = Arc<dyn Fn() -> Option<String> + Send + Sync>;

/// How long a refused connection waits for a server process that may be on its way out.
const DYING_GRACE: Duration = Duration::from_millis(500);
/// How often the liveness probe is asked meanwhile.
const DYING_POLL: Duration = Duration::from_millis(5);

impl Check {
    /// This campaign's [`blame_dying_server`], with its own liveness probe.
    pub(super) async fn blame_dead_server(&self, divergence: Divergence) -> Divergence {
        blame_dying_server(self.liveness.as_ref(), divergence).await
    }
}

/// [`blame_dead_server`], for a server that may be on its way out. A refused connection is what
/// a server that has closed its listener gives before the process has been reaped: with
/// `--jobs`, the next case can be refused within a millisecond of the exit, and a `run` of a
/// file right after it as well. So a refusal waits up to [`DYING_GRACE`] for the process to be
/// seen dead; any other divergence is judged by the probe at once.
pub(crate) async fn blame_dying_server(
    liveness: Option<&Liveness>,
    divergence: Divergence,
) -> Divergence {
    if let (Some(alive), DivergenceKind::Refused) = (liveness, &divergence.kind) {
        let deadline = Instant::now() + DYING_GRACE;
        while alive().is_none() && Instant::now() < deadline {
            tokio::time::sleep(DYING_POLL).await;
        }
    }
    blame_dead_server(liveness, divergence)
}

/// A divergence seen while the server process is dead is that death, whatever the socket said.
pub fn blame_dead_server(liveness: Option<&Liveness>, mut divergence: Divergence) -> Divergence {
    if let Some(status) = liveness.and_then(|alive| alive()) {
        divergence.kind = DivergenceKind::ServerDied { status };
        divergence.confirmed = true;
    }
    divergence
}
