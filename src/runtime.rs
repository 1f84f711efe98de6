//! Tokio runtimes, built in one place: for the server's and the proxy's background threads,
//! for each command of the CLI, for the fuzz harness, and for [`block_on`], which runs an async
//! play from synchronous code.

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

/// Runs the future that `make` returns to completion from synchronous code, on a
/// current-thread runtime of its own.
///
/// Inside a runtime (a `#[tokio::test]`, say) a nested `block_on` would panic, so there the
/// future is made and run on a scoped thread instead. Either way the caller's runtime is not
/// touched, and the future itself need not be `Send`.
pub fn block_on<M, F>(make: M) -> F::Output
where
    M: FnOnce() -> F + Send,
    F: Future,
    F::Output: Send,
{
    let run = move || {
        build(Some(1))
            .expect("a current-thread runtime can always be built")
            .block_on(make())
    };
    if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|scope| match scope.spawn(run).join() {
            Ok(output) => output,
            Err(panic) => std::panic::resume_unwind(panic),
        })
    } else {
        run()
    }
}
