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
//! Sizes are digits with an optional `KiB`, `MiB` or `GiB`, at most 16 MiB; durations are digits
//! with `ns`, `us`, `ms` or `s` (or a bare `0`), at most 1 hour; a range is `MIN..MAX`, inclusive,
//! or one value for both ends.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use proptest::prelude::*;

use crate::units::{self, UnitError};

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

impl fmt::Display for Flow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Flow::Up => "up",
            Flow::Down => "down",
        })
    }
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
        Parser {
            input: text,
            source: Arc::from(text),
        }
        .chain()
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

impl fmt::Display for ToxicChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, toxic) in self.toxics.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{toxic}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Toxic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.direction {
            Direction::Up => f.write_str("up:")?,
            Direction::Down => f.write_str("down:")?,
            Direction::Both => {}
        }
        f.write_str(self.kind.name())?;
        let size = units::print_size;
        let dur = units::print_duration;
        match self.kind {
            ToxicKind::Slice { size: s, delay } => {
                write!(f, "={}", size_range(s))?;
                if delay != DurationRange::ZERO {
                    write!(f, ",delay={}", duration_range(delay))?;
                }
            }
            ToxicKind::Latency { latency, jitter } => {
                write!(f, "={}", dur(latency))?;
                if !jitter.is_zero() {
                    write!(f, ",jitter={}", dur(jitter))?;
                }
            }
            ToxicKind::Bandwidth { rate } => write!(f, "={}", size(rate))?,
            ToxicKind::Limit { bytes } => write!(f, "={}", size(bytes))?,
            ToxicKind::Reset(ResetAfter::Bytes(n)) => write!(f, "={}", size(n))?,
            ToxicKind::Reset(ResetAfter::Time(d)) => write!(f, "={}", dur(d))?,
            ToxicKind::Blackhole { after: 0 } => {}
            ToxicKind::Blackhole { after } => write!(f, "={}", size(after))?,
            ToxicKind::SlowClose { delay } => write!(f, "={}", dur(delay))?,
        }
        if self.toxicity != TOXICITY_ALWAYS {
            write!(f, "@{}", toxicity_text(self.toxicity))?;
        }
        Ok(())
    }
}

fn size_range(r: SizeRange) -> String {
    if r.min == r.max {
        units::print_size(r.min)
    } else {
        format!("{}..{}", units::print_size(r.min), units::print_size(r.max))
    }
}

fn duration_range(r: DurationRange) -> String {
    if r.min == r.max {
        units::print_duration(r.min)
    } else {
        format!(
            "{}..{}",
            units::print_duration(r.min),
            units::print_duration(r.max)
        )
    }
}

/// Millionths as the shortest decimal fraction: `0`, `0.5`, `0.000001`.
fn toxicity_text(millionths: u32) -> String {
    if millionths == 0 {
        return "0".to_string();
    }
    if millionths >= TOXICITY_ALWAYS {
        return "1".to_string();
    }
    let digits = format!("{millionths:06}");
    format!("0.{}", digits.trim_end_matches('0'))
}

/// What kind of mistake a [`ChainError`] reports; tests assert on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChainErrorKind {
    /// A toxic name that is none of the grammar's.
    UnknownToxic,
    /// A prefix before `:` that is not `up`, `down` or `both`.
    UnknownDirection,
    /// A `key=` the toxic does not take.
    UnknownKey,
    /// A toxic or key without its required `=value`.
    MissingValue,
    /// Not a number (a toxicity that is no fraction).
    InvalidNumber,
    /// Not a size like `1000` or `16KiB`.
    InvalidSize,
    /// Not a duration like `250us`, `5ms` or `2s`.
    InvalidDuration,
    /// A range whose minimum is above its maximum, or a slice size of 0.
    InvalidRange,
    /// A number beyond its bound (16 MiB, 1 hour, toxicity 1, bandwidth at least 1).
    OutOfRange,
    /// A key given twice in one toxic.
    DuplicateKey,
    /// More text where a toxic should have ended.
    TrailingInput,
    /// More than [`MAX_TOXICS`] toxics.
    TooManyToxics,
}

