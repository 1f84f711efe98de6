//! Hexdumps for reports: the expected and the received bytes around a divergence, side by side
//! in the classic `offset  hex  |ascii|` layout, with the first differing byte marked.

use std::fmt::Write as _;

/// Bytes per hexdump row.
const ROW: usize = 16;

/// Renders `bytes`, which start at stream offset `base`, as hexdump rows. When `mark` is the
/// stream offset of a byte inside `bytes`, that byte is bracketed: `[4f]`.
///
/// ```
/// let dump = echo_harness::hexdump::hexdump(b"hello", 32, Some(33));
/// assert_eq!(dump, "00000020  68[65]6c 6c 6f                                   |hello|\n");
/// ```
pub fn hexdump(bytes: &[u8], base: u64, mark: Option<u64>) -> String {
    let mut out = String::new();
    for (row, chunk) in bytes.chunks(ROW).enumerate() {
        let row_offset = base + (row * ROW) as u64;
        let _ = write!(out, "{row_offset:08x}  ");
        let mut hex = String::with_capacity(ROW * 3 + 2);
        for (i, byte) in chunk.iter().enumerate() {
            let offset = row_offset + i as u64;
            let marked = mark == Some(offset);
            let after_mark = i > 0 && mark == Some(offset - 1);
            if marked {
                hex.push('[');
            } else if i > 0 && !after_mark {
                hex.push(' ');
            }
            let _ = write!(hex, "{byte:02x}");
            if marked {
                hex.push(']');
            }
        }
        let _ = write!(out, "{hex:<48}");
        out.push_str(" |");
        out.extend(chunk.iter().map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            }
        }));
        out.push_str("|\n");
    }
    if bytes.is_empty() {
        let _ = writeln!(out, "{base:08x}  (no bytes)");
    }
    out
}

/// The window of a stream shown around `offset`: up to `before` bytes before it and `after`
/// bytes from it on, clipped to `len`. Returns the start offset and the length.
pub fn window(offset: u64, len: u64, before: u64, after: u64) -> (u64, u64) {
    // Start on a row boundary so rows line up between the expected and received dumps.
    let start = offset.saturating_sub(before) / ROW as u64 * ROW as u64;
    let end = offset.saturating_add(after).min(len);
    (start.min(end), end.saturating_sub(start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_sixteen_bytes_with_ascii_column() {
        let bytes: Vec<u8> = (0x40..0x40 + 20).collect();
        let dump = hexdump(&bytes, 0, None);
        let lines: Vec<&str> = dump.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            lines[0],
            "00000000  40 41 42 43 44 45 46 47 48 49 4a 4b 4c 4d 4e 4f  |@ABCDEFGHIJKLMNO|"
        );
        assert_eq!(
            lines[1],
            "00000010  50 51 52 53                                      |PQRS|"
        );
    }

    #[test]
    fn marks_the_differing_byte_and_dots_unprintables() {
        let dump = hexdump(b"a\x00\nb", 0, Some(1));
        assert!(dump.starts_with("00000000  61[00]0a 62"), "{dump}");
        assert!(dump.trim_end().ends_with("|a..b|"), "{dump}");
        assert_eq!(hexdump(b"", 7, None), "00000007  (no bytes)\n");
    }

    #[test]
    fn window_is_row_aligned_and_clipped() {
        assert_eq!(window(40, 1000, 16, 32), (16, 56));
        assert_eq!(window(3, 10, 16, 32), (0, 10));
        assert_eq!(window(10, 10, 16, 32), (0, 10));
    }
}
