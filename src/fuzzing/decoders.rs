//! How the targets read their input bytes as the [`Case`] they play ([`decode`]), and the bounds
//! the decoders of `roundtrip` and `roundtrip_lifecycle` keep to. `raw_stream` takes the bytes
//! as they are; `proxy_roundtrip`'s input, a chain and a case, is read in `proxy_input.rs`.

use arbitrary::Unstructured;

use super::proxy_input::proxy_input;
use super::{FuzzTarget, MAX_INPUT_LEN, MAX_RAW_LEN};
use crate::case::{
    Case, CaseBounds, ConnectionCase, Conversation, PauseScale, Payload, DEFAULT_CHUNK_LEN,
};

/// The case `target` plays for `data`: `None` for `scenario_parse` (its input is text, not a
/// case) and for an input the target rejects.
///
/// For `roundtrip` it is one connection whose messages are the decoded payloads, played as
/// interactive rounds, with OS-default socket buffers (a kept connection cannot change them).
/// For `raw_stream` it is the input as one message written in one chunk.
pub fn decode(target: FuzzTarget, data: &[u8]) -> Option<Case> {
    match target {
        FuzzTarget::Roundtrip if data.len() <= MAX_INPUT_LEN => rounds_case(data),
        FuzzTarget::RoundtripLifecycle if data.len() <= MAX_INPUT_LEN => lifecycle_case(data),
        FuzzTarget::RawStream if !data.is_empty() && data.len() <= MAX_RAW_LEN => {
            Some(raw_case(data))
        }
        FuzzTarget::ProxyRoundtrip => proxy_input(data).map(|(case, _)| case),
        _ => None,
    }
}

/// The bounds of `roundtrip`: the fuzzing preset with payloads up to 4 KiB and at most 64
/// operations a side, so an input costs a few dozen system calls. Fragmentation bugs show in a
/// few bytes; larger payloads are `roundtrip_lifecycle`'s.
pub fn roundtrip_bounds() -> CaseBounds {
    CaseBounds::fuzzing().max_payload_len(4096).max_ops(64)
}

fn rounds_case(data: &[u8]) -> Option<Case> {
    let bounds = roundtrip_bounds();
    let mut conn =
        ConnectionCase::arbitrary_with(&mut Unstructured::new(data), &bounds, "c0").ok()?;
    // A kept connection plays neither socket buffers nor endings: every payload is a round.
    conn.write.send_buffer = None;
    conn.write.recv_buffer = None;
    let messages = match conn.conversation {
        Conversation::Stream { payload }
        | Conversation::Close { payload }
        | Conversation::Abort { payload, .. } => vec![payload],
        Conversation::Interactive { messages } => messages,
    };
    conn.conversation = Conversation::Interactive { messages };
    Some(Case {
        connections: vec![conn],
        pause_scale: bounds.pause_scale,
        hold: None,
    })
}

/// The bounds of `roundtrip_lifecycle`: the fuzzing preset with payloads up to 16 KiB, socket
/// buffers from 4 KiB, and pauses scaled to nothing. Tiny buffers under large payloads make
/// Nagle's algorithm wait for delayed acknowledgements, tens of milliseconds a window: slow, and
/// no bug.
pub fn lifecycle_bounds() -> CaseBounds {
    CaseBounds::fuzzing()
        .max_payload_len(16 * 1024)
        .socket_buffers(4096..=64 * 1024)
        .pause_scale(PauseScale::new(0, 1).unwrap_or(PauseScale::ONE))
}

fn lifecycle_case(data: &[u8]) -> Option<Case> {
    Case::arbitrary_with(&mut Unstructured::new(data), &lifecycle_bounds()).ok()
}

fn raw_case(data: &[u8]) -> Case {
    let mut conn = ConnectionCase::new(
        "c0",
        Conversation::Interactive {
            messages: vec![Payload::Literal(data.to_vec())],
        },
    );
    conn.write.chunks = vec![data.len().max(1)];
    conn.read.sizes = vec![DEFAULT_CHUNK_LEN];
    Case {
        connections: vec![conn],
        pause_scale: PauseScale::ONE,
        hold: None,
    }
}
