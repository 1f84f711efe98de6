//! Sizes and durations as people write them: one grammar, read the same in command-line flags,
//! scenario files and toxic chains, and printed so that it reads back.
//!
//! # Sizes
//! Decimal digits, then optionally spaces and a unit: `B`, or a binary multiple written `KiB`,
//! `K` or `KB` (1024), `MiB`, `M` or `MB` (1024²), `GiB`, `G` or `GB` (1024³). Units are
//! case-sensitive, so `4MB` is 4 MiB everywhere and `4mb` is an error everywhere. Sizes are
//! binary because buffers and socket options are: nobody sizes a socket buffer in powers of ten.
//! Printed in the largest binary unit that shows the size exactly (`16MiB`, `4KiB`, `1000`).
//!
//! # Durations
//! humantime's grammar (`250us`, `5ms`, `2s`, `1m`, `1h30m`, `1.5s`; `µs` and the long names
//! such as `msec` too), plus a bare `0` (or `00`…). humantime is the well-kept reader every flag
//! already used; scenario files and toxic chains now read it too, so a duration that works in a
//! flag works in a file. A bare number other than zero has no unit and is an error. Printed in
//! the largest of `s`, `ms`, `us`, `ns` that shows it exactly.

use std::time::Duration;

/// Why a size or duration did not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnitError {
    /// Not digits followed by a known unit.
    Syntax,
    /// Well-formed, but too large to hold.
    Overflow,
}

/// What a size looks like, for the command line's error messages.
#[cfg(feature = "cli")]
pub(crate) const SIZE_GRAMMAR: &str =
    "digits with an optional unit B, KiB, MiB or GiB, such as 64KiB";

/// What a duration looks like, for the command line's error messages.
#[cfg(feature = "cli")]
pub(crate) const DURATION_GRAMMAR: &str = "a number with a unit, such as 250us, 100ms, 2s or 5m";

/// A size in bytes (see the [module docs](self)).
pub(crate) fn size(text: &str) -> Result<u64, UnitError> {
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let unit: u64 = match text[digits..].trim_start() {
        "" | "B" => 1,
        "KiB" | "K" | "KB" => 1 << 10,
        "MiB" | "M" | "MB" => 1 << 20,
        "GiB" | "G" | "GB" => 1 << 30,
        _ => return Err(UnitError::Syntax),
    };
    if digits == 0 {
        return Err(UnitError::Syntax);
    }
    parse_u64(&text[..digits])
        .and_then(|n| n.checked_mul(unit))
        .ok_or(UnitError::Overflow)
}

/// A duration (see the [module docs](self)).
pub(crate) fn duration(text: &str) -> Result<Duration, UnitError> {
    if !text.is_empty() && text.bytes().all(|b| b == b'0') {
        return Ok(Duration::ZERO);
    }
    humantime::parse_duration(text).map_err(|e| match e {
        humantime::DurationError::NumberOverflow => UnitError::Overflow,
        _ => UnitError::Syntax,
    })
}

/// A duration in the largest unit that shows it exactly: `2s`, `1500ms`, `250us`, `7ns`; zero
/// is `0ms`. [`duration`] reads every one of them back.
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
            assert_eq!(duration(&print_duration(d)), Ok(d));
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(size("16KiB"), Ok(16 << 10));
        assert_eq!(size("4MB"), Ok(4 << 20));
        assert_eq!(size("4M"), Ok(4 << 20));
        assert_eq!(size("64 KiB"), Ok(64 << 10));
        assert_eq!(size("2GB"), Ok(2 << 30));
        assert_eq!(size("7B"), Ok(7));
        assert_eq!(size("KiB"), Err(UnitError::Syntax));
        assert_eq!(size("1kb"), Err(UnitError::Syntax));
        assert_eq!(size("4mb"), Err(UnitError::Syntax));
        assert_eq!(size("4 parsecs"), Err(UnitError::Syntax));
        assert_eq!(size(""), Err(UnitError::Syntax));
        assert_eq!(size("99999999999999999999"), Err(UnitError::Overflow));
        assert_eq!(size("17179869184GiB"), Err(UnitError::Overflow));
    }

    #[test]
    fn durations() {
        assert_eq!(duration("0"), Ok(Duration::ZERO));
        assert_eq!(duration("000"), Ok(Duration::ZERO));
        assert_eq!(duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(duration("250µs"), Ok(Duration::from_micros(250)));
        assert_eq!(duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(duration("7ns"), Ok(Duration::from_nanos(7)));
        assert_eq!(duration("5"), Err(UnitError::Syntax));
        assert_eq!(duration("ms"), Err(UnitError::Syntax));
        assert_eq!(duration(""), Err(UnitError::Syntax));
        assert_eq!(duration("soon"), Err(UnitError::Syntax));
        assert_eq!(
            duration("99999999999999999999999s"),
            Err(UnitError::Overflow)
        );
    }
}
