//! [`DivergenceKind`]: the kinds of divergence, each with a stable name, which of them rest on
//! time alone, and the one mapping from I/O errors to them; and [`MismatchEvidence`], the bytes
//! around a mismatch.

use std::time::Duration;

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
    /// `io-error`, `not-served-after-reset`, `cut-after-reset`.
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
