//! proptest strategies for [`crate::case`]: the property tests, `check` and other crates' tests
//! draw cases from here.
//!
//! Every strategy takes the same [`CaseBounds`] as the `arbitrary` decoders and uses the same
//! weight tables, so both generators mean the same thing by "a case". Shrinking goes toward
//! simpler cases: fewer connections, a stream rather than rounds, shorter payloads (literal
//! before generated), larger chunks, fewer plan entries, no pauses, NODELAY off and OS-default
//! socket buffers. Each connection is fitted into the operation and pause budgets after every
//! shrinking step, so shrunk cases stay in bounds.
//!
//! ```
//! use echo_harness::case::CaseBounds;
//! use echo_harness::strategy::case_strategy;
//! use proptest::prelude::*;
//!
//! proptest!(|(case in case_strategy(&CaseBounds::fuzzing()))| {
//!     prop_assert!(CaseBounds::fuzzing().check(&case).is_ok());
//! });
//! ```

use std::ops::RangeInclusive;
use std::time::Duration;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::strategy::Union;

use crate::case::bounds::{
    LenClass, SizeClass, BUFFER_WEIGHTS, CONVERSATION_WEIGHTS, LEN_CLASSES, NO_PAUSES_PERCENT,
    SIZE_CLASSES,
};
use crate::case::{
    Case, CaseBounds, ConnectionCase, Conversation, ConversationKind, Payload, ReadPlan, WritePlan,
};

/// Whole cases within `bounds`; connections are named `c0`, `c1`, …
pub fn case_strategy(bounds: &CaseBounds) -> BoxedStrategy<Case> {
    let b = bounds.normalized();
    let scale = b.pause_scale;
    let hold = (0..100u32, any::<usize>(), any::<usize>());
    // Shrinks toward no abort (roll 0) and a reset after the first byte (pick 0).
    let abort = (0..100u32, any::<usize>(), 0..=u32::MAX);
    (
        vec(connection_strategy(&b), 1..=b.max_connections),
        hold,
        abort,
    )
        .prop_map(move |(mut connections, (roll, outer, inner), abort)| {
            for (i, conn) in connections.iter_mut().enumerate() {
                conn.name = format!("c{i}");
            }
            let hold = b.draw_hold(&connections, roll, outer, inner);
            let (roll, pick_conn, pick_after) = abort;
            b.draw_abort(&mut connections, roll, pick_conn, pick_after as usize);
            Case {
                hold,
                connections,
                pause_scale: scale,
            }
        })
        .boxed()
}

/// One connection within `bounds`, named `c0`, fitted into the operation and pause budgets.
pub fn connection_strategy(bounds: &CaseBounds) -> BoxedStrategy<ConnectionCase> {
    let b = bounds.normalized();
    (
        conversation_strategy(&b),
        write_plan_strategy(&b),
        read_plan_strategy(&b),
    )
        .prop_map(move |(conversation, write, read)| {
            let mut conn = ConnectionCase {
                name: "c0".to_string(),
                write,
                read,
                conversation,
            };
            b.fit(&mut conn);
            conn
        })
        .boxed()
}

/// Conversations whose payloads stay within `bounds`.
pub fn conversation_strategy(bounds: &CaseBounds) -> BoxedStrategy<Conversation> {
    let b = bounds.normalized();
    let options = CONVERSATION_WEIGHTS.iter().map(|&(weight, kind)| {
        let s = match kind {
            // Abort is not in the table: one is drawn for the whole case, from a stream or a
            // close (`CaseBounds::draw_abort`).
            ConversationKind::Stream | ConversationKind::Abort => {
                payload_strategy(b.max_payload_len, &b)
                    .prop_map(|payload| Conversation::Stream { payload })
                    .boxed()
            }
            ConversationKind::Close => payload_strategy(b.max_payload_len, &b)
                .prop_map(|payload| Conversation::Close { payload })
                .boxed(),
            ConversationKind::Interactive => {
                // Each message may have an equal share of the maximum, so that the rounds
                // together stay in bounds whatever their number (a `prop_flat_map` on the
                // number of rounds would cost twice as much to draw).
                let share = b.max_payload_len / b.max_rounds;
                vec(payload_strategy(share, &b), 1..=b.max_rounds)
                    .prop_map(|messages| Conversation::Interactive { messages })
                    .boxed()
            }
        };
        (weight, s)
    });
    Union::new_weighted(options.collect::<Vec<_>>()).boxed()
}

