//! # echo-harness
//!
//! A TCP echo server and client, and a harness that proves every byte survives the trip through
//! real loopback sockets, however the stream is cut.
//!
//! It started from the classic Winsock tutorial — bind `127.0.0.1:8080`, accept, `recv`/`send`
//! loop — and fixes the bugs everyone writes there: one client only, one `recv` assumed to return
//! the whole echo, `send`'s return value ignored.
//!
//! ```
//! use echo_harness::{EchoClient, EchoServer, ServerConfig};
//! use std::time::Duration;
//!
//! let server = EchoServer::spawn(ServerConfig::ephemeral())?;
//! let mut client = EchoClient::connect(server.local_addr(), Duration::from_secs(2))?;
//! client.echo(b"every byte, in order")?;
//! client.finish()?; // half-close: the server echoes what it owes, then EOF
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Layout
//! - [`server`]: the echo server — configuration, accept loop, per-connection echo with
//!   backpressure and a buffer pool, limits, graceful shutdown, counters.
//! - [`client`]: the blocking echo client that reads until the whole echo is back.
//! - [`escape`]: how bytes are shown to people (logs, reports, scenario text).
//! - [`exit_code`]: the process exit codes shared by every command.
//! - `cli` (feature `cli`): the command-line tool; `main.rs` only calls it.
//!
//! # Features
//! - `cli` (default): the `echo-harness` binary and its crates (clap, anyhow,
//!   tracing-subscriber, rlimit). Take the library with `default-features = false` to leave them
//!   out.

#![warn(missing_docs)]

pub mod case;
pub mod check;
pub mod client;
pub mod escape;
pub mod exit_code;
pub mod generator;
pub mod hexdump;
pub mod roundtrip;
pub mod scenario;
pub mod server;
#[cfg(feature = "spawn")]
pub mod spawn;
pub mod strategy;

#[cfg(feature = "cli")]
pub mod cli;

pub use check::{Check, Verdict};
pub use client::{ClientError, EchoClient};
pub use escape::escape_bytes;
pub use exit_code::ExitCode;
pub use roundtrip::{Divergence, DivergenceKind};
pub use server::{
    bind_listener, ConnectionEnd, ConnectionRecord, EchoServer, ServerConfig, ServerError,
    ServerHandle, ServerStats, StatsSnapshot,
};

/// The README's Rust examples, run as doctests so the README cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