impl crate::diagnostic::ErrorKind for ChainErrorKind {
    const DEFAULT_ORIGIN: &'static str = "<toxics>";
    const TYPE_NAME: &'static str = "ChainError";
}

/// A toxic chain that could not be parsed: what, where (a byte span in the text), and what
/// would have been accepted; the crate's one spanned error type with this parser's kinds. Its
/// `Display` renders the line with a caret, like [`ParseError`](crate::ParseError):
///
/// ```text
/// error: slice range runs backwards
///  --> <toxics>:1:7
///   |
/// 1 | slice=16..1
///   |       ^^^^^ expected MIN..MAX with MIN <= MAX
/// ```
pub type ChainError = crate::diagnostic::SpannedError<ChainErrorKind>;

use ChainErrorKind as K;

const EXPECTED_TOXIC: &str =
    "`slice`, `latency`, `bandwidth`, `limit`, `reset`, `blackhole` or `slow-close`";
const EXPECTED_SIZE: &str = "a size such as `1000`, `16KiB` or `1MiB`";
const EXPECTED_DURATION: &str = "a duration such as `250us`, `5ms` or `2s`";

/// A piece of the input with its byte offset.
#[derive(Clone, Copy)]
struct Piece<'s> {
    text: &'s str,
    at: usize,
}

impl<'s> Piece<'s> {
    fn span(&self) -> Range<usize> {
        self.at..self.at + self.text.len()
    }

    /// Splits at the first `sep` (a one-byte ASCII separator).
    fn split_once(&self, sep: char) -> Option<(Piece<'s>, Piece<'s>)> {
        let i = self.text.find(sep)?;
        Some((
            Piece {
                text: &self.text[..i],
                at: self.at,
            },
            Piece {
                text: &self.text[i + 1..],
                at: self.at + i + 1,
            },
        ))
    }

    fn split(&self, sep: char) -> Vec<Piece<'s>> {
        let mut out = Vec::new();
        let mut rest = *self;
        while let Some((head, tail)) = rest.split_once(sep) {
            out.push(head);
            rest = tail;
        }
        out.push(rest);
        out
    }
}

struct Parser<'s> {
    input: &'s str,
    source: Arc<str>,
}

impl<'s> Parser<'s> {
    fn err(
        &self,
        kind: ChainErrorKind,
        span: Range<usize>,
        message: impl Into<String>,
        expected: Option<&str>,
    ) -> ChainError {
        ChainError::new(
            kind,
            span,
            message,
            expected.map(str::to_string),
            Arc::clone(&self.source),
        )
    }

    fn chain(&self) -> Result<ToxicChain, ChainError> {
        let mut toxics = Vec::new();
        for word in words(self.input) {
            if toxics.len() == MAX_TOXICS {
                return Err(self.err(
                    K::TooManyToxics,
                    word.span(),
                    "too many toxics",
                    Some(&format!("at most {MAX_TOXICS} toxics in a chain")),
                ));
            }
            toxics.push(self.toxic(word)?);
        }
        Ok(ToxicChain { toxics })
    }

