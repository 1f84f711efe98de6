//! How another crate tests its own echo server from inside its own proptest, the second way in:
//! the exported strategy draws cases and `play_case` plays each over real sockets. Run it with
//! `cargo run --example proptest_my_server [ADDR]`; without an address it starts the built-in
//! server as a stand-in for yours.

use echo_harness::case::CaseBounds;
use echo_harness::check::{self, play_case};
use echo_harness::strategy::case_strategy;
use echo_harness::{EchoServer, ServerConfig};
use proptest::test_runner::TestRunner;

fn main() {
    let standin;
    let addr = match std::env::args().nth(1) {
        Some(addr) => addr.parse().expect("an address such as 127.0.0.1:7000"),
        None => {
            standin = EchoServer::spawn(ServerConfig::ephemeral()).expect("server starts");
            standin.local_addr()
        }
    };
    // In a test crate this is the body of a `proptest!` block; a runner does the same here.
    // proptest_config bounds shrinking to 30 s (proptest's default has no time limit).
    let bounds = CaseBounds::default().max_payload_len(256 * 1024);
    let mut runner = TestRunner::new(check::proptest_config(32));
    let result = runner.run(&case_strategy(&bounds), |case| {
        play_case(&case, addr)?; // a divergence is proptest's failure, with its whole report
        Ok(())
    });
    match result {
        Ok(()) => println!("32 cases passed against {addr}"),
        Err(e) => {
            // The minimal failing case prints as scenario text, ready to save.
            println!("{e}");
            std::process::exit(1);
        }
    }
}
