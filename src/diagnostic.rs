//! The one error type of the crate's two text parsers, [`SpannedError`]: the scenario
//! parser's [`ParseError`] and the toxic chain parser's [`ChainError`] are this type with their
//! own kind enum, so both have the same methods and render the same way.
//!
//! An error keeps the byte span and the whole source; the 1-based line and column (counted in
//! characters) are worked out only when it is displayed, the way toml_edit does. The rendering
//! shows the line under a gutter with a `^` caret under the span, at least one caret even when
//! the span is empty (an error at the end of a line or of the input):
//!
//! ```text
//! error: invalid value for `nodelay`
//!  --> case.scenario:3:11
//!   |
//! 3 |   nodelay maybe
//!   |           ^^^^^ expected `on` or `off`
//! ```
//!
//! [`ParseError`]: crate::ParseError
//! [`ChainError`]: crate::proxy::ChainError

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

/// The kind enum of one parser's errors: tests assert on it, and it names the input shown when
/// the caller gave none.
pub trait ErrorKind: fmt::Debug + Copy + Eq + Send + Sync + 'static {
    /// The name shown after `-->` until [`SpannedError::with_origin`] names the input.
    const DEFAULT_ORIGIN: &'static str;
    /// The error's name in `Debug` output (`ParseError`, `ChainError`).
    const TYPE_NAME: &'static str;
}

/// A text that could not be parsed: what kind of mistake, where (a byte span in the text),
/// the headline, and what would have been accepted there.
#[derive(Clone, PartialEq, Eq)]
pub struct SpannedError<K> {
    kind: K,
    /// Byte range of the offending text in `source`; empty for "missing here".
    span: Range<usize>,
    message: String,
    expected: Option<String>,
    /// The whole text the span points into, shared, so that the error can show the line.
    source: Arc<str>,
    /// The name shown after `-->`; the kind's default when `None`.
    origin: Option<String>,
}

impl<K: ErrorKind> SpannedError<K> {
    pub(crate) fn new(
        kind: K,
        span: Range<usize>,
        message: impl Into<String>,
        expected: Option<String>,
        source: Arc<str>,
    ) -> Self {
        Self {
            kind,
            span,
            message: message.into(),
            expected,
            source,
            origin: None,
        }
    }

    /// The kind of mistake.
    pub fn kind(&self) -> K {
        self.kind
    }

    /// The byte range of the offending text in the parsed text (or in the text given to
    /// [`SpannedError::within`]).
    pub fn span(&self) -> Range<usize> {
        self.span.clone()
    }

    /// The headline, e.g. "invalid value for `nodelay`".
    pub fn message(&self) -> &str {
        &self.message
    }

    /// What would have been accepted at the span, e.g. "`on` or `off`".
    pub fn expected(&self) -> Option<&str> {
        self.expected.as_deref()
    }

    /// Names the input (usually its path, or the flag it came from) in the rendered error.
    pub fn with_origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// The name given by [`SpannedError::with_origin`].
    pub fn origin(&self) -> Option<&str> {
        self.origin.as_deref()
    }

    /// Moves the error into a larger text: the parsed text was `source[offset..]` (such as the
    /// rest of a scenario file's `through` line), so the span and the rendered line:column
    /// point into `source`.
    pub fn within(mut self, source: &str, offset: usize) -> Self {
        self.span = self.span.start + offset..self.span.end + offset;
        self.source = Arc::from(source);
        self
    }

    /// 1-based line and column of the start of the span, the column counted in characters.
    pub fn line_col(&self) -> (usize, usize) {
        line_col(&self.source, self.span.start)
    }

    /// The full rendering: headline, `--> origin:line:column`, the line and a caret.
    pub fn render(&self) -> String {
        render(&Diagnostic {
            input: &self.source,
            span: self.span.clone(),
            message: &self.message,
            expected: self.expected.as_deref(),
            origin: self.origin.as_deref().unwrap_or(K::DEFAULT_ORIGIN),
        })
    }
}

impl<K: ErrorKind> fmt::Display for SpannedError<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

impl<K: ErrorKind> fmt::Debug for SpannedError<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(K::TYPE_NAME)
            .field("kind", &self.kind)
            .field("span", &self.span)
            .field("message", &self.message)
            .field("expected", &self.expected)
            .field("line_col", &self.line_col())
            .finish()
    }
}

impl<K: ErrorKind> std::error::Error for SpannedError<K> {}

/// What a parse error shows: the pieces [`render`] lays out.
struct Diagnostic<'a> {
    /// The whole input the span points into.
    input: &'a str,
    /// Byte range of the offending text; empty for "missing here".
    span: Range<usize>,
    /// The headline after `error: `.
    message: &'a str,
    /// What would have been accepted, shown after the caret as `expected ...`.
    expected: Option<&'a str>,
    /// The name of the input shown after `-->` (a path, `<scenario>`, `<toxics>`).
    origin: &'a str,
}

/// The full rendering: headline, `--> origin:line:column`, the line and a caret.
fn render(d: &Diagnostic<'_>) -> String {
    let input = d.input;
    let (line_no, col) = line_col(input, d.span.start);
    let start = floor_boundary(input, d.span.start);
    let line_start = input[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = input[start..].find('\n').map_or(input.len(), |i| start + i);
    let line = input[line_start..line_end].trim_end_matches('\r');
    // The caret covers the span's characters on this line, and at least one column.
    let span_end = floor_boundary(input, d.span.end.clamp(start, line_end));
    let width = input[start..span_end].chars().count().max(1);
    let shown: String = line
        .chars()
        .map(|c| match c {
            '\t' => ' ',
            // A file may hold terminal escapes; never print them raw.
            c if c.is_control() => '\u{fffd}',
            c => c,
        })
        .collect();
    let gutter = line_no.to_string().len();
    let pad = " ".repeat(gutter);
    let mut out = format!(
        "error: {}\n{pad}--> {}:{line_no}:{col}\n{pad} |\n{line_no} | {shown}\n{pad} | {}{}",
        d.message,
        d.origin,
        " ".repeat(col - 1),
        "^".repeat(width),
    );
    if let Some(expected) = d.expected {
        out.push_str(" expected ");
        out.push_str(expected);
    }
    out
}

/// The largest char boundary of `s` at or before `offset` (clamped to `s.len()`).
fn floor_boundary(s: &str, offset: usize) -> usize {
    let mut i = offset.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// 1-based line and column (in characters) of byte `offset` in `source`.
pub(crate) fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = floor_boundary(source, offset);
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = source[line_start..offset].chars().count() + 1;
    (line, col)
}
