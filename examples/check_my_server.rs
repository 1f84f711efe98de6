//! How another crate tests its own echo server with a `Check` campaign, the first of the two
//! ways in. Run it with `cargo run --example check_my_server [ADDR]`: without an address it
//! starts the built-in server as a stand-in for yours.

use std::time::Duration;

use echo_harness::{Check, EchoServer, ServerConfig};

fn main() {
    let standin;
    let addr = match std::env::args().nth(1) {
        Some(addr) => addr.parse().expect("an address such as 127.0.0.1:7000"),
        None => {
            standin = EchoServer::spawn(ServerConfig::ephemeral()).expect("server starts");
            standin.local_addr()
        }
    };
    let verdict = Check::new(addr)
        .seed(7)
        .cases(50)
        .timeout(Duration::from_secs(2))
        .run();
    // In a test, `verdict.assert_passed()` panics with this report.
    println!("{verdict}");
    // The minimal failing case, as `echo-harness check --save` writes it: copy it under a
    // regression folder and `scenario::play_path` replays it from then on.
    match verdict.save("echo-harness-failures") {
        Ok(Some(path)) => println!("saved: {}", path.display()),
        Ok(None) => {}
        Err(e) => eprintln!("cannot save the failing case: {e}"),
    }
    std::process::exit(if verdict.passed() { 0 } else { 1 });
}
