//! The values a token stands for: payloads (strings and their escapes, `hex …`,
//! `generated LEN seed SEED`), sizes and durations (in the grammar of [`crate::units`], as
//! flags read them), and plain decimal numbers. Each reader checks its value before it is used,
//! so no input overflows or allocates what it names: a `generated` length is capped at
//! [`MAX_CONNECTION_BYTES`] and never allocated here.

use std::ops::Range;
use std::time::Duration;

use super::tokens::{Args, Token};
use super::{Parser, K};
use crate::case::{Payload, MAX_CONNECTION_BYTES, MAX_PAUSE};
use crate::scenario::error::ParseError;
use crate::units::{self, UnitError};

/// Decodes the body of a string literal (between the quotes): `\n \r \t \\ \" \xNN \u{H…}` and
/// any other character as itself. On error, returns the byte range of the bad escape within `s`
/// and what was expected.
pub(crate) fn unescape(s: &str) -> Result<Vec<u8>, (Range<usize>, &'static str)> {
    let mut out = Vec::with_capacity(s.len());
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            let mut buf = [0; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let Some((j, e)) = chars.next() else {
            return Err((i..s.len(), ESCAPES));
        };
        let mut end = j + e.len_utf8();
        match e {
            'n' => out.push(b'\n'),
            'r' => out.push(b'\r'),
            't' => out.push(b'\t'),
            '\\' => out.push(b'\\'),
            '"' => out.push(b'"'),
            'x' => {
                let digits: String = s[end..].chars().take(2).collect();
                let value = (digits.len() == 2 && digits.bytes().all(|b| b.is_ascii_hexdigit()))
                    .then(|| u8::from_str_radix(&digits, 16).ok())
                    .flatten();
                let Some(byte) = value else {
                    let bad_end = end + digits.len();
                    return Err((i..bad_end, "two hex digits after `\\x`"));
                };
                out.push(byte);
                chars.next();
                chars.next();
            }
            'u' => {
                let rest = &s[end..];
                let close = rest.find('}').filter(|&k| rest.starts_with('{') && k <= 7);
                let code = close.and_then(|k| {
                    let hex = &rest[1..k];
                    (!hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()))
                        .then(|| u32::from_str_radix(hex, 16).ok())
                        .flatten()
                        .and_then(char::from_u32)
                });
                let (Some(k), Some(ch)) = (close, code) else {
                    let bad_end = end + rest.chars().next().map_or(0, char::len_utf8);
                    return Err((
                        i..bad_end,
                        "`\\u{` with 1 to 6 hex digits of a Unicode scalar value and `}`",
                    ));
                };
                let mut buf = [0; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                end += k + 1;
                while chars.peek().is_some_and(|&(p, _)| p < end) {
                    chars.next();
                }
            }
            _ => return Err((i..end, ESCAPES)),
        }
    }
    Ok(out)
}

const ESCAPES: &str = "one of `\\n`, `\\r`, `\\t`, `\\\\`, `\\\"`, `\\xNN`, `\\u{…}`";

impl<'s> Parser<'s> {
    /// A payload; a `hex` one ends at the end of the line or before a word of `stops`.
    pub(super) fn payload_until(
        &self,
        args: &mut Args<'_, 's>,
        stops: &[&str],
    ) -> Result<Payload, ParseError> {
        let expected = "a string, `hex …` or `generated LEN seed SEED`";
        let Some(tok) = args.next() else {
            return Err(self.err(
                K::MissingArgument,
                args.end..args.end,
                "missing payload",
                Some(expected),
            ));
        };
        if let Some(bytes) = &tok.string {
            return Ok(Payload::Literal(bytes.clone()));
        }
        match tok.text {
            "hex" => {
                let first = args.word(self, "hex digits, such as `00ff10`")?;
                let mut bytes = Vec::new();
                self.hex(first, &mut bytes)?;
                while let Some(tok) = args.peek() {
                    if tok.string.is_none() && stops.contains(&tok.text) {
                        break;
                    }
                    args.pos += 1;
                    self.hex(tok, &mut bytes)?;
                }
                Ok(Payload::Literal(bytes))
            }
            "generated" => {
                let size_expected = "a length in bytes, such as `1048576` or `1MiB`";
                let len_tok = args.word(self, size_expected)?;
                let len = self.size(
                    len_tok,
                    0,
                    MAX_CONNECTION_BYTES,
                    "a generated length",
                    size_expected,
                )?;
                let kw = args.word(self, "`seed`")?;
                if kw.text != "seed" {
                    return Err(self.err(
                        K::UnexpectedToken,
                        kw.span.clone(),
                        "expected the seed",
                        Some("`seed`"),
                    ));
                }
                let seed_tok = args.word(self, "a seed from 0 to 18446744073709551615")?;
                let seed = parse_u64(seed_tok.text).ok_or_else(|| {
                    let kind = if is_digits(seed_tok.text) {
                        K::NumberOutOfRange
                    } else {
                        K::InvalidNumber
                    };
                    self.err(
                        kind,
                        seed_tok.span.clone(),
                        "invalid seed",
                        Some("a seed from 0 to 18446744073709551615"),
                    )
                })?;
                Ok(Payload::Generated {
                    len: len as usize,
                    seed,
                })
            }
            other => Err(self.err(
                K::UnexpectedToken,
                tok.span.clone(),
                format!("unknown payload `{other}`"),
                Some(expected),
            )),
        }
    }

