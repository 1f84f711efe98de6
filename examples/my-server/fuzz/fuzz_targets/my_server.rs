//! Fuzz target `my_server`: echo-harness's `roundtrip` body against my-server, in process and
//! with coverage. Each input decodes into payloads and write and read plans, played as rounds on
//! one connection kept open across inputs; every byte must come back, in order. A crash file is
//! read by `echo-harness replay --artifact roundtrip FILE`, and kept as a test under
//! `tests/crashes/` (see `tests/crashes.rs`).
#![no_main]

use std::sync::LazyLock;

use echo_harness::fuzzing::Harness;
use libfuzzer_sys::{fuzz_target, Corpus};

static H: LazyLock<Harness> = LazyLock::new(|| Harness::tokio(my_server::run));

fuzz_target!(|data: &[u8]| -> Corpus { H.roundtrip(data).into() });
