//! What can go wrong in chain text: [`ChainErrorKind`], and [`ChainError`], the crate's one
//! spanned error type (`crate::diagnostic::SpannedError`) carrying those kinds. The parser
//! builds them; the caret rendering is `diagnostic`'s.

/// What kind of mistake a [`ChainError`] reports; tests assert on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChainErrorKind {
    /// A toxic name that is none of the grammar's.
    UnknownToxic,
    /// A prefix before `:` that is not `up`, `down` or `both`.
    UnknownDirection,
    /// A `key=` the toxic does not take.
    UnknownKey,
    /// A toxic or key without its required `=value`.
    MissingValue,
    /// Not a number (a toxicity that is no fraction).
    InvalidNumber,
    /// Not a size like `1000` or `16KiB`.
    InvalidSize,
    /// Not a duration like `250us`, `5ms` or `2s`.
    InvalidDuration,
    /// A range whose minimum is above its maximum, or a slice size of 0.
    InvalidRange,
    /// A number beyond its bound (16 MiB, 1 hour, toxicity 1, bandwidth at least 1).
    OutOfRange,
    /// A key given twice in one toxic.
    DuplicateKey,
    /// More text where a toxic should have ended.
    TrailingInput,
    /// More than [`MAX_TOXICS`](super::MAX_TOXICS) toxics.
    TooManyToxics,
}

impl crate::diagnostic::ErrorKind for ChainErrorKind {
    const DEFAULT_ORIGIN: &'static str = "<toxics>";
    const TYPE_NAME: &'static str = "ChainError";
}

/// A toxic chain that could not be parsed: what, where (a byte span in the text), and what
/// would have been accepted; the crate's one spanned error type with this parser's kinds. Its
/// `Display` renders the line with a caret, like [`ParseError`](crate::ParseError):
///
/// ```text
/// error: slice range runs backwards
///  --> <toxics>:1:7
///   |
/// 1 | slice=16..1
///   |       ^^^^^ expected MIN..MAX with MIN <= MAX
/// ```
pub type ChainError = crate::diagnostic::SpannedError<ChainErrorKind>;

#[cfg(test)]
mod tests {
    use crate::proxy::chain::parse::EXPECTED_TOXIC;
    use crate::proxy::ToxicChain;

    #[test]
    fn errors_render_with_a_caret_like_scenario_errors() {
        let e = ToxicChain::parse("up:slice=1..16 slice=16..1").unwrap_err();
        assert_eq!(
            e.to_string(),
            "error: slice range runs backwards\n --> <toxics>:1:22\n  |\n1 | up:slice=1..16 slice=16..1\n  |                      ^^^^^ expected MIN..MAX with MIN <= MAX"
        );
        let e = e.with_origin("cli");
        assert!(e.to_string().contains(" --> cli:1:22\n"), "{e}");
        assert_eq!(e.line_col(), (1, 22));
        let e = ToxicChain::parse("wat").unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("error: unknown toxic `wat`\n --> <toxics>:1:1\n  |\n1 | wat\n  | ^^^ expected {EXPECTED_TOXIC}")
        );
        assert_eq!(e.message(), "unknown toxic `wat`");
    }

    #[test]
    fn an_error_moves_into_the_text_around_the_chain() {
        let file = "# echo-harness scenario v2\nthrough slice=0\n";
        let offset = file.find("slice").unwrap();
        let e = ToxicChain::parse("slice=0")
            .unwrap_err()
            .within(file, offset)
            .with_origin("a.scenario");
        assert_eq!(e.line_col(), (2, 15));
        assert!(e.to_string().contains(" --> a.scenario:2:15\n"), "{e}");
        assert!(e.to_string().contains("2 | through slice=0\n"), "{e}");
    }
}
