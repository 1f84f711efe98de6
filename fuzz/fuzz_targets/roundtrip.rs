//! Fuzz target `roundtrip`: decoded payloads and fragmentation plans, played as rounds on one
//! connection kept open to an in-process echo server; every byte must come back, in order.
//!
//! The body is `echo_harness::fuzzing::roundtrip`; `echo-harness replay --artifact roundtrip
//! FILE` runs a crash file through the same function.
#![no_main]

use libfuzzer_sys::{fuzz_target, Corpus};

fuzz_target!(|data: &[u8]| -> Corpus {
    if echo_harness::fuzzing::roundtrip(data).keep() {
        Corpus::Keep
    } else {
        Corpus::Reject
    }
});
