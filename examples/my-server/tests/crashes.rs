//! Fuzz crashes kept as regression tests: every file under `tests/crashes/` is an input the fuzz
//! target (`fuzz/fuzz_targets/my_server.rs`) once crashed on, replayed through the very body the
//! target runs (`Harness::roundtrip`'s) on a fresh connection. Keeping a crash is copying its
//! file here; the test fails while the bug is there and passes once it is fixed.
//!
//! Whether chunks written back to back reach the server as separate reads depends on timing, and
//! a fragmentation bug needs them separate: the replay runs in lockstep, waiting after each chunk
//! until the kernel says the server's socket has read it (Linux), so a crash fails every time.

use echo_harness::fuzzing::{FuzzTarget, Harness};

#[test]
fn every_kept_crash_is_fixed() {
    let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/crashes");
    Harness::tokio(my_server::run)
        .reproduce_folder(FuzzTarget::Roundtrip, folder)
        .expect("a folder of crash files")
        .assert_fixed();
}
