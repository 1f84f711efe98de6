//! The rules a [`Script`] keeps, as far as they can be known without playing: what each step
//! may follow on its connection ([`StaticState`]) and [`Script::validate`]. The parser applies
//! the same [`StaticState`] line by line, so its errors point at the line.

use super::{Expectation, InvalidScript, LaneId, Script, Step, MAX_REPEAT, STEP_WORDS};
use crate::case::{
    is_valid_name, ConnectionCase, Conversation, Payload, MAX_CONNECTIONS, MAX_CONNECTION_BYTES,
    MAX_PAUSE,
};

/// What the steps so far have done to one connection, as far as can be known without playing:
/// the parser and [`Script::validate`] check every step against it.
#[derive(Debug, Clone, Default)]
pub(crate) struct StaticState {
    /// Bytes handed to the writer.
    pub sent: u64,
    /// Bytes of the echo covered by expectations.
    pub expected: u64,
    /// The stream range of the last send.
    pub last_send: Option<(u64, u64)>,
    pub shut: bool,
    pub eof: bool,
    pub closed: bool,
}

/// Why a step cannot come where it is: what is wrong, what could come instead, and whether it
/// is a hard limit (too many bytes) rather than a rule of order.
#[derive(Debug, Clone)]
pub(crate) struct StepError {
    pub problem: String,
    pub expected: &'static str,
    pub limit: bool,
}

impl StepError {
    fn rule(problem: String, expected: &'static str) -> StepError {
        StepError {
            problem,
            expected,
            limit: false,
        }
    }
}

impl StaticState {
    /// Applies `step` (of this connection), or says why it cannot come here and what could.
    pub(crate) fn apply(&mut self, step: &Step) -> Result<(), StepError> {
        if self.closed {
            return Err(StepError::rule(
                "the connection is already closed".into(),
                "no more steps on it",
            ));
        }
        match step {
            Step::Send {
                payload, repeat, ..
            } => {
                if self.shut || self.eof {
                    let why = if self.shut {
                        "shutdown write"
                    } else {
                        "expect eof"
                    };
                    return Err(StepError::rule(
                        format!("`send` after `{why}`"),
                        "`expect` or `close`",
                    ));
                }
                if !(1..=MAX_REPEAT).contains(repeat) {
                    return Err(StepError::rule(
                        format!("repetition of {repeat}"),
                        "a count from 1 to 65536",
                    ));
                }
                let len = (payload.len() as u64).checked_mul(u64::from(*repeat));
                let total = len.and_then(|n| n.checked_add(self.sent));
                match total {
                    Some(total) if total <= MAX_CONNECTION_BYTES => {
                        self.last_send = Some((self.sent, total));
                        self.sent = total;
                    }
                    _ => {
                        return Err(StepError {
                            problem: format!(
                                "more than {MAX_CONNECTION_BYTES} bytes sent on one connection"
                            ),
                            expected: "smaller payloads",
                            limit: true,
                        })
                    }
                }
            }
            Step::ShutdownWrite { .. } => {
                if self.shut {
                    return Err(StepError::rule(
                        "a second `shutdown write`".into(),
                        "`expect` or `close`",
                    ));
                }
                self.shut = true;
            }
            // A reset may come at any time, with bytes owed either way: that is its point.
            Step::Close { .. } | Step::Reset { .. } => self.closed = true,
            Step::Sleep(_) => {}
            Step::Expect {
                expectation,
                within,
                ..
            } => {
                if within.is_some_and(|d| d > MAX_PAUSE) {
                    return Err(StepError::rule(
                        "a deadline above 60s".into(),
                        "at most `60s`",
                    ));
                }
                if self.eof {
                    return Err(StepError::rule(
                        "an expectation after `expect eof`".into(),
                        "`close`",
                    ));
                }
                let pending = self.sent - self.expected;
                match expectation {
                    Expectation::Echo => self.expected = self.sent,
                    Expectation::Last => match self.last_send {
                        None => return Err(StepError::rule("`expect last` before any send".into(), "`send`")),
                        Some((start, end)) if start == self.expected && end > start => {
                            self.expected = end;
                        }
                        Some((start, end)) if self.expected > start && self.expected < end => {
                            return Err(StepError::rule(
                                "`expect last` after part of the last send was expected".into(),
                                "`expect echo` or `expect bytes` for the rest",
                            ))
                        }
                        Some((start, end)) if start == end || self.expected >= end => {
                            return Err(StepError::rule(
                                "`expect last` with nothing sent since the last expectation"
                                    .into(),
                                "a `send` first",
                            ))
                        }
                        Some((start, _)) => {
                            return Err(StepError::rule(
                                format!(
                                    "`expect last` while {} bytes sent before the last send are not yet expected",
                                    start.saturating_sub(self.expected)
                                ),
                                "`expect echo`, or `expect last` after every send",
                            ))
                        }
                    },
                    Expectation::Bytes(p) => {
                        if p.len() as u64 > pending {
                            return Err(StepError::rule(
                                format!(
                                    "`expect bytes` of {} bytes, but only {pending} were sent and not yet expected",
                                    p.len()
                                ),
                                "at most the bytes sent and not yet expected",
                            ));
                        }
                        self.expected += p.len() as u64;
                    }
                    Expectation::Eof => {
                        if pending > 0 {
                            return Err(StepError::rule(
                                format!("`expect eof` while {pending} bytes sent are not yet expected"),
                                "`expect echo` first",
                            ));
                        }
                        self.eof = true;
                    }
                }
            }
        }
        Ok(())
    }
}

