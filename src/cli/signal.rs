//! Hearing SIGINT or SIGTERM (Ctrl-C on Windows): the normal way to stop `serve`.
//!
//! The handlers are installed by [`StopSignal::install`], before the server announces its
//! address, so a signal sent right after `listening on` is heard and not fatal.

use std::io;

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

    /// Completes when the process is asked to stop.
    pub(crate) async fn recv(mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
        #[cfg(windows)]
        let _ = self.ctrl_c.recv().await;
    }
}

/// Runs `future` unless SIGINT or SIGTERM comes first (`None` then). Commands that give a
/// verdict use it: an interrupted run cleans up as its values drop and exits 130.
pub(crate) async fn unless_interrupted<T>(
    future: impl std::future::Future<Output = T>,
) -> Option<T> {
    let stop = StopSignal::install().ok();
    let interrupted = async {
        match stop {
            Some(stop) => stop.recv().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        output = future => Some(output),
        () = interrupted => None,
    }
}
