//! The canonical printer of toxic chains: the one `Display` of [`ToxicChain`], [`Toxic`] and
//! [`Flow`]. It prints every value in the shortest form the parser reads back (defaults left
//! out, `1..1` as `1`, sizes and durations through [`crate::units`]), so that
//! `ToxicChain::parse(&chain.to_string())` gives `chain` back.

use std::fmt;

use super::{
    Direction, DurationRange, Flow, ResetAfter, SizeRange, Toxic, ToxicChain, ToxicKind,
    TOXICITY_ALWAYS,
};
use crate::units;

impl fmt::Display for Flow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Flow::Up => "up",
            Flow::Down => "down",
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> ToxicChain {
        ToxicChain::parse(text).unwrap_or_else(|e| panic!("{text:?} does not parse:\n{e}"))
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
}
