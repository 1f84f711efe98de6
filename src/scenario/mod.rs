//! Scenario text, version 1: the saved form of a [`Case`], written by `check --save`, read by
//! `replay`, kept under `tests/regressions/`.
//!
//! A scenario is line-oriented text that a person can write, read and diff. Version 1 is the
//! subset that a generated case needs; later versions extend the language (free interleaving,
//! exact-bytes expectations, sleeps, timeouts) and never change what a version 1 file means.
//! [`print()`] and [`parse`] round-trip: `parse(&print(&file)) == Ok(file)`.
//!
//! # Example
//! ```text
//! # echo-harness scenario v1
//! # seed: 42
//! # target: 127.0.0.1:7000
//! # divergence: connection c0: first difference at offset 17 of 4194304
//! # pins down: a 1-byte chunk after a large one
//!
//! pause-scale 1/100
//!
//! connection c0
//!   nodelay on
//!   send-buffer 2048
//!   recv-buffer default
//!   write-chunks 1 65536
//!   write-pauses 1ms 0ms
//!   read-sizes 7
//!   read-pauses none
//!   send generated 4194304 seed 7
//!   shutdown write
//!   expect echo
//!   expect eof
//!
//! connection c1
//!   send "hello\n"
//!   expect echo
//!   send hex 00ff
//!   expect echo
//!   shutdown write
//!   expect eof
//! ```
//!
//! # Grammar
//! - The first line is exactly `# echo-harness scenario v1`. Lines end with `\n` (a `\r` before
//!   it and trailing spaces are ignored). Blank lines are ignored, and so is a line whose first
//!   non-blank character is `#`, or anything from a `#` outside a string to the end of a line.
//! - **Header.** The comment lines before the first directive are the file's metadata:
//!   `# seed: N` (the `check` seed), `# target: TEXT` (what the case failed against; recorded,
//!   never executed), `# divergence: TEXT` (one per line of the report), and any other comment,
//!   kept as a free comment. So a free comment cannot begin with `seed:`, `target:` or
//!   `divergence:`.
//! - **`pause-scale N` or `pause-scale N/D`**, before the first connection, at most once:
//!   every pause is multiplied by N/D when played (default `1`).
//! - **`connection NAME`** opens a connection block, which runs to the next `connection` or
//!   the end of the file. Names are `[A-Za-z_][A-Za-z0-9_-]*`, at most 32 bytes, unique. All
//!   connections are opened before any step runs, held open together, and play their steps at
//!   the same time.
//! - **Settings**, inside a block before its first step, each at most once; an omitted one
//!   takes the default in parentheses:
//!   - `nodelay on|off` (`off`): TCP_NODELAY of the client;
//!   - `send-buffer SIZE|default`, `recv-buffer SIZE|default` (`default`): SO_SNDBUF and
//!     SO_RCVBUF of the client, 2048 to 2^30 bytes, or the OS default;
//!   - `write-chunks SIZE…` (`65536`) and `write-pauses DURATION…|none` (`none`);
//!   - `read-sizes SIZE…` (`65536`) and `read-pauses DURATION…|none` (`none`).
//!
//!   Lists are cyclic and restart at every `send` (writer) or expected echo (reader); a pause
//!   follows every chunk but the last of a send; see [`crate::case`] for the exact meaning.
//! - **Steps**, in order, inside a block:
//!   - `send PAYLOAD` hands bytes to the connection's writer, which writes them while later steps
//!     run (a big send never deadlocks against an unread echo);
//!   - `shutdown write` half-closes once everything sent has been written;
//!   - `expect echo` waits until the echo of everything sent and not yet expected has been read,
//!     exactly;
//!   - `expect eof` waits for the server to close its side, with no byte more;
//!   - `close` closes the connection without half-closing.
//!
//!   Version 1 accepts exactly three conversations, the variants of
//!   [`Conversation`](crate::case::Conversation):
//!   a stream (`send P`, `shutdown write`, `expect echo`, `expect eof`); interactive rounds
//!   (`send M`, `expect echo`, repeated, then `shutdown write`, `expect eof`); and a close (`send
//!   P`, `expect echo`, `close`). Later versions accept any sequence; these keep their meaning.
//! - **PAYLOAD** is `"TEXT"` with escapes `\n \r \t \\ \" \xNN` (a raw byte) and `\u{H…}` (a
//!   character as UTF-8), any other character standing for itself; or `hex HH…` (groups of hex
//!   digit pairs, spaces between groups allowed); or `generated LEN seed SEED`, the bytes of
//!   [`crate::generator`].
//! - **SIZE** is decimal digits with an optional `KiB`, `MiB` or `GiB`. **DURATION** is decimal
//!   digits with `ns`, `us` (or `µs`), `ms` or `s`, or a bare `0`; at most 60 s.
//!
//! # Limits
//! The parser never panics and never hangs, and refuses what no case may hold, with an error
//! at the place: more than [`crate::case::MAX_CONNECTIONS`] connections, lists longer than
//! [`crate::case::MAX_PLAN_ENTRIES`], chunks above [`crate::case::MAX_CHUNK_LEN`], pauses above
//! 60 s, more than [`crate::case::MAX_CONNECTION_BYTES`] sent on one connection (a `generated`
//! length is checked, never allocated), more than [`crate::case::MAX_ROUNDS`] rounds. A parsed
//! case may well lie outside a [`crate::case::CaseBounds`]: bounds are for generating cases,
//! not for reading them.

mod error;
mod parse;
mod print;

pub use error::{ParseError, ParseErrorKind};
pub use parse::{parse, parse_case};
pub use print::{print, print_case};

use std::fmt;

use crate::case::Case;

/// The first line of every version 1 scenario file.
pub const VERSION_LINE: &str = "# echo-harness scenario v1";

/// What every version line starts with, whatever the version.
const VERSION_PREFIX: &str = "# echo-harness scenario ";

/// A saved scenario: the case, and what is known about where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioFile {
    /// The case to play.
    pub case: Case,
    /// The `check` seed that found it (`# seed: N`).
    pub seed: Option<u64>,
    /// What it failed against (`# target: …`): an address or the spawned command, for people.
    pub target: Option<String>,
    /// The divergence report, one entry per line (`# divergence: …`).
    pub divergence: Vec<String>,
    /// Free comments of the header, such as what a regression pins down.
    pub comments: Vec<String>,
}

impl ScenarioFile {
    /// A file holding only `case`.
    pub fn new(case: Case) -> Self {
        Self {
            case,
            seed: None,
            target: None,
            divergence: Vec::new(),
            comments: Vec::new(),
        }
    }

    /// Records the seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Records the target.
    pub fn with_target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    /// Records a (multi-line) divergence report, one entry per line.
    pub fn with_divergence(mut self, report: &str) -> Self {
        self.divergence
            .extend(report.lines().map(|l| l.trim_end().to_string()));
        self
    }

    /// Adds a free comment line.
    pub fn with_comment(mut self, comment: impl Into<String>) -> Self {
        self.comments.push(comment.into());
        self
    }
}

/// The file's text, as [`print()`] writes it.
impl fmt::Display for ScenarioFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&print(self))
    }
}

impl std::str::FromStr for ScenarioFile {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        parse(s)
    }
}

#[cfg(test)]
mod tests;
