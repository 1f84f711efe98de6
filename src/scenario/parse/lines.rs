//! What a line is — a file setting, a `connection`, a setting, a step of the block being read,
//! or a top-level step of the shared lane — and the steps themselves.
//!
//! A line is a top-level step when its first word names a declared connection and its second
//! is a step word (`send`, `expect`, `shutdown`, `close`), or when its first word names a
//! declared connection that is no keyword. A line that starts with a step word is a step of the
//! block being read. `sleep` names no connection: indented, after a block's first step, it is
//! the block's; otherwise it is top-level. Since no connection may be named after a step word,
//! and no directive's argument is one, that reading is never ambiguous. Every step is checked
//! against a [`StaticState`] of its connection, so misuse (a `send` after `shutdown write`, an
//! `expect eof` with echo still owed) is reported at its line.

use super::{Args, Parser, Token, K, SETTINGS};
use crate::scenario::error::ParseError;
use crate::scenario::LaneId;
use crate::script::{Expectation, Step, StepError, MAX_REPEAT, STEP_WORDS};

const HEADS: &str = "`connection`, a setting, `sleep`, or a step such as `NAME send …`";
const STEPS: &str = "`send`, `expect`, `shutdown write` or `close`";
const KEYWORDS: [&str; 11] = [
    "connection",
    "pause-scale",
    "through",
    "sleep",
    "nodelay",
    "send-buffer",
    "recv-buffer",
    "write-chunks",
    "write-pauses",
    "read-sizes",
    "read-pauses",
];

