//! The server a [`Harness`](super::Harness) fuzzes, kept for the life of the process: the
//! built-in one, yours in process ([`BackgroundServer`]), your proxy in front of a built-in
//! echo server, an address, or a command started once (`ECHO_HARNESS_TARGET`,
//! `ECHO_HARNESS_SPAWN`).
//!
//! What the harness can check beyond the echo depends on what it can see: the built-in server
//! counts and records every connection, so after a `roundtrip_lifecycle` case the harness
//! checks that each was closed cleanly; behind your proxy the built-in server still counts, so
//! the harness checks that the proxy let go of every upstream connection; of any other server
//! it sees only the bytes.

use std::net::SocketAddr;
use std::sync::Arc;

use super::FuzzFailure;
use crate::background::BackgroundServer;
use crate::server::{EchoServer, ServerConfig, ServerHandle, ServerStats};

/// The environment variable naming a running server to fuzz, `HOST:PORT`.
pub const TARGET_ENV: &str = "ECHO_HARNESS_TARGET";

/// The environment variable holding a command that starts the server to fuzz, once per fuzzer
/// process, killed with it; `{addr}`, `{port}` and the readiness rules of `check --spawn`.
pub const SPAWN_ENV: &str = "ECHO_HARNESS_SPAWN";

/// The server under fuzzing, and what of it the harness can see.
pub(super) enum TargetServer {
    BuiltIn(ServerHandle),
    Yours(BackgroundServer),
    /// Your proxy, with the built-in echo server behind it. Fields drop in order: the proxy
    /// goes before its upstream.
    YourProxy {
        proxy: BackgroundServer,
        upstream: ServerHandle,
    },
    Address(SocketAddr),
    #[cfg(feature = "spawn")]
    Spawned(crate::spawn::SpawnedTarget),
}

impl TargetServer {
    pub(super) fn addr(&self) -> SocketAddr {
        match self {
            TargetServer::BuiltIn(server) => server.local_addr(),
            TargetServer::Yours(server) => server.local_addr(),
            TargetServer::YourProxy { proxy, .. } => proxy.local_addr(),
            TargetServer::Address(addr) => *addr,
            #[cfg(feature = "spawn")]
            TargetServer::Spawned(target) => target.addr(),
        }
    }

    /// The counters of the built-in server when it is the target itself: its records are
    /// keyed by this client's own addresses.
    pub(super) fn own_stats(&self) -> Option<Arc<ServerStats>> {
        match self {
            TargetServer::BuiltIn(server) => Some(server.stats()),
            _ => None,
        }
    }

    /// The counters of a built-in server at the end of the path (the target, or the upstream
    /// of your proxy): after a case it must count no open connection.
    pub(super) fn end_stats(&self) -> Option<Arc<ServerStats>> {
        match self {
            TargetServer::BuiltIn(server) => Some(server.stats()),
            TargetServer::YourProxy { upstream, .. } => Some(upstream.stats()),
            _ => None,
        }
    }

    /// What the fuzzer's startup line calls it.
    pub(super) fn describe(&self) -> String {
        match self {
            TargetServer::BuiltIn(_) => format!(
                "in-process echo server on {}, fault injection {}",
                self.addr(),
                if super::FAULT_INJECTION { "ON" } else { "off" }
            ),
            TargetServer::Yours(_) => format!("your server, in process, on {}", self.addr()),
            TargetServer::YourProxy { upstream, .. } => format!(
                "your proxy, in process, on {} in front of the built-in echo server on {}",
                self.addr(),
                upstream.local_addr()
            ),
            TargetServer::Address(addr) => format!("the server at {addr} ({TARGET_ENV})"),
            #[cfg(feature = "spawn")]
            TargetServer::Spawned(target) => format!(
                "`{}`, pid {}, on {} ({SPAWN_ENV})",
                target.argv().join(" "),
                target.pid(),
                target.addr()
            ),
        }
    }
}

