//! The curated seed corpus: meaningful cases, encoded into the bytes their target decodes back
//! to them. `fuzz/seeds/make-seeds.sh` writes them under `fuzz/seeds/`.
//!
//! [`seeds`] lists the seeds of a target. `cases.rs` holds the cases behind the `roundtrip` and
//! `roundtrip_lifecycle` seeds (the other structured targets reuse them); `encoder.rs` writes a
//! case as the bytes `arbitrary` decodes back into it; `scenario_parse.rs` and
//! `proxy_roundtrip.rs` make the seeds of those two targets.

use super::{lifecycle_bounds, roundtrip_bounds, FuzzTarget};

mod cases;
mod encoder;
mod proxy_roundtrip;
mod scenario_parse;

pub(super) use cases::{lifecycle_cases, roundtrip_cases};
pub use encoder::{encode_case, encode_connection};
// Only `proxy_input`'s test reads the chains on their own, and only without the planted bug.
#[cfg(all(test, not(feature = "fault-injection")))]
pub(super) use proxy_roundtrip::proxy_chains;

/// One seed file: its name under `fuzz/seeds/TARGET/` and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seed {
    /// The file name.
    pub name: &'static str,
    /// The file's bytes.
    pub bytes: Vec<u8>,
}

/// The curated seeds of `target`.
pub fn seeds(target: FuzzTarget) -> Vec<Seed> {
    match target {
        FuzzTarget::Roundtrip => roundtrip_cases()
            .into_iter()
            .map(|(name, c)| Seed {
                name,
                bytes: encode_connection(&c, &roundtrip_bounds()),
            })
            .collect(),
        FuzzTarget::RoundtripLifecycle => lifecycle_cases()
            .into_iter()
            .map(|(name, c)| Seed {
                name,
                bytes: encode_case(&c, &lifecycle_bounds()),
            })
            .collect(),
        FuzzTarget::RawStream => vec![
            Seed {
                name: "hello",
                bytes: b"hello, world\n".to_vec(),
            },
            Seed {
                name: "http-request",
                bytes: b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec(),
            },
            Seed {
                name: "all-byte-values",
                bytes: (0..=255).collect(),
            },
            Seed {
                name: "one-byte",
                bytes: vec![0],
            },
        ],
        FuzzTarget::ScenarioParse => scenario_parse::seeds(),
        FuzzTarget::ProxyRoundtrip => proxy_roundtrip::seeds(),
    }
}
