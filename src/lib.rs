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
//! The modules fall in four layers, and every arrow points down: the network pieces know
//! nothing of testing, and the data knows nothing of sockets.
//!
//! **Testing** — plays bytes and judges the echo:
//! - [`roundtrip`]: the one player: plays a [`Script`] over real sockets, lanes and writers as
//!   futures of one task, and reports a [`Divergence`] naming the step; through a proxy
//!   ([`ProxyInFront`](proxy::ProxyInFront)) it opens connections in accept order. Also
//!   [`Session`](roundtrip::Session), the fuzz targets' blocking connection kept across inputs.
//! - [`check`]: the seeded campaign with shrinking, [`Check`] and its [`Verdict`] (which saves
//!   its minimal case); and [`play_case`](check::play_case), one case for a user's own
//!   `proptest!`, with the [`PlayOptions`] of the player.
//! - [`leaks`]: whether the target let go after a case — every connection closed on its side
//!   too (the case's own four-tuples, asked of the kernel), and a spawned process group's
//!   descriptors and threads back to their level, lasting growth judged over several cases.
//! - [`fuzzing`]: the bodies of the fuzz targets under `fuzz/`, their decoders and seeds, and
//!   the replay of their crash files (`reproduce`, `artifact_to_scenario`).
//! - [`strategy`]: proptest strategies for cases (the `arbitrary` impls live in `case`).
//! - [`bench`](mod@bench): the load generator of `echo-harness bench` — request/response,
//!   streams, held connections — that verifies every byte it gets back.
//!
//! **Text** — what people read and write:
//! - [`scenario`]: scenario text, the one language of saved tests: parser (`line:column`
//!   errors), printer, [`ScenarioFile`], [`play_file`](scenario::play_file), and
//!   [`play_path`](scenario::play_path), a file or a regression folder played with one report.
//! - [`diagnostic`]: the one spanned error type of both parsers ([`ParseError`] and
//!   [`ChainError`] are it with their own kind enum) and its renderer (line:column, a caret).
//! - `units`: the one grammar of sizes (`64KiB`, `4MB`) and durations (`250us`, `1m`), read
//!   the same in flags, scenario files and toxic chains.
//! - [`hexdump`], [`escape`]: how bytes are shown to people (reports, logs, scenario text).
//!
//! **Network** — servers, clients and processes, with no knowledge of tests:
//! - [`server`]: the echo server — configuration, per-connection echo (portable loop and
//!   Linux fast path) with backpressure and a buffer pool, limits, graceful shutdown, counters.
//! - [`proxy`]: the fault-injection proxy — [`ToxicChain`] (the one grammar of toxic chains,
//!   its parser, printer and generators), the seeded per-connection pumps, [`Proxy`] with its
//!   accept order and restart, [`ProxyStats`], and [`Through`](proxy::Through), a chain with
//!   a seed.
//! - [`client`]: the blocking echo client that reads until the whole echo is back.
//! - [`background`]: your own server (async on tokio, or blocking) on a thread of its own for
//!   a test or a fuzzing process: [`BackgroundServer`](background::BackgroundServer), address
//!   out, stopped on drop.
//! - `listener`: what the server and the proxy share — binding, the one accept loop with its
//!   back-off and drain, and serving on a thread of its own ([`EchoServer::spawn`],
//!   [`Proxy::spawn`]).
//! - `spawn` (feature `spawn`): a server under test as a child process group.
//! - `runtime`: the one place tokio runtimes are built, and `block_on` for blocking callers,
//!   which refuses inside a current-thread runtime ([`WouldBlockRuntime`](check::WouldBlockRuntime)).
//! - `sock_diag`: asks the kernel about one TCP socket by its four-tuple — state and queues,
//!   by netlink sock_diag or /proc/net/tcp — and how much of our own stream was acknowledged.
//! - `sync`: the one poison-tolerant `lock`, and the bounded ring of closed-connection records.
//!
//! **Data** — plain values, no sockets, no I/O:
//! - [`case`]: a generated test case — payloads, write and read plans, conversations, a
//!   connection held open for another, the hard limits and validation — and [`CaseBounds`],
//!   which drives both generators.
//! - [`script`]: the one step model — connections and their lanes of steps — that every
//!   scenario file parses into and every case converts into ([`Script::from_case`]).
//! - [`generator`]: the crate's own seekable payload generator, frozen so saved cases keep
//!   their meaning.
//! - [`exit_code`]: the process exit codes shared by every command.
//!
//! `cli` (feature `cli`) is the command-line tool on top of all of it; `main.rs` only calls it.
//!
//! # Features
//! - `cli` (default): the `echo-harness` binary and its crates (clap, clap_complete,
//!   clap_mangen, anyhow, tracing-subscriber, rlimit, serde_json, indicatif). Take the library
//!   with `default-features = false` to leave them out.
//! - `spawn` (default, through `cli`): the `spawn` module, with shell-words and regex, and
//!   [`Harness::spawn`](fuzzing::Harness::spawn).
//! - `libfuzzer`: `From<InputVerdict> for libfuzzer_sys::Corpus`, for a fuzz target of your
//!   own server (`H.roundtrip(data).into()`).

#![warn(missing_docs)]

pub mod background;
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
pub mod leaks;
pub(crate) mod listener;
pub mod proxy;
pub mod roundtrip;
pub(crate) mod runtime;
pub mod scenario;
pub mod script;
pub mod server;
pub(crate) mod sock_diag;
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
pub use roundtrip::{Divergence, DivergenceKind, PlayOptions};
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
