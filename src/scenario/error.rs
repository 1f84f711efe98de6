//! [`ParseError`]: what went wrong in a scenario file, where, and what was expected there.
//!
//! A [`ParseError`] is the crate's one spanned error type with this parser's kinds; it keeps
//! the byte span and the whole source, and works out the 1-based line and column only when it is
//! displayed. The rendering shows the line under a gutter with a `^` caret under the span, at
//! least one caret even when the span is empty (an error at the end of a line or of the input):
//!
//! ```text
//! error: invalid value for `nodelay`
//!  --> case.scenario:3:11
//!   |
//! 3 |   nodelay maybe
//!   |           ^^^^^ expected `on` or `off`
//! ```

/// What kind of mistake a [`ParseError`] reports; tests assert on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The first line is not `# echo-harness scenario v1` (or `v2`).
    MissingVersion,
    /// The first line names a version this build does not read.
    UnsupportedVersion,
    /// A line starts with a word that is no directive.
    UnknownDirective,
    /// A line ends before a required argument.
    MissingArgument,
    /// A word or string where another was expected.
    UnexpectedToken,
    /// More on a line after a complete directive.
    TrailingInput,
    /// Not a number (or not a size like `64KiB`).
    InvalidNumber,
    /// A number, size or duration outside the allowed range.
    NumberOutOfRange,
    /// Not a duration like `250us`, `1ms` or `2s`.
    InvalidDuration,
    /// An unknown or malformed `\` escape in a string.
    InvalidEscape,
    /// A string without its closing `"` on the same line.
    UnterminatedString,
    /// Malformed hex bytes.
    InvalidHex,
    /// A connection name that is not `[A-Za-z_][A-Za-z0-9_-]*` (at most 32 bytes).
    InvalidName,
    /// Two connections with one name.
    DuplicateConnection,
    /// A setting or metadata line given twice.
    DuplicateSetting,
    /// A directive in the wrong place: a setting after a step, a step outside a connection,
    /// `pause-scale` after the first connection, a `connection` or a block's step after the
    /// first top-level step.
    Misplaced,
    /// A step that cannot follow the connection's earlier steps (a `send` after `shutdown
    /// write`, an `expect eof` with echo still owed, anything after `close`), or a top-level
    /// step on a connection with steps in its block.
    UnexpectedStep,
    /// A top-level step on a connection that was never declared.
    UnknownConnection,
    /// A file without any connection.
    NoConnections,
    /// A malformed `# seed:` line.
    InvalidMetadata,
    /// A `through` line whose toxic chain does not parse (the message is the chain parser's).
    InvalidChain,
    /// A well-formed case that breaks a hard limit of [`crate::case`], such as too many bytes.
    InvalidCase,
}

impl crate::diagnostic::ErrorKind for ParseErrorKind {
    const DEFAULT_ORIGIN: &'static str = "<scenario>";
    const TYPE_NAME: &'static str = "ParseError";
}

/// A scenario that could not be parsed: a [`ParseErrorKind`], a span, a headline and what was
/// expected, rendered with line:column and a caret ([`SpannedError`](crate::diagnostic::SpannedError)).
pub type ParseError = crate::diagnostic::SpannedError<ParseErrorKind>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::line_col;
    use std::ops::Range;

    fn error_at(source: &str, span: Range<usize>) -> ParseError {
        ParseError::new(
            ParseErrorKind::UnexpectedToken,
            span,
            "oops",
            Some("`x`".to_string()),
            source.into(),
        )
    }

    #[test]
    fn positions_of_empty_input() {
        assert_eq!(line_col("", 0), (1, 1));
        assert_eq!(line_col("", 5), (1, 1));
    }

    #[test]
    fn positions_at_end_of_input() {
        assert_eq!(line_col("ab", 2), (1, 3));
        assert_eq!(line_col("ab\n", 3), (2, 1));
        assert_eq!(line_col("ab\ncd", 5), (2, 3));
    }

    #[test]
    fn position_at_start_of_second_line() {
        assert_eq!(line_col("first\nsecond", 6), (2, 1));
        assert_eq!(line_col("first\r\nsecond", 7), (2, 1));
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        // "é" is two bytes, "€" three.
        assert_eq!(line_col("é€x", "é€".len()), (1, 3));
        // An offset inside a character counts as that character.
        assert_eq!(line_col("é", 1), (1, 1));
    }

    #[test]
    fn renders_a_gutter_and_caret() {
        let e = error_at("one\ntwo three\n", 8..13).with_origin("f.scenario");
        assert_eq!(
            e.to_string(),
            "error: oops\n --> f.scenario:2:5\n  |\n2 | two three\n  |     ^^^^^ expected `x`"
        );
    }

    #[test]
    fn renders_one_caret_at_end_of_input_and_of_empty_input() {
        assert_eq!(
            error_at("abc", 3..3).to_string(),
            "error: oops\n --> <scenario>:1:4\n  |\n1 | abc\n  |    ^ expected `x`"
        );
        assert_eq!(
            error_at("", 0..0).to_string(),
            "error: oops\n --> <scenario>:1:1\n  |\n1 | \n  | ^ expected `x`"
        );
        assert_eq!(
            error_at("abc\n", 4..4).to_string(),
            "error: oops\n --> <scenario>:2:1\n  |\n2 | \n  | ^ expected `x`"
        );
    }

    #[test]
    fn a_span_over_several_lines_is_cut_at_the_end_of_the_first() {
        let e = error_at("ab\ncd", 1..5);
        assert!(
            e.to_string().ends_with("1 | ab\n  |  ^ expected `x`"),
            "{e}"
        );
    }

    #[test]
    fn wide_gutters_and_control_characters() {
        let source = format!("{}x\u{1b}[2Jy", "\n".repeat(9));
        let e = error_at(&source, 9..10);
        assert_eq!(
            e.to_string(),
            "error: oops\n  --> <scenario>:10:1\n   |\n10 | x\u{fffd}[2Jy\n   | ^ expected `x`"
        );
        assert_eq!(e.kind(), ParseErrorKind::UnexpectedToken);
        assert_eq!(e.span(), 9..10);
        assert_eq!(e.message(), "oops");
        assert_eq!(e.expected(), Some("`x`"));
    }
}
