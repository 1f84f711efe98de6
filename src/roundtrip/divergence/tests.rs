//! The report of a mismatch, and which kinds count as timing only.

use super::*;
use std::time::Duration;

fn divergence(kind: DivergenceKind) -> Divergence {
    Divergence {
        confirmed: true,
        ..Divergence::new("c1", kind, 10, 4, 10)
    }
}

#[test]
fn mismatch_report_shows_both_hexdumps_and_the_crossing() {
    let report = divergence(DivergenceKind::Mismatch {
        offset: 4,
        expected: b'e',
        actual: b'X',
        evidence: Box::new(MismatchEvidence {
            expected_window: b"abcdefgh".to_vec(),
            received_window: b"abcdXfgh".to_vec(),
            window_start: 0,
            crossed_from: Some(("c0".into(), 17)),
        }),
    })
    .to_string();
    assert!(report.starts_with(
        "connection c1: different bytes came back at offset 4: expected 0x65, got 0x58"
    ));
    assert!(
        report.contains("00000000  61 62 63 64[65]66 67 68"),
        "{report}"
    );
    assert!(
        report.contains("00000000  61 62 63 64[58]66 67 68"),
        "{report}"
    );
    assert!(report.contains("bytes crossed from c0 to c1"), "{report}");
}

#[test]
fn timing_only_kinds_are_the_ones_without_byte_evidence() {
    let waited = Duration::from_secs(2);
    assert!(DivergenceKind::Stalled { waited }.is_timing_only());
    assert!(DivergenceKind::NoEof { waited }.is_timing_only());
    assert!(!DivergenceKind::EarlyEof.is_timing_only());
    assert!(!DivergenceKind::Refused.is_timing_only());
    let mut unconfirmed = divergence(DivergenceKind::Stalled { waited });
    unconfirmed.confirmed = false;
    assert!(unconfirmed.to_string().contains("not confirmed"));
    assert_eq!(
        divergence(DivergenceKind::EarlyEof).summary(),
        "connection c1: bytes missing: the server closed after 4 of 10 bytes came back (early EOF)"
    );
}
