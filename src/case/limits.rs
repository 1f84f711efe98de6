//! The hard limits every case must meet, however it was made (generated, decoded from fuzzer
//! input, or parsed from a scenario file). They keep a case playable and printable;
//! [`Case::validate`](super::Case::validate) enforces them, and the scenario parser reports them
//! with a position. Generators are held tighter still, by [`CaseBounds`](super::CaseBounds).

use std::time::Duration;

/// Most connections one case may hold.
pub const MAX_CONNECTIONS: usize = 256;
/// Longest connection name, in bytes.
pub const MAX_NAME_LEN: usize = 32;
/// Largest write chunk or read unit, in bytes.
pub const MAX_CHUNK_LEN: usize = 16 << 20;
/// Most entries in one cyclic list of a plan (chunk sizes, read sizes, pauses).
pub const MAX_PLAN_ENTRIES: usize = 256;
/// Longest single pause of a plan, before scaling.
pub const MAX_PAUSE: Duration = Duration::from_secs(60);
/// Smallest socket buffer a case may ask for (SO_SNDBUF / SO_RCVBUF), in bytes.
pub const MIN_SOCKET_BUFFER: u32 = 2048;
/// Largest socket buffer a case may ask for, in bytes.
pub const MAX_SOCKET_BUFFER: u32 = 1 << 30;
/// Most bytes one connection may send in total (all its messages), in bytes.
pub const MAX_CONNECTION_BYTES: u64 = 1 << 30;
/// Most rounds of one interactive conversation.
pub const MAX_ROUNDS: usize = 1 << 16;
/// Largest numerator or denominator of a [`PauseScale`](super::PauseScale).
pub const MAX_PAUSE_SCALE_TERM: u32 = 1_000_000;

/// Write chunk size used when a plan does not say.
pub const DEFAULT_CHUNK_LEN: usize = 64 * 1024;
