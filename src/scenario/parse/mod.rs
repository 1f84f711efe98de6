//! The scenario parser: text to [`ScenarioFile`], or a [`ParseError`] that points at the line.
//!
//! It reads one line at a time and splits it into words and strings; [`lines`] tells what each
//! line is and reads steps, checking every step against what its connection's earlier steps
//! did ([`StaticState`]). This file holds the rest: the header, file settings, connection
//! blocks and their settings, payloads, sizes and durations. It never panics and never hangs:
//! there is no recursion, every loop advances through the input, every number is checked
//! before it is used, and `generated` lengths are capped at [`MAX_CONNECTION_BYTES`] without
//! allocating them.

use std::collections::HashSet;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use super::error::{ParseError, ParseErrorKind as K};
use super::{ScenarioFile, StepLines, Through, VERSION_LINE, VERSION_LINE_V2, VERSION_PREFIX};
use crate::case::{
    is_valid_name, Case, PauseScale, Payload, ReadPlan, WritePlan, MAX_CHUNK_LEN, MAX_CONNECTIONS,
    MAX_CONNECTION_BYTES, MAX_PAUSE, MAX_PAUSE_SCALE_TERM, MAX_PLAN_ENTRIES, MAX_SOCKET_BUFFER,
    MIN_SOCKET_BUFFER,
};
use crate::proxy::ToxicChain;
use crate::script::{Script, ScriptConnection, StaticState, Step};
use crate::units::{self, UnitError};

mod lines;

/// Parses a scenario file, metadata and all.
///
/// ```
/// let text = "# echo-harness scenario v1\n# seed: 7\n\
///             connection a\n  send \"hi\\n\"\n  expect echo\n  close\n";
/// let file = echo_harness::scenario::parse(text)?;
/// assert_eq!(file.seed, Some(7));
/// assert_eq!(file.script.connections[0].name, "a");
/// # Ok::<(), echo_harness::scenario::ParseError>(())
/// ```
pub fn parse(source: &str) -> Result<ScenarioFile, ParseError> {
    Parser::new(source).run()
}

/// Parses a scenario file and keeps only its case: refused (as
/// [`ParseErrorKind::InvalidCase`](K::InvalidCase) at the end of the input) when the script is
/// no case ([`Script::to_case`]).
pub fn parse_case(source: &str) -> Result<Case, ParseError> {
    let file = parse(source)?;
    file.to_case().ok_or_else(|| {
        let end = source.len();
        ParseError::new(
            K::InvalidCase,
            end..end,
            "this scenario is a script, not a case",
            Some("every connection's steps one of the three conversations".to_string()),
            source.into(),
        )
    })
}

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

const SETTINGS: &str = "a setting (`nodelay`, `send-buffer`, `recv-buffer`, `write-chunks`, \
                        `write-pauses`, `read-sizes`, `read-pauses`) or a step (`send`, \
                        `shutdown write`, `expect echo`, `expect eof`, `close`)";

/// One word or string of a line.
#[derive(Debug)]
struct Token<'s> {
    /// The text as written (a string keeps its quotes).
    text: &'s str,
    /// Byte range in the whole input.
    span: Range<usize>,
    /// The decoded bytes of a string; `None` for a word.
    string: Option<Vec<u8>>,
}

/// The tokens of one directive line, consumed front to back.
struct Args<'t, 's> {
    tokens: &'t [Token<'s>],
    pos: usize,
    /// Where the line's content ends: "missing argument" errors point here.
    end: usize,
}

/// A connection block being read.
struct Block {
    name: String,
    write: WritePlan,
    read: ReadPlan,
    settings: HashSet<&'static str>,
    /// Its own lane, so far.
    steps: Vec<Step>,
    /// What its steps have done so far.
    state: StaticState,
}

struct Parser<'s> {
    text: &'s str,
    source: Arc<str>,
    file_seed: Option<u64>,
    target: Option<String>,
    divergence: Vec<String>,
    comments: Vec<String>,
    pause_scale: Option<PauseScale>,
    through: Option<Through>,
    in_header: bool,
    /// The block being read, if any.
    block: Option<Block>,
    /// The connections whose blocks are done, with their own lanes.
    connections: Vec<ScriptConnection>,
    /// What each of `connections` has done so far.
    states: Vec<StaticState>,
    /// The shared lane so far.
    steps: Vec<Step>,
    /// A top-level step has been read, so blocks are over.
    in_steps: bool,
    /// The line being read, from 1.
    line: usize,
    lines: StepLines,
}

