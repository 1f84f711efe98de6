//! Fuzz target `roundtrip_lifecycle`: decoded cases on fresh connections (half-close, close,
//! several at once), then a check that the server closed each cleanly and leaked none.
//!
//! The body is `echo_harness::fuzzing::roundtrip_lifecycle`; `echo-harness replay --artifact
//! roundtrip_lifecycle FILE` runs a crash file through the same function.
#![no_main]

use libfuzzer_sys::{fuzz_target, Corpus};

fuzz_target!(|data: &[u8]| -> Corpus {
    if echo_harness::fuzzing::roundtrip_lifecycle(data).keep() {
        Corpus::Keep
    } else {
        Corpus::Reject
    }
});
