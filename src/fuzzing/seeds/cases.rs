//! The cases behind the `roundtrip` and `roundtrip_lifecycle` seeds: short and long payloads,
//! one-byte chunks, pauses, empty messages, every byte value, small socket buffers, three
//! connections at once. The `scenario_parse` and `proxy_roundtrip` seeds reuse them.

use std::time::Duration;

use crate::case::{Case, CaseBounds, ConnectionCase, Conversation, Payload};
use crate::fuzzing::lifecycle_bounds;

fn literal(bytes: &[u8]) -> Payload {
    Payload::Literal(bytes.to_vec())
}

fn us(n: u64) -> Duration {
    Duration::from_micros(n)
}

fn conn(name: &str, conversation: Conversation) -> ConnectionCase {
    let b = CaseBounds::fuzzing();
    let mut c = ConnectionCase::new(name, conversation);
    c.write.chunks = vec![b.max_chunk_len];
    c.read.sizes = vec![b.max_chunk_len];
    c
}

/// The cases behind the `roundtrip` seeds: each decodes, as its target plays it, to itself.
pub(in crate::fuzzing) fn roundtrip_cases() -> Vec<(&'static str, ConnectionCase)> {
    let mut hello = conn(
        "c0",
        Conversation::Interactive {
            messages: vec![literal(b"hello, world\n")],
        },
    );
    hello.write.nodelay = false;

    let mut one_byte = conn(
        "c0",
        Conversation::Interactive {
            messages: vec![
                literal(b"GET / HTTP/1.0\r\n\r\n"),
                literal(b"a second message"),
            ],
        },
    );
    one_byte.write.chunks = vec![1];
    one_byte.write.nodelay = true;
    one_byte.read.sizes = vec![1];

    let mut large = conn(
        "c0",
        Conversation::Interactive {
            messages: vec![Payload::generated(600, 7), literal(b"tail")],
        },
    );
    large.write.chunks = vec![256, 3];
    large.read.sizes = vec![100, 1];

    let mut paused = conn(
        "c0",
        Conversation::Interactive {
            messages: vec![literal(b"ping"), literal(b"pong"), literal(b"0123456789")],
        },
    );
    paused.write.chunks = vec![2, 5];
    paused.write.pauses = vec![us(500), us(0)];
    paused.write.nodelay = true;
    paused.read.sizes = vec![3];
    paused.read.pauses = vec![us(250)];

    let empty = conn(
        "c0",
        Conversation::Interactive {
            messages: vec![literal(b""), literal(b"x"), literal(b"")],
        },
    );

    let mut binary = conn(
        "c0",
        Conversation::Interactive {
            messages: vec![Payload::Literal((0..=255).collect())],
        },
    );
    binary.write.chunks = vec![3, 16];
    binary.read.sizes = vec![16, 5];
    vec![
        ("hello", hello),
        ("one-byte-chunks", one_byte),
        ("generated-then-tail", large),
        ("paused-rounds", paused),
        ("empty-rounds", empty),
        ("all-byte-values", binary),
    ]
}

/// The cases behind the `roundtrip_lifecycle` seeds.
pub(in crate::fuzzing) fn lifecycle_cases() -> Vec<(&'static str, Case)> {
    let case = |connections: Vec<ConnectionCase>| Case {
        connections,
        pause_scale: lifecycle_bounds().pause_scale,
        hold: None,
    };
    let stream = conn(
        "c0",
        Conversation::Stream {
            payload: literal(b"hello, world\n"),
        },
    );
    let empty_stream = conn(
        "c0",
        Conversation::Stream {
            payload: literal(b""),
        },
    );
    let mut close = conn(
        "c1",
        Conversation::Close {
            payload: Payload::generated(8_000, 3),
        },
    );
    close.write.chunks = vec![1000];
    let mut rounds = conn(
        "c0",
        Conversation::Interactive {
            messages: vec![literal(b"one"), literal(b"two"), literal(b"three")],
        },
    );
    rounds.write.chunks = vec![1];
    rounds.write.nodelay = true;
    rounds.write.send_buffer = Some(4096);
    rounds.write.recv_buffer = Some(8192);
    let mut small_buffers = conn(
        "c2",
        Conversation::Stream {
            payload: Payload::generated(12_000, 11),
        },
    );
    small_buffers.write.send_buffer = Some(4096);
    small_buffers.read.sizes = vec![1000];
    let mut c1 = stream.clone();
    c1.name = "c1".into();
    vec![
        ("stream", case(vec![stream])),
        ("empty-stream", case(vec![empty_stream])),
        (
            "stream-and-close",
            case(vec![conn_named(c1.clone(), "c0"), close]),
        ),
        ("three-at-once", case(vec![rounds, c1, small_buffers])),
    ]
}

fn conn_named(mut c: ConnectionCase, name: &str) -> ConnectionCase {
    c.name = name.into();
    c
}
