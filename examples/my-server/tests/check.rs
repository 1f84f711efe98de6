//! The second way in: a `Check` campaign, what `echo-harness check` runs, from a test. The seed
//! makes the case sequence the same on every run; a failure is shrunk, and `assert_passed`
//! panics with the whole report: the divergence, the seed, and the minimal case as scenario
//! text.

use echo_harness::background::BackgroundServer;
use echo_harness::Check;

#[test]
fn my_server_passes_a_seeded_check_campaign() {
    let server = BackgroundServer::tokio(my_server::run).expect("the server starts");
    Check::new(server.local_addr())
        .seed(7)
        .cases(50)
        .run()
        .assert_passed();
}
