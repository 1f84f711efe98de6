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
//! - [`generator`]: the crate's own seekable payload generator, frozen so saved cases keep
//!   their meaning.
//! - [`case`]: a generated test case as data — payloads, write and read plans, conversations,
//!   a connection held open for another — and [`CaseBounds`], which drives both generators.
//! - [`strategy`]: proptest strategies for cases (the `arbitrary` impls live in `case`).
//! - [`script`]: the one step model — connections and their lanes of steps — that every
//!   scenario file parses into and every case converts into ([`Script::from_case`]).
//! - [`scenario`]: scenario text, the one language of saved tests: parser (`line:column`
//!   errors), printer, [`ScenarioFile`], and [`play_file`](scenario::play_file), which plays a
//!   whole file (through the proxy of its `through` line, if any).
//! - [`roundtrip`]: the one player: plays a [`Script`] over real sockets, lanes and writers as
//!   futures of one task, and reports a [`Divergence`] naming the step; through a proxy it
//!   opens connections in accept order. Also [`Session`](roundtrip::Session), the fuzz targets'
//!   blocking connection kept across inputs.
//! - [`bench`](mod@bench): the load generator of `echo-harness bench` — request/response, streams, held
//!   connections — that verifies every byte it gets back.
//! - [`check`]: the seeded campaign with shrinking, [`Check`] and its [`Verdict`].
//! - [`fuzzing`]: the bodies of the fuzz targets under `fuzz/`, and the replay of their crash
//!   files (`reproduce`, `artifact_to_scenario`).
//! - [`proxy`]: the fault-injection proxy — [`ToxicChain`] (the one grammar of toxic chains,
//!   its parser, printer and generators), the seeded per-connection pumps with half-close and a
//!   bounded buffer per direction, [`Proxy`] with its accept order and restart, [`ProxyStats`].
//! - `spawn` (feature `spawn`): a server under test as a child process group.
//! - [`hexdump`], [`escape`]: how bytes are shown to people (reports, logs, scenario text).
//! - `diagnostic`: the one renderer of parse errors (line:column and a caret), shared by
//!   [`ParseError`] and [`ChainError`], and the size and duration readers their texts share.
//! - `background`: a listener served on a thread with a runtime of its own, stopped with a
//!   bound — what [`EchoServer::spawn`] and [`Proxy::spawn`] share.
//! - [`exit_code`]: the process exit codes shared by every command.
//! - `cli` (feature `cli`): the command-line tool; `main.rs` only calls it.
//!
//! # Features
//! - `cli` (default): the `echo-harness` binary and its crates (clap, anyhow,
//!   tracing-subscriber, rlimit, serde_json, indicatif). Take the library with
//!   `default-features = false` to leave them out.
//! - `spawn` (default, through `cli`): the `spawn` module, with shell-words and regex.

#![warn(missing_docs)]

pub mod bench;
pub mod case;
pub mod check;
pub mod client;
pub mod diagnostic;
pub mod escape;
pub mod exit_code;
pub mod fuzzing;
pub mod generator;
pub mod hexdump;
pub(crate) mod listener;
pub mod proxy;
pub mod roundtrip;
pub(crate) mod runtime;
pub mod scenario;
pub mod script;
pub mod server;
#[cfg(feature = "spawn")]
pub mod spawn;
pub mod strategy;
pub(crate) mod sync;
pub(crate) mod units;

#[cfg(feature = "cli")]
pub mod cli;

pub use case::{Case, CaseBounds, Payload};
pub use check::{Check, Verdict};
pub use client::{ClientError, EchoClient};
pub use escape::escape_bytes;
pub use exit_code::ExitCode;
pub use proxy::{ChainError, Proxy, ProxyConfig, ProxyError, ProxyHandle, ProxyStats, ToxicChain};
pub use roundtrip::{Divergence, DivergenceKind};
pub use scenario::{ParseError, ScenarioFile};
pub use script::Script;
pub use server::{
    bind_listener, ConnectionEnd, ConnectionRecord, EchoServer, ServerConfig, ServerError,
    ServerHandle, ServerStats, StatsSnapshot,
};

/// The README's Rust examples, run as doctests so the README cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
