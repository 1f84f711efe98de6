//! Fuzz target `raw_stream`: the input bytes as one message, written in one go on a connection
//! kept open, echoed and compared. The simplest and fastest target.
//!
//! The body is `Harness::raw_stream`, the same API a fuzz target of your own server uses. The
//! server is the built-in one, or the one `ECHO_HARNESS_TARGET` (an address) or
//! `ECHO_HARNESS_SPAWN` (a command) names. `echo-harness replay --artifact raw_stream FILE` runs a
//! crash file through the same function.
#![no_main]

use std::sync::LazyLock;

use echo_harness::fuzzing::Harness;
use libfuzzer_sys::{fuzz_target, Corpus};

static H: LazyLock<Harness> =
    LazyLock::new(|| Harness::from_env().unwrap_or_else(Harness::built_in));

fuzz_target!(|data: &[u8]| -> Corpus { H.raw_stream(data).into() });
