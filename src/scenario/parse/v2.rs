//! Version 2 lines: connection declarations with their settings, then steps prefixed by a
//! connection's name, and `sleep`.
//!
//! A line is a step when its first word names a declared connection and its second is a step
//! word (`send`, `expect`, `shutdown`, `close`), or when its first word names a declared
//! connection that is no keyword; otherwise it is a directive. Since no connection may be named
//! after a step word, and no directive's argument is one, that reading is never ambiguous.
//! Every step is checked against a [`StaticState`] of its connection, so misuse (a `send` after
//! `shutdown write`, an `expect eof` with echo still owed) is reported at its line.

use super::{Args, Parser, Token, K};
use crate::case::PauseScale;
use crate::scenario::error::ParseError;
use crate::scenario::script::{
    Expectation, Script, ScriptConnection, StaticState, Step, MAX_REPEAT, STEP_WORDS,
};
use crate::scenario::ScenarioFile;

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
    pub(super) fn v2_directive(
        &mut self,
        tokens: &[Token<'s>],
        end: usize,
    ) -> Result<(), ParseError> {
        let head = &tokens[0];
        let mut args = Args {
            tokens,
            pos: 1,
            end,
        };
        if head.string.is_some() {
            return Err(self.err(
                K::UnknownDirective,
                head.span.clone(),
                "a line cannot start with a string",
                Some(HEADS),
            ));
        }
        let second_is_verb = tokens
            .get(1)
            .is_some_and(|t| t.string.is_none() && STEP_WORDS.contains(&t.text));
        if let Some(index) = self.declared(head.text) {
            if second_is_verb || !KEYWORDS.contains(&head.text) {
                return self.v2_step(index, head, &mut args);
            }
        }
        match head.text {
            "pause-scale" => self.pause_scale_line(head, &mut args),
            "through" => self.through_line(head, &mut args),
            "connection" => {
                self.after_steps(head, "every `connection` before the first step")?;
                self.v2_connection_line(&mut args)
            }
            "nodelay" | "send-buffer" | "recv-buffer" | "write-chunks" | "write-pauses"
            | "read-sizes" | "read-pauses" => {
                self.after_steps(head, "settings right after their `connection`")?;
                self.setting(head, &mut args)
            }
            "sleep" => {
                let tok = args.word(self, "a duration such as `10ms`")?;
                let duration = self.duration(tok)?;
                args.finish(self)?;
                self.start_steps();
                self.steps.push(Step::Sleep(duration));
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
                Some(HEADS),
            )),
        }
    }

    /// The index of the declared connection `name` (the one being declared included).
    fn declared(&self, name: &str) -> Option<usize> {
        if let Some(i) = self.script_connections.iter().position(|c| c.name == name) {
            return Some(i);
        }
        self.block
            .as_ref()
            .filter(|b| b.name == name)
            .map(|_| self.script_connections.len())
    }

    fn declared_names(&self) -> String {
        let mut names: Vec<String> = self
            .script_connections
            .iter()
            .map(|c| c.name.as_str())
            .chain(self.block.as_ref().map(|b| b.name.as_str()))
            .take(5)
            .map(|n| format!("`{n}`"))
            .collect();
        if names.is_empty() {
            return "`connection NAME` before its steps".to_string();
        }
        if self.script_connections.len() + usize::from(self.block.is_some()) > names.len() {
            names.push("…".to_string());
        }
        format!("a declared connection: {}", names.join(", "))
    }

    fn after_steps(&self, head: &Token<'s>, expected: &str) -> Result<(), ParseError> {
        if self.in_steps {
            return Err(self.err(
                K::Misplaced,
                head.span.clone(),
                format!("`{}` after the first step", head.text),
                Some(expected),
            ));
        }
        Ok(())
    }

    /// Ends the declaration being read, if any.
    fn end_declaration(&mut self) {
        if let Some(block) = self.block.take() {
            self.script_connections.push(ScriptConnection {
                name: block.name,
                write: block.write,
                read: block.read,
            });
            self.states.push(StaticState::default());
        }
    }

    fn start_steps(&mut self) {
        self.end_declaration();
        self.in_steps = true;
    }

    fn v2_connection_line(&mut self, args: &mut Args<'_, 's>) -> Result<(), ParseError> {
        let tok = self.connection_name(args, &STEP_WORDS)?;
        let taken = self.declared(tok.text).is_some();
        if !taken {
            self.end_declaration();
        }
        self.open_block(tok, taken, self.script_connections.len())
    }

    fn v2_step(
        &mut self,
        index: usize,
        head: &Token<'s>,
        args: &mut Args<'_, 's>,
    ) -> Result<(), ParseError> {
        let connection = head.text.to_string();
        let verb = args.word(self, STEPS)?;
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
        self.start_steps();
        let span = head.span.start..args.end;
        let Some(state) = self.states.get_mut(index) else {
            return Ok(());
        };
        if let Err((problem, expected)) = state.apply(&step) {
            return Err(self.err(
                K::UnexpectedStep,
                span,
                format!("{problem} (connection `{}`)", head.text),
                Some(expected),
            ));
        }
        self.steps.push(step);
        Ok(())
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

    pub(super) fn v2_finish(mut self) -> Result<ScenarioFile, ParseError> {
        self.end_declaration();
        let end = self.text.len();
        if self.script_connections.is_empty() {
            return Err(self.err(
                K::NoConnections,
                end..end,
                "no connection in the scenario",
                Some("`connection NAME`"),
            ));
        }
        let script = Script {
            connections: std::mem::take(&mut self.script_connections),
            steps: std::mem::take(&mut self.steps),
            pause_scale: self.pause_scale.unwrap_or(PauseScale::ONE),
        };
        // Every line was checked as it was read; this is a second line of defence.
        if let Err(e) = script.validate() {
            return Err(self.err(K::InvalidCase, end..end, e.to_string(), None));
        }
        Ok(ScenarioFile {
            seed: self.file_seed,
            target: self.target,
            divergence: self.divergence,
            comments: self.comments,
            through: self.through,
            ..ScenarioFile::from_script(script)
        })
    }
}
