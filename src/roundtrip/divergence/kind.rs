//! [`DivergenceKind`]: the kinds of divergence, each with a stable name, which of them rest on
//! time alone, and the one mapping from I/O errors to them; and [`MismatchEvidence`], the bytes
//! around a mismatch.

use std::net::SocketAddr;
use std::time::Duration;

pub use crate::leaks::ResourceGrowth;

/// The kinds of divergence. [`DivergenceKind::name`] gives each a stable identifier for JSON,
/// saved files and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DivergenceKind {
    /// A byte came back different.
    Mismatch {
        /// Offset of the first differing byte in the connection's stream.
        offset: u64,
        /// The byte that was sent there.
        expected: u8,
        /// The byte that came back.
        actual: u8,
        /// The bytes around the offset, for the hexdumps (boxed: rarely read, and it keeps
        /// `Result<_, Divergence>` small).
        evidence: Box<MismatchEvidence>,
    },
    /// The server closed its side (EOF) before every byte came back: bytes are missing.
    EarlyEof,
    /// More bytes came back than were sent.
    ExtraBytes {
        /// The first of the extra bytes (at most 64).
        bytes: Vec<u8>,
    },
    /// Every byte came back after the half-close, but the server never closed its side.
    NoEof {
        /// How long the client waited for EOF.
        waited: Duration,
    },
    /// No byte moved in either direction for the no-progress timeout.
    Stalled {
        /// The no-progress timeout.
        waited: Duration,
    },
    /// An interactive round's echo did not come back in full (the tutorial's pattern: send one
    /// message, wait for its whole echo).
    RoundUnanswered {
        /// The round, from 0.
        round: usize,
        /// Rounds in the conversation.
        rounds: usize,
        /// Bytes of this round's echo that came back.
        round_received: u64,
        /// Bytes of this round's message.
        round_len: u64,
        /// The no-progress timeout.
        waited: Duration,
    },
    /// The connection was reset.
    Reset {
        /// While the client was `writing` or `reading`.
        during: &'static str,
    },
    /// The connection was refused.
    Refused,
    /// Connecting took longer than the timeout.
    ConnectTimeout {
        /// The connect timeout.
        waited: Duration,
    },
    /// The server process under test died.
    ServerDied {
        /// Its exit status, as text.
        status: String,
    },
    /// Nothing was played: the blocking call was made where it would have blocked the
    /// runtime the server may run on (see [`crate::check::WouldBlockRuntime`]). A mistake in
    /// the test, not in the server.
    NotRun {
        /// Why, and what to do instead.
        reason: String,
    },
    /// Another I/O error.
    Io {
        /// The error's kind.
        kind: std::io::ErrorKind,
        /// Its message.
        message: String,
    },
    /// Every connection of the script played to its end, one of them with a `reset`, and then
    /// a new connection was not served: the server died, stopped accepting, or stopped
    /// answering once a client reset. The divergence names the connection that was reset.
    NotServedAfterReset {
        /// The connection that was reset (the first, when several were).
        reset: String,
        /// Bytes of its echo it had read when it reset.
        at: u64,
        /// What the new connection met: refused, cut, or no echo.
        cause: Box<DivergenceKind>,
    },
    /// A connection was cut (an early EOF or a reset) after another connection of the case
    /// had reset its own: the server may have let one client's reset take down others.
    CutAfterReset {
        /// The connection that was reset before.
        reset: String,
        /// Bytes of its echo it had read when it reset.
        at: u64,
        /// What this connection met.
        cause: Box<DivergenceKind>,
    },
    /// The case closed this connection and the target had not closed its side within the leak
    /// bound: the client's socket still in FIN_WAIT1/2 (the server's in CLOSE_WAIT), a socket
    /// the server still holds.
    NotClosed {
        /// The connection's two sides and their states (boxed: rarely read, and it keeps
        /// `Result<_, Divergence>` small).
        sockets: Box<OpenSockets>,
        /// The leak bound.
        waited: Duration,
    },
    /// The target's process group held more descriptors or threads after its cases than
    /// before, and did not come back to its level within the leak bound: in a campaign, in
    /// each of `cases` cases in a row; in a replay or a shrink step, after that one case.
    Leaked {
        /// What grew, from what to what, over how many cases (boxed, as above).
        growth: Box<ResourceGrowth>,
        /// The leak bound each case had to come back within.
        waited: Duration,
    },
}