/// Payloads of at most `max_len` bytes; literal ones up to `bounds.max_literal_len`.
pub fn payload_strategy(max_len: usize, bounds: &CaseBounds) -> BoxedStrategy<Payload> {
    let b = bounds.normalized();
    let max_len = max_len.min(b.max_payload_len);
    let options = LEN_CLASSES
        .iter()
        .map(|&(weight, class): &(u32, LenClass)| {
            let (literal, range) = class.range(max_len, &b);
            let s = if literal {
                vec(payload_byte(), range)
                    .prop_map(Payload::Literal)
                    .boxed()
            } else {
                (range, any::<u64>())
                    .prop_map(|(len, seed)| Payload::Generated { len, seed })
                    .boxed()
            };
            (weight, s)
        });
    Union::new_weighted(options.collect::<Vec<_>>()).boxed()
}

/// Literal bytes: any byte, with letters, NUL and newline more often than chance, because
/// servers that treat their input as text or C strings break on those. One plain `u8` tree per
/// byte (a union per byte costs ten times more to generate), mapped so that shrinking goes
/// toward `a`: minimized payloads read as text.
fn payload_byte() -> impl Strategy<Value = u8> {
    any::<u8>().prop_map(|raw| match raw {
        0..=25 => b'a' + raw,
        26..=31 => b' ',
        32..=47 => 0,
        48..=55 => b'\n',
        other => other,
    })
}

/// Write plans within `bounds`.
pub fn write_plan_strategy(bounds: &CaseBounds) -> BoxedStrategy<WritePlan> {
    let b = bounds.normalized();
    (
        sizes_strategy(&b),
        pauses_strategy(&b),
        any::<bool>(),
        socket_buffer_strategy(&b),
        socket_buffer_strategy(&b),
    )
        .prop_map(
            |(chunks, pauses, nodelay, send_buffer, recv_buffer)| WritePlan {
                chunks,
                pauses,
                nodelay,
                send_buffer,
                recv_buffer,
            },
        )
        .boxed()
}

/// Read plans within `bounds`.
pub fn read_plan_strategy(bounds: &CaseBounds) -> BoxedStrategy<ReadPlan> {
    let b = bounds.normalized();
    (sizes_strategy(&b), pauses_strategy(&b))
        .prop_map(|(sizes, pauses)| ReadPlan { sizes, pauses })
        .boxed()
}

/// A size in `range` that shrinks toward the *top* of the range: larger chunks are simpler.
fn shrinking_up(range: RangeInclusive<usize>) -> BoxedStrategy<usize> {
    let (lo, hi) = (*range.start(), *range.end());
    (0..=hi - lo).prop_map(move |x| hi - x).boxed()
}

fn sizes_strategy(b: &CaseBounds) -> BoxedStrategy<Vec<usize>> {
    let options: Vec<_> = SIZE_CLASSES
        .iter()
        .map(|&(weight, class): &(u32, SizeClass)| (weight, shrinking_up(class.range(b))))
        .collect();
    vec(Union::new_weighted(options), 1..=b.max_plan_len).boxed()
}

fn pauses_strategy(b: &CaseBounds) -> BoxedStrategy<Vec<Duration>> {
    let max_us = b.max_pause.as_micros().min(u128::from(u64::MAX)) as u64;
    let pause = (0..=max_us).prop_map(Duration::from_micros);
    Union::new_weighted(vec![
        (NO_PAUSES_PERCENT, Just(Vec::new()).boxed()),
        (
            100 - NO_PAUSES_PERCENT,
            vec(pause, 1..=b.max_plan_len).boxed(),
        ),
    ])
    .boxed()
}

