//! Playing a whole scenario file: its script, through the proxy of its `through` line when it
//! has one, with the one confirmation rule, and a failing step named with its line.

use std::net::SocketAddr;

use super::ScenarioFile;
use crate::proxy::ProxyError;
use crate::roundtrip::{play_script_confirmed, Divergence, Outcome, PlayOptions};

/// Plays `file` against `addr`, confirming a failure whose only evidence is time, through an
/// in-process proxy built from its `through` line when it has one (started for this play,
/// stopped after it). `Err` only when that proxy cannot start. A failing step carries its line
/// in the file ([`crate::roundtrip::FailedStep::line`]).
pub async fn play_file(
    file: &ScenarioFile,
    addr: SocketAddr,
    options: &PlayOptions,
) -> Result<Result<Outcome, Divergence>, ProxyError> {
    let mut options = options.clone();
    let mut addr = addr;
    if let Some(through) = &file.through {
        let in_front = through.start(addr)?;
        addr = in_front.proxy.local_addr();
        options.through = Some(in_front);
    }
    if file.lockstep && options.lockstep.is_none() {
        // The built-in server's records are keyed by the client's address, which a proxy in
        // front hides: through one, the kernel is asked about the proxy's socket instead.
        let own = options
            .server_stats
            .clone()
            .filter(|_| options.through.is_none());
        options.lockstep = Some(crate::roundtrip::Lockstep::preferring(own));
    }
    let mut result = play_script_confirmed(&file.script, addr, &options).await;
    if let Err(divergence) = &mut result {
        if let Some(step) = &mut divergence.step {
            step.line = file.lines.line(step.lane, step.index);
        }
    }
    Ok(result)
}
