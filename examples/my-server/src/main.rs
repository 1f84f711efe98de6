//! The `my-server` binary: `my-server [ADDR]` serves [`my_server::run`] on ADDR (default
//! `127.0.0.1:7000`; port 0 picks a free one) until Ctrl-C.
//!
//! Its first line on stdout is `listening on ADDR` with the address actually bound, which is
//! what `echo-harness check --spawn 'target/debug/my-server {addr}'` waits for.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use tokio::net::TcpListener;

const DEFAULT_ADDR: &str = "127.0.0.1:7000";
const USAGE: &str = "usage: my-server [ADDR]   (default 127.0.0.1:7000; port 0 picks a free one)";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let text = match args.as_slice() {
        [] => DEFAULT_ADDR,
        [flag] if flag == "-h" || flag == "--help" => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        [addr] => addr.as_str(),
        _ => {
            eprintln!("my-server: one address at most\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let addr: SocketAddr = match text.parse() {
        Ok(addr) => addr,
        Err(e) => {
            eprintln!("my-server: `{text}` is not an address such as {DEFAULT_ADDR}: {e}");
            return ExitCode::from(2);
        }
    };
    let listener = match TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("my-server: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        Ok(bound) => println!("listening on {bound}"),
        Err(e) => {
            eprintln!("my-server: cannot read the bound address: {e}");
            return ExitCode::FAILURE;
        }
    }
    // Whoever started us may be waiting for that line on a pipe.
    let _ = std::io::stdout().flush();
    my_server::run(listener, ctrl_c()).await;
    ExitCode::SUCCESS
}

/// Resolves on Ctrl-C. If the signal cannot be watched, never: better a server that must be
/// killed than one that stops at once.
async fn ctrl_c() {
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("my-server: cannot watch for Ctrl-C ({e}); stop me with a kill");
        std::future::pending::<()>().await;
    }
}
