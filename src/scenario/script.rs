//! [`Script`]: the data of a version 2 scenario — named connections with their plans, and the
//! steps of all of them in one explicit order.
//!
//! A [`Case`] says what each connection does and lets the engine play them all at once; a
//! script says exactly what happens when, across connections, so a person can pin down an
//! interleaving (`a send`, `b send`, `a expect echo`) or an exact expectation that no generated
//! case expresses. Like a case it owns no sockets: [`super::play_script`] plays it, and
//! [`super::print()`] and [`super::parse`] round-trip it.
//!
//! [`Script::validate`] holds a script to the rules the parser enforces, so a script built in
//! code is checked the same way as one read from text.

use std::fmt;
use std::time::Duration;

use crate::case::{
    is_valid_name, Case, Conversation, PauseScale, Payload, ReadPlan, WritePlan, MAX_CONNECTIONS,
    MAX_CONNECTION_BYTES, MAX_PAUSE, MAX_ROUNDS,
};

/// Most repetitions of one `send … x N`.
pub const MAX_REPEAT: u32 = MAX_ROUNDS as u32;

/// Words that start a step after a connection's name; no connection of a version 2 file may be
/// named so, or `NAME send …` would be ambiguous.
pub const STEP_WORDS: [&str; 4] = ["send", "expect", "shutdown", "close"];

/// A version 2 scenario: connections, then steps in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// The connections, opened in this order before the first step.
    pub connections: Vec<ScriptConnection>,
    /// The steps, played one after the other.
    pub steps: Vec<Step>,
    /// The factor applied to every pause of every plan and every `sleep`.
    pub pause_scale: PauseScale,
}

/// A named connection of a [`Script`] and its plans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptConnection {
    /// How steps and reports name it.
    pub name: String,
    /// How its writer cuts each send, and its socket options.
    pub write: WritePlan,
    /// How its reader reads each expectation.
    pub read: ReadPlan,
}

/// One step of a [`Script`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Hand `payload`, `repeat` times over, to the connection's writer, which writes it in the
    /// background (cut by the write plan, each repetition a send of its own) while later steps
    /// run.
    Send {
        /// The connection's name.
        connection: String,
        /// The bytes.
        payload: Payload,
        /// How many times to send them; 1 unless the text says `x N`.
        repeat: u32,
    },
    /// Read from the connection and check what comes back.
    Expect {
        /// The connection's name.
        connection: String,
        /// What must come back.
        expectation: Expectation,
        /// A deadline for this step; `None` means the run's no-progress timeout.
        within: Option<Duration>,
    },
    /// Half-close once everything handed to the writer has been written.
    ShutdownWrite {
        /// The connection's name.
        connection: String,
    },
    /// Close the connection (without half-closing) once everything sent has been written.
    Close {
        /// The connection's name.
        connection: String,
    },
    /// Wait this long (scaled by the pause scale); writers keep writing meanwhile.
    Sleep(Duration),
}

/// What an [`Step::Expect`] waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expectation {
    /// The echo of everything sent and not yet expected.
    Echo,
    /// The echo of the last send (all its repetitions): the interactive pattern. Everything
    /// before that send must have been expected already.
    Last,
    /// Exactly these bytes, which must not be more than what was sent and not yet expected.
    Bytes(Payload),
    /// The server closes its side, with no byte more; everything sent must have been expected.
    Eof,
}

/// Why a [`Script`] breaks a rule of the language; see [`Script::validate`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidScript {
    /// No connection, or more than [`MAX_CONNECTIONS`].
    #[error("a script needs 1 to {MAX_CONNECTIONS} connections, this one has {count}")]
    ConnectionCount {
        /// How many it has.
        count: usize,
    },
    /// A connection name that is not valid, is a step word, or is taken twice.
    #[error("invalid or repeated connection name {name:?}")]
    BadName {
        /// The name.
        name: String,
    },
    /// A connection's plans break a hard limit of [`crate::case`].
    #[error("connection {connection}: {problem}")]
    Plan {
        /// The connection.
        connection: String,
        /// What is wrong.
        problem: String,
    },
    /// A step that cannot come where it is.
    #[error("step {index} (`{step}`): {problem}")]
    Step {
        /// The step's index, from 0.
        index: usize,
        /// The step as text.
        step: String,
        /// What is wrong.
        problem: String,
    },
}

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

