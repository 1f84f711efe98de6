//! The third way in: regressions. Every scenario file under `tests/regressions/` is played
//! against the server, and the report names each file that fails, the step and its line. A
//! failure found once — by `check --save`, by a property test (its minimal case prints as
//! scenario text), or by the fuzzer (`echo-harness replay --artifact roundtrip --print CRASH`) —
//! is kept there and played on every run. The language is in echo-harness's
//! `docs/scenarios.md`.

use echo_harness::background::BackgroundServer;
use echo_harness::scenario;

#[test]
fn every_regression_scenario_passes() {
    let server = BackgroundServer::tokio(my_server::run).expect("the server starts");
    let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/regressions");
    scenario::play_path(folder, server.local_addr())
        .expect("the folder holds scenario files")
        .assert_passed();
}
