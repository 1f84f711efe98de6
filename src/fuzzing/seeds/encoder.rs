//! Writes the bytes that `arbitrary` decodes into given values: the inverse of the decoders in
//! `crate::case` (`Case::arbitrary_with`, `ConnectionCase::arbitrary_with`), for cases within
//! their bounds. The seeds are written through it, so that each decodes to a meaningful case.

use std::time::Duration;

use crate::case::bounds::{
    LenClass, SizeClass, BUFFER_WEIGHTS, CONVERSATION_WEIGHTS, LEN_CLASSES, SIZE_CLASSES,
};
use crate::case::{
    Case, CaseBounds, ConnectionCase, Conversation, ConversationKind, Payload, ReadPlan, WritePlan,
};

/// Writes the bytes that `arbitrary` decodes into given values: each method mirrors one read
/// of the decoders in `crate::case`, in the same order.
struct Encoder<'b> {
    out: Vec<u8>,
    bounds: &'b CaseBounds,
}

impl Encoder<'_> {
    /// `value` for `Unstructured::int_in_range(lo..=hi)`: the offset from `lo`, big-endian, in
    /// as many bytes as the range needs.
    fn int(&mut self, lo: u64, hi: u64, value: u64) {
        assert!(lo <= value && value <= hi, "{value} outside {lo}..={hi}");
        let delta = hi - lo;
        let width = (0..8).take_while(|&k| delta >> (8 * k) > 0).count();
        let offset = (value - lo).to_be_bytes();
        self.out.extend_from_slice(&offset[8 - width..]);
    }

    /// The roll that makes a weight table pick `value`.
    fn pick<T: PartialEq>(&mut self, table: &[(u32, T)], value: &T) {
        let at = table
            .iter()
            .position(|(_, v)| v == value)
            .expect("in the table");
        let roll: u32 = table[..at].iter().map(|(w, _)| w).sum();
        self.int(0, 99, u64::from(roll));
    }

    fn payload(&mut self, payload: &Payload, max_len: usize) {
        let b = self.bounds;
        let max_len = max_len.min(b.max_payload_len);
        match payload {
            Payload::Literal(bytes) => {
                let class = if bytes.len() <= 16 {
                    LenClass::Tiny
                } else {
                    LenClass::Literal
                };
                self.pick(&LEN_CLASSES, &class);
                let (_, range) = class.range(max_len, b);
                self.int(
                    *range.start() as u64,
                    *range.end() as u64,
                    bytes.len() as u64,
                );
                self.out.extend_from_slice(bytes);
            }
            Payload::Generated { len, seed } => {
                let class = if *len <= 64 * 1024 {
                    LenClass::Medium
                } else {
                    LenClass::Large
                };
                self.pick(&LEN_CLASSES, &class);
                let (_, range) = class.range(max_len, b);
                self.int(*range.start() as u64, *range.end() as u64, *len as u64);
                self.out.extend_from_slice(&seed.to_le_bytes());
            }
        }
    }

    fn conversation(&mut self, conversation: &Conversation) {
        let b = self.bounds;
        // An abort is drawn for the whole case, from a stream (see `encode_case`).
        let kind = match conversation.kind() {
            ConversationKind::Abort => ConversationKind::Stream,
            kind => kind,
        };
        self.pick(&CONVERSATION_WEIGHTS, &kind);
        match conversation {
            Conversation::Stream { payload }
            | Conversation::Close { payload }
            | Conversation::Abort { payload, .. } => {
                self.payload(payload, b.max_payload_len);
            }
            Conversation::Interactive { messages } => {
                self.int(1, b.max_rounds as u64, messages.len() as u64);
                for m in messages {
                    self.payload(m, b.max_payload_len / b.max_rounds);
                }
            }
        }
    }

    fn sizes(&mut self, sizes: &[usize]) {
        let b = self.bounds;
        self.int(1, b.max_plan_len as u64, sizes.len() as u64);
        for &s in sizes {
            let class = if s == b.max_chunk_len {
                SizeClass::Max
            } else if s <= 16 {
                SizeClass::Small
            } else {
                SizeClass::Any
            };
            self.pick(&SIZE_CLASSES, &class);
            let range = class.range(b);
            self.int(*range.start() as u64, *range.end() as u64, s as u64);
        }
    }

    fn pauses(&mut self, pauses: &[Duration]) {
        let b = self.bounds;
        if pauses.is_empty() {
            self.int(0, 99, 0);
            return;
        }
        self.int(0, 99, 99);
        self.int(1, b.max_plan_len as u64, pauses.len() as u64);
        let max_us = b.max_pause.as_micros() as u64;
        for p in pauses {
            self.int(0, max_us, p.as_micros() as u64);
        }
    }

    fn buffer(&mut self, size: Option<u32>) {
        let b = self.bounds;
        let table = [
            (BUFFER_WEIGHTS[0], 0),
            (BUFFER_WEIGHTS[1], 1),
            (BUFFER_WEIGHTS[2], 2),
        ];
        match size {
            None => self.pick(&table, &0),
            Some(s) if s == b.min_socket_buffer => self.pick(&table, &1),
            Some(s) => {
                self.pick(&table, &2);
                let (lo, hi) = (b.min_socket_buffer, b.max_socket_buffer);
                self.int(u64::from(lo), u64::from(hi), u64::from(s));
            }
        }
    }

    fn write_plan(&mut self, plan: &WritePlan) {
        self.sizes(&plan.chunks);
        self.pauses(&plan.pauses);
        self.out.push(u8::from(plan.nodelay));
        self.buffer(plan.send_buffer);
        self.buffer(plan.recv_buffer);
    }

    fn read_plan(&mut self, plan: &ReadPlan) {
        self.sizes(&plan.sizes);
        self.pauses(&plan.pauses);
    }

    fn connection(&mut self, conn: &ConnectionCase) {
        self.conversation(&conn.conversation);
        self.write_plan(&conn.write);
        self.read_plan(&conn.read);
    }
}