/// The two sides of a connection the target did not close ([`DivergenceKind::NotClosed`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenSockets {
    /// The client's side of the connection.
    pub client: SocketAddr,
    /// Its TCP state after the bound: `FIN_WAIT2` (or `FIN_WAIT1`), closed and waiting for the
    /// server's FIN.
    pub client_state: &'static str,
    /// The server's side.
    pub server: SocketAddr,
    /// Its TCP state, when the kernel lists it: `CLOSE_WAIT`, the end of the stream read and
    /// the socket still open.
    pub server_state: Option<&'static str>,
}

/// The bytes around a mismatch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MismatchEvidence {
    /// Sent bytes around the offset, from `window_start`.
    pub expected_window: Vec<u8>,
    /// Received bytes around the offset, from `window_start`.
    pub received_window: Vec<u8>,
    /// Stream offset where both windows start.
    pub window_start: u64,
    /// When the wrong bytes are another connection's: that connection and the offset in its
    /// stream where they were found.
    pub crossed_from: Option<(String, u64)>,
}

impl DivergenceKind {
    /// A stable identifier: `mismatch`, `early-eof`, `extra-bytes`, `no-eof`, `stalled`,
    /// `round-unanswered`, `reset`, `refused`, `connect-timeout`, `server-died`, `not-run`,
    /// `io-error`, `not-served-after-reset`, `cut-after-reset`, `not-closed`, `leaked`.
    pub fn name(&self) -> &'static str {
        match self {
            DivergenceKind::Mismatch { .. } => "mismatch",
            DivergenceKind::EarlyEof => "early-eof",
            DivergenceKind::ExtraBytes { .. } => "extra-bytes",
            DivergenceKind::NoEof { .. } => "no-eof",
            DivergenceKind::Stalled { .. } => "stalled",
            DivergenceKind::RoundUnanswered { .. } => "round-unanswered",
            DivergenceKind::Reset { .. } => "reset",
            DivergenceKind::Refused => "refused",
            DivergenceKind::ConnectTimeout { .. } => "connect-timeout",
            DivergenceKind::ServerDied { .. } => "server-died",
            DivergenceKind::NotRun { .. } => "not-run",
            DivergenceKind::Io { .. } => "io-error",
            DivergenceKind::NotServedAfterReset { .. } => "not-served-after-reset",
            DivergenceKind::CutAfterReset { .. } => "cut-after-reset",
            DivergenceKind::NotClosed { .. } => "not-closed",
            DivergenceKind::Leaked { .. } => "leaked",
        }
    }

    /// True when the only evidence is that something did not happen in time. Such a failure
    /// could be a slow machine, so it is played again at four times the timeout before it
    /// counts.
    pub fn is_timing_only(&self) -> bool {
        match self {
            DivergenceKind::NotServedAfterReset { cause, .. }
            | DivergenceKind::CutAfterReset { cause, .. } => cause.is_timing_only(),
            _ => matches!(
                self,
                DivergenceKind::NoEof { .. }
                    | DivergenceKind::Stalled { .. }
                    | DivergenceKind::RoundUnanswered { .. }
                    | DivergenceKind::ConnectTimeout { .. }
                    | DivergenceKind::NotClosed { .. }
            ),
        }
    }
}

impl DivergenceKind {
    /// The kind an I/O error `during` an operation (`"writing"`, `"reading"`, …) stands for:
    /// a reset, or any other I/O error. The one mapping every player uses.
    pub fn from_io(error: &std::io::Error, during: &'static str) -> DivergenceKind {
        match error.kind() {
            std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::BrokenPipe => DivergenceKind::Reset { during },
            kind => DivergenceKind::Io {
                kind,
                message: error.to_string(),
            },
        }
    }
}