    fn toxic(&self, word: Piece<'s>) -> Result<Toxic, ChainError> {
        // A direction is the part before a `:`; nothing else in a toxic holds one.
        let (direction, rest) = match word.split_once(':') {
            Some((dir, rest)) => {
                let direction = match dir.text {
                    "up" => Direction::Up,
                    "down" => Direction::Down,
                    "both" => Direction::Both,
                    other => {
                        return Err(self.err(
                            K::UnknownDirection,
                            dir.span(),
                            format!("unknown direction `{other}`"),
                            Some("`up`, `down` or `both`"),
                        ))
                    }
                };
                (direction, rest)
            }
            None => (Direction::Both, word),
        };
        let (body, toxicity) = match rest.split_once('@') {
            Some((body, fraction)) => (body, self.toxicity(fraction)?),
            None => (rest, TOXICITY_ALWAYS),
        };
        let mut parts = body.split(',').into_iter();
        let head = parts.next().unwrap_or(body);
        let (name, value) = match head.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (head, None),
        };
        let mut keys: Vec<(Piece<'s>, Piece<'s>)> = Vec::new();
        for part in parts {
            let Some((key, value)) = part.split_once('=') else {
                let known = !part.text.is_empty() && matches!(part.text, "delay" | "jitter");
                let (kind, message) = if known {
                    (K::MissingValue, format!("`{}` needs a value", part.text))
                } else {
                    (
                        K::UnknownKey,
                        format!("expected `key=value`, found `{}`", part.text),
                    )
                };
                return Err(self.err(kind, part.span(), message, Some("`key=value`")));
            };
            if keys.iter().any(|(k, _)| k.text == key.text) {
                return Err(self.err(
                    K::DuplicateKey,
                    key.span(),
                    format!("`{}` given twice", key.text),
                    Some("each key at most once"),
                ));
            }
            keys.push((key, value));
        }
        let allowed: &[&str] = match name.text {
            "slice" => &["delay"],
            "latency" => &["jitter"],
            "bandwidth" | "limit" | "reset" | "blackhole" | "slow-close" => &[],
            other => {
                return Err(self.err(
                    K::UnknownToxic,
                    name.span(),
                    format!("unknown toxic `{other}`"),
                    Some(EXPECTED_TOXIC),
                ))
            }
        };
        if let Some((key, _)) = keys.iter().find(|(k, _)| !allowed.contains(&k.text)) {
            let expected = match allowed {
                [] => format!("no keys: `{}` takes only its value", name.text),
                keys => format!("`{}`", keys.join("`, `")),
            };
            return Err(self.err(
                K::UnknownKey,
                key.span(),
                format!("`{}` takes no key `{}`", name.text, key.text),
                Some(&expected),
            ));
        }
        let key = |k: &str| keys.iter().find(|(key, _)| key.text == k).map(|(_, v)| *v);
        let needs_value = |what: &str| {
            let at = name.at + name.text.len();
            self.err(
                K::MissingValue,
                at..at,
                format!("`{}` needs a value", name.text),
                Some(what),
            )
        };
        let kind = match name.text {
            "slice" => {
                let value = value.ok_or_else(|| needs_value("`=MIN..MAX`, such as `=1..16`"))?;
                let size = self.size_range(value)?;
                let delay = match key("delay") {
                    Some(v) => self.duration_range(v)?,
                    None => DurationRange::ZERO,
                };
                ToxicKind::Slice { size, delay }
            }
            "latency" => {
                let value = value.ok_or_else(|| needs_value("`=DURATION`, such as `=5ms`"))?;
                let latency = self.duration(value)?;
                let jitter = match key("jitter") {
                    Some(v) => self.duration(v)?,
                    None => Duration::ZERO,
                };
                ToxicKind::Latency { latency, jitter }
            }
            "bandwidth" => {
                let value =
                    value.ok_or_else(|| needs_value("`=BYTES-PER-SECOND`, such as `=1MiB`"))?;
                let rate = self.size(value)?;
                if rate == 0 {
                    return Err(self.err(
                        K::OutOfRange,
                        value.span(),
                        "bandwidth of 0",
                        Some("at least 1 byte per second (use `blackhole` to stop data)"),
                    ));
                }
                ToxicKind::Bandwidth { rate }
            }
            "limit" => {
                let value = value.ok_or_else(|| needs_value("`=BYTES`, such as `=1000`"))?;
                ToxicKind::Limit {
                    bytes: self.size(value)?,
                }
            }
            "reset" => {
                let value = value.ok_or_else(|| {
                    needs_value("`=BYTES` or `=DURATION`, such as `=10KiB` or `=2s`")
                })?;
                self.no_range(value)?;
                match units::size(value.text) {
                    Ok(_) | Err(UnitError::Overflow) => {
                        ToxicKind::Reset(ResetAfter::Bytes(self.size(value)?))
                    }
                    Err(UnitError::Syntax) => match units::duration(value.text) {
                        Ok(_) | Err(UnitError::Overflow) => {
                            ToxicKind::Reset(ResetAfter::Time(self.duration(value)?))
                        }
                        Err(UnitError::Syntax) => {
                            return Err(self.err(
                                K::InvalidSize,
                                value.span(),
                                "invalid reset point",
                                Some("a size such as `10KiB` or a duration such as `2s`"),
                            ))
                        }
                    },
                }
            }
            "blackhole" => ToxicKind::Blackhole {
                after: match value {
                    Some(v) => self.size(v)?,
                    None => 0,
                },
            },
            _ => {
                let value = value.ok_or_else(|| needs_value("`=DURATION`, such as `=500ms`"))?;
                ToxicKind::SlowClose {
                    delay: self.duration(value)?,
                }
            }
        };
        Ok(Toxic {
            direction,
            kind,
            toxicity,
        })
    }

    /// A value must not hold a second `=`.
    fn single(&self, value: Piece<'s>) -> Result<(), ChainError> {
        match value.text.find('=') {
            Some(i) => {
                let at = value.at + i;
                Err(self.err(
                    K::TrailingInput,
                    at..value.at + value.text.len(),
                    "unexpected text after the value",
                    Some("one `=` per key; separate keys with `,` and toxics with spaces"),
                ))
            }
            None => Ok(()),
        }
    }

    fn no_range(&self, value: Piece<'s>) -> Result<(), ChainError> {
        self.single(value)?;
        match value.text.find("..") {
            Some(i) => {
                let at = value.at + i;
                Err(self.err(
                    K::InvalidRange,
                    at..at + 2,
                    "a range where one value belongs",
                    Some("a single value"),
                ))
            }
            None => Ok(()),
        }
    }

    fn size(&self, value: Piece<'s>) -> Result<u64, ChainError> {
        self.no_range(value)?;
        let out_of_range = || {
            self.err(
                K::OutOfRange,
                value.span(),
                "size too large",
                Some("at most 16MiB"),
            )
        };
        match units::size(value.text) {
            Ok(n) if n <= MAX_SIZE => Ok(n),
            Ok(_) | Err(UnitError::Overflow) => Err(out_of_range()),
            Err(UnitError::Syntax) => Err(self.err(
                K::InvalidSize,
                value.span(),
                if value.text.is_empty() {
                    "missing size".to_string()
                } else {
                    format!("invalid size `{}`", value.text)
                },
                Some(EXPECTED_SIZE),
            )),
        }
    }

    fn duration(&self, value: Piece<'s>) -> Result<Duration, ChainError> {
        self.no_range(value)?;
        match units::duration(value.text) {
            Ok(d) if d <= MAX_DURATION => Ok(d),
            Ok(_) | Err(UnitError::Overflow) => Err(self.err(
                K::OutOfRange,
                value.span(),
                "duration too long",
                Some("at most 1 hour (3600s)"),
            )),
            Err(UnitError::Syntax) => Err(self.err(
                K::InvalidDuration,
                value.span(),
                if value.text.is_empty() {
                    "missing duration".to_string()
                } else {
                    format!("invalid duration `{}`", value.text)
                },
                Some(EXPECTED_DURATION),
            )),
        }
    }

    /// `MIN..MAX` or one value, split into its two ends.
    fn range_ends(&self, value: Piece<'s>) -> Result<(Piece<'s>, Piece<'s>), ChainError> {
        self.single(value)?;
        match value.text.find("..") {
            Some(i) => Ok((
                Piece {
                    text: &value.text[..i],
                    at: value.at,
                },
                Piece {
                    text: &value.text[i + 2..],
                    at: value.at + i + 2,
                },
            )),
            None => Ok((value, value)),
        }
    }

    fn size_range(&self, value: Piece<'s>) -> Result<SizeRange, ChainError> {
        let (lo, hi) = self.range_ends(value)?;
        let (min, max) = (self.size(lo)?, self.size(hi)?);
        if min == 0 {
            return Err(self.err(
                K::InvalidRange,
                lo.span(),
                "a slice of 0 bytes",
                Some("slice sizes of at least 1"),
            ));
        }
        if min > max {
            return Err(self.err(
                K::InvalidRange,
                value.span(),
                "slice range runs backwards",
                Some("MIN..MAX with MIN <= MAX"),
            ));
        }
        Ok(SizeRange { min, max })
    }

    fn duration_range(&self, value: Piece<'s>) -> Result<DurationRange, ChainError> {
        let (lo, hi) = self.range_ends(value)?;
        let (min, max) = (self.duration(lo)?, self.duration(hi)?);
        if min > max {
            return Err(self.err(
                K::InvalidRange,
                value.span(),
                "delay range runs backwards",
                Some("MIN..MAX with MIN <= MAX"),
            ));
        }
        Ok(DurationRange { min, max })
    }

    /// A fraction from 0 to 1 with at most 6 decimals, in millionths.
    fn toxicity(&self, value: Piece<'s>) -> Result<u32, ChainError> {
        let expected = "a fraction from 0 to 1, such as `0.5`";
        let invalid = || {
            self.err(
                K::InvalidNumber,
                value.span(),
                if value.text.is_empty() {
                    "missing toxicity".to_string()
                } else {
                    format!("invalid toxicity `{}`", value.text)
                },
                Some(expected),
            )
        };
        if value.text.contains('@') {
            let at = value.at + value.text.find('@').unwrap_or(0);
            return Err(self.err(
                K::TrailingInput,
                at..value.at + value.text.len(),
                "more than one toxicity",
                Some("one `@fraction` at the end of a toxic"),
            ));
        }
        let (whole, frac) = match value.text.split_once('.') {
            Some((whole, frac)) => (whole, frac),
            None => (value.text, ""),
        };
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty()
            || !digits(whole)
            || !digits(frac)
            || (value.text.contains('.') && frac.is_empty())
        {
            return Err(invalid());
        }
        if frac.len() > 6 {
            return Err(self.err(
                K::InvalidNumber,
                value.span(),
                "toxicity with more than 6 decimals",
                Some(expected),
            ));
        }
        let whole = units::parse_u64(whole).ok_or_else(invalid)?;
        let frac = format!("{frac:0<6}");
        let millionths = whole
            .checked_mul(1_000_000)
            .and_then(|w| w.checked_add(units::parse_u64(&frac).unwrap_or(0)));
        match millionths {
            Some(n) if n <= u64::from(TOXICITY_ALWAYS) => Ok(n as u32),
            _ => Err(self.err(
                K::OutOfRange,
                value.span(),
                "toxicity above 1",
                Some(expected),
            )),
        }
    }
}

