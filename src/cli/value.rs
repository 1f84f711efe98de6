//! Parsers for flag values: addresses, sizes and durations (in the one grammar of
//! [`crate::units`]) and toxic chains, with errors that say what was expected.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use crate::units::{self, UnitError, DURATION_GRAMMAR, SIZE_GRAMMAR};

/// `IP:PORT` (`127.0.0.1:8080`, `[::1]:0`) or `HOST:PORT` (`localhost:8080`), resolved to its
/// first address.
pub(crate) fn address(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let expected = "expected HOST:PORT, such as 127.0.0.1:8080 or [::1]:8080";
    // Only names with a port are looked up, so a bare word fails fast instead of asking DNS.
    match text.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => text
            .to_socket_addrs()
            .ok()
            .and_then(|mut addrs| addrs.next())
            .ok_or_else(|| format!("cannot resolve '{text}': {expected}")),
        _ => Err(format!("invalid address '{text}': {expected}")),
    }
}

/// A duration in the grammar of [`crate::units`]: `250ms`, `2s`, `1m`, `1h30m`.
pub(crate) fn duration(text: &str) -> Result<Duration, String> {
    units::duration(text.trim()).map_err(|e| match e {
        UnitError::Overflow => format!("invalid duration '{text}': too long"),
        UnitError::Syntax => format!("invalid duration '{text}': expected {DURATION_GRAMMAR}"),
    })
}

/// A byte size in the grammar of [`crate::units`]: `4096`, `64KiB`, `4MB`.
pub(crate) fn size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    match units::size(text) {
        Ok(n) => usize::try_from(n).map_err(|_| format!("invalid size '{text}': too large")),
        Err(UnitError::Overflow) => Err(format!("invalid size '{text}': too large")),
        Err(UnitError::Syntax) => Err(format!("invalid size '{text}': expected {SIZE_GRAMMAR}")),
    }
}

/// A duration that may be switched off: `None` means "never".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MaybeDuration(pub(crate) Option<Duration>);

/// A duration, or `0` / `off` / `none` / `never` for "never".
pub(crate) fn optional_duration(text: &str) -> Result<MaybeDuration, String> {
    match text.trim() {
        "0" | "off" | "none" | "never" => Ok(MaybeDuration(None)),
        other => duration(other).map(|d| MaybeDuration((!d.is_zero()).then_some(d))),
    }
}

/// A toxic chain given on the command line (`--through`, the TOXIC arguments of `proxy`),
/// read by the one chain parser. A bad chain is printed with its caret, the flag named as its
/// source, and is a usage error (exit 2) saying that `consequence` ("nothing was run").
pub(crate) fn toxic_chain(
    text: &str,
    source: &str,
    consequence: &str,
) -> Result<crate::proxy::ToxicChain, super::Failure> {
    crate::proxy::ToxicChain::parse(text).map_err(|e| {
        eprintln!("{}", e.with_origin(source));
        super::Failure::usage(anyhow::anyhow!("invalid toxic chain; {consequence}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(address("127.0.0.1:8080").unwrap().port(), 8080);
        assert!(address("[::1]:0").unwrap().is_ipv6());
        assert!(address("localhost:9").is_ok());
        assert!(address("nonsense")
            .unwrap_err()
            .contains("invalid address 'nonsense'"));
        assert!(address("127.0.0.1").is_err());
        assert!(address("127.0.0.1:99999").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(size("4096"), Ok(4096));
        assert_eq!(size("64KiB"), Ok(65536));
        assert_eq!(size("4MiB"), Ok(4 << 20));
        assert!(size("4 parsecs").unwrap_err().contains("invalid size"));
        assert!(size("").is_err());
        assert!(size("99999999999999999999GiB").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(duration("2s"), Ok(Duration::from_secs(2)));
        assert!(duration("2")
            .unwrap_err()
            .contains("expected a number with a unit"));
        assert_eq!(optional_duration("off"), Ok(MaybeDuration(None)));
        assert_eq!(optional_duration("0"), Ok(MaybeDuration(None)));
        assert_eq!(
            optional_duration("1m"),
            Ok(MaybeDuration(Some(Duration::from_secs(60))))
        );
    }
}
