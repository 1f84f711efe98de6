//! What a line is — a file setting, a `connection`, a setting, a step of the block being read,
//! or a top-level step of the shared lane — and which part of the parser reads it.
//!
//! A line is a top-level step when its first word names a declared connection and its second
//! is a step word (`send`, `expect`, `shutdown`, `close`), or when its first word names a
//! declared connection that is no keyword. A line that starts with a step word is a step of the
//! block being read. `sleep` names no connection: indented, after a block's first step, it is
//! the block's; otherwise it is top-level. Since no connection may be named after a step word,
//! and no directive's argument is one, that reading is never ambiguous. The steps themselves
//! are read in [`super::steps`], each checked against a
//! [`StaticState`](crate::script::StaticState) of its connection, so misuse (a `send` after
//! `shutdown write`, an `expect eof` with echo still owed) is reported at its line.

use super::tokens::{Args, Token};
use super::{Parser, K};
use crate::scenario::error::ParseError;
use crate::script::STEP_WORDS;

const SETTINGS: &str = "a setting (`nodelay`, `send-buffer`, `recv-buffer`, `write-chunks`, \
                        `write-pauses`, `read-sizes`, `read-pauses`) or a step (`send`, \
                        `shutdown write`, `expect echo`, `expect eof`, `close`, `reset`)";

const HEADS: &str = "`connection`, a setting, `sleep`, or a step such as `NAME send …`";
const KEYWORDS: [&str; 12] = [
    "connection",
    "pause-scale",
    "lockstep",
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
            "lockstep" => self.lockstep_line(head),
            "connection" => {
                self.after_steps(head, "every `connection` before the first top-level step")?;
                self.connection_line(&mut args)
            }
            "nodelay" | "send-buffer" | "recv-buffer" | "write-chunks" | "write-pauses"
            | "read-sizes" | "read-pauses" => {
                self.after_steps(head, "settings right after their `connection`")?;
                self.setting(head, &mut args)
            }
            "send" | "shutdown" | "expect" | "close" | "reset" => self.block_step(head, &mut args),
            "sleep" => self.sleep_step(&mut args, indented),
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
}
