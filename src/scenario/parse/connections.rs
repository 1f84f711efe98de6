//! Connections: a `connection NAME` line opens a block, which holds the connection's settings
//! and its own lane of steps until the next `connection`, the first top-level step or the end
//! of the file; and the names declared so far, which tell a top-level step from a directive.

use std::collections::HashSet;

use super::tokens::{Args, Token};
use super::{Parser, K};
use crate::case::{is_valid_name, ReadPlan, WritePlan, MAX_CONNECTIONS};
use crate::scenario::error::ParseError;
use crate::script::{ScriptConnection, StaticState, Step};

/// A connection block being read.
pub(super) struct Block {
    pub(super) name: String,
    pub(super) write: WritePlan,
    pub(super) read: ReadPlan,
    pub(super) settings: HashSet<&'static str>,
    /// Its own lane, so far.
    pub(super) steps: Vec<Step>,
    /// What its steps have done so far.
    pub(super) state: StaticState,
}

impl<'s> Parser<'s> {
    pub(super) fn connection_line(&mut self, args: &mut Args<'_, 's>) -> Result<(), ParseError> {
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

    /// Ends the block being read, if any.
    pub(super) fn end_block(&mut self) {
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

    pub(super) fn declared_names(&self) -> String {
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
}
