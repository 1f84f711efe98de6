//! Steps: `send`, `expect`, `shutdown write`, `close` and `reset` on a connection, in its block (its own
//! lane) or top-level as `NAME step` (the shared lane), and `sleep`, which names none. Every
//! step is checked against what its connection's earlier steps did, so a step the rules refuse
//! is an error at its line.

use super::tokens::{Args, Token};
use super::values::parse_u64;
use super::{Parser, K};
use crate::scenario::error::ParseError;
use crate::scenario::LaneId;
use crate::script::{Expectation, Step, StepError, MAX_REPEAT};

const STEPS: &str = "`send`, `expect`, `shutdown write`, `close` or `reset`";

impl<'s> Parser<'s> {
    /// A `sleep DURATION` line: a step of the block being read when it is indented and comes
    /// after the block's first step, a step of the shared lane otherwise.
    pub(super) fn sleep_step(
        &mut self,
        args: &mut Args<'_, 's>,
        indented: bool,
    ) -> Result<(), ParseError> {
        let tok = args.word(self, "a duration such as `10ms`")?;
        let step = Step::Sleep(self.duration(tok)?);
        args.finish(self)?;
        let in_block =
            indented && !self.in_steps && self.block.as_ref().is_some_and(|b| !b.steps.is_empty());
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

    /// Appends `step` to the shared lane; blocks are over.
    fn shared(&mut self, step: Step) {
        self.end_block();
        self.in_steps = true;
        self.steps.push(step);
        self.lines.push(LaneId::Shared, self.line);
    }

    /// A step of the block being read: `send …`, `expect …`, `shutdown write`, `close`,
    /// `reset`.
    pub(super) fn block_step(
        &mut self,
        head: &Token<'s>,
        args: &mut Args<'_, 's>,
    ) -> Result<(), ParseError> {
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
    pub(super) fn top_level_step(
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
            "reset" => Step::Reset { connection },
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
        let Some(n) = parse_u64(tok.text) else {
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
