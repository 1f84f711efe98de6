//! [`Divergence`]: exactly what went wrong on which connection, with the evidence a person needs —
//! the first differing offset and a hexdump around it, how many bytes had come back intact, and
//! whether a failure whose only evidence is time was confirmed by a slower second run.

use std::fmt;
use std::time::Duration;

use crate::hexdump::hexdump;
use crate::script::LaneId;

/// What went wrong on one connection of a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divergence {
    /// The connection's name in the case (`c0`, `c1`, ...).
    pub connection: String,
    /// What kind of failure, with its specifics.
    pub kind: DivergenceKind,
    /// Bytes this connection had written when it failed.
    pub sent: u64,
    /// Bytes that had come back intact, in order, before the failure.
    pub received: u64,
    /// Bytes the connection expected back in all.
    pub expected: u64,
    /// For a failure whose only evidence is time (see [`DivergenceKind::is_timing_only`]):
    /// `true` once the case failed again at four times the timeout. Always `true` otherwise.
    pub confirmed: bool,
    /// The step that failed, when one did (not when connecting failed).
    pub step: Option<Box<FailedStep>>,
}

/// The step of a [`Divergence`]: where in the script it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedStep {
    /// The lane that holds it.
    pub lane: LaneId,
    /// Its index in the lane, from 0.
    pub index: usize,
    /// The step as scenario text, e.g. `a expect bytes "hi" within 1s`.
    pub text: String,
    /// Its line in the file it was read from, when known.
    pub line: Option<usize>,
    /// For a failure whose only evidence is time: the other connections of the play that the
    /// client held open meanwhile (not half-closed, or with an echo not yet read). A server
    /// that cannot serve two connections at once is stuck on one of these.
    pub held_open: Vec<String>,
}

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
    /// Another I/O error.
    Io {
        /// The error's kind.
        kind: std::io::ErrorKind,
        /// Its message.
        message: String,
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
    /// `round-unanswered`, `reset`, `refused`, `connect-timeout`, `server-died`, `io-error`.
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
            DivergenceKind::Io { .. } => "io-error",
        }
    }

    /// True when the only evidence is that something did not happen in time. Such a failure
    /// could be a slow machine, so it is played again at four times the timeout before it
    /// counts.
    pub fn is_timing_only(&self) -> bool {
        matches!(
            self,
            DivergenceKind::NoEof { .. }
                | DivergenceKind::Stalled { .. }
                | DivergenceKind::RoundUnanswered { .. }
                | DivergenceKind::ConnectTimeout { .. }
        )
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

impl Divergence {
    /// A failure of `kind` on `connection` after `sent` bytes went out and `received` came
    /// back intact, of `expected`. It counts as confirmed unless its only evidence is time; it
    /// names no step and no held connection.
    pub fn new(
        connection: &str,
        kind: DivergenceKind,
        sent: u64,
        received: u64,
        expected: u64,
    ) -> Divergence {
        Divergence {
            connection: connection.to_string(),
            confirmed: !kind.is_timing_only(),
            kind,
            sent,
            received,
            expected,
            step: None,
        }
    }

    /// The connections held open while this one waited (see [`FailedStep::held_open`]).
    pub fn held_open(&self) -> &[String] {
        self.step.as_ref().map_or(&[], |s| s.held_open.as_slice())
    }

    /// A failure to open `connection` (refused, timed out, an I/O error): nothing was sent or
    /// received of the `expected` bytes.
    pub fn on_connect(connection: &str, kind: DivergenceKind, expected: u64) -> Divergence {
        Divergence::new(connection, kind, 0, 0, expected)
    }
}

impl Divergence {
    /// The one-line summary: which connection, what happened, how far it got.
    pub fn summary(&self) -> String {
        let c = &self.connection;
        let progress = format!("{} of {} bytes had come back", self.received, self.expected);
        match &self.kind {
            DivergenceKind::Mismatch {
                offset,
                expected,
                actual,
                ..
            } => format!(
                "connection {c}: different bytes came back at offset {offset}: expected {expected:#04x}, got {actual:#04x}"
            ),
            DivergenceKind::EarlyEof => format!(
                "connection {c}: bytes missing: the server closed after {} of {} bytes came back (early EOF)",
                self.received, self.expected
            ),
            DivergenceKind::ExtraBytes { bytes } => format!(
                "connection {c}: extra bytes: {} more came back after all {} bytes",
                bytes.len(),
                self.expected
            ),
            DivergenceKind::NoEof { waited } => format!(
                "connection {c}: no EOF after half-close: all {} bytes came back, then nothing for {}",
                self.expected,
                humantime::format_duration(*waited)
            ),
            DivergenceKind::Stalled { waited } => format!(
                "connection {c}: stalled after {} of {} bytes (sent {}): nothing moved for {}",
                self.received,
                self.expected,
                self.sent,
                humantime::format_duration(*waited)
            ),
            DivergenceKind::RoundUnanswered {
                round,
                rounds,
                round_received,
                round_len,
                waited,
            } => format!(
                "connection {c}: interactive round {} of {rounds} unanswered: {round_received} of its {round_len} bytes came back, then nothing for {}",
                round + 1,
                humantime::format_duration(*waited)
            ),
            DivergenceKind::Reset { during } => {
                format!("connection {c}: reset while {during}; {progress}")
            }
            DivergenceKind::Refused => format!("connection {c}: connection refused"),
            DivergenceKind::ConnectTimeout { waited } => format!(
                "connection {c}: connecting took more than {}",
                humantime::format_duration(*waited)
            ),
            DivergenceKind::ServerDied { status } => {
                format!("the server process died ({status}); {progress} on connection {c}")
            }
            DivergenceKind::Io { message, .. } => {
                format!("connection {c}: i/o error: {message}; {progress}")
            }
        }
    }
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary())?;
        if !self.held_open().is_empty() {
            write!(
                f,
                ", while connection {} was held open",
                self.held_open().join(", ")
            )?;
        }
        if !self.confirmed {
            f.write_str(" (not confirmed: passed when played again at 4x the timeout)")?;
        } else if self.kind.is_timing_only() {
            f.write_str(" (confirmed: failed again at 4x the timeout)")?;
        }
        if let DivergenceKind::Mismatch {
            offset, evidence, ..
        } = &self.kind
        {
            let MismatchEvidence {
                expected_window,
                received_window,
                window_start,
                crossed_from,
            } = evidence.as_ref();
            writeln!(f)?;
            writeln!(
                f,
                "  {} bytes had come back intact before it",
                self.received
            )?;
            if let Some((other, at)) = crossed_from {
                writeln!(
                    f,
                    "  the wrong bytes belong to connection {other} (its offset {at}): bytes crossed from {other} to {}",
                    self.connection
                )?;
            }
            writeln!(f, "  expected:")?;
            for line in hexdump(expected_window, *window_start, Some(*offset)).lines() {
                writeln!(f, "    {line}")?;
            }
            writeln!(f, "  received:")?;
            let dump = hexdump(received_window, *window_start, Some(*offset));
            let mut lines = dump.lines().peekable();
            while let Some(line) = lines.next() {
                write!(f, "    {line}")?;
                if lines.peek().is_some() {
                    writeln!(f)?;
                }
            }
        }
        if let DivergenceKind::ExtraBytes { bytes } = &self.kind {
            writeln!(f)?;
            writeln!(f, "  extra bytes:")?;
            let dump = hexdump(bytes, self.expected, None);
            write!(f, "    {}", dump.trim_end())?;
        }
        if let Some(step) = &self.step {
            match step.lane {
                LaneId::Shared => write!(f, "\n  at step {}: `{}`", step.index + 1, step.text)?,
                LaneId::Own(_) => write!(
                    f,
                    "\n  at step {} of connection {}: `{}`",
                    step.index + 1,
                    self.connection,
                    step.text
                )?,
            }
            if let Some(line) = step.line {
                write!(f, " (line {line})")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Divergence {}

#[cfg(test)]
mod tests {
    use super::*;

    fn divergence(kind: DivergenceKind) -> Divergence {
        Divergence {
            confirmed: true,
            ..Divergence::new("c1", kind, 10, 4, 10)
        }
    }

    #[test]
    fn mismatch_report_shows_both_hexdumps_and_the_crossing() {
        let report = divergence(DivergenceKind::Mismatch {
            offset: 4,
            expected: b'e',
            actual: b'X',
            evidence: Box::new(MismatchEvidence {
                expected_window: b"abcdefgh".to_vec(),
                received_window: b"abcdXfgh".to_vec(),
                window_start: 0,
                crossed_from: Some(("c0".into(), 17)),
            }),
        })
        .to_string();
        assert!(report.starts_with(
            "connection c1: different bytes came back at offset 4: expected 0x65, got 0x58"
        ));
        assert!(
            report.contains("00000000  61 62 63 64[65]66 67 68"),
            "{report}"
        );
        assert!(
            report.contains("00000000  61 62 63 64[58]66 67 68"),
            "{report}"
        );
        assert!(report.contains("bytes crossed from c0 to c1"), "{report}");
    }

    #[test]
    fn timing_only_kinds_are_the_ones_without_byte_evidence() {
        let waited = Duration::from_secs(2);
        assert!(DivergenceKind::Stalled { waited }.is_timing_only());
        assert!(DivergenceKind::NoEof { waited }.is_timing_only());
        assert!(!DivergenceKind::EarlyEof.is_timing_only());
        assert!(!DivergenceKind::Refused.is_timing_only());
        let mut unconfirmed = divergence(DivergenceKind::Stalled { waited });
        unconfirmed.confirmed = false;
        assert!(unconfirmed.to_string().contains("not confirmed"));
        assert_eq!(
            divergence(DivergenceKind::EarlyEof).summary(),
            "connection c1: bytes missing: the server closed after 4 of 10 bytes came back (early EOF)"
        );
    }
}
