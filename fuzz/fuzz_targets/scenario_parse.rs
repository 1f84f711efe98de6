//! Fuzz target `scenario_parse`: the input as scenario text. The parser must not panic, and what
//! parses must print to text that reparses to the same scenario.
//!
//! The body is `echo_harness::fuzzing::scenario_parse`; a crash file is scenario text, so
//! `echo-harness replay` (or any editor) reads it.
#![no_main]

use libfuzzer_sys::{fuzz_target, Corpus};

fuzz_target!(|data: &[u8]| -> Corpus {
    if echo_harness::fuzzing::scenario_parse(data).keep() {
        Corpus::Keep
    } else {
        Corpus::Reject
    }
});
