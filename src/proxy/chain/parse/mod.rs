//! The one parser of chain text (the grammar is in the [`chain`](super) module doc): splits the
//! text into whitespace-separated toxics and reads each one — direction, name, keys, toxicity —
//! into a [`Toxic`], or stops at the first mistake with a [`ChainError`] spanning it. The word
//! splitter is in `words`; the readers of single values (sizes, durations, ranges, toxicity)
//! are in `values`.

mod values;
mod words;

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use super::{
    ChainError, ChainErrorKind, Direction, DurationRange, ResetAfter, Toxic, ToxicChain, ToxicKind,
    MAX_TOXICS, TOXICITY_ALWAYS,
};
use crate::units::{self, UnitError};
use words::{words, Piece};

use ChainErrorKind as K;

pub(super) const EXPECTED_TOXIC: &str =
    "`slice`, `latency`, `bandwidth`, `limit`, `reset`, `blackhole` or `slow-close`";

/// Parses `text`, the whole chain; [`ToxicChain::parse`] is its public face.
pub(super) fn chain(text: &str) -> Result<ToxicChain, ChainError> {
    Parser {
        input: text,
        source: Arc::from(text),
    }
    .chain()
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::chain::SizeRange;

    fn parse(text: &str) -> ToxicChain {
        ToxicChain::parse(text).unwrap_or_else(|e| panic!("{text:?} does not parse:\n{e}"))
    }

    fn kind_at(text: &str) -> (ChainErrorKind, Range<usize>) {
        let e = ToxicChain::parse(text).expect_err(text);
        (e.kind(), e.span())
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
}