/// The built-in server as the fuzz targets run it.
pub(super) fn built_in_server() -> Result<ServerHandle, FuzzFailure> {
    EchoServer::spawn(ServerConfig {
        worker_threads: Some(1),
        // The kept connection idles between inputs and while libFuzzer merges or reduces;
        // the server must never close it for that.
        idle_timeout: None,
        // The health check asks right after each case, so a short history suffices; a short
        // one also keeps a reused client port from matching a stale record.
        closed_history: 16,
        pooled_buffers: 8,
        ..ServerConfig::ephemeral()
    })
    .map_err(|e| FuzzFailure::Start(format!("the built-in echo server: {e}")))
}

/// The target the environment names, if it names one: [`TARGET_ENV`] or [`SPAWN_ENV`] (not
/// both).
pub(super) fn from_env() -> Result<Option<TargetServer>, FuzzFailure> {
    from_values(
        std::env::var(TARGET_ENV).ok(),
        std::env::var(SPAWN_ENV).ok(),
    )
}

/// [`from_env`] on the two variables' values; an empty one counts as unset.
fn from_values(
    target: Option<String>,
    spawn: Option<String>,
) -> Result<Option<TargetServer>, FuzzFailure> {
    let target = target.filter(|v| !v.trim().is_empty());
    let spawn = spawn.filter(|v| !v.trim().is_empty());
    match (target, spawn) {
        (None, None) => Ok(None),
        (Some(_), Some(_)) => Err(FuzzFailure::Start(format!(
            "both {TARGET_ENV} and {SPAWN_ENV} are set; set one"
        ))),
        (Some(addr), None) => addr
            .trim()
            .parse()
            .map(|a| Some(TargetServer::Address(a)))
            .map_err(|e| {
                FuzzFailure::Start(format!(
                    "{TARGET_ENV}={addr:?} is not an address such as 127.0.0.1:7000: {e}"
                ))
            }),
        (None, Some(command)) => spawned(&command).map(Some),
    }
}

#[cfg(feature = "spawn")]
pub(super) fn spawned(command: &str) -> Result<TargetServer, FuzzFailure> {
    crate::spawn::SpawnOptions::new(command)
        .spawn()
        .map(TargetServer::Spawned)
        .map_err(|e| FuzzFailure::Start(format!("{SPAWN_ENV}: {e}")))
}

#[cfg(not(feature = "spawn"))]
pub(super) fn spawned(_command: &str) -> Result<TargetServer, FuzzFailure> {
    Err(FuzzFailure::Start(format!(
        "{SPAWN_ENV} needs echo-harness's feature `spawn` (this build has it off)"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(target: Option<&str>, spawn: Option<&str>) -> String {
        match from_values(target.map(String::from), spawn.map(String::from)) {
            Err(e) => e.to_string(),
            Ok(t) => panic!("no error: {:?}", t.map(|t| t.describe())),
        }
    }

    #[test]
    fn the_environment_names_an_address_or_a_command_or_nothing() {
        assert!(from_values(None, Some(" ".into())).unwrap().is_none());
        let target = from_values(Some("127.0.0.1:7000".into()), None)
            .unwrap()
            .unwrap();
        assert_eq!(target.addr(), "127.0.0.1:7000".parse().unwrap());
        assert!(
            target.describe().contains(TARGET_ENV),
            "{}",
            target.describe()
        );
        let both = error(Some("127.0.0.1:7000"), Some("./server {addr}"));
        assert!(both.contains("set one"), "{both}");
        let bad = error(Some("localhost"), None);
        assert!(bad.contains("ECHO_HARNESS_TARGET=\"localhost\""), "{bad}");
    }

    #[cfg(all(feature = "spawn", unix))]
    #[test]
    fn a_command_that_cannot_start_says_so() {
        let failed = error(None, Some("/nonexistent/server {addr}"));
        assert!(failed.contains(SPAWN_ENV), "{failed}");
        assert!(failed.contains("/nonexistent/server"), "{failed}");
    }
}
