//! A proptest strategy for [`Script`]s, covering every kind of step in both kinds of lane, for
//! the printer/parser round trip and for anyone who wants random scripts.
//!
//! It draws connections (with names that include keywords such as `sleep` and `connection`,
//! which the grammar must tell apart from directives) and a list of step wishes, then keeps the
//! wishes that are valid where they fall, by the same rules the parser applies. Then some
//! connections take their steps into lanes of their own (the order on one connection is kept,
//! so the rules still hold). So every script it yields validates, and shrinking removes steps
//! without ever making one invalid.

use proptest::prelude::*;
use proptest::sample::select;

use super::{Expectation, Script, ScriptConnection, StaticState, Step};
use crate::case::{CaseBounds, PauseScale, Payload};
use crate::strategy::{payload_strategy, read_plan_strategy, write_plan_strategy};

/// Connection names drawn from: plain ones, and keywords that are valid names.
const NAMES: [&str; 8] = [
    "a",
    "b2",
    "conn_x",
    "c-1",
    "sleep",
    "connection",
    "nodelay",
    "within",
];

/// What a drawn step wants to be, before it is checked against its connection's state.
#[derive(Debug, Clone)]
enum Wish {
    Send(Payload, u32),
    Echo,
    Last,
    Bytes(usize),
    Eof,
    Shutdown,
    Close,
    Reset,
    Sleep(u64),
}

/// Scripts of 1 to 3 connections and up to `max_steps` steps, payloads within `bounds`.
pub fn script_strategy(bounds: &CaseBounds, max_steps: usize) -> BoxedStrategy<Script> {
    let bounds = bounds.normalized();
    let max_len = bounds.max_payload_len.min(4096);
    let wish = prop_oneof![
        4 => (payload_strategy(max_len, &bounds), prop_oneof![3 => Just(1u32), 1 => 1..5u32])
            .prop_map(|(p, n)| Wish::Send(p, n)),
        2 => Just(Wish::Echo),
        2 => Just(Wish::Last),
        2 => (0..64usize).prop_map(Wish::Bytes),
        1 => Just(Wish::Eof),
        1 => Just(Wish::Shutdown),
        1 => Just(Wish::Close),
        1 => Just(Wish::Reset),
        1 => (0..2_000u64).prop_map(Wish::Sleep),
    ];
    let within = proptest::option::of((0..60_000u64).prop_map(std::time::Duration::from_millis));
    let steps = proptest::collection::vec((0..3usize, wish, within), 0..=max_steps);
    let connection = (write_plan_strategy(&bounds), read_plan_strategy(&bounds));
    (
        proptest::collection::vec(connection, 1..=3),
        proptest::sample::subsequence(NAMES.to_vec(), 3),
        steps,
        select(vec![(1u32, 1u32), (1, 100), (0, 1), (3, 2)]),
        0..8u8,
    )
        .prop_map(|(plans, names, wishes, (num, den), own_lanes)| {
            let connections: Vec<ScriptConnection> = plans
                .into_iter()
                .zip(names)
                .map(|((write, read), name)| ScriptConnection {
                    name: name.to_string(),
                    write,
                    read,
                    steps: Vec::new(),
                })
                .collect();
            let mut states = vec![StaticState::default(); connections.len()];
            let mut steps = Vec::new();
            for (at, wish, within) in wishes {
                let at = at % connections.len();
                let connection = connections[at].name.clone();
                let state = &mut states[at];
                let expect = |expectation| Step::Expect {
                    connection: connection.clone(),
                    expectation,
                    within,
                };
                let step = match wish {
                    Wish::Send(payload, repeat) => Step::Send {
                        connection: connection.clone(),
                        payload,
                        repeat,
                    },
                    Wish::Echo => expect(Expectation::Echo),
                    Wish::Last => expect(Expectation::Last),
                    Wish::Bytes(n) => {
                        // Some of what is owed, as the server should echo it or not.
                        let owed = (state.sent - state.expected) as usize;
                        expect(Expectation::Bytes(Payload::Literal(
                            (0..n.min(owed)).map(|i| (i * 37) as u8).collect(),
                        )))
                    }
                    Wish::Eof => expect(Expectation::Eof),
                    Wish::Shutdown => Step::ShutdownWrite {
                        connection: connection.clone(),
                    },
                    Wish::Close => Step::Close {
                        connection: connection.clone(),
                    },
                    Wish::Reset => Step::Reset {
                        connection: connection.clone(),
                    },
                    Wish::Sleep(ms) => Step::Sleep(std::time::Duration::from_micros(ms * 7)),
                };
                let mut next = state.clone();
                if next.apply(&step).is_ok() {
                    *state = next;
                    steps.push(step);
                }
            }
            let mut connections = connections;
            for (i, conn) in connections.iter_mut().enumerate() {
                if own_lanes & (1 << i) != 0 {
                    let (mine, rest) = steps
                        .into_iter()
                        .partition(|s: &Step| s.connection() == Some(conn.name.as_str()));
                    conn.steps = mine;
                    steps = rest;
                }
            }
            Script {
                connections,
                steps,
                pause_scale: PauseScale::new(num, den).unwrap_or(PauseScale::ONE),
            }
        })
        .boxed()
}