impl StaticState {
    /// Applies `step` (of this connection), or says why it cannot come here and what could.
    pub(crate) fn apply(&mut self, step: &Step) -> Result<(), (String, &'static str)> {
        if self.closed {
            return Err((
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
                    return Err((format!("`send` after `{why}`"), "`expect` or `close`"));
                }
                if !(1..=MAX_REPEAT).contains(repeat) {
                    return Err((format!("repetition of {repeat}"), "a count from 1 to 65536"));
                }
                let len = (payload.len() as u64).checked_mul(u64::from(*repeat));
                let total = len.and_then(|n| n.checked_add(self.sent));
                match total {
                    Some(total) if total <= MAX_CONNECTION_BYTES => {
                        self.last_send = Some((self.sent, total));
                        self.sent = total;
                    }
                    _ => {
                        return Err((
                            format!(
                                "more than {MAX_CONNECTION_BYTES} bytes sent on one connection"
                            ),
                            "smaller payloads",
                        ))
                    }
                }
            }
            Step::ShutdownWrite { .. } => {
                if self.shut {
                    return Err(("a second `shutdown write`".into(), "`expect` or `close`"));
                }
                self.shut = true;
            }
            Step::Close { .. } => self.closed = true,
            Step::Sleep(_) => {}
            Step::Expect {
                expectation,
                within,
                ..
            } => {
                if within.is_some_and(|d| d > MAX_PAUSE) {
                    return Err(("a deadline above 60s".into(), "at most `60s`"));
                }
                if self.eof {
                    return Err(("an expectation after `expect eof`".into(), "`close`"));
                }
                let pending = self.sent - self.expected;
                match expectation {
                    Expectation::Echo => self.expected = self.sent,
                    Expectation::Last => match self.last_send {
                        None => return Err(("`expect last` before any send".into(), "`send`")),
                        Some((start, end)) if start == self.expected && end > start => {
                            self.expected = end;
                        }
                        Some((start, end)) if self.expected > start && self.expected < end => {
                            return Err((
                                "`expect last` after part of the last send was expected".into(),
                                "`expect echo` or `expect bytes` for the rest",
                            ))
                        }
                        Some((start, end)) if start == end || self.expected >= end => {
                            return Err((
                                "`expect last` with nothing sent since the last expectation"
                                    .into(),
                                "a `send` first",
                            ))
                        }
                        Some((start, _)) => {
                            return Err((
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
                            return Err((
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
                            return Err((
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

impl Step {
    /// The connection the step acts on; `None` for a `sleep`.
    pub fn connection(&self) -> Option<&str> {
        match self {
            Step::Send { connection, .. }
            | Step::Expect { connection, .. }
            | Step::ShutdownWrite { connection }
            | Step::Close { connection } => Some(connection),
            Step::Sleep(_) => None,
        }
    }
}

/// The step as a line of scenario text, e.g. `a expect bytes "hi" within 1s`.
impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use super::print::{duration, payload};
        match self {
            Step::Send {
                connection,
                payload: p,
                repeat,
            } => {
                write!(f, "{connection} send {}", payload(p))?;
                if *repeat != 1 {
                    write!(f, " x {repeat}")?;
                }
                Ok(())
            }
            Step::Expect {
                connection,
                expectation,
                within,
            } => {
                write!(f, "{connection} expect ")?;
                match expectation {
                    Expectation::Echo => f.write_str("echo")?,
                    Expectation::Last => f.write_str("last")?,
                    Expectation::Bytes(p) => write!(f, "bytes {}", payload(p))?,
                    Expectation::Eof => f.write_str("eof")?,
                }
                if let Some(d) = within {
                    write!(f, " within {}", duration(*d))?;
                }
                Ok(())
            }
            Step::ShutdownWrite { connection } => write!(f, "{connection} shutdown write"),
            Step::Close { connection } => write!(f, "{connection} close"),
            Step::Sleep(d) => write!(f, "sleep {}", duration(*d)),
        }
    }
}

impl Script {
    /// Checks every rule the parser enforces: 1 to [`MAX_CONNECTIONS`] connections with valid,
    /// unique names that are not [`STEP_WORDS`], plans within the limits of [`crate::case`],
    /// steps only on declared connections and only where they make sense (no `send` after
    /// `shutdown write`, `expect eof` only once everything sent was expected, and so on),
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
            crate::case::ConnectionCase {
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
        for (index, step) in self.steps.iter().enumerate() {
            let fail = |problem: String| InvalidScript::Step {
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
            states[at]
                .apply(step)
                .map_err(|(problem, _)| fail(problem))?;
        }
        Ok(())
    }

    /// The script that plays `case` the way version 1 means it: the same connections and plans,
    /// every first send (and a stream's half-close) before any expectation so that all writers
    /// run at once, then the connections' rounds in turn — `expect echo` and `expect eof` for a
    /// stream, `expect last` per round for interactive rounds, `expect echo` and `close` for a
    /// close.
    ///
    /// The checks are the same as the engine's; only the readers take turns instead of running
    /// all at once. A connection named after a step word (`send`, …) converts, but its script
    /// does not [validate](Script::validate).
    pub fn from_case(case: &Case) -> Script {
        let mut steps = Vec::new();
        let send = |name: &str, payload: &Payload| Step::Send {
            connection: name.to_string(),
            payload: payload.clone(),
            repeat: 1,
        };
        let expect = |name: &str, expectation| Step::Expect {
            connection: name.to_string(),
            expectation,
            within: None,
        };
        let shutdown = |name: &str| Step::ShutdownWrite {
            connection: name.to_string(),
        };
        for conn in &case.connections {
            let name = conn.name.as_str();
            match &conn.conversation {
                Conversation::Stream { payload } => {
                    steps.push(send(name, payload));
                    steps.push(shutdown(name));
                }
                Conversation::Close { payload } => steps.push(send(name, payload)),
                Conversation::Interactive { messages } => match messages.first() {
                    Some(first) => steps.push(send(name, first)),
                    None => steps.push(shutdown(name)),
                },
            }
        }
        let rounds = case
            .connections
            .iter()
            .map(|c| c.conversation.payloads().len())
            .max()
            .unwrap_or(0)
            .max(1);
        for round in 0..rounds {
            for conn in &case.connections {
                let name = conn.name.as_str();
                match &conn.conversation {
                    Conversation::Stream { .. } if round == 0 => {
                        steps.push(expect(name, Expectation::Echo));
                        steps.push(expect(name, Expectation::Eof));
                    }
                    Conversation::Close { .. } if round == 0 => {
                        steps.push(expect(name, Expectation::Echo));
                        steps.push(Step::Close {
                            connection: name.to_string(),
                        });
                    }
                    Conversation::Interactive { messages } if messages.is_empty() && round == 0 => {
                        steps.push(expect(name, Expectation::Eof));
                    }
                    Conversation::Interactive { messages } if round < messages.len() => {
                        // An empty message has no echo to wait for: `expect echo` covers it.
                        let last = if messages[round].is_empty() {
                            Expectation::Echo
                        } else {
                            Expectation::Last
                        };
                        steps.push(expect(name, last));
                        match messages.get(round + 1) {
                            Some(next) => steps.push(send(name, next)),
                            None => {
                                steps.push(shutdown(name));
                                steps.push(expect(name, Expectation::Eof));
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        Script {
            connections: case
                .connections
                .iter()
                .map(|c| ScriptConnection {
                    name: c.name.clone(),
                    write: c.write.clone(),
                    read: c.read.clone(),
                })
                .collect(),
            steps,
            pause_scale: case.pause_scale,
        }
    }

    /// Total bytes of every send of connection `name` (repetitions included).
    pub(crate) fn sent_by(&self, name: &str) -> u64 {
        self.steps
            .iter()
            .map(|s| match s {
                Step::Send {
                    connection,
                    payload,
                    repeat,
                } if connection == name => {
                    (payload.len() as u64).saturating_mul(u64::from(*repeat))
                }
                _ => 0,
            })
            .fold(0u64, u64::saturating_add)
    }
}

impl From<&Case> for Script {
    fn from(case: &Case) -> Script {
        Script::from_case(case)
    }
}
