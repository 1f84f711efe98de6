//! The report of a [`Divergence`]: the one-line [`summary`](Divergence::summary), and the full
//! report ([`Display`](fmt::Display)): what was held open, whether a timing failure was
//! confirmed, the hexdumps of a mismatch or of extra bytes, and the step that failed.

use std::fmt;

use super::{Divergence, DivergenceKind, MismatchEvidence, OpenSockets};
use crate::hexdump::hexdump;
use crate::script::LaneId;

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
            DivergenceKind::NotRun { reason } => format!("not played: {reason}"),
            DivergenceKind::Io { message, .. } => {
                format!("connection {c}: i/o error: {message}; {progress}")
            }
            DivergenceKind::NotServedAfterReset { reset, at, cause } => format!(
                "not served after a reset: connection {reset} was reset after {at} bytes of its echo; then a new connection {}",
                after_reset(cause)
            ),
            DivergenceKind::CutAfterReset { reset, at, cause } => {
                let inner = Divergence {
                    kind: (**cause).clone(),
                    ..self.clone()
                };
                format!(
                    "cut after a reset: connection {reset} was reset after {at} bytes of its echo; then {}",
                    inner.summary()
                )
            }
            DivergenceKind::NotClosed { sockets, waited } => {
                let OpenSockets {
                    client,
                    client_state,
                    server,
                    server_state,
                } = sockets.as_ref();
                let server_side = match server_state {
                    Some(state) => format!(", the server's side {server} in {state}"),
                    None => String::new(),
                };
                format!(
                    "connection {c}: not closed by the server: {} after the client closed, its side {client} was still in {client_state}{server_side}",
                    humantime::format_duration(*waited)
                )
            }
            DivergenceKind::Leaked { growth, waited } => {
                let grew: Vec<String> = [("descriptors", growth.descriptors), ("threads", growth.threads)]
                    .into_iter()
                    .filter_map(|(what, grew)| grew.map(|(from, to)| format!("{what} {from} → {to}")))
                    .collect();
                let waited = humantime::format_duration(*waited);
                let over = match growth.cases {
                    1 => format!("after this case, not back to the level from before it within {waited}"),
                    n => format!("over the last {n} cases, each given {waited} to come back"),
                };
                format!("the server leaked: {} {over}", grew.join(", "))
            }
        }
    }
}

/// What the new connection after a reset met, as the end of a sentence.
fn after_reset(cause: &DivergenceKind) -> String {
    match cause {
        DivergenceKind::Refused => "was refused: the server stopped accepting (or died)".into(),
        DivergenceKind::ConnectTimeout { waited } => format!(
            "was not accepted within {}",
            humantime::format_duration(*waited)
        ),
        DivergenceKind::EarlyEof => "was closed before its echo came back".into(),
        DivergenceKind::Reset { .. } => "was reset before its echo came back".into(),
        DivergenceKind::Stalled { waited } => format!(
            "got no echo: nothing moved for {}",
            humantime::format_duration(*waited)
        ),
        DivergenceKind::Io { message, .. } => format!("failed: {message}"),
        other => format!("failed: {}", other.name()),
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
        if self.confirmed_earlier {
            f.write_str(
                " (not played again: a timing-only failure at this address was confirmed at 4x \
                 the timeout shortly before, so this one was taken on that, at a shorter timeout)",
            )?;
        } else if !self.confirmed {
            f.write_str(" (not confirmed: passed when played again at 4x the timeout)")?;
        } else if matches!(self.kind, DivergenceKind::NotClosed { .. }) {
            f.write_str(" (confirmed: failed again at 4x the leak bound)")?;
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
