//! Values: literal payloads (text or hex, whichever reads back the same and is shorter),
//! sizes and durations (one grammar with the flags, in `crate::units`) as they print and read.

use std::time::Duration;

use super::ms;
use crate::case::{Case, Conversation, Payload};
use crate::scenario::{parse, parse_case, print, print_case, ParseErrorKind};

#[test]
fn literal_payloads_choose_text_or_hex_and_round_trip() {
    let cases: &[(&[u8], &str)] = &[
        (b"", "\"\""),
        (b"plain text", "\"plain text\""),
        (
            b"tab\tquote\"back\\slash\r\n",
            r#""tab\tquote\"back\\slash\r\n""#,
        ),
        ("héllo €".as_bytes(), "\"héllo €\""),
        (b"\\\"", r#""\\\"""#),
        // Mostly binary: hex is shorter.
        (&[0xff, 0xfe, 0x00, 0x01], "hex fffe0001"),
        // U+0085 would print as `\x85`, which reads back as one byte: hex instead.
        ("\u{85}".as_bytes(), "hex c285"),
    ];
    for &(bytes, expected) in cases {
        let payload = Payload::Literal(bytes.to_vec());
        assert_eq!(print::payload(&payload), expected);
        let case = Case::single(Conversation::Stream {
            payload: payload.clone(),
        });
        assert_eq!(parse_case(&print_case(&case)), Ok(case), "{bytes:?}");
    }
    // Long hex is grouped 16 bytes at a time.
    let long = Payload::Literal(vec![0xab; 20]);
    assert_eq!(
        print::payload(&long),
        format!("hex {} {}", "ab".repeat(16), "ab".repeat(4))
    );
}

#[test]
fn durations_print_in_the_largest_exact_unit() {
    assert_eq!(print::duration(Duration::ZERO), "0ms");
    assert_eq!(print::duration(ms(2000)), "2s");
    assert_eq!(print::duration(ms(1500)), "1500ms");
    assert_eq!(print::duration(Duration::from_micros(250)), "250us");
    assert_eq!(
        print::duration(Duration::from_nanos(1_000_001)),
        "1000001ns"
    );
}

/// Sizes and durations read as they do in flags (`--max-size 4MB`, `--timeout 1m`): one
/// grammar, in `crate::units`.
#[test]
fn sizes_and_durations_read_as_in_flags() {
    let file = parse(
        "# echo-harness scenario v1\nconnection c\n  write-chunks 4MB 2K 64KiB\n  \
         write-pauses 1m 1500us\n  send generated 1MiB seed 1\n  expect echo\n",
    )
    .unwrap();
    let conn = &file.script.connections[0];
    assert_eq!(conn.write.chunks, vec![4 << 20, 2 << 10, 64 << 10]);
    assert_eq!(
        conn.write.pauses,
        vec![Duration::from_secs(60), Duration::from_micros(1500)]
    );
    let e = parse("# echo-harness scenario v1\nconnection c\n  write-chunks 4mb\n").unwrap_err();
    assert_eq!(e.kind(), ParseErrorKind::InvalidNumber);
    let e = parse("# echo-harness scenario v1\nconnection c\n  write-pauses 2m\n").unwrap_err();
    assert_eq!(e.kind(), ParseErrorKind::NumberOutOfRange);
}
