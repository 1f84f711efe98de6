//! The readers of single values, as methods of the parser so that their errors carry its
//! source: sizes and durations (through [`crate::units`], bounded by [`MAX_SIZE`] and
//! [`MAX_DURATION`]), their `MIN..MAX` ranges, and the `@` toxicity.

use std::time::Duration;

use super::words::Piece;
use super::{Parser, K};
use crate::proxy::chain::{
    ChainError, DurationRange, SizeRange, MAX_DURATION, MAX_SIZE, TOXICITY_ALWAYS,
};
use crate::units::{self, UnitError};

const EXPECTED_SIZE: &str = "a size such as `1000`, `16KiB` or `1MiB`";
const EXPECTED_DURATION: &str = "a duration such as `250us`, `5ms` or `2s`";

impl<'s> Parser<'s> {
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

    pub(super) fn no_range(&self, value: Piece<'s>) -> Result<(), ChainError> {
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

    pub(super) fn size(&self, value: Piece<'s>) -> Result<u64, ChainError> {
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

    pub(super) fn duration(&self, value: Piece<'s>) -> Result<Duration, ChainError> {
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

    pub(super) fn size_range(&self, value: Piece<'s>) -> Result<SizeRange, ChainError> {
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

    pub(super) fn duration_range(&self, value: Piece<'s>) -> Result<DurationRange, ChainError> {
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
    pub(super) fn toxicity(&self, value: Piece<'s>) -> Result<u32, ChainError> {
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
