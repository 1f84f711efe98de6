//! The one renderer of parse errors, shared by the scenario parser ([`ParseError`]) and the toxic
//! chain parser ([`ChainError`]), and the shared readers of sizes and durations in their texts.
//!
//! An error keeps the byte span and the whole source; the 1-based line and column (counted in
//! characters) are worked out only when it is displayed, the way toml_edit does. The rendering
//! shows the line under a gutter with a `^` caret under the span, at least one caret even when
//! the span is empty (an error at the end of a line or of the input):
//!
//! ```text
//! error: invalid value for `nodelay`
//!  --> case.scenario:3:11
//!   |
//! 3 |   nodelay maybe
//!   |           ^^^^^ expected `on` or `off`
//! ```
//!
//! [`ParseError`]: crate::ParseError
//! [`ChainError`]: crate::proxy::ChainError

use std::ops::Range;
use std::time::Duration;

/// What a parse error shows: the pieces [`render`] lays out.
pub(crate) struct Diagnostic<'a> {
    /// The whole input the span points into.
    pub(crate) input: &'a str,
    /// Byte range of the offending text; empty for "missing here".
    pub(crate) span: Range<usize>,
    /// The headline after `error: `.
    pub(crate) message: &'a str,
    /// What would have been accepted, shown after the caret as `expected ...`.
    pub(crate) expected: Option<&'a str>,
    /// The name of the input shown after `-->` (a path, `<scenario>`, `<toxics>`).
    pub(crate) origin: &'a str,
}

/// The full rendering: headline, `--> origin:line:column`, the line and a caret.
pub(crate) fn render(d: &Diagnostic<'_>) -> String {
    let input = d.input;
    let (line_no, col) = line_col(input, d.span.start);
    let start = floor_boundary(input, d.span.start);
    let line_start = input[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = input[start..].find('\n').map_or(input.len(), |i| start + i);
    let line = input[line_start..line_end].trim_end_matches('\r');
    // The caret covers the span's characters on this line, and at least one column.
    let span_end = floor_boundary(input, d.span.end.clamp(start, line_end));
    let width = input[start..span_end].chars().count().max(1);
    let shown: String = line
        .chars()
        .map(|c| match c {
            '\t' => ' ',
            // A file may hold terminal escapes; never print them raw.
            c if c.is_control() => '\u{fffd}',
            c => c,
        })
        .collect();
    let gutter = line_no.to_string().len();
    let pad = " ".repeat(gutter);
    let mut out = format!(
        "error: {}\n{pad}--> {}:{line_no}:{col}\n{pad} |\n{line_no} | {shown}\n{pad} | {}{}",
        d.message,
        d.origin,
        " ".repeat(col - 1),
        "^".repeat(width),
    );
    if let Some(expected) = d.expected {
        out.push_str(" expected ");
        out.push_str(expected);
    }
    out
}

/// The largest char boundary of `s` at or before `offset` (clamped to `s.len()`).
fn floor_boundary(s: &str, offset: usize) -> usize {
    let mut i = offset.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// 1-based line and column (in characters) of byte `offset` in `source`.
pub(crate) fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = floor_boundary(source, offset);
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = source[line_start..offset].chars().count() + 1;
    (line, col)
}

/// Why a size or duration did not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnitError {
    /// Not digits followed by a known unit.
    Syntax,
    /// Well-formed, but too large to hold.
    Overflow,
}

/// A size: decimal digits, optionally followed by `KiB`, `MiB` or `GiB` (`4096`, `64KiB`).
pub(crate) fn size(text: &str) -> Result<u64, UnitError> {
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let unit: u64 = match &text[digits..] {
        "" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return Err(UnitError::Syntax),
    };
    if digits == 0 {
        return Err(UnitError::Syntax);
    }
    parse_u64(&text[..digits])
        .and_then(|n| n.checked_mul(unit))
        .ok_or(UnitError::Overflow)
}

/// A duration in nanoseconds: decimal digits and a unit (`ns`, `us`, `µs`, `ms`, `s`), or a
/// bare `0`.
pub(crate) fn duration_nanos(text: &str) -> Result<u128, UnitError> {
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let nanos_per: u128 = match &text[digits..] {
        "" if digits > 0 && text.bytes().all(|b| b == b'0') => 1,
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        _ => return Err(UnitError::Syntax),
    };
    if digits == 0 {
        return Err(UnitError::Syntax);
    }
    parse_u64(&text[..digits])
        .map(|n| u128::from(n) * nanos_per)
        .ok_or(UnitError::Overflow)
}

/// A duration in the largest unit that shows it exactly: `2s`, `1500ms`, `250us`, `7ns`; zero
/// is `0ms`. [`duration_nanos`] reads every one of them back.
pub(crate) fn print_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        "0ms".to_string()
    } else if nanos % 1_000_000_000 == 0 {
        format!("{}s", nanos / 1_000_000_000)
    } else if nanos % 1_000_000 == 0 {
        format!("{}ms", nanos / 1_000_000)
    } else if nanos % 1_000 == 0 {
        format!("{}us", nanos / 1_000)
    } else {
        format!("{nanos}ns")
    }
}

/// A size in the largest binary unit that shows it exactly: `16MiB`, `4KiB`, `1000`.
pub(crate) fn print_size(n: u64) -> String {
    if n != 0 && n % (1 << 30) == 0 {
        format!("{}GiB", n >> 30)
    } else if n != 0 && n % (1 << 20) == 0 {
        format!("{}MiB", n >> 20)
    } else if n != 0 && n % (1 << 10) == 0 {
        format!("{}KiB", n >> 10)
    } else {
        n.to_string()
    }
}

/// Decimal digits only (no sign, no spaces), without overflow.
pub(crate) fn parse_u64(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.bytes().try_fold(0u64, |n, b| {
        n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_read_back_what_they_print() {
        for n in [0, 1, 1000, 1024, 65536, 1 << 20, 3 << 30, 1025] {
            assert_eq!(size(&print_size(n)), Ok(n));
        }
        for nanos in [0u64, 7, 250_000, 1_500_000_000, 2_000_000_000] {
            let d = Duration::from_nanos(nanos);
            assert_eq!(duration_nanos(&print_duration(d)), Ok(u128::from(nanos)));
        }
        assert_eq!(size("16KiB"), Ok(16 << 10));
        assert_eq!(size("KiB"), Err(UnitError::Syntax));
        assert_eq!(size("1kb"), Err(UnitError::Syntax));
        assert_eq!(size("99999999999999999999"), Err(UnitError::Overflow));
        assert_eq!(duration_nanos("0"), Ok(0));
        assert_eq!(duration_nanos("5"), Err(UnitError::Syntax));
        assert_eq!(duration_nanos("ms"), Err(UnitError::Syntax));
        assert_eq!(duration_nanos("250us"), Ok(250_000));
    }
}
