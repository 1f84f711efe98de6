//! Escaping bytes for people: how a payload is shown on a terminal, in a log line or in a report.
//!
//! Echo traffic is arbitrary bytes. Printing it raw would let a payload move the cursor, change
//! colours or hide itself, so everything that shows bytes to a person goes through [`escape_bytes`].
//! Valid UTF-8 text stays readable; control characters, the backslash and bytes that are not UTF-8
//! become escapes (`\n`, `\t`, `\\`, `\x00`, `\xff`). The scenario language uses the same escapes
//! for its text literals, so what a report shows can be pasted into a scenario file.

use std::fmt::Write as _;

/// Escapes `bytes` so that the result is printable, single-line text.
///
/// ```
/// use echo_harness::escape_bytes;
/// assert_eq!(escape_bytes(b"hi\n"), "hi\\n");
/// assert_eq!(escape_bytes(b"\xff\x00ok"), "\\xff\\x00ok");
/// assert_eq!(escape_bytes("héllo".as_bytes()), "héllo");
/// ```
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_char(&mut out, c);
        }
        for b in chunk.invalid() {
            // Writing to a String cannot fail.
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// Escapes at most `limit` bytes of `bytes`, saying how many were left out.
///
/// Log lines use this so that one huge read does not flood the terminal.
pub fn escape_bytes_truncated(bytes: &[u8], limit: usize) -> String {
    if bytes.len() <= limit {
        return escape_bytes(bytes);
    }
    format!(
        "{}… ({} more bytes)",
        escape_bytes(&bytes[..limit]),
        bytes.len() - limit
    )
}

fn push_char(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\\' => out.push_str("\\\\"),
        c if c.is_control() => {
            let code = c as u32;
            // `\xNN` is one raw byte, so only ASCII controls may use it; a C1 control such as
            // U+0085 is a two-byte character and must stay one, or it would not read back.
            if code <= 0x7f {
                let _ = write!(out, "\\x{code:02x}");
            } else {
                let _ = write!(out, "\\u{{{code:x}}}");
            }
        }
        c => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_plain_text() {
        assert_eq!(escape_bytes(b"hello world"), "hello world");
    }

    #[test]
    fn escapes_controls_and_backslash() {
        assert_eq!(
            escape_bytes(b"a\r\n\t\\b\x1b[31m"),
            "a\\r\\n\\t\\\\b\\x1b[31m"
        );
        assert_eq!(escape_bytes("\u{7f}\u{85}".as_bytes()), "\\x7f\\u{85}");
    }

    #[test]
    fn escapes_invalid_utf8_bytewise() {
        assert_eq!(escape_bytes(b"\xc3(\xff"), "\\xc3(\\xff");
        assert_eq!(escape_bytes(b""), "");
    }

    #[test]
    fn truncation_says_how_much_is_left_out() {
        assert_eq!(escape_bytes_truncated(b"abcdef", 3), "abc… (3 more bytes)");
        assert_eq!(escape_bytes_truncated(b"abc", 3), "abc");
    }
}
