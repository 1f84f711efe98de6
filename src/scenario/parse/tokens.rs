//! A line cut into tokens: words and strings (decoded as they are cut), and the cursor
//! ([`Args`]) that reads a directive's arguments front to back and reports what is missing or
//! left over. A `#` outside a string starts a comment.

use std::ops::Range;

use super::values::unescape;
use super::{Parser, K};
use crate::scenario::error::ParseError;

/// One word or string of a line.
#[derive(Debug)]
pub(super) struct Token<'s> {
    /// The text as written (a string keeps its quotes).
    pub(super) text: &'s str,
    /// Byte range in the whole input.
    pub(super) span: Range<usize>,
    /// The decoded bytes of a string; `None` for a word.
    pub(super) string: Option<Vec<u8>>,
}

/// The tokens of one directive line, consumed front to back.
pub(super) struct Args<'t, 's> {
    pub(super) tokens: &'t [Token<'s>],
    pub(super) pos: usize,
    /// Where the line's content ends: "missing argument" errors point here.
    pub(super) end: usize,
}

impl<'s> Parser<'s> {
    /// Splits a line's content into words and strings; a `#` outside a string starts a comment.
    pub(super) fn tokenize(
        &self,
        content: &'s str,
        base: usize,
    ) -> Result<Vec<Token<'s>>, ParseError> {
        let mut tokens = Vec::new();
        let mut rest = content;
        loop {
            let trimmed = rest.trim_start();
            let at = base + (content.len() - trimmed.len());
            rest = trimmed;
            if rest.is_empty() || rest.starts_with('#') {
                return Ok(tokens);
            }
            if let Some(body) = rest.strip_prefix('"') {
                let close = closing_quote(body).ok_or_else(|| {
                    let end = base + content.len();
                    self.err(
                        K::UnterminatedString,
                        end..end,
                        "unterminated string",
                        Some("`\"` before the end of the line"),
                    )
                })?;
                let bytes = unescape(&body[..close]).map_err(|(bad, expected)| {
                    let span = at + 1 + bad.start..at + 1 + bad.end;
                    self.err(K::InvalidEscape, span, "invalid escape", Some(expected))
                })?;
                let len = close + 2;
                tokens.push(Token {
                    text: &rest[..len],
                    span: at..at + len,
                    string: Some(bytes),
                });
                rest = &rest[len..];
                if rest.starts_with(|c: char| !c.is_whitespace()) {
                    let next = rest.chars().next().map_or(0, char::len_utf8);
                    return Err(self.err(
                        K::UnexpectedToken,
                        at + len..at + len + next,
                        "unexpected character after a string",
                        Some("a space or the end of the line"),
                    ));
                }
            } else {
                let len = rest.find(char::is_whitespace).unwrap_or(rest.len());
                tokens.push(Token {
                    text: &rest[..len],
                    span: at..at + len,
                    string: None,
                });
                rest = &rest[len..];
            }
        }
    }
}

impl<'t, 's> Args<'t, 's> {
    pub(super) fn peek(&self) -> Option<&'t Token<'s>> {
        self.tokens.get(self.pos)
    }

    pub(super) fn next(&mut self) -> Option<&'t Token<'s>> {
        let tok = self.tokens.get(self.pos)?;
        self.pos += 1;
        Some(tok)
    }

    /// The next token, which must be a word.
    pub(super) fn word(
        &mut self,
        p: &Parser<'_>,
        expected: &str,
    ) -> Result<&'t Token<'s>, ParseError> {
        match self.next() {
            None => Err(p.err(
                K::MissingArgument,
                self.end..self.end,
                "missing argument",
                Some(expected),
            )),
            Some(tok) if tok.string.is_some() => Err(p.err(
                K::UnexpectedToken,
                tok.span.clone(),
                "unexpected string",
                Some(expected),
            )),
            Some(tok) => Ok(tok),
        }
    }

    /// Every remaining token.
    pub(super) fn rest(&mut self) -> &'t [Token<'s>] {
        let rest = &self.tokens[self.pos.min(self.tokens.len())..];
        self.pos = self.tokens.len();
        rest
    }

    pub(super) fn finish(&self, p: &Parser<'_>) -> Result<(), ParseError> {
        match self.tokens.get(self.pos) {
            None => Ok(()),
            Some(tok) => Err(p.err(
                K::TrailingInput,
                tok.span.clone(),
                format!("unexpected `{}`", tok.text),
                Some("the end of the line"),
            )),
        }
    }
}

/// The byte index in `body` of the `"` that closes a string, skipping escaped characters.
fn closing_quote(body: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(i),
            _ => {}
        }
    }
    None
}
