//! The scenario parser: text to [`ScenarioFile`], or a [`ParseError`] that points at the line.
//!
//! It reads one line at a time ([`Parser::run`], here) and splits it into words and strings
//! ([`tokens`]); [`lines`] tells what each line is and hands it to the part that owns it:
//! the version line and metadata comments ([`header`]), the file's and the connections'
//! settings ([`settings`]), `connection` lines and their blocks ([`connections`]), and steps
//! ([`steps`]), each checked against what its connection's earlier steps did
//! ([`StaticState`]). Payloads, sizes, durations and numbers are
//! read by [`values`]. It never panics and never hangs: there is no recursion, every loop
//! advances through the input, every number is checked before it is used, and `generated`
//! lengths are capped at [`MAX_CONNECTION_BYTES`](crate::case::MAX_CONNECTION_BYTES) without
//! allocating them.

use std::ops::Range;
use std::sync::Arc;

use super::error::{ParseError, ParseErrorKind as K};
use super::{ScenarioFile, StepLines, Through};
use crate::case::{Case, PauseScale};
use crate::script::{Script, ScriptConnection, StaticState, Step};
use connections::Block;

mod connections;
mod header;
mod lines;
mod settings;
mod steps;
mod tokens;
mod values;

/// The printer checks with it that a string it writes reads back as the same bytes.
pub(crate) use values::unescape;

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

/// One parse in progress: the metadata and file settings read so far, the block being read,
/// the connections and lanes done, and the line it stands on. Each part of the parser adds its
/// own methods in its own file.
struct Parser<'s> {
    text: &'s str,
    source: Arc<str>,
    file_seed: Option<u64>,
    target: Option<String>,
    divergence: Vec<String>,
    comments: Vec<String>,
    pause_scale: Option<PauseScale>,
    through: Option<Through>,
    lockstep: bool,
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
            lockstep: false,
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
            lockstep: self.lockstep,
            lines: self.lines,
        })
    }
}