/// The whitespace-separated words of `text`, with their offsets.
fn words(text: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push(Piece {
                    text: &text[s..i],
                    at: s,
                });
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(Piece {
            text: &text[s..],
            at: s,
        });
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Generators: the same value space for the fuzzer (`arbitrary`) and for proptest.

/// Sizes the generators use: small, so that generated chains stay fast to play.
const GEN_MAX_SLICE: u64 = 64;

fn gen_duration_us(max_us: u64) -> impl Strategy<Value = Duration> {
    (0..=max_us).prop_map(Duration::from_micros)
}

fn data_preserving_kind() -> impl Strategy<Value = ToxicKind> {
    prop_oneof![
        (1..=GEN_MAX_SLICE, 0..=GEN_MAX_SLICE, 0..=500u64, 0..=500u64).prop_map(
            |(min, extra, d1, d2)| ToxicKind::Slice {
                size: SizeRange {
                    min,
                    max: min + extra
                },
                delay: DurationRange {
                    min: Duration::from_micros(d1.min(d2)),
                    max: Duration::from_micros(d1.max(d2)),
                },
            }
        ),
        (gen_duration_us(2_000), gen_duration_us(1_000))
            .prop_map(|(latency, jitter)| ToxicKind::Latency { latency, jitter }),
        (256 * 1024..=MAX_SIZE).prop_map(|rate| ToxicKind::Bandwidth { rate }),
        gen_duration_us(2_000).prop_map(|delay| ToxicKind::SlowClose { delay }),
    ]
}

fn destructive_kind() -> impl Strategy<Value = ToxicKind> {
    prop_oneof![
        (0..=MAX_SIZE).prop_map(|bytes| ToxicKind::Limit { bytes }),
        (0..=MAX_SIZE).prop_map(|n| ToxicKind::Reset(ResetAfter::Bytes(n))),
        (0..=3_600_000_000u64)
            .prop_map(|us| ToxicKind::Reset(ResetAfter::Time(Duration::from_micros(us)))),
        (0..=MAX_SIZE).prop_map(|after| ToxicKind::Blackhole { after }),
    ]
}

fn toxic_strategy(kind: BoxedStrategy<ToxicKind>) -> impl Strategy<Value = Toxic> {
    let direction = prop_oneof![
        Just(Direction::Up),
        Just(Direction::Down),
        Just(Direction::Both)
    ];
    let toxicity = prop_oneof![
        3 => Just(TOXICITY_ALWAYS),
        1 => 0..=TOXICITY_ALWAYS,
    ];
    (direction, kind, toxicity).prop_map(|(direction, kind, toxicity)| Toxic {
        direction,
        kind,
        toxicity,
    })
}

/// Chains of up to 4 toxics. With `destructive == false`, only toxics that keep every byte and
/// the FIN (`slice`, `latency`, `bandwidth` of at least 256 KiB/s, `slow-close`), with small
/// sizes and delays so that a chain plays fast; with `true`, `limit`, `reset` and `blackhole`
/// too, over their whole ranges.
pub fn chain_strategy(destructive: bool) -> impl Strategy<Value = ToxicChain> {
    let kind = if destructive {
        prop_oneof![data_preserving_kind(), destructive_kind()].boxed()
    } else {
        data_preserving_kind().boxed()
    };
    proptest::collection::vec(toxic_strategy(kind), 0..=4).prop_map(|toxics| ToxicChain { toxics })
}

impl<'a> Arbitrary<'a> for ToxicKind {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let us = |u: &mut Unstructured<'a>, max: u64| -> arbitrary::Result<Duration> {
            Ok(Duration::from_micros(u.int_in_range(0..=max)?))
        };
        Ok(match u.int_in_range(0..=7u8)? {
            0 | 1 => {
                let min = u.int_in_range(1..=GEN_MAX_SLICE)?;
                let max = min + u.int_in_range(0..=GEN_MAX_SLICE)?;
                let (a, b) = (us(u, 500)?, us(u, 500)?);
                ToxicKind::Slice {
                    size: SizeRange { min, max },
                    delay: DurationRange {
                        min: a.min(b),
                        max: a.max(b),
                    },
                }
            }
            2 => ToxicKind::Latency {
                latency: us(u, 2_000)?,
                jitter: us(u, 1_000)?,
            },
            3 => ToxicKind::Bandwidth {
                rate: u.int_in_range(256 * 1024..=MAX_SIZE)?,
            },
            4 => ToxicKind::SlowClose {
                delay: us(u, 2_000)?,
            },
            5 => ToxicKind::Limit {
                bytes: u.int_in_range(0..=MAX_SIZE)?,
            },
            6 => {
                if u.arbitrary()? {
                    ToxicKind::Reset(ResetAfter::Bytes(u.int_in_range(0..=MAX_SIZE)?))
                } else {
                    ToxicKind::Reset(ResetAfter::Time(us(u, 3_600_000_000)?))
                }
            }
            _ => ToxicKind::Blackhole {
                after: u.int_in_range(0..=MAX_SIZE)?,
            },
        })
    }
}

