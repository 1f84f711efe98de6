//! [`play_case`] and [`play_case_with`]: one case played against an address, blocking, for a
//! user's own `proptest!` block rather than a whole campaign; and [`proptest_config`], a
//! proptest configuration whose shrinking ends.
//!
//! `?` turns a [`Divergence`] into proptest's failure with no conversion of ours: proptest
//! converts every `std::error::Error` with `TestCaseError::fail(error.to_string())`, which for
//! a divergence is its whole report.

use std::net::SocketAddr;

use proptest::test_runner::Config;

use super::{shortcut, DEFAULT_SHRINK_TIME};
use crate::case::Case;
use crate::roundtrip::{Divergence, DivergenceKind, Outcome, PlayOptions};
use crate::runtime;

/// Plays one case against `addr` with the default [`PlayOptions`] (a 2 s no-progress
/// timeout), blocking: the entry point for a user's own `proptest!` block. See
/// [`play_case_with`] for the rules, and the [module docs](super) for shrinking.
///
/// ```
/// use echo_harness::{case::CaseBounds, check, strategy::case_strategy};
/// use echo_harness::{EchoServer, ServerConfig};
/// use proptest::prelude::*;
///
/// let server = EchoServer::spawn(ServerConfig::ephemeral()).unwrap(); // your server here
/// let addr = server.local_addr();
/// let bounds = CaseBounds::default().max_payload_len(4096).max_connections(2);
/// proptest!(check::proptest_config(8), |(case in case_strategy(&bounds))| {
///     check::play_case(&case, addr)?; // a Divergence is proptest's failure, with its report
/// });
/// ```
pub fn play_case(case: &Case, addr: SocketAddr) -> Result<Outcome, Divergence> {
    play_blocking("check::play_case()", case, addr, &PlayOptions::default())
}

/// Plays one case against `addr` with `options` (its timeout, say), blocking.
///
/// - A failure whose only evidence is time is played again at four times the timeouts and
///   counts only if it fails again ([`roundtrip::play_confirmed`](crate::roundtrip::play_confirmed)).
///   Once one has been confirmed at `addr`, later plays there — proptest's shrink steps — use
///   a quarter of the timeouts (at least 100 ms) and take a timing-only failure without
///   playing it again; the report says so ("not played again: …", and
///   [`Divergence::confirmed_earlier`]). This memory is process-wide, per address, and lapses
///   a minute after the last failure there.
/// - Shrinking is bounded even in proptest's default configuration: once
///   [`DEFAULT_SHRINK_TIME`] has passed since that confirmation, a case that looks like a
///   shrink step — played on the same thread, no bigger (connections, bytes) than the last
///   case that failed there — passes without being played, with an empty [`Outcome`], and a
///   note on stderr says so. proptest then stops at the smallest case that failed so far.
///   Together these end a default `proptest!` run against a server that stops answering in
///   well under a minute, where paying the confirmation on every step took many minutes.
/// - It blocks as [`Check::run`](super::Check::run) does: outside a runtime, or inside a
///   multi-thread one (the worker's other tasks move to another thread, so a server spawned on
///   that runtime keeps serving). Inside a current-thread runtime it plays nothing and returns
///   a divergence of kind [`DivergenceKind::NotRun`] whose report says why ("… was called
///   inside a current-thread tokio runtime: it would block the thread your server runs on
///   …"): await [`roundtrip::play_confirmed`](crate::roundtrip::play_confirmed) there instead.
///
/// ```
/// use std::time::Duration;
/// use echo_harness::case::{Case, Conversation, Payload};
/// use echo_harness::{check, EchoServer, PlayOptions, ServerConfig};
///
/// let server = EchoServer::spawn(ServerConfig::ephemeral())?;
/// let case = Case::single(Conversation::Stream { payload: Payload::Literal(b"hello".to_vec()) });
/// let options = PlayOptions { timeout: Duration::from_secs(5), ..PlayOptions::default() };
/// let outcome = check::play_case_with(&case, server.local_addr(), &options)?;
/// assert_eq!(outcome.bytes_verified(), 5);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn play_case_with(
    case: &Case,
    addr: SocketAddr,
    options: &PlayOptions,
) -> Result<Outcome, Divergence> {
    play_blocking("check::play_case_with()", case, addr, options)
}

fn play_blocking(
    call: &'static str,
    case: &Case,
    addr: SocketAddr,
    options: &PlayOptions,
) -> Result<Outcome, Divergence> {
    let instead = "`roundtrip::play_confirmed(&case, addr, &options).await`";
    runtime::try_block_on(call, instead, || shortcut::play(case, addr, options)).unwrap_or_else(
        |refused| {
            let first = case.connections.first().map_or("c0", |c| c.name.as_str());
            let reason = refused.to_string();
            Err(Divergence::new(
                first,
                DivergenceKind::NotRun { reason },
                0,
                0,
                case.total_len(),
            ))
        },
    )
}

/// proptest's configuration with `cases` cases and shrinking bounded to
/// [`DEFAULT_SHRINK_TIME`] (`max_shrink_time`), for a `proptest!` block that plays cases
/// over sockets: without a time bound, proptest may shrink for up to four times `cases`
/// iterations (`max_shrink_iters`), each a play that can take a timeout.
///
/// ```
/// let config = echo_harness::check::proptest_config(32);
/// assert_eq!(config.cases, 32);
/// assert_eq!(config.max_shrink_time, 30_000); // milliseconds
/// ```
pub fn proptest_config(cases: u32) -> Config {
    Config {
        cases,
        max_shrink_time: u32::try_from(DEFAULT_SHRINK_TIME.as_millis()).unwrap_or(u32::MAX),
        ..Config::default()
    }
}
