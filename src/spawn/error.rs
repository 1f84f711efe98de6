//! Why spawning failed ([`SpawnError`]) and why a running server stopped ([`TargetExited`]),
//! each quoting the end of what the server printed.

use std::io;
use std::process::ExitStatus;
use std::time::Duration;

/// How much of the output tail an error's `Display` quotes; the full tail is in its field.
const DISPLAYED_TAIL: usize = 4 * 1024;

/// Why a server could not be started or never became ready.
///
/// [`SpawnError::is_usage_error`] separates mistakes in the command or options (the caller's
/// fault; a CLI reports them as bad usage) from the environment failing us (cannot start, exited
/// early, never ready: `check` exits 3). A server that was ready and *then* died is not a
/// `SpawnError` but a [`TargetExited`], which the harness reports as a divergence.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpawnError {
    /// The command has an unbalanced quote or a trailing backslash.
    #[error("cannot split the command {command:?} into words")]
    BadCommand {
        /// The command as given.
        command: String,
        /// What the shell-words splitter said.
        #[source]
        source: shell_words::ParseError,
    },
    /// The command has no words at all.
    #[error("the command to spawn is empty")]
    EmptyCommand,
    /// The command uses `{name}` but nothing gives that placeholder a value.
    #[error("unknown placeholder {{{name}}} in the command (known: {known}; write {{{{ for a literal brace)")]
    UnknownPlaceholder {
        /// The placeholder's name, without braces.
        name: String,
        /// The placeholders that do have a value, for the message.
        known: String,
    },
    /// The caller tried to give `{addr}` or `{port}` a value of its own.
    #[error("placeholder {{{name}}} is filled in by the spawner and cannot be given a value")]
    ReservedPlaceholder {
        /// `addr` or `port`.
        name: String,
    },
    /// Two ways of finding the address were asked for at once.
    #[error("{reason}")]
    ConflictingOptions {
        /// Which ones, in a sentence.
        reason: &'static str,
    },
    /// The readiness pattern is not a valid regular expression.
    #[error("invalid readiness pattern {pattern:?}")]
    BadReadyPattern {
        /// The pattern as given.
        pattern: String,
        /// What the regex compiler said.
        #[source]
        source: regex::Error,
    },
    /// The readiness pattern is used to find the address but has no capture group for it.
    #[error("the readiness pattern {pattern:?} has no capture group for the address")]
    ReadyPatternWithoutCapture {
        /// The pattern as given.
        pattern: String,
    },
    /// The program could not be started at all (not found, not executable, ...).
    #[error("cannot start {program:?}")]
    CannotStart {
        /// The first word of the command.
        program: String,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// Something the spawner itself needs (a free port, a thread) was not available.
    #[error("{context}")]
    Io {
        /// What we were doing.
        context: &'static str,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// The server exited before it was ready, on every attempt we made.
    #[error(
        "the server exited ({status}) before it was ready, after {attempts} attempt(s){}",
        display_tail(output_tail)
    )]
    ExitedBeforeReady {
        /// How the last attempt ended.
        status: ExitStatus,
        /// How many times it was started (more than one only with `{port}`).
        attempts: u32,
        /// The last [`OUTPUT_TAIL_CAPACITY`](super::OUTPUT_TAIL_CAPACITY) bytes of the last
        /// attempt's output.
        output_tail: String,
    },
    /// The server kept running but did not become ready within the timeout.
    #[error(
        "the server was not ready within {timeout:?}: {waiting_for}{}",
        display_tail(output_tail)
    )]
    NeverReady {
        /// The readiness timeout.
        timeout: Duration,
        /// What we were waiting for, in words (the pattern, or the address probed).
        waiting_for: String,
        /// The last [`OUTPUT_TAIL_CAPACITY`](super::OUTPUT_TAIL_CAPACITY) bytes of its output.
        output_tail: String,
    },
    /// The readiness line matched, but what it captured is not an address we can connect to.
    #[error(
        "the readiness pattern captured {captured:?}, which is not a socket address{}",
        display_tail(output_tail)
    )]
    BadReadyAddress {
        /// The text of the first capture group.
        captured: String,
        /// The last [`OUTPUT_TAIL_CAPACITY`](super::OUTPUT_TAIL_CAPACITY) bytes of its output.
        output_tail: String,
    },
}

impl SpawnError {
    /// Whether the fault is in the command or options rather than in the environment or the
    /// server: no process was started, and running again will fail the same way.
    pub fn is_usage_error(&self) -> bool {
        matches!(
            self,
            SpawnError::BadCommand { .. }
                | SpawnError::EmptyCommand
                | SpawnError::UnknownPlaceholder { .. }
                | SpawnError::ReservedPlaceholder { .. }
                | SpawnError::ConflictingOptions { .. }
                | SpawnError::BadReadyPattern { .. }
                | SpawnError::ReadyPatternWithoutCapture { .. }
        )
    }

    /// The server's last output, for the errors that happen after it was started.
    pub fn output_tail(&self) -> Option<&str> {
        match self {
            SpawnError::ExitedBeforeReady { output_tail, .. }
            | SpawnError::NeverReady { output_tail, .. }
            | SpawnError::BadReadyAddress { output_tail, .. } => Some(output_tail),
            _ => None,
        }
    }
}

/// A server that was ready and then exited: the harness turns this into a divergence.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "the server under test exited ({status}) during the run{}",
    display_tail(output_tail)
)]
pub struct TargetExited {
    /// How it ended.
    pub status: ExitStatus,
    /// The last [`OUTPUT_TAIL_CAPACITY`](super::OUTPUT_TAIL_CAPACITY) bytes of its output.
    pub output_tail: String,
}

/// Quotes the end of a server's output under an error message, or nothing if it said nothing.
fn display_tail(tail: &str) -> String {
    if tail.is_empty() {
        return "; it printed nothing".to_owned();
    }
    let mut start = tail.len().saturating_sub(DISPLAYED_TAIL);
    while !tail.is_char_boundary(start) {
        start += 1;
    }
    let elided = if start > 0 { "[...]\n" } else { "" };
    format!(
        "\n--- last output of the server ---\n{elided}{}\n--- end of output ---",
        tail[start..].trim_end_matches('\n')
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_display_quotes_only_the_end_of_a_long_tail() {
        let err = SpawnError::NeverReady {
            timeout: Duration::from_secs(1),
            waiting_for: "a line".into(),
            output_tail: format!("{}THE END\n", "x".repeat(10_000)),
        };
        let text = err.to_string();
        assert!(text.contains("[...]") && text.contains("THE END"), "{text}");
        assert!(text.len() < DISPLAYED_TAIL + 200);
        assert!(!err.is_usage_error());
    }
}