impl<'s> Parser<'s> {
    fn new(text: &'s str) -> Self {
        Self {
            text,
            source: text.into(),
            file_seed: None,
            target: None,
            divergence: Vec::new(),
            comments: Vec::new(),
            pause_scale: None,
            through: None,
            in_header: true,
            block: None,
            connections: Vec::new(),
            states: Vec::new(),
            steps: Vec::new(),
            in_steps: false,
            line: 0,
            lines: StepLines::default(),
        }
    }

    fn err(
        &self,
        kind: K,
        span: Range<usize>,
        message: impl Into<String>,
        expected: Option<&str>,
    ) -> ParseError {
        ParseError::new(
            kind,
            span,
            message,
            expected.map(str::to_string),
            self.source.clone(),
        )
    }

    fn run(mut self) -> Result<ScenarioFile, ParseError> {
        let text = self.text;
        let mut offset = 0;
        for (index, raw) in text.split('\n').enumerate() {
            self.line = index + 1;
            let mut start = offset;
            offset += raw.len() + 1;
            let mut line = raw;
            if index == 0 {
                // A byte-order mark from a Windows editor is not part of the version line.
                if let Some(rest) = line.strip_prefix('\u{feff}') {
                    start += '\u{feff}'.len_utf8();
                    line = rest;
                }
            }
            let line = line.trim_end();
            if index == 0 {
                self.version(line, start)?;
                continue;
            }
            let indent = line.len() - line.trim_start().len();
            let content = &line[indent..];
            let content_start = start + indent;
            if content.is_empty() {
                continue;
            }
            if let Some(comment) = content.strip_prefix('#') {
                if self.in_header {
                    self.metadata(comment, content_start + 1)?;
                }
                continue;
            }
            self.in_header = false;
            let tokens = self.tokenize(content, content_start)?;
            if tokens.is_empty() {
                continue;
            }
            let end = tokens.last().map_or(content_start, |t| t.span.end);
            self.directive(&tokens, end, indent > 0)?;
        }
        self.finish()
    }

    fn version(&mut self, line: &str, start: usize) -> Result<(), ParseError> {
        // Both version lines introduce the same language; this is the only place that reads
        // them.
        if line == VERSION_LINE || line == VERSION_LINE_V2 {
            return Ok(());
        }
        if let Some(version) = line.strip_prefix(VERSION_PREFIX) {
            let span = start + VERSION_PREFIX.len()..start + line.len();
            return Err(self.err(
                K::UnsupportedVersion,
                span,
                format!("unsupported scenario version `{version}`"),
                Some("`v1` or `v2`"),
            ));
        }
        Err(self.err(
            K::MissingVersion,
            start..start + line.len(),
            "not an echo-harness scenario",
            Some(&format!(
                "`{VERSION_LINE}` or `{VERSION_LINE_V2}` as the first line"
            )),
        ))
    }

    /// A comment line in the header; `at` is the offset just after its `#`.
    fn metadata(&mut self, comment: &str, at: usize) -> Result<(), ParseError> {
        let (text, at) = match comment.strip_prefix(' ') {
            Some(rest) => (rest, at + 1),
            None => (comment, at),
        };
        if let Some(value) = text.strip_prefix("seed:") {
            let lead = value.len() - value.trim_start().len();
            let value = value.trim();
            let span = at + "seed:".len() + lead..at + "seed:".len() + lead + value.len();
            if self.file_seed.is_some() {
                return Err(self.err(K::DuplicateSetting, span, "a second `# seed:` line", None));
            }
            let seed = parse_u64(value).ok_or_else(|| {
                self.err(
                    K::InvalidMetadata,
                    span,
                    "invalid seed",
                    Some("a number from 0 to 18446744073709551615"),
                )
            })?;
            self.file_seed = Some(seed);
        } else if let Some(value) = text.strip_prefix("target:") {
            if self.target.is_some() {
                let span = at..at + text.len();
                return Err(self.err(K::DuplicateSetting, span, "a second `# target:` line", None));
            }
            self.target = Some(value.trim().to_string());
        } else if let Some(value) = text.strip_prefix("divergence:") {
            let value = value.strip_prefix(' ').unwrap_or(value);
            self.divergence.push(value.to_string());
        } else {
            self.comments.push(text.to_string());
        }
        Ok(())
    }

