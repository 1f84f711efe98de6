//! The integration tests: one binary with a module per area (the layout of ripgrep and cargo),
//! so that cargo builds and links one test executable instead of one per file. `common` holds
//! the fixtures the modules share. Run one area with `cargo test --test it roundtrip::`.
//!
//! Every module runs in the same process, next to the others' tests: a test here must not change
//! process-wide state (environment variables, rlimits, signal handlers, the working directory).
//! `tests/detection.rs` stays a binary of its own: see the comment at its top.

mod common;

mod abort;
mod artifact_cli;
mod bench_cli;
mod broken_proxy;
mod check_api;
mod check_cli;
mod check_jobs;
mod check_junit;
mod check_through;
mod cli;
mod client;
mod drain;
mod generate_cli;
mod interop;
mod leaks;
mod own_server;
mod play_path;
mod properties;
mod proxy;
mod proxy_cli;
mod readme;
mod regressions;
mod roundtrip;
mod scenario_cli;
mod server;
mod shrink_budget;
