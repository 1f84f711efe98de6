//! What the player checks because a client reset: after a script with a `reset`, one new
//! connection must be served a short echo ([`check_served`]); and a connection cut after
//! another's reset says so ([`blame_reset`]). A server that dies, stops accepting, or cuts
//! its other clients when one client resets is caught by name, not as a puzzle of refused
//! connects and early EOFs.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::divergence::{Divergence, DivergenceKind};
use super::lane::{Conn, LaneFailure, Resets};
use super::{open, PlayOptions};
use crate::case::WritePlan;
use crate::script::Script;

/// The bytes the new connection sends, and must get back, after a reset.
const PROBE: &[u8] = b"still serving after a reset?\n";

/// After a play in which a connection was reset: opens one more connection (the next in a
/// proxy's accept order) and checks that [`PROBE`] comes back, within the play's timeouts. A
/// failure is [`DivergenceKind::NotServedAfterReset`] on the connection that was reset.
pub(super) async fn check_served(
    script: &Script,
    all: &[Conn<'_>],
    resets: &Resets,
    addr: SocketAddr,
    options: &PlayOptions,
) -> Result<(), Divergence> {
    let Some(first) = resets.first() else {
        return Ok(());
    };
    let Err(cause) = echo_once(script.connections.len(), addr, options).await else {
        return Ok(());
    };
    let kind = DivergenceKind::NotServedAfterReset {
        reset: first.name.clone(),
        at: first.received,
        cause: Box::new(cause),
    };
    let conn = all.iter().find(|c| c.name == first.name);
    Err(Divergence::new(
        &first.name,
        kind,
        conn.map_or(0, Conn::written),
        first.received,
        script.sent_by(&first.name),
    ))
}

/// A connection cut (early EOF, reset) after another connection of the play was reset is
/// [`DivergenceKind::CutAfterReset`]; any other failure stays what it is.
pub(super) fn blame_reset(failure: &mut LaneFailure, name: &str, resets: &Resets) {
    let cut = matches!(
        failure.kind,
        DivergenceKind::EarlyEof | DivergenceKind::Reset { .. }
    );
    if let Some(reset) = resets.before(name, failure.when).filter(|_| cut) {
        let cause = std::mem::replace(&mut failure.kind, DivergenceKind::EarlyEof);
        failure.kind = DivergenceKind::CutAfterReset {
            reset: reset.name,
            at: reset.received,
            cause: Box::new(cause),
        };
    }
}

/// One short echo on a new connection, the `index`th of the play.
async fn echo_once(
    index: usize,
    addr: SocketAddr,
    options: &PlayOptions,
) -> Result<(), DivergenceKind> {
    let mut stream = open::open(&WritePlan::default(), index, addr, options).await?;
    let timeout = options.timeout;
    let stalled = |_| DivergenceKind::Stalled { waited: timeout };
    tokio::time::timeout(timeout, stream.write_all(PROBE))
        .await
        .map_err(stalled)?
        .map_err(|e| DivergenceKind::from_io(&e, "writing"))?;
    let mut echo = [0u8; PROBE.len()];
    let mut got = 0;
    while got < echo.len() {
        let n = tokio::time::timeout(timeout, stream.read(&mut echo[got..]))
            .await
            .map_err(stalled)?
            .map_err(|e| DivergenceKind::from_io(&e, "reading"))?;
        if n == 0 {
            return Err(DivergenceKind::EarlyEof);
        }
        got += n;
    }
    if echo != PROBE {
        return Err(DivergenceKind::Io {
            kind: std::io::ErrorKind::InvalidData,
            message: format!(
                "sent \"{}\", got \"{}\" back",
                crate::escape::escape_bytes(PROBE),
                crate::escape::escape_bytes(&echo)
            ),
        });
    }
    Ok(())
}