impl<'a> Arbitrary<'a> for Toxic {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let direction = u.arbitrary()?;
        let kind = u.arbitrary()?;
        let toxicity = if u.ratio(3, 4)? {
            TOXICITY_ALWAYS
        } else {
            u.int_in_range(0..=TOXICITY_ALWAYS)?
        };
        Ok(Toxic {
            direction,
            kind,
            toxicity,
        })
    }
}

impl<'a> Arbitrary<'a> for ToxicChain {
    /// Up to 4 toxics of any kind (destructive ones included); filter with
    /// [`ToxicChain::is_destructive`] where only data-preserving chains make sense.
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let n = u.int_in_range(0..=4usize)?;
        let toxics = (0..n)
            .map(|_| u.arbitrary())
            .collect::<arbitrary::Result<Vec<Toxic>>>()?;
        Ok(ToxicChain { toxics })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> ToxicChain {
        ToxicChain::parse(text).unwrap_or_else(|e| panic!("{text:?} does not parse:\n{e}"))
    }

    fn kind_at(text: &str) -> (ChainErrorKind, Range<usize>) {
        let e = ToxicChain::parse(text).expect_err(text);
        (e.kind(), e.span())
    }

    #[test]
    fn every_toxic_parses_and_prints_canonically() {
        let cases = [
            ("slice=1..16", "slice=1..16"),
            ("slice=8..8", "slice=8"),
            (
                "up:slice=1..16,delay=0..1ms",
                "up:slice=1..16,delay=0ms..1ms",
            ),
            (
                "slice=1KiB..2048,delay=250us",
                "slice=1KiB..2KiB,delay=250us",
            ),
            ("latency=5ms", "latency=5ms"),
            ("down:latency=5ms,jitter=1ms", "down:latency=5ms,jitter=1ms"),
            ("bandwidth=1MiB", "bandwidth=1MiB"),
            ("limit=1000", "limit=1000"),
            ("reset=10KiB", "reset=10KiB"),
            ("reset=2s", "reset=2s"),
            ("reset=0", "reset=0"),
            ("reset=0ms", "reset=0ms"),
            ("blackhole", "blackhole"),
            ("blackhole=4KiB", "blackhole=4KiB"),
            ("blackhole=0", "blackhole"),
            ("slow-close=500ms", "slow-close=500ms"),
            ("both:limit=1@0.5", "limit=1@0.5"),
            ("limit=1@1", "limit=1"),
            ("limit=1@0", "limit=1@0"),
            ("limit=1@0.000001", "limit=1@0.000001"),
            ("limit=1@1.0", "limit=1"),
            (
                "  slice=1   latency=1s\tlimit=5 ",
                "slice=1 latency=1s limit=5",
            ),
            ("", ""),
        ];
        for (text, canonical) in cases {
            let chain = parse(text);
            assert_eq!(chain.to_string(), canonical, "{text:?}");
            assert_eq!(parse(canonical), chain, "{canonical:?}");
        }
    }

