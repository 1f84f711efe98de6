//! [`play_case`]: one case played against an address, blocking, for a user's own `proptest!`
//! block rather than a whole campaign.

use std::net::SocketAddr;

use crate::case::Case;
use crate::roundtrip::{self, Divergence, Outcome, PlayOptions};

/// Plays one case against `addr` with the default options, blocking: the entry point for a
/// user's own `proptest!` block.
///
/// ```
/// use echo_harness::{case::CaseBounds, check::play_case, strategy::case_strategy};
/// use echo_harness::{EchoServer, ServerConfig};
/// use proptest::prelude::*;
///
/// let server = EchoServer::spawn(ServerConfig::ephemeral()).unwrap(); // your server here
/// let addr = server.local_addr();
/// let bounds = CaseBounds::default().max_payload_len(4096).max_connections(2);
/// proptest!(ProptestConfig::with_cases(8), |(case in case_strategy(&bounds))| {
///     play_case(&case, addr).map_err(|d| TestCaseError::fail(d.to_string()))?;
/// });
/// ```
pub fn play_case(case: &Case, addr: SocketAddr) -> Result<Outcome, Divergence> {
    let options = PlayOptions::default();
    roundtrip::block_on(|| async move { roundtrip::play_confirmed(case, addr, &options).await })
}
