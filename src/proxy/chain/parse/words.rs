//! The word splitter: a [`Piece`] is a slice of the chain text that remembers its byte offset,
//! so that every error can point at the exact span it comes from, however the text was cut.

use std::ops::Range;

/// A piece of the input with its byte offset.
#[derive(Clone, Copy)]
pub(super) struct Piece<'s> {
    pub(super) text: &'s str,
    pub(super) at: usize,
}

impl<'s> Piece<'s> {
    pub(super) fn span(&self) -> Range<usize> {
        self.at..self.at + self.text.len()
    }

    /// Splits at the first `sep` (a one-byte ASCII separator).
    pub(super) fn split_once(&self, sep: char) -> Option<(Piece<'s>, Piece<'s>)> {
        let i = self.text.find(sep)?;
        Some((
            Piece {
                text: &self.text[..i],
                at: self.at,
            },
            Piece {
                text: &self.text[i + 1..],
                at: self.at + i + 1,
            },
        ))
    }

    pub(super) fn split(&self, sep: char) -> Vec<Piece<'s>> {
        let mut out = Vec::new();
        let mut rest = *self;
        while let Some((head, tail)) = rest.split_once(sep) {
            out.push(head);
            rest = tail;
        }
        out.push(rest);
        out
    }
}

/// The whitespace-separated words of `text`, with their offsets.
pub(super) fn words(text: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push(Piece {
                    text: &text[s..i],
                    at: s,
                });
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(Piece {
            text: &text[s..],
            at: s,
        });
    }
    out
}
