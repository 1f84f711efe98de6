//! The reference server of `scripts/bench.sh`: the minimal multi-threaded tokio echo server
//! that issue 7 measures ours against — an accept loop, one task per connection, a 64 KiB
//! read/`write_all` loop, and a shutdown of the write side after EOF. Nothing else: no limits,
//! no timeouts, no counters, so it is the floor any real server pays for its promises.
//!
//! ```text
//! cargo run --release --example tokio_reference_echo -- --listen 127.0.0.1:0
//! ```
//!
//! It prints `listening on ADDR` (the real address) once it accepts connections.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let listen = match (args.next().as_deref(), args.next()) {
        (None, _) => "127.0.0.1:8080".to_string(),
        (Some("--listen"), Some(addr)) => addr,
        _ => {
            eprintln!("usage: tokio_reference_echo [--listen ADDR]");
            std::process::exit(2);
        }
    };
    let listener = TcpListener::bind(&listen).await?;
    println!("listening on {}", listener.local_addr()?);
    loop {
        let (mut socket, _) = listener.accept().await?;
        tokio::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match socket.read(&mut buf).await {
                    Ok(0) => break,
                    Ok(n) => {
                        if socket.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                    Err(_) => return,
                }
            }
            let _ = socket.shutdown().await;
        });
    }
}
