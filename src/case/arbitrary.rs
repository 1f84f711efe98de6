//! `arbitrary` support: decoding fuzzer bytes into cases, within a [`CaseBounds`].
//!
//! The decoders never fail and never reject: when the input runs out, `Unstructured` yields
//! zeros, and zero always means the simplest choice (one connection, a stream, an empty
//! payload, the largest chunks, no pauses). Every choice reads its own few bytes in a fixed
//! order, and literal payload bytes are copied straight from the input, so a fuzzer's mutation of
//! one byte changes one thing about the case. The weights are the same tables the proptest
//! strategies use.

use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};

use super::bounds::{
    LenClass, SizeClass, BUFFER_WEIGHTS, CONVERSATION_WEIGHTS, LEN_CLASSES, NO_PAUSES_PERCENT,
    SIZE_CLASSES,
};
use super::{
    Case, CaseBounds, ConnectionCase, Conversation, ConversationKind, Payload, ReadPlan, WritePlan,
};

/// Picks from a weight table (weights in percent, summing to 100); zero input picks the first.
fn pick<T: Copy>(u: &mut Unstructured<'_>, table: &[(u32, T)]) -> arbitrary::Result<T> {
    let mut roll = u.int_in_range(0..=99u32)?;
    for &(weight, value) in table {
        if roll < weight {
            return Ok(value);
        }
        roll -= weight;
    }
    Ok(table[table.len() - 1].1)
}

impl Case {
    /// Decodes a case within `bounds` from fuzzer input. Never fails for lack of input.
    pub fn arbitrary_with(
        u: &mut Unstructured<'_>,
        bounds: &CaseBounds,
    ) -> arbitrary::Result<Self> {
        let b = bounds.normalized();
        let count = u.int_in_range(1..=b.max_connections)?;
        let mut connections: Vec<ConnectionCase> = (0..count)
            .map(|i| ConnectionCase::arbitrary_with(u, &b, format!("c{i}")))
            .collect::<arbitrary::Result<_>>()?;
        // Drawn last, so that inputs written before holds existed decode to the same
        // connections; an exhausted input rolls 0, which never holds.
        let hold = if connections.len() > 1 {
            let roll = u.int_in_range(0..=99u32)?;
            let outer = u.int_in_range(0..=255u8)?;
            let inner = u.int_in_range(0..=255u8)?;
            b.draw_hold(&connections, roll, outer.into(), inner.into())
        } else {
            None
        };
        // Drawn after the hold, for the same reason: an input that ends before it decodes as
        // it did before aborts existed.
        let roll = u.int_in_range(0..=99u32)?;
        let pick_conn = u.int_in_range(0..=255u8)?;
        let pick_after = u.int_in_range(0..=u32::MAX)?;
        b.draw_abort(
            &mut connections,
            roll,
            pick_conn.into(),
            pick_after as usize,
        );
        Ok(Self {
            connections,
            pause_scale: b.pause_scale,
            hold,
        })
    }
}

impl ConnectionCase {
    /// Decodes one connection within `bounds`, named `name`.
    pub fn arbitrary_with(
        u: &mut Unstructured<'_>,
        bounds: &CaseBounds,
        name: impl Into<String>,
    ) -> arbitrary::Result<Self> {
        let b = bounds.normalized();
        let conversation = Conversation::arbitrary_with(u, &b)?;
        let write = WritePlan::arbitrary_with(u, &b)?;
        let read = ReadPlan::arbitrary_with(u, &b)?;
        let mut conn = Self {
            name: name.into(),
            write,
            read,
            conversation,
        };
        b.fit(&mut conn);
        Ok(conn)
    }
}

impl Conversation {
    /// Decodes a conversation whose payloads stay within `bounds`.
    pub fn arbitrary_with(
        u: &mut Unstructured<'_>,
        bounds: &CaseBounds,
    ) -> arbitrary::Result<Self> {
        let b = bounds.normalized();
        Ok(match pick(u, &CONVERSATION_WEIGHTS)? {
            // Abort is not in the table: one is drawn for the whole case, from a stream or a
            // close (`CaseBounds::draw_abort`).
            ConversationKind::Stream | ConversationKind::Abort => Self::Stream {
                payload: Payload::arbitrary_with(u, b.max_payload_len, &b)?,
            },
            ConversationKind::Close => Self::Close {
                payload: Payload::arbitrary_with(u, b.max_payload_len, &b)?,
            },
            ConversationKind::Interactive => {
                let rounds = u.int_in_range(1..=b.max_rounds)?;
                // Each message may have an equal share of the maximum (as in the proptest
                // strategy), so the rounds together stay in bounds.
                let share = b.max_payload_len / b.max_rounds;
                let messages = (0..rounds)
                    .map(|_| Payload::arbitrary_with(u, share, &b))
                    .collect::<arbitrary::Result<_>>()?;
                Self::Interactive { messages }
            }
        })
    }
}

impl Payload {
    /// Decodes a payload of at most `max_len` bytes (and literal only up to
    /// `bounds.max_literal_len`). Literal bytes are taken from the input as they are.
    pub fn arbitrary_with(
        u: &mut Unstructured<'_>,
        max_len: usize,
        bounds: &CaseBounds,
    ) -> arbitrary::Result<Self> {
        let b = bounds.normalized();
        let max_len = max_len.min(b.max_payload_len);
        let class: LenClass = pick(u, &LEN_CLASSES)?;
        let (literal, range) = class.range(max_len, &b);
        let len = u.int_in_range(range)?;
        if literal {
            // Short input makes a short literal rather than a rejected one.
            let len = len.min(u.len());
            Ok(Self::Literal(u.bytes(len)?.to_vec()))
        } else {
            Ok(Self::Generated {
                len,
                seed: u.arbitrary()?,
            })
        }
    }
}

