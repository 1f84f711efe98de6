//! Fuzz target `raw_stream`: the input bytes as one message, written in one go on a connection
//! kept open, echoed and compared. The simplest and fastest target.
//!
//! The body is `echo_harness::fuzzing::raw_stream`; `echo-harness replay --artifact raw_stream
//! FILE` runs a crash file through the same function.
#![no_main]

use libfuzzer_sys::{fuzz_target, Corpus};

fuzz_target!(|data: &[u8]| -> Corpus {
    if echo_harness::fuzzing::raw_stream(data).keep() {
        Corpus::Keep
    } else {
        Corpus::Reject
    }
});
