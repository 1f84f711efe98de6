//! Toxic chains as data: [`Toxic`], [`ToxicChain`], the one parser of their text
//! ([`ToxicChain::parse`]), the canonical printer (`Display`), [`ChainError`] with its caret
//! rendering, and the generators (`arbitrary` and [`chain_strategy`]).
//!
//! The same text serves `echo-harness proxy`, `check --through` and scenario files, so it is
//! parsed in exactly one place and printed in exactly one way: `parse(&chain.to_string())`
//! gives `chain` back.
//!
//! # Grammar
//! ```text
//! chain     := toxic (WHITESPACE toxic)*          (at most 16 toxics; empty is a plain proxy)
//! toxic     := [direction ':'] name ['=' value] (',' key '=' value)* ['@' toxicity]
//! direction := 'up' (client to server) | 'down' (server to client) | 'both' (the default)
//! toxicity  := a fraction from 0 to 1 with at most 6 decimals (default 1)
//! ```
//!
//! | toxic | value | keys | meaning |
//! |---|---|---|---|
//! | `slice=1..16` | size range | `delay=0..1ms` | cut the stream into slices of sizes drawn from the range, written one by one (TCP_NODELAY), with a delay drawn from its range between slices |
//! | `latency=5ms` | duration | `jitter=1ms` | each chunk is delivered no earlier than its arrival + latency ± jitter, never reordered |
//! | `bandwidth=1MiB` | size (per second, at least 1) | | at most that many bytes per second |
//! | `limit=1000` | size | | after exactly N bytes: FIN onward, the rest is read and dropped |
//! | `reset=10KiB` or `reset=2s` | size or duration | | reset both sockets after N bytes in this direction, or after a time since accept |
//! | `blackhole` or `blackhole=4KiB` | size (default 0) | | forward N bytes, then drop everything, FIN included, and keep the connection open |
//! | `slow-close=500ms` | duration | | wait that long before passing this direction's FIN on |
//!
//! Sizes (`1000`, `16KiB`, `4MB`) are at most 16 MiB, durations (`250us`, `5ms`, `2s`, `1m`, a
//! bare `0`) at most 1 hour, both in the grammar of the crate's `units` module; a range is
//! `MIN..MAX`, inclusive, or one value for both ends.
//!
//! # Layout
//! This file holds the data types and their invariants; each other idea has its own file:
//! `parse` (the parser, with the word splitter and the value readers below it), `print` (the
//! canonical `Display`), `error` ([`ChainErrorKind`] and [`ChainError`]), `generate` (the
//! proptest strategies and the `arbitrary` impls), `plan` (which toxics act on a direction of a
//! connection, drawn from the seed at accept: [`ToxicChain::acting_on`]). Sizes and durations are read and printed by
//! [`crate::units`], the grammar the flags and scenario files share.

mod error;
mod generate;
mod parse;
mod plan;
mod print;

pub use error::{ChainError, ChainErrorKind};
pub use generate::chain_strategy;
pub(crate) use plan::{plan, FlowPlan};

use std::time::Duration;

use arbitrary::Arbitrary;

/// The most toxics a chain holds.
pub const MAX_TOXICS: usize = 16;
/// The largest size any toxic takes.
pub const MAX_SIZE: u64 = 16 << 20;
/// The longest duration any toxic takes.
pub const MAX_DURATION: Duration = Duration::from_secs(3600);
/// Toxicity is counted in millionths: this is "always".
pub const TOXICITY_ALWAYS: u32 = 1_000_000;

/// Which way a toxic acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Arbitrary)]
pub enum Direction {
    /// Client to server (`up`).
    Up,
    /// Server to client (`down`).
    Down,
    /// Both ways (`both`, the default): one independent instance per direction.
    Both,
}

impl Direction {
    /// Whether a toxic with this direction acts on `flow`.
    pub fn covers(self, flow: Flow) -> bool {
        matches!(
            (self, flow),
            (Direction::Both, _) | (Direction::Up, Flow::Up) | (Direction::Down, Flow::Down)
        )
    }
}

/// One of the two directions of a proxied connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flow {
    /// Client to server.
    Up,
    /// Server to client.
    Down,
}

/// An inclusive range of sizes, `MIN..MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SizeRange {
    /// Smallest value.
    pub min: u64,
    /// Largest value, at least `min`.
    pub max: u64,
}

/// An inclusive range of durations, `MIN..MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DurationRange {
    /// Shortest value.
    pub min: Duration,
    /// Longest value, at least `min`.
    pub max: Duration,
}

impl DurationRange {
    /// `0..0`: no delay.
    pub const ZERO: DurationRange = DurationRange {
        min: Duration::ZERO,
        max: Duration::ZERO,
    };
}

/// When a `reset` toxic fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResetAfter {
    /// After this many bytes in the toxic's direction.
    Bytes(u64),
    /// This long after the connection was accepted.
    Time(Duration),
}

