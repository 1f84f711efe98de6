//! A generated [`Case`] as a [`Script`], and back: the one place that knows what the four
//! conversations of a case are as steps.
//!
//! Each connection of a case becomes a connection with its own lane — so all of them play at
//! the same time — holding one of three step sequences: a stream (`send P`, `shutdown write`,
//! `expect echo`, `expect eof`), interactive rounds (`send M`, `expect echo`, repeated, then
//! `shutdown write`, `expect eof`), a close (`send P`, `expect echo`, `close`), or an abort
//! (`send P`, `expect bytes` the first `after` bytes of P, `reset`). A case's
//! [`Hold`] puts its two connections in the shared lane instead: the outer's first send, the
//! inner's whole conversation, then the rest of the outer's.

use super::{Expectation, Script, ScriptConnection, Step};
use crate::case::{Case, ConnectionCase, Conversation, Hold, Payload};

impl Script {
    /// The script that plays `case`: the same connections and plans, each conversation as the
    /// steps of its own lane, and a hold as the shared lane (see the module docs).
    pub fn from_case(case: &Case) -> Script {
        Script::from(case.clone())
    }

    /// The case this script is, when it is one: every connection's steps one of the four
    /// conversations, and the shared lane empty or a hold. `None` for anything else.
    pub fn to_case(&self) -> Option<Case> {
        let hold = match self.steps.first() {
            None => None,
            Some(first) => {
                let outer = self.index_of(first.connection()?)?;
                let inner = self.index_of(self.steps.get(1)?.connection()?)?;
                Some(Hold { outer, inner })
            }
        };
        let mut connections = Vec::with_capacity(self.connections.len());
        for (i, c) in self.connections.iter().enumerate() {
            let conversation = if hold.is_some_and(|h| h.outer == i || h.inner == i) {
                let mine: Vec<Step> = self.steps_of(&c.name).cloned().collect();
                conversation_of(&mine)?
            } else {
                conversation_of(&c.steps)?
            };
            connections.push(ConnectionCase {
                name: c.name.clone(),
                write: c.write.clone(),
                read: c.read.clone(),
                conversation,
            });
        }
        let case = Case {
            connections,
            pause_scale: self.pause_scale,
            hold,
        };
        // Whatever else the lanes hold (steps of a third connection, another order) is no case.
        (case.validate().is_ok() && Script::from_case(&case) == *self).then_some(case)
    }

    fn index_of(&self, name: &str) -> Option<usize> {
        self.connections.iter().position(|c| c.name == name)
    }
}

impl From<&Case> for Script {
    fn from(case: &Case) -> Script {
        Script::from_case(case)
    }
}

/// [`Script::from_case`], moving the payloads instead of copying them.
impl From<Case> for Script {
    fn from(case: Case) -> Script {
        let hold = case.hold;
        let held = |i: usize| hold.is_some_and(|h| h.outer == i || h.inner == i);
        let mut lanes: Vec<Vec<Step>> = Vec::with_capacity(case.connections.len());
        let mut connections = Vec::with_capacity(case.connections.len());
        for conn in case.connections {
            let ConnectionCase {
                name,
                write,
                read,
                conversation,
            } = conn;
            lanes.push(conversation_steps(&name, conversation));
            connections.push(ScriptConnection {
                name,
                write,
                read,
                steps: Vec::new(),
            });
        }
        let mut steps = Vec::new();
        for (i, (conn, lane)) in connections.iter_mut().zip(&mut lanes).enumerate() {
            if !held(i) {
                conn.steps = std::mem::take(lane);
            }
        }
        if let Some(Hold { outer, inner }) = hold {
            if outer < lanes.len() && inner < lanes.len() {
                let mut outer_steps = std::mem::take(&mut lanes[outer]).into_iter();
                steps.extend(outer_steps.next());
                steps.append(&mut lanes[inner]);
                steps.extend(outer_steps);
            }
        }
        Script {
            connections,
            steps,
            pause_scale: case.pause_scale,
        }
    }
}

