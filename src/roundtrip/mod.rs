//! The round-trip engine: plays a [`Case`](crate::case::Case) against an address over real sockets and returns
//! either measurements or a [`Divergence`].
//!
//! Every connection of a case is opened first, in order, and held open together; then all of
//! them play at once, each with a writer and a reader running concurrently in the same task (no
//! thread or task is spawned per case, which keeps fuzzing fast). The writer cuts what it sends
//! by the case's [`WritePlan`](crate::case::WritePlan), the reader reads by its
//! [`ReadPlan`](crate::case::ReadPlan), and the reader compares every byte incrementally against
//! the payload (a generated payload is never materialised).
//!
//! The timeout is a **no-progress** timeout: a connection fails only when no byte moved in
//! either direction on it for that long. Pauses the plan asks for do not count. A failure whose
//! only evidence is time is played again at four times the timeout ([`play_confirmed`]).

mod divergence;
mod play;
pub(crate) mod wire;

pub use divergence::{Divergence, DivergenceKind, MismatchEvidence};
pub use play::{play, play_confirmed, ConnectionOutcome, Outcome, PlayOptions, ProxyInFront};

use std::future::Future;

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
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
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

mod session;
pub use session::{RoundsOutcome, Session};
