//! Tokio runtimes, built in one place: for the server's and the proxy's background threads,
//! for each command of the CLI, for the fuzz harness, and for [`block_on`] and
//! `try_block_on`, which run an async play from synchronous code — in any runtime but a
//! current-thread one, where they refuse ([`WouldBlockRuntime`]) rather than block the thread
//! a server under test may run on.

use std::future::Future;
use std::io;

/// A runtime with `worker_threads` workers: `None` means one per core, `Some(1)` a
/// current-thread runtime (cheapest for tests and fuzzing).
pub(crate) fn build(worker_threads: Option<usize>) -> io::Result<tokio::runtime::Runtime> {
    match worker_threads {
        Some(1) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        Some(n) => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n.max(1))
            .enable_all()
            .build(),
        None => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
    }
}

/// A blocking call refused to run because it was made inside a current-thread tokio runtime:
/// blocking that runtime's only thread would stop every task on it — a server under test
/// spawned there, say — and the play would report that server as stalled, a false alarm.
///
/// Its message names the call and what to use instead, e.g. `Check::run() was called inside
/// a current-thread tokio runtime: it would block the thread your server runs on. Use
/// `.run_async().await`, or a multi-thread runtime (`#[tokio::test(flavor =
/// "multi_thread")]`)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WouldBlockRuntime {
    /// The blocking call, e.g. `Check::run()`.
    pub call: &'static str,
    /// What to use instead, as the message shows it, e.g. `` `.run_async().await` ``.
    pub instead: &'static str,
}

impl std::fmt::Display for WouldBlockRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} was called inside a current-thread tokio runtime: it would block the thread your \
             server runs on. Use {}, or a multi-thread runtime \
             (`#[tokio::test(flavor = \"multi_thread\")]`)",
            self.call, self.instead
        )
    }
}

impl std::error::Error for WouldBlockRuntime {}

/// Runs the future that `make` returns to completion from synchronous code, on a
/// current-thread runtime of its own, wherever it is called from:
///
/// - outside any runtime, on the calling thread;
/// - inside a multi-thread runtime (on a worker, in its `block_on`, or in `spawn_blocking`),
///   under [`tokio::task::block_in_place`], which hands the worker's other tasks to another
///   thread first, so a server running as a task of that runtime keeps serving (even with
///   `worker_threads = 1`);
/// - inside a current-thread runtime it refuses ([`WouldBlockRuntime`], naming `call` and
///   `instead`): the caller holds that runtime's only thread, and nothing spawned on it could
///   run until the play ended. This is also the answer in `spawn_blocking` of a current-thread
///   runtime, which tokio does not let a caller tell apart.
///
/// The future need not be `Send`.
pub(crate) fn try_block_on<M, F>(
    call: &'static str,
    instead: &'static str,
    make: M,
) -> Result<F::Output, WouldBlockRuntime>
where
    M: FnOnce() -> F,
    F: Future,
{
    let run = move || {
        build(Some(1))
            .expect("a current-thread runtime can always be built")
            .block_on(make())
    };
    match tokio::runtime::Handle::try_current() {
        Err(_) => Ok(run()),
        Ok(handle) => match handle.runtime_flavor() {
            tokio::runtime::RuntimeFlavor::CurrentThread => {
                Err(WouldBlockRuntime { call, instead })
            }
            // block_in_place also leaves the runtime's context, so the nested runtime may
            // block_on.
            _ => Ok(tokio::task::block_in_place(run)),
        },
    }
}

/// Runs the future that `make` returns to completion from synchronous code, on a
/// current-thread runtime of its own: outside any runtime on the calling thread, inside a
/// multi-thread runtime under [`tokio::task::block_in_place`] (so the worker's other tasks,
/// a server under test among them, move on to another thread and keep running).
///
/// # Panics
/// Inside a current-thread runtime (a plain `#[tokio::test]`), with the message of
/// [`WouldBlockRuntime`]: blocking its only thread would stop a server running on it, and the
/// play would blame that server. Await the async call instead, or use a multi-thread runtime.
#[track_caller]
pub fn block_on<M, F>(make: M) -> F::Output
where
    M: FnOnce() -> F,
    F: Future,
{
    try_block_on(
        "roundtrip::block_on()",
        "the async call it wraps, awaited",
        make,
    )
    .unwrap_or_else(|refused| panic!("{refused}"))
}
