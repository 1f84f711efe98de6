//! Settings: those of the whole file (`pause-scale`, `through`, `lockstep`), before the first
//! connection,
//! and those of a connection (`nodelay`, `send-buffer`, `recv-buffer`, `write-chunks`,
//! `write-pauses`, `read-sizes`, `read-pauses`), at the head of its block. Each comes at most
//! once; an omitted one keeps its default.

use super::tokens::{Args, Token};
use super::values::parse_u64;
use super::{Parser, K};
use crate::case::{
    PauseScale, MAX_CHUNK_LEN, MAX_PAUSE_SCALE_TERM, MAX_PLAN_ENTRIES, MAX_SOCKET_BUFFER,
    MIN_SOCKET_BUFFER,
};
use crate::proxy::ToxicChain;
use crate::scenario::error::ParseError;
use crate::scenario::Through;

impl<'s> Parser<'s> {
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

    pub(super) fn pause_scale_line(
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

    /// `lockstep`: a word alone; the file is played in lockstep with the server.
    pub(super) fn lockstep_line(&mut self, head: &Token<'s>) -> Result<(), ParseError> {
        self.file_setting(head, self.lockstep)?;
        self.lockstep = true;
        Ok(())
    }

    /// `through seed N CHAIN`: the chain is the rest of the line, read by the one chain parser
    /// ([`ToxicChain::parse`]); its errors point into this line.
    pub(super) fn through_line(
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

    pub(super) fn setting(
        &mut self,
        head: &Token<'s>,
        args: &mut Args<'_, 's>,
    ) -> Result<(), ParseError> {
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
}
