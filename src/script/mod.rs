//! [`Script`]: a test as steps — named connections with their plans, and what each does, in
//! lanes that play at the same time.
//!
//! This is the one step model of the crate. Scenario text of either header is parsed into it
//! ([`crate::scenario`]), a generated [`Case`](crate::case::Case) converts into it ([`Script::from_case`]), and the
//! one player ([`crate::roundtrip`]) plays it. Like a case it owns no sockets and does no I/O.
//!
//! # Lanes
//! A lane is a list of steps played in order. A connection's own steps (a connection block of
//! scenario text) are one lane; the script's shared steps (the top-level `NAME step` lines) are
//! another, which may name several connections and so orders steps across them: `a send`, then
//! `b send`, `b expect echo`, then `a expect echo`, with `a` held open meanwhile. Lanes play at
//! the same time. A connection's steps are all in one lane: its own, or the shared one.
//!
//! [`Script::validate`] holds a script to the rules the parser enforces, so a script built in
//! code is checked the same way as one read from text.

mod from_case;
mod rules;
mod strategy;

pub(crate) use rules::{StaticState, StepError};
pub use strategy::script_strategy;

use std::time::Duration;

use crate::case::{PauseScale, Payload, ReadPlan, WritePlan, MAX_CONNECTIONS, MAX_ROUNDS};

/// Most repetitions of one `send … x N`.
pub const MAX_REPEAT: u32 = MAX_ROUNDS as u32;

/// Words that start a step; no connection may be named so, or `NAME send …` would be
/// ambiguous.
pub const STEP_WORDS: [&str; 5] = ["send", "expect", "shutdown", "close", "reset"];

/// A test as steps: connections, each with its own lane of steps, and the shared lane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// The connections, opened in this order before the first step.
    pub connections: Vec<ScriptConnection>,
    /// The shared lane: steps that may name any connection without steps of its own, played
    /// one after the other, in this order.
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
    /// Its own lane: steps on this connection (and `sleep`s), played in order at the same time
    /// as the other lanes. Empty when its steps, if any, are in the shared lane.
    pub steps: Vec<Step>,
}

/// Which lane of a script: a connection's own, or the shared one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LaneId {
    /// The own lane of the connection at this index.
    Own(usize),
    /// [`Script::steps`].
    Shared,
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
    /// Reset the connection at once: close it with `SO_LINGER` 0, so the kernel sends an RST
    /// and discards whatever is unread or unwritten. Sends handed to the writer and not yet
    /// written never are: a client that gives up does not finish its sends first. Nothing may
    /// follow it on the connection. After a script that resets a connection, the player checks
    /// that the server still serves a new connection.
    Reset {
        /// The connection's name.
        connection: String,
    },
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
    #[error("step {index} of {lane:?} (`{step}`): {problem}")]
    Step {
        /// The lane that holds it.
        lane: LaneId,
        /// The step's index in its lane, from 0.
        index: usize,
        /// The step as text.
        step: String,
        /// What is wrong.
        problem: String,
    },
}

impl Step {
    /// The connection the step acts on; `None` for a `sleep`.
    pub fn connection(&self) -> Option<&str> {
        match self {
            Step::Send { connection, .. }
            | Step::Expect { connection, .. }
            | Step::ShutdownWrite { connection }
            | Step::Close { connection }
            | Step::Reset { connection } => Some(connection),
            Step::Sleep(_) => None,
        }
    }
}

impl ScriptConnection {
    /// A connection with default plans and no steps of its own.
    pub fn new(name: impl Into<String>) -> ScriptConnection {
        ScriptConnection {
            name: name.into(),
            write: WritePlan::default(),
            read: ReadPlan::default(),
            steps: Vec::new(),
        }
    }
}

impl Script {
    /// The lanes that have steps, in play order: the connections' own lanes in declaration
    /// order, then the shared lane.
    pub fn lanes(&self) -> impl Iterator<Item = (LaneId, &[Step])> {
        self.connections
            .iter()
            .enumerate()
            .map(|(i, c)| (LaneId::Own(i), c.steps.as_slice()))
            .chain(std::iter::once((LaneId::Shared, self.steps.as_slice())))
            .filter(|(_, steps)| !steps.is_empty())
    }

    /// The steps of `lane`.
    pub fn lane(&self, lane: LaneId) -> &[Step] {
        match lane {
            LaneId::Own(i) => self.connections.get(i).map_or(&[], |c| c.steps.as_slice()),
            LaneId::Shared => &self.steps,
        }
    }

    /// Every step on connection `name`, in order, whichever lane holds it.
    pub fn steps_of<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Step> + 'a {
        self.connections
            .iter()
            .flat_map(|c| c.steps.iter())
            .chain(self.steps.iter())
            .filter(move |s| s.connection() == Some(name))
    }

    /// The connections that some step resets, in declaration order.
    pub fn resets(&self) -> impl Iterator<Item = &str> + '_ {
        self.connections
            .iter()
            .map(|c| c.name.as_str())
            .filter(|name| self.steps_of(name).any(|s| matches!(s, Step::Reset { .. })))
    }

    /// Total bytes of every send of connection `name` (repetitions included).
    pub(crate) fn sent_by(&self, name: &str) -> u64 {
        self.steps_of(name)
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