/// What a toxic does; see the module documentation for the grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ToxicKind {
    /// `slice=MIN..MAX[,delay=MIN..MAX]`.
    Slice {
        /// Slice sizes, at least 1.
        size: SizeRange,
        /// The pause between two slices.
        delay: DurationRange,
    },
    /// `latency=D[,jitter=J]`.
    Latency {
        /// Added to every chunk's arrival time.
        latency: Duration,
        /// Up to this much earlier or later (never before arrival, never reordering).
        jitter: Duration,
    },
    /// `bandwidth=SIZE`: bytes per second.
    Bandwidth {
        /// Bytes per second, at least 1.
        rate: u64,
    },
    /// `limit=N`: the direction ends after N bytes.
    Limit {
        /// Bytes forwarded before the FIN.
        bytes: u64,
    },
    /// `reset=N` or `reset=DURATION`.
    Reset(ResetAfter),
    /// `blackhole[=N]`.
    Blackhole {
        /// Bytes forwarded before everything is dropped.
        after: u64,
    },
    /// `slow-close=DURATION`.
    SlowClose {
        /// The wait between this direction's EOF and passing it on.
        delay: Duration,
    },
}

impl ToxicKind {
    /// The toxic's name in the grammar.
    pub fn name(&self) -> &'static str {
        match self {
            ToxicKind::Slice { .. } => "slice",
            ToxicKind::Latency { .. } => "latency",
            ToxicKind::Bandwidth { .. } => "bandwidth",
            ToxicKind::Limit { .. } => "limit",
            ToxicKind::Reset(_) => "reset",
            ToxicKind::Blackhole { .. } => "blackhole",
            ToxicKind::SlowClose { .. } => "slow-close",
        }
    }

    /// Whether it loses data or cuts the stream (`limit`, `reset`, `blackhole`).
    pub fn is_destructive(&self) -> bool {
        matches!(
            self,
            ToxicKind::Limit { .. } | ToxicKind::Reset(_) | ToxicKind::Blackhole { .. }
        )
    }
}

/// One toxic of a chain: what, which way, and on what fraction of connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Toxic {
    /// Which way it acts.
    pub direction: Direction,
    /// What it does.
    pub kind: ToxicKind,
    /// The probability, in millionths, that it acts on a given connection and direction
    /// ([`TOXICITY_ALWAYS`] = 1, the default).
    pub toxicity: u32,
}

impl Toxic {
    /// A toxic acting both ways on every connection.
    pub fn new(kind: ToxicKind) -> Toxic {
        Toxic {
            direction: Direction::Both,
            kind,
            toxicity: TOXICITY_ALWAYS,
        }
    }
}

/// Toxics applied in order; empty means a plain, correct proxy.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ToxicChain {
    toxics: Vec<Toxic>,
}

impl ToxicChain {
    /// A chain of `toxics`; `None` if there are more than [`MAX_TOXICS`] or one is out of the
    /// grammar's bounds (so that every chain prints as text that parses back).
    pub fn new(toxics: Vec<Toxic>) -> Option<ToxicChain> {
        let chain = ToxicChain { toxics };
        (chain.toxics.len() <= MAX_TOXICS && ToxicChain::parse(&chain.to_string()).is_ok())
            .then_some(chain)
    }

    /// Parses chain text; see the module documentation for the grammar.
    ///
    /// ```
    /// use echo_harness::ToxicChain;
    /// let chain = ToxicChain::parse("up:slice=1..16,delay=0..1ms latency=5ms@0.5")?;
    /// assert_eq!(chain.to_string(), "up:slice=1..16,delay=0ms..1ms latency=5ms@0.5");
    /// assert!(!chain.is_destructive());
    /// let err = ToxicChain::parse("slice=16..1").unwrap_err();
    /// assert!(err.to_string().contains("<toxics>:1:7"));
    /// # Ok::<(), echo_harness::ChainError>(())
    /// ```
    pub fn parse(text: &str) -> Result<ToxicChain, ChainError> {
        parse::chain(text)
    }

    /// Whether there are no toxics.
    pub fn is_empty(&self) -> bool {
        self.toxics.is_empty()
    }

    /// Whether any toxic loses data or cuts the stream (`limit`, `reset`, `blackhole`).
    pub fn is_destructive(&self) -> bool {
        self.toxics.iter().any(|t| t.kind.is_destructive())
    }

    /// The toxics, in order.
    pub fn toxics(&self) -> &[Toxic] {
        &self.toxics
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_refuses_what_would_not_print_back() {
        let too_big = Toxic::new(ToxicKind::Limit {
            bytes: MAX_SIZE + 1,
        });
        assert!(ToxicChain::new(vec![too_big]).is_none());
        let ok = Toxic::new(ToxicKind::Limit { bytes: MAX_SIZE });
        assert_eq!(
            ToxicChain::new(vec![ok]).unwrap().to_string(),
            "limit=16MiB"
        );
    }
}
