//! The first way in: a property test. proptest draws cases from echo-harness's strategy —
//! payloads, how the client cuts its writes and reads, pauses, several connections, half-close
//! or close — and `play_case` plays each over real loopback sockets against the server. A
//! failure is shrunk to a minimal case, printed as scenario text ready for `tests/regressions/`.

use echo_harness::background::BackgroundServer;
use echo_harness::case::CaseBounds;
use echo_harness::check::{play_case, proptest_config};
use echo_harness::strategy::case_strategy;
use proptest::prelude::*;

#[test]
fn my_server_echoes_every_generated_case() {
    let server = BackgroundServer::tokio(my_server::run).expect("the server starts");
    let addr = server.local_addr();
    // Payloads up to 64 KiB keep the run to a few seconds; `CaseBounds::default()` goes to 4 MiB.
    let bounds = CaseBounds::default().max_payload_len(64 * 1024);
    // `proptest_config` bounds the time shrinking may take; a divergence fails the case with
    // its report through `?`.
    proptest!(proptest_config(64), |(case in case_strategy(&bounds))| {
        play_case(&case, addr)?;
    });
}