fn sizes(u: &mut Unstructured<'_>, b: &CaseBounds) -> arbitrary::Result<Vec<usize>> {
    let n = u.int_in_range(1..=b.max_plan_len)?;
    (0..n)
        .map(|_| {
            let class: SizeClass = pick(u, &SIZE_CLASSES)?;
            u.int_in_range(class.range(b))
        })
        .collect()
}

fn pauses(u: &mut Unstructured<'_>, b: &CaseBounds) -> arbitrary::Result<Vec<Duration>> {
    if u.int_in_range(0..=99u32)? < NO_PAUSES_PERCENT {
        return Ok(Vec::new());
    }
    let n = u.int_in_range(1..=b.max_plan_len)?;
    let max_us = b.max_pause.as_micros().min(u128::from(u64::MAX)) as u64;
    (0..n)
        .map(|_| Ok(Duration::from_micros(u.int_in_range(0..=max_us)?)))
        .collect()
}

fn socket_buffer(u: &mut Unstructured<'_>, b: &CaseBounds) -> arbitrary::Result<Option<u32>> {
    let table = [
        (BUFFER_WEIGHTS[0], 0),
        (BUFFER_WEIGHTS[1], 1),
        (BUFFER_WEIGHTS[2], 2),
    ];
    Ok(match pick(u, &table)? {
        0 => None,
        1 => Some(b.min_socket_buffer),
        _ => Some(u.int_in_range(b.min_socket_buffer..=b.max_socket_buffer)?),
    })
}

impl WritePlan {
    /// Decodes a write plan within `bounds`.
    pub fn arbitrary_with(
        u: &mut Unstructured<'_>,
        bounds: &CaseBounds,
    ) -> arbitrary::Result<Self> {
        let b = bounds.normalized();
        Ok(Self {
            chunks: sizes(u, &b)?,
            pauses: pauses(u, &b)?,
            nodelay: u.arbitrary()?,
            send_buffer: socket_buffer(u, &b)?,
            recv_buffer: socket_buffer(u, &b)?,
        })
    }
}

impl ReadPlan {
    /// Decodes a read plan within `bounds`.
    pub fn arbitrary_with(
        u: &mut Unstructured<'_>,
        bounds: &CaseBounds,
    ) -> arbitrary::Result<Self> {
        let b = bounds.normalized();
        Ok(Self {
            sizes: sizes(u, &b)?,
            pauses: pauses(u, &b)?,
        })
    }
}

/// Decodes within [`CaseBounds::fuzzing`], so pauses carry its 1/100 scale.
impl<'a> Arbitrary<'a> for Case {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Self::arbitrary_with(u, &CaseBounds::fuzzing())
    }
}

/// Decodes within [`CaseBounds::fuzzing`], named `c0`.
impl<'a> Arbitrary<'a> for ConnectionCase {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Self::arbitrary_with(u, &CaseBounds::fuzzing(), "c0")
    }
}

/// Decodes within [`CaseBounds::fuzzing`].
impl<'a> Arbitrary<'a> for Conversation {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Self::arbitrary_with(u, &CaseBounds::fuzzing())
    }
}

/// Decodes within [`CaseBounds::fuzzing`].
impl<'a> Arbitrary<'a> for Payload {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let bounds = CaseBounds::fuzzing();
        Self::arbitrary_with(u, bounds.max_payload_len, &bounds)
    }
}

/// Decodes within [`CaseBounds::fuzzing`].
impl<'a> Arbitrary<'a> for WritePlan {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Self::arbitrary_with(u, &CaseBounds::fuzzing())
    }
}

/// Decodes within [`CaseBounds::fuzzing`].
impl<'a> Arbitrary<'a> for ReadPlan {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Self::arbitrary_with(u, &CaseBounds::fuzzing())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_input_is_the_simplest_case() {
        let case = Case::arbitrary(&mut Unstructured::new(&[])).unwrap();
        assert_eq!(case.connections.len(), 1);
        let conn = &case.connections[0];
        assert_eq!(
            conn.conversation,
            Conversation::Stream {
                payload: Payload::Literal(vec![])
            }
        );
        assert_eq!(conn.write.chunks, [CaseBounds::fuzzing().max_chunk_len]);
        assert!(conn.write.pauses.is_empty() && conn.read.pauses.is_empty());
        assert_eq!(case.pause_scale, CaseBounds::fuzzing().pause_scale);
    }

    #[test]
    fn literal_bytes_come_from_the_input() {
        // Stream (roll 0), Tiny (roll 0), length 5, then the bytes themselves.
        let mut input = vec![0, 0, 5];
        input.extend_from_slice(b"hello");
        let conv = Conversation::arbitrary(&mut Unstructured::new(&input)).unwrap();
        assert_eq!(
            conv,
            Conversation::Stream {
                payload: Payload::Literal(b"hello".to_vec())
            }
        );
    }

    #[test]
    fn every_input_decodes_and_none_is_rejected() {
        // A sweep of short, structured and degenerate inputs; the decoders must succeed on all.
        let bounds = CaseBounds::default();
        for len in 0..200usize {
            for fill in [0u8, 1, 0x7f, 0xff] {
                let input: Vec<u8> = (0..len).map(|i| fill.wrapping_add(i as u8)).collect();
                let case = Case::arbitrary_with(&mut Unstructured::new(&input), &bounds)
                    .expect("decoding never fails");
                assert_eq!(bounds.check(&case), Ok(()), "{case:?}");
            }
        }
    }
}