    /// Splits a line's content into words and strings; a `#` outside a string starts a comment.
    fn tokenize(&self, content: &'s str, base: usize) -> Result<Vec<Token<'s>>, ParseError> {
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

    /// A setting of the whole file (`pause-scale`, `through`): it comes before the first
    /// connection, at most once (`seen` says it came already).
    fn file_setting(&self, head: &Token<'s>, seen: bool) -> Result<(), ParseError> {
        let word = head.text;
        if self.block.is_some() || !self.connections.is_empty() || self.in_steps {
            return Err(self.err(
                K::Misplaced,
                head.span.clone(),
                format!("`{word}` after a connection"),
                Some(&format!("`{word}` before the first `connection`")),
            ));
        }
        if seen {
            return Err(self.err(
                K::DuplicateSetting,
                head.span.clone(),
                format!("a second `{word}`"),
                None,
            ));
        }
        Ok(())
    }

    fn pause_scale_line(
        &mut self,
        head: &Token<'s>,
        args: &mut Args<'_, 's>,
    ) -> Result<(), ParseError> {
        self.file_setting(head, self.pause_scale.is_some())?;
        let expected = "a scale such as `1`, `1/100` or `3/2`";
        let tok = args.word(self, expected)?;
        let (num, den) = match tok.text.split_once('/') {
            Some((n, d)) => (n, d),
            None => (tok.text, "1"),
        };
        let (Some(num), Some(den)) = (parse_u64(num), parse_u64(den)) else {
            return Err(self.err(
                K::InvalidNumber,
                tok.span.clone(),
                "invalid pause scale",
                Some(expected),
            ));
        };
        let scale = u32::try_from(num)
            .ok()
            .zip(u32::try_from(den).ok())
            .and_then(|(n, d)| PauseScale::new(n, d))
            .ok_or_else(|| {
                self.err(
                    K::NumberOutOfRange,
                    tok.span.clone(),
                    "pause scale out of range",
                    Some(&format!(
                        "a numerator of 0 to {MAX_PAUSE_SCALE_TERM} and a denominator of 1 to {MAX_PAUSE_SCALE_TERM}"
                    )),
                )
            })?;
        args.finish(self)?;
        self.pause_scale = Some(scale);
        Ok(())
    }

    /// `through seed N CHAIN`: the chain is the rest of the line, read by the one chain parser
    /// ([`ToxicChain::parse`]); its errors point into this line.
    fn through_line(
        &mut self,
        head: &Token<'s>,
        args: &mut Args<'_, 's>,
    ) -> Result<(), ParseError> {
        self.file_setting(head, self.through.is_some())?;
        let keyword = args.word(self, "`seed`")?;
        if keyword.text != "seed" {
            return Err(self.err(
                K::UnexpectedToken,
                keyword.span.clone(),
                format!("expected `seed`, found `{}`", keyword.text),
                Some("`seed N` and then the toxic chain"),
            ));
        }
        let tok = args.word(self, "a seed")?;
        let seed = parse_u64(tok.text).ok_or_else(|| {
            self.err(
                K::InvalidNumber,
                tok.span.clone(),
                "invalid seed",
                Some("a whole number from 0 to 18446744073709551615"),
            )
        })?;
        let rest = &args.tokens[args.pos..];
        args.pos = args.tokens.len();
        if let Some(string) = rest.iter().find(|t| t.string.is_some()) {
            return Err(self.err(
                K::InvalidChain,
                string.span.clone(),
                "a toxic chain holds no strings",
                Some("toxics such as `up:slice=1..16`"),
            ));
        }
        let chain = match (rest.first(), rest.last()) {
            (Some(first), Some(last)) => {
                let at = first.span.start;
                ToxicChain::parse(&self.text[at..last.span.end]).map_err(|e| {
                    let span = e.span();
                    self.err(
                        K::InvalidChain,
                        at + span.start..at + span.end,
                        e.message().to_string(),
                        e.expected(),
                    )
                })?
            }
            _ => ToxicChain::default(),
        };
        self.through = Some(Through { seed, chain });
        Ok(())
    }

    fn connection_line(&mut self, args: &mut Args<'_, 's>) -> Result<(), ParseError> {
        let tok = self.connection_name(args, &crate::script::STEP_WORDS)?;
        let taken = self.declared(tok.text).is_some();
        if !taken {
            self.end_block();
        }
        self.open_block(tok, taken, self.connections.len())
    }

    /// The name of a `connection NAME` line, which ends there; `reserved` names are refused
    /// too.
    fn connection_name<'t>(
        &self,
        args: &mut Args<'t, 's>,
        reserved: &[&str],
    ) -> Result<&'t Token<'s>, ParseError> {
        let tok = args.word(self, "a connection name")?;
        if !is_valid_name(tok.text) || reserved.contains(&tok.text) {
            let mut expected = "letters, digits, `_` and `-`, starting with a letter or `_`, at \
                                most 32 bytes"
                .to_string();
            if !reserved.is_empty() {
                let words: Vec<String> = reserved.iter().map(|w| format!("`{w}`")).collect();
                expected.push_str(&format!(", and none of {}", words.join(", ")));
            }
            return Err(self.err(
                K::InvalidName,
                tok.span.clone(),
                format!("invalid connection name `{}`", tok.text),
                Some(&expected),
            ));
        }
        args.finish(self)?;
        Ok(tok)
    }

    /// Starts the block of connection `tok`, unless its name is `taken` or there are `count`
    /// connections already, the most a file may hold.
    fn open_block(&mut self, tok: &Token<'s>, taken: bool, count: usize) -> Result<(), ParseError> {
        if taken {
            return Err(self.err(
                K::DuplicateConnection,
                tok.span.clone(),
                format!("a second connection named `{}`", tok.text),
                Some("a new name"),
            ));
        }
        if count >= MAX_CONNECTIONS {
            return Err(self.err(
                K::InvalidCase,
                tok.span.clone(),
                format!("more than {MAX_CONNECTIONS} connections"),
                None,
            ));
        }
        self.block = Some(Block {
            name: tok.text.to_string(),
            write: WritePlan::default(),
            read: ReadPlan::default(),
            settings: HashSet::new(),
            steps: Vec::new(),
            state: StaticState::default(),
        });
        Ok(())
    }

    fn setting(&mut self, head: &Token<'s>, args: &mut Args<'_, 's>) -> Result<(), ParseError> {
        let Some(block) = &self.block else {
            return Err(self.err(
                K::Misplaced,
                head.span.clone(),
                format!("`{}` outside a connection", head.text),
                Some("`connection NAME` first"),
            ));
        };
        if !block.steps.is_empty() {
            return Err(self.err(
                K::Misplaced,
                head.span.clone(),
                format!(
                    "`{}` after the first step of connection `{}`",
                    head.text, block.name
                ),
                Some("settings before the first step"),
            ));
        }
        let name: &'static str = match head.text {
            "nodelay" => "nodelay",
            "send-buffer" => "send-buffer",
            "recv-buffer" => "recv-buffer",
            "write-chunks" => "write-chunks",
            "write-pauses" => "write-pauses",
            "read-sizes" => "read-sizes",
            _ => "read-pauses",
        };
        if block.settings.contains(name) {
            return Err(self.err(
                K::DuplicateSetting,
                head.span.clone(),
                format!("`{name}` given twice for connection `{}`", block.name),
                None,
            ));
        }
        let mut write = block.write.clone();
        let mut read = block.read.clone();
        match name {
            "nodelay" => {
                let tok = args.word(self, "`on` or `off`")?;
                write.nodelay = match tok.text {
                    "on" => true,
                    "off" => false,
                    _ => {
                        return Err(self.err(
                            K::UnexpectedToken,
                            tok.span.clone(),
                            "invalid value for `nodelay`",
                            Some("`on` or `off`"),
                        ))
                    }
                };
            }
            "send-buffer" | "recv-buffer" => {
                let expected = "a size in bytes (such as `4096` or `64KiB`) or `default`";
                let tok = args.word(self, expected)?;
                let size = if tok.text == "default" {
                    None
                } else {
                    let what = format!("`{name}`");
                    let n = self.size(
                        tok,
                        u64::from(MIN_SOCKET_BUFFER),
                        u64::from(MAX_SOCKET_BUFFER),
                        &what,
                        expected,
                    )?;
                    Some(n as u32)
                };
                if name == "send-buffer" {
                    write.send_buffer = size;
                } else {
                    write.recv_buffer = size;
                }
            }
            "write-chunks" | "read-sizes" => {
                let expected = "sizes in bytes, such as `1 7 4096` or `64KiB`";
                let mut sizes = Vec::new();
                let first = args.word(self, expected)?;
                for tok in std::iter::once(first).chain(args.rest()) {
                    self.list_entry(&sizes, tok)?;
                    let what = format!("`{name}` entry");
                    sizes.push(self.size(tok, 1, MAX_CHUNK_LEN as u64, &what, expected)? as usize);
                }
                if name == "write-chunks" {
                    write.chunks = sizes;
                } else {
                    read.sizes = sizes;
                }
            }
            _ => {
                let first = args.word(self, "durations such as `1ms 250us`, or `none`")?;
                let mut pauses = Vec::new();
                if first.text != "none" {
                    for tok in std::iter::once(first).chain(args.rest()) {
                        self.list_entry(&pauses, tok)?;
                        pauses.push(self.duration(tok)?);
                    }
                }
                if name == "write-pauses" {
                    write.pauses = pauses;
                } else {
                    read.pauses = pauses;
                }
            }
        }
        args.finish(self)?;
        if let Some(block) = &mut self.block {
            block.write = write;
            block.read = read;
            block.settings.insert(name);
        }
        Ok(())
    }