    #[test]
    fn parsed_values() {
        let chain = parse("up:slice=1..16,delay=0..1ms down:reset=2s@0.25 blackhole=3");
        assert_eq!(
            chain.toxics()[0],
            Toxic {
                direction: Direction::Up,
                kind: ToxicKind::Slice {
                    size: SizeRange { min: 1, max: 16 },
                    delay: DurationRange {
                        min: Duration::ZERO,
                        max: Duration::from_millis(1)
                    },
                },
                toxicity: TOXICITY_ALWAYS,
            }
        );
        assert_eq!(
            chain.toxics()[1].kind,
            ToxicKind::Reset(ResetAfter::Time(Duration::from_secs(2)))
        );
        assert_eq!(chain.toxics()[1].toxicity, 250_000);
        assert_eq!(chain.toxics()[2].kind, ToxicKind::Blackhole { after: 3 });
        assert!(chain.is_destructive());
        assert!(!parse("slice=1 latency=1ms bandwidth=1 slow-close=1ms").is_destructive());
        assert!(parse("").is_empty());
    }

    #[test]
    fn error_kinds_and_spans() {
        use ChainErrorKind as K;
        let cases: &[(&str, ChainErrorKind, Range<usize>)] = &[
            ("jitterbug=1", K::UnknownToxic, 0..9),
            ("slice=1 sideways:limit=1", K::UnknownDirection, 8..16),
            ("latency=5ms,delay=1ms", K::UnknownKey, 12..17),
            ("limit=5,foo=1", K::UnknownKey, 8..11),
            ("slice=1,delay", K::MissingValue, 8..13),
            ("slice", K::MissingValue, 5..5),
            ("limit", K::MissingValue, 5..5),
            ("slice=1,oops", K::UnknownKey, 8..12),
            ("limit=1@half", K::InvalidNumber, 8..12),
            ("limit=1@", K::InvalidNumber, 8..8),
            ("limit=1@0.1234567", K::InvalidNumber, 8..17),
            ("limit=lots", K::InvalidSize, 6..10),
            ("limit=", K::InvalidSize, 6..6),
            ("limit=5kb", K::InvalidSize, 6..9),
            ("latency=5", K::InvalidDuration, 8..9),
            ("reset=soon", K::InvalidSize, 6..10),
            ("slice=16..1", K::InvalidRange, 6..11),
            ("slice=0..4", K::InvalidRange, 6..7),
            ("slice=1,delay=2ms..1ms", K::InvalidRange, 14..22),
            ("limit=1..2", K::InvalidRange, 7..9),
            ("limit=17MiB", K::OutOfRange, 6..11),
            ("limit=99999999999999999999", K::OutOfRange, 6..26),
            ("latency=3601s", K::OutOfRange, 8..13),
            ("bandwidth=0", K::OutOfRange, 10..11),
            ("limit=1@1.5", K::OutOfRange, 8..11),
            ("slice=1,delay=1ms,delay=2ms", K::DuplicateKey, 18..23),
            ("limit=1=2", K::TrailingInput, 7..9),
            ("limit=1@0.5@0.5", K::TrailingInput, 11..15),
        ];
        for (text, kind, span) in cases {
            assert_eq!(kind_at(text), (*kind, span.clone()), "{text:?}");
        }
        let many = vec!["limit=1"; MAX_TOXICS + 1].join(" ");
        let at = 8 * MAX_TOXICS;
        assert_eq!(kind_at(&many), (K::TooManyToxics, at..at + 7));
        assert!(ToxicChain::parse(&vec!["limit=1"; MAX_TOXICS].join(" ")).is_ok());
    }

