//! Hearing SIGINT or SIGTERM (Ctrl-C on Windows): the normal way to stop `serve` and `proxy`,
//! which both run through [`serve_until_stopped`]. The first signal starts the drain (the
//! listener closes, open connections finish within `--grace`); a second one stops at once.
//! Either way the command exits 0: both were asked for.
//!
//! The handlers are installed by [`StopSignal::install`], before the server announces its
//! address, so a signal sent right after `listening on` is heard and not fatal.

use std::io;
use std::time::Duration;

use anyhow::Context as _;

use super::{print_line, Failure};
use crate::listener::background::StopFuture;

/// Installed signal handlers; [`StopSignal::recv`] completes when one fires.
pub(crate) struct StopSignal {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(windows)]
    ctrl_c: tokio::signal::windows::CtrlC,
}

impl StopSignal {
    /// Installs the handlers. Must run inside a runtime.
    pub(crate) fn install() -> io::Result<StopSignal> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(StopSignal {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(windows)]
        {
            Ok(StopSignal {
                ctrl_c: tokio::signal::windows::ctrl_c()?,
            })
        }
    }

    /// Installs the handlers on `runtime`. Commands install them before they print anything
    /// or start a target, so that a signal sent as soon as they speak is heard and not fatal
    /// (fatal, it would leave a spawned server behind).
    pub(crate) fn install_on(runtime: &tokio::runtime::Runtime) -> Result<StopSignal, Failure> {
        let _entered = runtime.enter();
        StopSignal::install()
            .context("cannot install the signal handlers")
            .map_err(Failure::environment)
    }

    /// Completes when the process is asked to stop (again, once it has been).
    pub(crate) async fn recv(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
        #[cfg(windows)]
        let _ = self.ctrl_c.recv().await;
    }
}

/// Serves the bound `listener` on `runtime` with `serve(listener, stop)` until SIGINT or
/// SIGTERM completes `stop` (the drain), and calls `stop_now` on a second signal:
/// registers the listener, installs the signal handlers, and only then prints
/// `listening on ADDR`, so a signal sent right after the announcement is heard. `what` names
/// the service in its errors ("server failed").
pub(crate) fn serve_until_stopped<F, Fut>(
    runtime: tokio::runtime::Runtime,
    listener: std::net::TcpListener,
    what: &str,
    serve: F,
    stop_now: impl FnOnce(),
) -> Result<(), Failure>
where
    F: FnOnce(tokio::net::TcpListener, StopFuture) -> Fut,
    Fut: std::future::Future<Output = io::Result<()>>,
{
    let local_addr = listener
        .local_addr()
        .context("cannot read the bound address")
        .map_err(Failure::environment)?;
    let listener = {
        let _entered = runtime.enter();
        tokio::net::TcpListener::from_std(listener)
            .context("cannot register the listener")
            .map_err(Failure::environment)?
    };
    let mut signals = StopSignal::install_on(&runtime)?;
    print_line(format_args!("listening on {local_addr}"))?;
    let (first_tx, first_rx) = tokio::sync::oneshot::channel::<()>();
    let stop: StopFuture = Box::pin(async move {
        let _ = first_rx.await;
    });
    let signals = async move {
        signals.recv().await;
        let _ = first_tx.send(());
        signals.recv().await;
        say(format_args!("second signal: stopping now"));
        stop_now();
        // `serve` returns now; this branch must not win the race.
        std::future::pending::<()>().await;
    };
    runtime
        .block_on(async {
            tokio::select! {
                served = serve(listener, stop) => served,
                () = signals => unreachable!("the signal future never completes"),
            }
        })
        .with_context(|| format!("{what} failed"))
        .map_err(Failure::environment)?;
    runtime.shutdown_timeout(Duration::from_millis(100));
    Ok(())
}

/// Prints one of the drain's lines (`draining 3 connections ...`) to stderr, where the log goes:
/// the person who pressed Ctrl-C must see them whatever the log level.
pub(crate) fn say(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// Runs `future` unless SIGINT or SIGTERM (heard by `stop`, installed beforehand) comes first
/// (`None` then). Commands that give a verdict use it: an interrupted run cleans up as its
/// values drop and exits 130.
pub(crate) async fn unless_interrupted<T>(
    mut stop: StopSignal,
    future: impl std::future::Future<Output = T>,
) -> Option<T> {
    tokio::select! {
        output = future => Some(output),
        () = stop.recv() => None,
    }
}