/// The steps of the conversation of connection `name`.
fn conversation_steps(name: &str, conversation: Conversation) -> Vec<Step> {
    let name = || name.to_string();
    let send = |payload: Payload| Step::Send {
        connection: name(),
        payload,
        repeat: 1,
    };
    let expect = |expectation| Step::Expect {
        connection: name(),
        expectation,
        within: None,
    };
    let shutdown = || Step::ShutdownWrite { connection: name() };
    match conversation {
        Conversation::Stream { payload } => vec![
            send(payload),
            shutdown(),
            expect(Expectation::Echo),
            expect(Expectation::Eof),
        ],
        Conversation::Close { payload } => vec![
            send(payload),
            expect(Expectation::Echo),
            Step::Close { connection: name() },
        ],
        Conversation::Abort { payload, after } => {
            let echoed = prefix(&payload, after);
            vec![
                send(payload),
                expect(Expectation::Bytes(echoed)),
                Step::Reset { connection: name() },
            ]
        }
        Conversation::Interactive { messages } => {
            let mut steps = Vec::with_capacity(messages.len() * 2 + 2);
            for m in messages {
                steps.push(send(m));
                steps.push(expect(Expectation::Echo));
            }
            steps.push(shutdown());
            steps.push(expect(Expectation::Eof));
            steps
        }
    }
}

/// The first `len` bytes of `payload` (all of it if shorter), as a payload of the same kind: a
/// generated payload's prefix is the generator's stream for the same seed, cut shorter.
fn prefix(payload: &Payload, len: usize) -> Payload {
    match payload {
        Payload::Literal(bytes) => Payload::Literal(bytes[..len.min(bytes.len())].to_vec()),
        Payload::Generated { len: all, seed } => Payload::generated(len.min(*all), *seed),
    }
}

/// The conversation whose steps these are, if any.
fn conversation_of(steps: &[Step]) -> Option<Conversation> {
    #[derive(PartialEq)]
    enum Word<'a> {
        Send(&'a Payload),
        Shutdown,
        Echo,
        Eof,
        Close,
        Bytes(&'a Payload),
        Reset,
    }
    let words: Vec<Word<'_>> = steps
        .iter()
        .map(|s| match s {
            Step::Send {
                payload, repeat: 1, ..
            } => Some(Word::Send(payload)),
            Step::ShutdownWrite { .. } => Some(Word::Shutdown),
            Step::Expect {
                expectation: Expectation::Echo,
                within: None,
                ..
            } => Some(Word::Echo),
            Step::Expect {
                expectation: Expectation::Eof,
                within: None,
                ..
            } => Some(Word::Eof),
            Step::Expect {
                expectation: Expectation::Bytes(p),
                within: None,
                ..
            } => Some(Word::Bytes(p)),
            Step::Close { .. } => Some(Word::Close),
            Step::Reset { .. } => Some(Word::Reset),
            _ => None,
        })
        .collect::<Option<_>>()?;
    match words.as_slice() {
        [Word::Send(p), Word::Shutdown, Word::Echo, Word::Eof] => Some(Conversation::Stream {
            payload: (*p).clone(),
        }),
        [Word::Send(p), Word::Echo, Word::Close] => Some(Conversation::Close {
            payload: (*p).clone(),
        }),
        [Word::Send(p), Word::Bytes(echoed), Word::Reset]
            if prefix(p, echoed.len()) == **echoed =>
        {
            Some(Conversation::Abort {
                payload: (*p).clone(),
                after: echoed.len(),
            })
        }
        [rounds @ .., Word::Shutdown, Word::Eof] if rounds.len() % 2 == 0 => {
            let messages = rounds
                .chunks(2)
                .map(|pair| match pair {
                    [Word::Send(p), Word::Echo] => Some((*p).clone()),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()?;
            Some(Conversation::Interactive { messages })
        }
        _ => None,
    }
}