    #[test]
    fn errors_render_with_a_caret_like_scenario_errors() {
        let e = ToxicChain::parse("up:slice=1..16 slice=16..1").unwrap_err();
        assert_eq!(
            e.to_string(),
            "error: slice range runs backwards\n --> <toxics>:1:22\n  |\n1 | up:slice=1..16 slice=16..1\n  |                      ^^^^^ expected MIN..MAX with MIN <= MAX"
        );
        let e = e.with_origin("cli");
        assert!(e.to_string().contains(" --> cli:1:22\n"), "{e}");
        assert_eq!(e.line_col(), (1, 22));
        let e = ToxicChain::parse("wat").unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("error: unknown toxic `wat`\n --> <toxics>:1:1\n  |\n1 | wat\n  | ^^^ expected {EXPECTED_TOXIC}")
        );
        assert_eq!(e.message(), "unknown toxic `wat`");
    }

    #[test]
    fn an_error_moves_into_the_text_around_the_chain() {
        let file = "# echo-harness scenario v2\nthrough slice=0\n";
        let offset = file.find("slice").unwrap();
        let e = ToxicChain::parse("slice=0")
            .unwrap_err()
            .within(file, offset)
            .with_origin("a.scenario");
        assert_eq!(e.line_col(), (2, 15));
        assert!(e.to_string().contains(" --> a.scenario:2:15\n"), "{e}");
        assert!(e.to_string().contains("2 | through slice=0\n"), "{e}");
    }

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

    #[test]
    fn arbitrary_chains_print_back_to_themselves() {
        let data: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let mut u = Unstructured::new(&data);
        for _ in 0..64 {
            let Ok(chain) = ToxicChain::arbitrary(&mut u) else {
                break;
            };
            assert_eq!(ToxicChain::parse(&chain.to_string()), Ok(chain));
        }
    }
}