/// The bytes that `ConnectionCase::arbitrary_with(u, bounds, name)` decodes into `conn`
/// (name aside), when `conn` lies within `bounds` and its pauses are whole microseconds.
pub fn encode_connection(conn: &ConnectionCase, bounds: &CaseBounds) -> Vec<u8> {
    let bounds = bounds.normalized();
    let mut e = Encoder {
        out: Vec::new(),
        bounds: &bounds,
    };
    e.connection(conn);
    e.out
}

/// The bytes that `Case::arbitrary_with(u, bounds)` decodes into `case`, under the same
/// conditions as [`encode_connection`], with connections named `c0`, `c1`, ….
pub fn encode_case(case: &Case, bounds: &CaseBounds) -> Vec<u8> {
    let bounds = bounds.normalized();
    let mut e = Encoder {
        out: Vec::new(),
        bounds: &bounds,
    };
    e.int(
        1,
        bounds.max_connections as u64,
        case.connections.len() as u64,
    );
    for conn in &case.connections {
        e.connection(conn);
    }
    let abort = case
        .connections
        .iter()
        .enumerate()
        .find_map(|(i, c)| match c.conversation {
            Conversation::Abort { after, .. } => Some((i, after)),
            _ => None,
        });
    // The hold and the abort are drawn last; a case with neither ends here, as the seeds
    // written before them did.
    if case.hold.is_none() && abort.is_none() {
        return e.out;
    }
    if case.connections.len() > 1 {
        match case.hold {
            // `draw_hold` picks `outer % (n - 1)`, then `outer + 1 + inner % (n - 1 - outer)`.
            Some(h) => {
                e.int(0, 99, 99);
                e.int(0, 255, h.outer as u64);
                e.int(0, 255, (h.inner - h.outer - 1) as u64);
            }
            None => e.out.extend_from_slice(&[0, 0, 0]),
        }
    }
    // `draw_abort` resets after `1 + pick % (len - 1)` bytes.
    if let Some((i, after)) = abort {
        e.int(0, 99, 99);
        e.int(0, 255, i as u64);
        e.int(0, u64::from(u32::MAX), after as u64 - 1);
    }
    e.out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::Hold;
    use crate::fuzzing::{decode, lifecycle_bounds, roundtrip_bounds, seeds, FuzzTarget};

    /// The abort is drawn after every other choice: its bytes come last, and an input without
    /// them (every input written before aborts existed) decodes to the case without the abort.
    #[test]
    fn an_abort_is_the_last_choice_of_an_input() {
        let bounds = lifecycle_bounds();
        let stream = |text: &[u8]| Conversation::Stream {
            payload: Payload::Literal(text.to_vec()),
        };
        let mut case = Case {
            connections: vec![
                ConnectionCase::new("c0", stream(b"held open")),
                ConnectionCase::new("c1", stream(b"inner")),
                ConnectionCase::new("c2", stream(b"all of it")),
            ],
            pause_scale: bounds.pause_scale,
            hold: Some(Hold { outer: 0, inner: 1 }),
        };
        for conn in &mut case.connections {
            conn.write.chunks = vec![bounds.max_chunk_len];
            conn.read.sizes = vec![bounds.max_chunk_len];
        }
        let plain = encode_case(&case, &bounds);
        case.connections[2].conversation = Conversation::Abort {
            payload: Payload::Literal(b"all of it".to_vec()),
            after: 4,
        };
        let aborting = encode_case(&case, &bounds);
        assert_eq!(
            decode(FuzzTarget::RoundtripLifecycle, &aborting),
            Some(case.clone())
        );
        assert!(aborting.starts_with(&plain), "the abort's bytes come last");
        let mut without = case;
        without.connections[2].conversation = stream(b"all of it");
        assert_eq!(
            decode(FuzzTarget::RoundtripLifecycle, &plain),
            Some(without)
        );
    }

    #[test]
    fn the_seeds_decode_to_the_cases_they_were_made_from() {
        for (name, conn) in seeds::roundtrip_cases() {
            let bytes = encode_connection(&conn, &roundtrip_bounds());
            let case = decode(FuzzTarget::Roundtrip, &bytes).expect(name);
            assert_eq!(case.connections, vec![conn], "{name}");
            assert_eq!(case.pause_scale, roundtrip_bounds().pause_scale);
        }
        for (name, case) in seeds::lifecycle_cases() {
            let bytes = encode_case(&case, &lifecycle_bounds());
            assert_eq!(
                decode(FuzzTarget::RoundtripLifecycle, &bytes),
                Some(case),
                "{name}"
            );
        }
    }
}
