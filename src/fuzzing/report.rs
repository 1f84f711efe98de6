//! What a target tells the fuzzer: the crash report of a failed input (the failure, whether it
//! fails again on a fresh connection, its case as scenario text, how to replay it), and in fuzz
//! builds the share of rejected inputs now and then.

use super::{artifact_to_scenario, FuzzFailure, FuzzTarget, Harness, InputVerdict};
use crate::scenario;

/// The crash report: the failure, whether it fails again on a fresh connection, the case it
/// played as scenario text, and how to replay it.
pub(super) fn crash_report(
    harness: &Harness,
    target: FuzzTarget,
    data: &[u8],
    failure: &FuzzFailure,
) -> String {
    let mut report = format!("echo-harness fuzz target {target} failed: {failure}\n");
    if matches!(target, FuzzTarget::Roundtrip | FuzzTarget::RawStream) {
        report.push_str(match harness.reproduce(target, data) {
            Err(_) => "It fails again on a fresh connection.\n",
            Ok(_) => {
                "It PASSED when played again on a fresh connection, in lockstep: it depends on timing, or on \
                 what an earlier input left on the kept connection.\n"
            }
        });
    }
    if let Some(file) = artifact_to_scenario(target, data) {
        report.push_str("The case it played, as scenario text:\n");
        report.push_str(&scenario::print(&file));
    }
    report.push_str(&format!(
        "Replay it: echo-harness replay --artifact {target} CRASH_FILE (add --print for the \
         scenario); see fuzz/README.md.\n"
    ));
    report
}

/// Counts inputs and rejections; fuzz builds report the reject share now and then on stderr,
/// since libFuzzer's own statistics do not know about rejections.
pub(super) fn count(target: FuzzTarget, verdict: InputVerdict) {
    #[cfg(fuzzing)]
    {
        use std::sync::atomic::{AtomicU64, Ordering};
        static INPUTS: AtomicU64 = AtomicU64::new(0);
        static REJECTED: AtomicU64 = AtomicU64::new(0);
        let inputs = INPUTS.fetch_add(1, Ordering::Relaxed) + 1;
        if verdict == InputVerdict::Rejected {
            REJECTED.fetch_add(1, Ordering::Relaxed);
        }
        if inputs >= 1024 && inputs.is_power_of_two() {
            let rejected = REJECTED.load(Ordering::Relaxed);
            eprintln!(
                "INFO: echo-harness {target}: {inputs} inputs, {rejected} rejected ({:.2}%)",
                rejected as f64 * 100.0 / inputs as f64
            );
        }
    }
    #[cfg(not(fuzzing))]
    let _ = (target, verdict);
}