impl<'s> Parser<'s> {
    pub(super) fn directive(
        &mut self,
        tokens: &[Token<'s>],
        end: usize,
        indented: bool,
    ) -> Result<(), ParseError> {
        let head = &tokens[0];
        let mut args = Args {
            tokens,
            pos: 1,
            end,
        };
        let heads = if self.block.is_some() {
            SETTINGS
        } else {
            HEADS
        };
        if head.string.is_some() {
            return Err(self.err(
                K::UnknownDirective,
                head.span.clone(),
                "a line cannot start with a string",
                Some(heads),
            ));
        }
        let second_is_verb = tokens
            .get(1)
            .is_some_and(|t| t.string.is_none() && STEP_WORDS.contains(&t.text));
        if let Some(index) = self.declared(head.text) {
            if second_is_verb || !KEYWORDS.contains(&head.text) {
                return self.top_level_step(index, head, &mut args);
            }
        }
        match head.text {
            "pause-scale" => self.pause_scale_line(head, &mut args),
            "through" => self.through_line(head, &mut args),
            "connection" => {
                self.after_steps(head, "every `connection` before the first top-level step")?;
                self.connection_line(&mut args)
            }
            "nodelay" | "send-buffer" | "recv-buffer" | "write-chunks" | "write-pauses"
            | "read-sizes" | "read-pauses" => {
                self.after_steps(head, "settings right after their `connection`")?;
                self.setting(head, &mut args)
            }
            "send" | "shutdown" | "expect" | "close" => self.block_step(head, &mut args),
            "sleep" => {
                let tok = args.word(self, "a duration such as `10ms`")?;
                let step = Step::Sleep(self.duration(tok)?);
                args.finish(self)?;
                let in_block = indented
                    && !self.in_steps
                    && self.block.as_ref().is_some_and(|b| !b.steps.is_empty());
                match self.block.as_mut() {
                    Some(block) if in_block => {
                        block.steps.push(step);
                        self.lines
                            .push(LaneId::Own(self.connections.len()), self.line);
                    }
                    _ => self.shared(step),
                }
                Ok(())
            }
            other if second_is_verb => Err(self.err(
                K::UnknownConnection,
                head.span.clone(),
                format!("no connection named `{other}`"),
                Some(&self.declared_names()),
            )),
            other => Err(self.err(
                K::UnknownDirective,
                head.span.clone(),
                format!("unknown directive `{other}`"),
                Some(heads),
            )),
        }
    }

    /// The index of the declared connection `name` (the one being declared included).
    pub(super) fn declared(&self, name: &str) -> Option<usize> {
        if let Some(i) = self.connections.iter().position(|c| c.name == name) {
            return Some(i);
        }
        self.block
            .as_ref()
            .filter(|b| b.name == name)
            .map(|_| self.connections.len())
    }

    fn declared_names(&self) -> String {
        let mut names: Vec<String> = self
            .connections
            .iter()
            .map(|c| c.name.as_str())
            .chain(self.block.as_ref().map(|b| b.name.as_str()))
            .take(5)
            .map(|n| format!("`{n}`"))
            .collect();
        if names.is_empty() {
            return "`connection NAME` before its steps".to_string();
        }
        if self.connections.len() + usize::from(self.block.is_some()) > names.len() {
            names.push("…".to_string());
        }
        format!("a declared connection: {}", names.join(", "))
    }

    fn after_steps(&self, head: &Token<'s>, expected: &str) -> Result<(), ParseError> {
        if self.in_steps {
            return Err(self.err(
                K::Misplaced,
                head.span.clone(),
                format!("`{}` after the first top-level step", head.text),
                Some(expected),
            ));
        }
        Ok(())
    }

    /// Appends `step` to the shared lane; blocks are over.
    fn shared(&mut self, step: Step) {
        self.end_block();
        self.in_steps = true;
        self.steps.push(step);
        self.lines.push(LaneId::Shared, self.line);
    }

    /// A step of the block being read: `send …`, `expect …`, `shutdown write`, `close`.
    fn block_step(&mut self, head: &Token<'s>, args: &mut Args<'_, 's>) -> Result<(), ParseError> {
        let Some(name) = self.block.as_ref().map(|b| b.name.clone()) else {
            let expected = if self.in_steps {
                "the connection's name first, as in `NAME send …`"
            } else {
                "`connection NAME` first"
            };
            return Err(self.err(
                K::Misplaced,
                head.span.clone(),
                format!("`{}` outside a connection", head.text),
                Some(expected),
            ));
        };
        let step = self.step(name.clone(), head, args)?;
        let span = head.span.start..args.end;
        let lane = LaneId::Own(self.connections.len());
        let Some(block) = self.block.as_mut() else {
            return Ok(());
        };
        if let Err(e) = block.state.apply(&step) {
            return Err(self.step_error(e, span, &name));
        }
        block.steps.push(step);
        self.lines.push(lane, self.line);
        Ok(())
    }

    /// A top-level step on the connection at `index`: `NAME send …` and the like.
    fn top_level_step(
        &mut self,
        index: usize,
        head: &Token<'s>,
        args: &mut Args<'_, 's>,
    ) -> Result<(), ParseError> {
        let verb = args.word(self, STEPS)?;
        let step = self.step(head.text.to_string(), verb, args)?;
        let span = head.span.start..args.end;
        self.end_block();
        let own = self
            .connections
            .get(index)
            .is_some_and(|c| !c.steps.is_empty());
        if own {
            return Err(self.err(
                K::UnexpectedStep,
                span,
                format!(
                    "connection `{}` has steps in its block; its steps cannot also be top-level",
                    head.text
                ),
                Some("the step in its block, without the name"),
            ));
        }
        let Some(state) = self.states.get_mut(index) else {
            return Ok(());
        };
        if let Err(e) = state.apply(&step) {
            return Err(self.step_error(e, span, head.text));
        }
        self.shared(step);
        Ok(())
    }

    /// A step the rules refuse, at `span`: a hard limit is an invalid case, anything else a
    /// step that cannot come here.
    fn step_error(&self, e: StepError, span: std::ops::Range<usize>, name: &str) -> ParseError {
        let kind = if e.limit {
            K::InvalidCase
        } else {
            K::UnexpectedStep
        };
        let message = format!("{} (connection `{name}`)", e.problem);
        self.err(kind, span, message, Some(e.expected))
    }

    /// The step that `verb` starts, on `connection`, with the rest of the line.
    fn step(
        &self,
        connection: String,
        verb: &Token<'s>,
        args: &mut Args<'_, 's>,
    ) -> Result<Step, ParseError> {
        let step = match verb.text {
            "send" => {
                let payload = self.payload_until(args, &["x"])?;
                let repeat = match args.peek() {
                    Some(t) if t.string.is_none() && t.text == "x" => {
                        args.pos += 1;
                        self.repeat(args)?
                    }
                    _ => 1,
                };
                Step::Send {
                    connection,
                    payload,
                    repeat,
                }
            }
            "expect" => {
                let what = "`echo`, `last`, `bytes PAYLOAD` or `eof`";
                let tok = args.word(self, what)?;
                let expectation = match tok.text {
                    "echo" => Expectation::Echo,
                    "last" => Expectation::Last,
                    "eof" => Expectation::Eof,
                    "bytes" => Expectation::Bytes(self.payload_until(args, &["within"])?),
                    _ => {
                        return Err(self.err(
                            K::UnexpectedToken,
                            tok.span.clone(),
                            "unknown expectation",
                            Some(what),
                        ))
                    }
                };
                let within = match args.next() {
                    None => None,
                    Some(t) if t.string.is_none() && t.text == "within" => {
                        let tok = args.word(self, "a duration such as `100ms` or `1s`")?;
                        Some(self.duration(tok)?)
                    }
                    Some(t) => {
                        return Err(self.err(
                            K::TrailingInput,
                            t.span.clone(),
                            format!("unexpected `{}`", t.text),
                            Some("`within DURATION` or the end of the line"),
                        ))
                    }
                };
                Step::Expect {
                    connection,
                    expectation,
                    within,
                }
            }
            "shutdown" => {
                let tok = args.word(self, "`write`")?;
                if tok.text != "write" {
                    return Err(self.err(
                        K::UnexpectedToken,
                        tok.span.clone(),
                        "unknown shutdown",
                        Some("`write`"),
                    ));
                }
                Step::ShutdownWrite { connection }
            }
            "close" => Step::Close { connection },
            other => {
                return Err(self.err(
                    K::UnexpectedToken,
                    verb.span.clone(),
                    format!("unknown step `{other}`"),
                    Some(STEPS),
                ))
            }
        };
        args.finish(self)?;
        Ok(step)
    }

    /// The `N` of `send … x N`.
    fn repeat(&self, args: &mut Args<'_, 's>) -> Result<u32, ParseError> {
        let expected = format!("a repetition count from 1 to {MAX_REPEAT}");
        let tok = args.word(self, &expected)?;
        let Some(n) = super::parse_u64(tok.text) else {
            return Err(self.err(
                K::InvalidNumber,
                tok.span.clone(),
                "invalid repetition count",
                Some(&expected),
            ));
        };
        match u32::try_from(n) {
            Ok(n) if (1..=MAX_REPEAT).contains(&n) => Ok(n),
            _ => Err(self.err(
                K::NumberOutOfRange,
                tok.span.clone(),
                "repetition count out of range",
                Some(&expected),
            )),
        }
    }
}