fn socket_buffer_strategy(b: &CaseBounds) -> BoxedStrategy<Option<u32>> {
    let (min, max) = (b.min_socket_buffer, b.max_socket_buffer);
    Union::new_weighted(vec![
        (BUFFER_WEIGHTS[0], Just(None).boxed()),
        (BUFFER_WEIGHTS[1], Just(Some(min)).boxed()),
        (BUFFER_WEIGHTS[2], (min..=max).prop_map(Some).boxed()),
    ])
    .boxed()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use arbitrary::Unstructured;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, RngAlgorithm, TestError, TestRng, TestRunner};

    use super::*;
    use crate::generator::{byte_at, generate};

    /// Which corners of the case space a sample reached.
    #[derive(Debug, Default)]
    struct Coverage {
        one_byte_write: bool,
        one_byte_read: bool,
        max_payload: bool,
        over_one_mib: bool,
        kinds: BTreeSet<ConversationKind>,
        several_connections: bool,
        nodelay_on: bool,
        nodelay_off: bool,
        min_send_buffer: bool,
        min_recv_buffer: bool,
        default_buffers: bool,
        pauses: bool,
        empty_payload: bool,
        literal: bool,
        generated: bool,
    }

    impl Coverage {
        fn record(&mut self, case: &Case, bounds: &CaseBounds) {
            self.several_connections |= case.connections.len() >= 2;
            for conn in &case.connections {
                self.one_byte_write |= conn.write.chunks.contains(&1);
                self.one_byte_read |= conn.read.sizes.contains(&1);
                let len = conn.conversation.total_len();
                self.max_payload |= len == bounds.max_payload_len as u64;
                self.over_one_mib |= len > 1 << 20;
                self.kinds.insert(conn.conversation.kind());
                self.nodelay_on |= conn.write.nodelay;
                self.nodelay_off |= !conn.write.nodelay;
                self.min_send_buffer |= conn.write.send_buffer == Some(bounds.min_socket_buffer);
                self.min_recv_buffer |= conn.write.recv_buffer == Some(bounds.min_socket_buffer);
                self.default_buffers |= conn.write.send_buffer.is_none();
                self.pauses |= conn.pause_total() > Duration::ZERO;
                for p in conn.conversation.payloads() {
                    self.empty_payload |= p.is_empty();
                    self.literal |= matches!(p, Payload::Literal(_));
                    self.generated |= matches!(p, Payload::Generated { .. });
                }
            }
        }

        fn missing(&self) -> Vec<&'static str> {
            let all_kinds = self.kinds.len() == ConversationKind::ALL.len();
            [
                (self.one_byte_write, "1-byte write chunks"),
                (self.one_byte_read, "1-byte reads"),
                (self.max_payload, "exactly the maximum payload"),
                (self.over_one_mib, "more than 1 MiB on one connection"),
                (all_kinds, "every conversation kind"),
                (self.several_connections, "two or more connections"),
                (self.nodelay_on, "NODELAY on"),
                (self.nodelay_off, "NODELAY off"),
                (self.min_send_buffer, "the smallest send buffer"),
                (self.min_recv_buffer, "the smallest receive buffer"),
                (self.default_buffers, "OS-default buffers"),
                (self.pauses, "pauses"),
                (self.empty_payload, "an empty payload"),
                (self.literal, "literal payloads"),
                (self.generated, "generated payloads"),
            ]
            .into_iter()
            .filter(|(reached, _)| !reached)
            .map(|(_, what)| what)
            .collect()
        }
    }

    const SAMPLES: usize = 10_000;

    /// A deterministic runner. XorShift rather than the default ChaCha: in a debug build it draws
    /// cases four times faster, and any fixed seed serves a coverage test.
    fn fast_runner(config: Config) -> TestRunner {
        TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::XorShift))
    }

    /// The issue's coverage test, proptest half: 10,000 cases stay in bounds and reach every
    /// corner.
    #[test]
    fn proptest_cases_stay_in_bounds_and_reach_every_variant() {
        let bounds = CaseBounds::default();
        let mut runner = fast_runner(Config::default());
        let strategy = case_strategy(&bounds);
        let mut coverage = Coverage::default();
        for _ in 0..SAMPLES {
            let case = strategy.new_tree(&mut runner).unwrap().current();
            if let Err(e) = bounds.check(&case) {
                panic!("proptest case out of bounds: {e}\n{case}");
            }
            assert_eq!(case.pause_scale, bounds.pause_scale);
            coverage.record(&case, &bounds);
        }
        assert_eq!(coverage.missing(), Vec::<&str>::new(), "{coverage:?}");
    }

    /// The issue's coverage test, arbitrary half: 10,000 fuzzer-like inputs decode (none is
    /// rejected) into cases within the same bounds that reach the same corners.
    #[test]
    fn arbitrary_cases_stay_in_bounds_and_reach_every_variant() {
        let bounds = CaseBounds::default();
        let mut coverage = Coverage::default();
        for i in 0..SAMPLES as u64 {
            // Inputs of varied lengths, mostly short as a fuzzer's are, some long.
            let len = match byte_at(i, 0) % 4 {
                0 => byte_at(i, 1) as usize % 16,
                1 | 2 => byte_at(i, 1) as usize * 4,
                _ => (byte_at(i, 1) as usize) << 6,
            };
            let input = generate(len, i);
            let case = Case::arbitrary_with(&mut Unstructured::new(&input), &bounds)
                .expect("arbitrary never rejects");
            if let Err(e) = bounds.check(&case) {
                panic!("arbitrary case out of bounds: {e}\n{case}");
            }
            assert_eq!(case.pause_scale, bounds.pause_scale);
            coverage.record(&case, &bounds);
        }
        assert_eq!(coverage.missing(), Vec::<&str>::new(), "{coverage:?}");
    }

    /// The coverage check can fail: a sample of simple cases misses corners.
    #[test]
    fn coverage_reports_what_is_missing() {
        let bounds = CaseBounds::default();
        let mut cov = Coverage::default();
        cov.record(
            &Case::single(Conversation::Stream {
                payload: Payload::Literal(b"x".to_vec()),
            }),
            &bounds,
        );
        let missing = cov.missing();
        assert!(missing.contains(&"1-byte write chunks"), "{missing:?}");
        assert!(missing.contains(&"two or more connections"));
        assert!(!missing.contains(&"NODELAY off"));
    }

    /// Shrinking ends at the simplest case that still fails: here, the shortest payload over 100
    /// bytes, on one connection, with the largest chunks and no pauses.
    #[test]
    fn shrinking_goes_toward_simple_cases() {
        let bounds = CaseBounds::default().max_payload_len(64 * 1024);
        let mut runner = fast_runner(Config {
            // Enough iterations to shrink every field, bytes included, to the end; the
            // default 4096 can run out on a kilobyte literal.
            max_shrink_iters: 100_000,
            failure_persistence: None,
            ..Config::default()
        });
        let result = runner.run(&case_strategy(&bounds), |case| {
            prop_assert!(case
                .connections
                .iter()
                .all(|c| c.conversation.total_len() <= 100));
            Ok(())
        });
        let Err(TestError::Fail(_, minimal)) = result else {
            panic!("expected a failure, got {result:?}");
        };
        assert_eq!(minimal.connections.len(), 1, "{minimal}");
        let conn = &minimal.connections[0];
        assert_eq!(conn.conversation.total_len(), 101, "{minimal}");
        assert_eq!(conn.conversation.payloads().len(), 1, "{minimal}");
        assert_eq!(conn.write.chunks, [bounds.max_chunk_len], "{minimal}");
        assert_eq!(conn.read.sizes, [bounds.max_chunk_len], "{minimal}");
        assert!(
            conn.write.pauses.is_empty() && conn.read.pauses.is_empty(),
            "{minimal}"
        );
        assert!(!conn.write.nodelay, "{minimal}");
        assert_eq!(
            (conn.write.send_buffer, conn.write.recv_buffer),
            (None, None)
        );
    }
}