    /// Appends the bytes of one group of hex digits.
    fn hex(&self, tok: &Token<'s>, out: &mut Vec<u8>) -> Result<(), ParseError> {
        let text = tok.text;
        if tok.string.is_some() || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            let bad = text
                .char_indices()
                .find(|&(_, c)| !c.is_ascii_hexdigit())
                .map_or(0, |(i, _)| i);
            let len = text[bad..].chars().next().map_or(0, char::len_utf8);
            let at = tok.span.start + bad;
            return Err(self.err(
                K::InvalidHex,
                at..at + len,
                "not a hex digit",
                Some("`0`-`9`, `a`-`f` or `A`-`F`"),
            ));
        }
        if text.len() % 2 != 0 {
            return Err(self.err(
                K::InvalidHex,
                tok.span.clone(),
                "odd number of hex digits",
                Some("two hex digits per byte"),
            ));
        }
        for pair in text.as_bytes().chunks(2) {
            let digits = std::str::from_utf8(pair).unwrap_or("00");
            out.push(u8::from_str_radix(digits, 16).unwrap_or(0));
        }
        Ok(())
    }

    /// A size in the grammar of [`crate::units`] (`4096`, `64KiB`, `4MB`), within `min..=max`.
    pub(super) fn size(
        &self,
        tok: &Token<'s>,
        min: u64,
        max: u64,
        what: &str,
        expected: &str,
    ) -> Result<u64, ParseError> {
        let value = match units::size(tok.text) {
            Ok(n) if tok.string.is_none() => Some(n),
            Err(UnitError::Overflow) if tok.string.is_none() => None,
            _ => {
                return Err(self.err(
                    K::InvalidNumber,
                    tok.span.clone(),
                    format!("invalid {what}"),
                    Some(expected),
                ))
            }
        };
        match value {
            Some(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(self.err(
                K::NumberOutOfRange,
                tok.span.clone(),
                format!("{what} out of range"),
                Some(&format!("{min} to {max} bytes")),
            )),
        }
    }

    /// A pause in the grammar of [`crate::units`] (`250us`, `1ms`, `2s`, a bare `0`); at most
    /// [`MAX_PAUSE`].
    pub(super) fn duration(&self, tok: &Token<'s>) -> Result<Duration, ParseError> {
        let expected = "a duration such as `250us`, `1ms` or `2s`";
        let value = match units::duration(tok.text) {
            Ok(d) => Some(d),
            Err(UnitError::Overflow) => None,
            Err(UnitError::Syntax) => {
                return Err(self.err(
                    K::InvalidDuration,
                    tok.span.clone(),
                    "invalid duration",
                    Some(expected),
                ))
            }
        };
        match value {
            Some(d) if d <= MAX_PAUSE => Ok(d),
            _ => Err(self.err(
                K::NumberOutOfRange,
                tok.span.clone(),
                "pause too long",
                Some(&format!("at most {}s", MAX_PAUSE.as_secs())),
            )),
        }
    }
}

pub(super) fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Decimal digits only (no sign, no spaces), without overflow.
pub(super) fn parse_u64(s: &str) -> Option<u64> {
    if !is_digits(s) {
        return None;
    }
    s.bytes().try_fold(0u64, |n, b| {
        n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}