impl Script {
    /// Checks every rule the parser enforces: 1 to [`MAX_CONNECTIONS`] connections with valid,
    /// unique names that are not [`STEP_WORDS`], plans within the limits of [`crate::case`];
    /// a connection's own lane holds only its steps and `sleep`s, the shared lane only steps of
    /// connections without a lane of their own; steps only where they make sense (no `send`
    /// after `shutdown write`, `expect eof` only once everything sent was expected, and so on),
    /// repetitions of 1 to [`MAX_REPEAT`], at most [`MAX_CONNECTION_BYTES`] sent per connection,
    /// sleeps and deadlines of at most 60 s.
    pub fn validate(&self) -> Result<(), InvalidScript> {
        let count = self.connections.len();
        if count == 0 || count > MAX_CONNECTIONS {
            return Err(InvalidScript::ConnectionCount { count });
        }
        for (i, conn) in self.connections.iter().enumerate() {
            let taken = self.connections[..i].iter().any(|c| c.name == conn.name);
            if taken || !is_valid_name(&conn.name) || STEP_WORDS.contains(&conn.name.as_str()) {
                return Err(InvalidScript::BadName {
                    name: conn.name.clone(),
                });
            }
            ConnectionCase {
                name: conn.name.clone(),
                write: conn.write.clone(),
                read: conn.read.clone(),
                conversation: Conversation::Close {
                    payload: Payload::Literal(Vec::new()),
                },
            }
            .validate()
            .map_err(|e| InvalidScript::Plan {
                connection: conn.name.clone(),
                problem: e.to_string(),
            })?;
        }
        let mut states = vec![StaticState::default(); count];
        for (lane, steps) in self.lanes() {
            for (index, step) in steps.iter().enumerate() {
                let fail = |problem: String| InvalidScript::Step {
                    lane,
                    index,
                    step: step.to_string(),
                    problem,
                };
                let Some(name) = step.connection() else {
                    if let Step::Sleep(d) = step {
                        if *d > MAX_PAUSE {
                            return Err(fail("a sleep above 60s".into()));
                        }
                    }
                    continue;
                };
                let Some(at) = self.connections.iter().position(|c| c.name == name) else {
                    return Err(fail(format!("no connection named {name:?}")));
                };
                match lane {
                    LaneId::Own(owner) if owner != at => {
                        return Err(fail(format!(
                            "a step of {name:?} in the lane of {:?}",
                            self.connections[owner].name
                        )))
                    }
                    LaneId::Shared if !self.connections[at].steps.is_empty() => {
                        return Err(fail(format!(
                            "{name:?} has steps of its own; they cannot also be shared"
                        )))
                    }
                    _ => {}
                }
                states[at].apply(step).map_err(|e| fail(e.problem))?;
            }
        }
        Ok(())
    }
}
