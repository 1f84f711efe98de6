//! Fuzz target `proxy_roundtrip`: a toxic chain and a case, played through the proxy: a
//! data-preserving chain must round-trip exactly, and no chain may leave a connection open.
//!
//! The body is `echo_harness::fuzzing::proxy_roundtrip`; `echo-harness replay --artifact
//! proxy_roundtrip FILE` runs a crash file through the same function.
#![no_main]

use libfuzzer_sys::{fuzz_target, Corpus};

fuzz_target!(|data: &[u8]| -> Corpus {
    if echo_harness::fuzzing::proxy_roundtrip(data).keep() {
        Corpus::Keep
    } else {
        Corpus::Reject
    }
});
