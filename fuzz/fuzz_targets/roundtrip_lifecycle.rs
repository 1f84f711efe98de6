//! Fuzz target `roundtrip_lifecycle`: decoded cases on fresh connections (half-close, close,
//! several at once), then a check that the server closed each cleanly and leaked none.
//!
//! The body is `Harness::roundtrip_lifecycle`, the same API a fuzz target of your own server uses. The
//! server is the built-in one, or the one `ECHO_HARNESS_TARGET` (an address) or
//! `ECHO_HARNESS_SPAWN` (a command) names. `echo-harness replay --artifact roundtrip_lifecycle FILE` runs a
//! crash file through the same function.
#![no_main]

use std::sync::LazyLock;

use echo_harness::fuzzing::Harness;
use libfuzzer_sys::{fuzz_target, Corpus};

static H: LazyLock<Harness> =
    LazyLock::new(|| Harness::from_env().unwrap_or_else(Harness::built_in));

fuzz_target!(|data: &[u8]| -> Corpus { H.roundtrip_lifecycle(data).into() });