    /// Rejects a string in a list, or a list that grows past [`MAX_PLAN_ENTRIES`].
    fn list_entry<T>(&self, list: &[T], tok: &Token<'s>) -> Result<(), ParseError> {
        if tok.string.is_some() {
            return Err(self.err(
                K::UnexpectedToken,
                tok.span.clone(),
                "a string in a list",
                Some("a number"),
            ));
        }
        if list.len() >= MAX_PLAN_ENTRIES {
            return Err(self.err(
                K::NumberOutOfRange,
                tok.span.clone(),
                format!("more than {MAX_PLAN_ENTRIES} entries"),
                Some("the end of the line"),
            ));
        }
        Ok(())
    }

    /// A payload; a `hex` one ends at the end of the line or before a word of `stops`.
    fn payload_until(
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
    fn size(
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
    fn duration(&self, tok: &Token<'s>) -> Result<Duration, ParseError> {
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

    /// Ends the block being read, if any.
    fn end_block(&mut self) {
        if let Some(block) = self.block.take() {
            self.connections.push(ScriptConnection {
                name: block.name,
                write: block.write,
                read: block.read,
                steps: block.steps,
            });
            self.states.push(block.state);
        }
    }

    fn finish(mut self) -> Result<ScenarioFile, ParseError> {
        self.end_block();
        let end = self.text.len();
        if self.connections.is_empty() {
            return Err(self.err(
                K::NoConnections,
                end..end,
                "no connection in the scenario",
                Some("`connection NAME`"),
            ));
        }
        let script = Script {
            connections: std::mem::take(&mut self.connections),
            steps: std::mem::take(&mut self.steps),
            pause_scale: self.pause_scale.unwrap_or(PauseScale::ONE),
        };
        // Every line was checked as it was read; this is a second line of defence.
        if let Err(e) = script.validate() {
            return Err(self.err(K::InvalidCase, end..end, e.to_string(), None));
        }
        Ok(ScenarioFile {
            script,
            seed: self.file_seed,
            target: self.target,
            divergence: self.divergence,
            comments: self.comments,
            through: self.through,
            lines: self.lines,
        })
    }
}

impl<'t, 's> Args<'t, 's> {
    fn peek(&self) -> Option<&'t Token<'s>> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<&'t Token<'s>> {
        let tok = self.tokens.get(self.pos)?;
        self.pos += 1;
        Some(tok)
    }

    /// The next token, which must be a word.
    fn word(&mut self, p: &Parser<'_>, expected: &str) -> Result<&'t Token<'s>, ParseError> {
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
    fn rest(&mut self) -> &'t [Token<'s>] {
        let rest = &self.tokens[self.pos.min(self.tokens.len())..];
        self.pos = self.tokens.len();
        rest
    }

    fn finish(&self, p: &Parser<'_>) -> Result<(), ParseError> {
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

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Decimal digits only (no sign, no spaces), without overflow.
fn parse_u64(s: &str) -> Option<u64> {
    if !is_digits(s) {
        return None;
    }
    s.bytes().try_fold(0u64, |n, b| {
        n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}
