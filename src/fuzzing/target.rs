//! The fuzz targets by name: [`FuzzTarget`], one per file under `fuzz/fuzz_targets/`, and the
//! way back from a name (`replay --artifact TARGET`) to the target, with [`UnknownTarget`] for
//! a name that is none.

use std::fmt;
use std::str::FromStr;

/// A fuzz target, by the name of its file under `fuzz/fuzz_targets/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FuzzTarget {
    /// `roundtrip`: decoded rounds on one kept connection.
    Roundtrip,
    /// `roundtrip_lifecycle`: decoded cases on fresh connections, then a health check.
    RoundtripLifecycle,
    /// `raw_stream`: the input bytes, written in one go on the kept connection.
    RawStream,
    /// `scenario_parse`: the input as scenario text.
    ScenarioParse,
    /// `proxy_roundtrip`: a toxic chain and a case, played through the proxy.
    ProxyRoundtrip,
}

impl FuzzTarget {
    /// Every target.
    pub const ALL: [FuzzTarget; 5] = [
        FuzzTarget::Roundtrip,
        FuzzTarget::RoundtripLifecycle,
        FuzzTarget::RawStream,
        FuzzTarget::ScenarioParse,
        FuzzTarget::ProxyRoundtrip,
    ];

    /// The target's name: its file under `fuzz/fuzz_targets/` and its `cargo fuzz` name.
    pub fn name(self) -> &'static str {
        match self {
            FuzzTarget::Roundtrip => "roundtrip",
            FuzzTarget::RoundtripLifecycle => "roundtrip_lifecycle",
            FuzzTarget::RawStream => "raw_stream",
            FuzzTarget::ScenarioParse => "scenario_parse",
            FuzzTarget::ProxyRoundtrip => "proxy_roundtrip",
        }
    }
}

impl fmt::Display for FuzzTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is no fuzz target.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown fuzz target `{name}`: the targets are roundtrip, roundtrip_lifecycle, raw_stream, scenario_parse, proxy_roundtrip"
)]
pub struct UnknownTarget {
    /// The name given.
    pub name: String,
}

impl FromStr for FuzzTarget {
    type Err = UnknownTarget;

    fn from_str(name: &str) -> Result<FuzzTarget, UnknownTarget> {
        FuzzTarget::ALL
            .into_iter()
            .find(|t| t.name() == name)
            .ok_or_else(|| UnknownTarget {
                name: name.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_names_parse_and_unknown_ones_are_named() {
        for target in FuzzTarget::ALL {
            assert_eq!(target.name().parse::<FuzzTarget>(), Ok(target));
        }
        let err = "roundtrip2".parse::<FuzzTarget>().unwrap_err();
        assert!(err.to_string().contains("`roundtrip2`"), "{err}");
    }
}
