//! [`PauseScale`]: the exact fraction every pause of a case is multiplied by when it is played,
//! and the nanosecond arithmetic behind it.

use std::fmt;
use std::time::Duration;

use super::MAX_PAUSE_SCALE_TERM;

/// The factor `numerator / denominator` applied to every pause when a case is played.
///
/// Kept as a reduced fraction of integers, not a float, so that it prints and parses back
/// exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PauseScale {
    numerator: u32,
    denominator: u32,
}

impl PauseScale {
    /// Pauses as written.
    pub const ONE: PauseScale = PauseScale {
        numerator: 1,
        denominator: 1,
    };

    /// `numerator / denominator`, reduced; `None` unless `numerator <= MAX_PAUSE_SCALE_TERM` and
    /// `1 <= denominator <= MAX_PAUSE_SCALE_TERM`. A zero numerator turns pauses off.
    pub fn new(numerator: u32, denominator: u32) -> Option<Self> {
        if numerator > MAX_PAUSE_SCALE_TERM
            || denominator == 0
            || denominator > MAX_PAUSE_SCALE_TERM
        {
            return None;
        }
        let g = gcd(numerator, denominator);
        Some(Self {
            numerator: numerator / g,
            denominator: denominator / g,
        })
    }

    /// The reduced numerator.
    pub fn numerator(self) -> u32 {
        self.numerator
    }

    /// The reduced denominator.
    pub fn denominator(self) -> u32 {
        self.denominator
    }

    /// `pause` scaled, rounded down to the nanosecond.
    pub fn apply(self, pause: Duration) -> Duration {
        nanos_to_duration(
            pause.as_nanos() * u128::from(self.numerator) / u128::from(self.denominator),
        )
    }
}

impl Default for PauseScale {
    fn default() -> Self {
        Self::ONE
    }
}

/// `3/100`, or just `2` for a whole number; the scenario syntax.
impl fmt::Display for PauseScale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.denominator == 1 {
            write!(f, "{}", self.numerator)
        } else {
            write!(f, "{}/{}", self.numerator, self.denominator)
        }
    }
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

/// `nanos` as a [`Duration`], the seconds saturating at `u64::MAX` rather than wrapping.
pub(crate) fn nanos_to_duration(nanos: u128) -> Duration {
    let secs = u64::try_from(nanos / 1_000_000_000).unwrap_or(u64::MAX);
    Duration::new(secs, (nanos % 1_000_000_000) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn pause_scale_reduces_and_applies() {
        let s = PauseScale::new(10, 1000).unwrap();
        assert_eq!((s.numerator(), s.denominator()), (1, 100));
        assert_eq!(s.to_string(), "1/100");
        assert_eq!(s.apply(ms(5)), Duration::from_micros(50));
        assert_eq!(
            PauseScale::new(0, 7).unwrap(),
            PauseScale::new(0, 1).unwrap()
        );
        assert_eq!(PauseScale::new(4, 2).unwrap().to_string(), "2");
        assert_eq!(PauseScale::ONE.apply(ms(3)), ms(3));
        assert_eq!(PauseScale::new(1, 0), None);
        assert_eq!(PauseScale::new(MAX_PAUSE_SCALE_TERM + 1, 1), None);
    }
}
