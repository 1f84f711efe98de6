//! Scenario text: the one language of saved tests — what `check --save` writes, what people
//! write, what `run` and `replay` read, what `tests/regressions/` keeps — parsed into a
//! [`Script`] ([`parse`]) and printed from one ([`print()`]). They round-trip:
//! `parse(&print(&file)) == Ok(file)`. See `docs/scenarios.md` for a tutorial.
//!
//! A parsed file plays with [`play_file`] (async); a file or a whole folder of `*.scenario`
//! files, such as a regression corpus, plays from a plain test with [`play_path`], which
//! blocks and returns one [`Report`] naming each failing file, step and line.
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
//! ```text
//! # echo-harness scenario v2
//! # Pins down: b's echo comes back while a's big send is still unread.
//!
//! connection a
//!   write-chunks 1 7
//! connection b
//!   nodelay on
//!
//! a send "hi\n"
//! b send hex 00ff x 3
//! a send generated 1MiB seed 7
//! b expect last within 1s
//! sleep 10ms
//! a expect bytes "hi"
//! a expect echo
//! a shutdown write
//! a expect eof within 1s
//! b close
//! ```
//!
//! # Grammar
//! - The first line is `# echo-harness scenario v1` or `# echo-harness scenario v2`: both
//!   introduce the same language, and stay valid forever. Lines end with `\n` (a `\r` before it
//!   and trailing spaces are ignored). Blank lines are ignored, and so is a line whose first
//!   non-blank character is `#`, or anything from a `#` outside a string to the end of a line.
//! - **Header.** The comment lines before the first directive are the file's metadata:
//!   `# seed: N` (the `check` seed), `# target: TEXT` (what the case failed against; recorded,
//!   never executed), `# divergence: TEXT` (one per line of the report), and any other comment,
//!   kept as a free comment. So a free comment cannot begin with `seed:`, `target:` or
//!   `divergence:`.
//! - **`pause-scale N` or `pause-scale N/D`**, before the first connection, at most once:
//!   every pause and `sleep` is multiplied by N/D when played (default `1`).
//! - **`through seed N CHAIN`**, before the first connection, at most once: the scenario is
//!   played through an in-process [`crate::proxy::Proxy`] in front of the target, with the toxic
//!   chain CHAIN (the rest of the line, in the grammar of [`crate::proxy::ToxicChain`]) seeded
//!   with N; its connections are accepted in the file's order, so the same faults hit the same
//!   connections every time. `check --through` saves its failures with this line.
//! - **`lockstep`**, before the first connection, at most once: after each chunk, the writer
//!   waits until the server has read everything sent, so the server's reads are the file's
//!   chunks (a read may still split a chunk, never join two). With the built-in server it
//!   asks the server's counters; with any other server on Linux, the kernel (the receive queue
//!   of the server's socket); elsewhere it plays without and warns. For a fragmentation bug
//!   that must replay every time.
//! - **`connection NAME`** opens a connection block, which runs to the next `connection`, the
//!   first top-level step, or the end of the file. Names are `[A-Za-z_][A-Za-z0-9_-]*`, at most
//!   32 bytes, unique, and none of `send`, `expect`, `shutdown`, `close`, `reset`. All connections are
//!   opened, in file order, before any step runs, and are held open together.
//! - **Settings**, inside a block before its first step, each at most once; an omitted one
//!   takes the default in parentheses:
//!   - `nodelay on|off` (`off`): TCP_NODELAY of the client;
//!   - `send-buffer SIZE|default`, `recv-buffer SIZE|default` (`default`): SO_SNDBUF and
//!     SO_RCVBUF of the client, 2048 to 2^30 bytes, or the OS default;
//!   - `write-chunks SIZE…` (`65536`) and `write-pauses DURATION…|none` (`none`);
//!   - `read-sizes SIZE…` (`65536`) and `read-pauses DURATION…|none` (`none`).
//!
//!   Lists are cyclic and restart at every `send` (writer) or expectation (reader); a pause
//!   follows every chunk but the last of a send; see [`crate::case`] for the exact meaning.
//! - **Lanes.** Steps come in lanes, and lanes play at the same time; within a lane, steps play
//!   in order. A block's steps (after its settings, without the connection's name) are that
//!   connection's own lane. The top-level steps, `NAME step` lines after the blocks, form one
//!   shared lane in file order, which orders steps across connections (`a send`, `b send`,
//!   `b expect echo`, `a expect echo`: `a` is held open while `b` plays). A connection's steps
//!   are all in its block or all top-level. After the first top-level step, no `connection`,
//!   setting or block step may follow.
//! - **Steps:**
//!   - `send PAYLOAD [x N]` hands PAYLOAD, N times (1 to [`MAX_REPEAT`], each a send of its own
//!     for the write plan), to the connection's writer, which writes in the background while
//!     later steps run (a big send never deadlocks against an unread echo);
//!   - `expect echo` reads the echo of everything sent and not yet expected, exactly;
//!     `expect last` the echo of the last `send` (all its repetitions), which needs everything
//!     before it expected already — the interactive pattern; `expect bytes PAYLOAD` exactly
//!     these bytes, at most what was sent and not yet expected; `expect eof` the server's EOF
//!     with no byte more, which needs everything sent expected. Each may end in
//!     `within DURATION`: a deadline for the step (at most 60 s); without one the run's
//!     no-progress timeout applies;
//!   - `shutdown write` half-closes once everything sent is written (at most once, and no
//!     `send` after it); `close` closes without half-closing, and nothing may follow it on that
//!     connection;
//!   - `reset` resets the connection at once — `SO_LINGER` 0 then close, so the server gets an
//!     RST — with whatever is still queued for the writer never written and any unread echo
//!     discarded; it may come with bytes owed either way, and nothing may follow it on that
//!     connection. After a file that resets a connection, the player opens one more connection
//!     and checks a short echo on it: a server that died, stopped accepting, or stopped
//!     answering after a client's reset fails with `not-served-after-reset`;
//!   - `sleep DURATION` waits (scaled by `pause-scale`) while the writers go on writing. It
//!     names no connection: an indented `sleep` after a block's first step is that block's; any
//!     other `sleep` is a top-level step of the shared lane.
//! - A top-level line is a step when its first word is a declared connection and its second a
//!   step word, or its first word is a declared connection that is not a keyword
//!   (`connection`, `pause-scale`, `sleep` or a setting); so a connection may be called `sleep`
//!   or `nodelay`.
//! - **PAYLOAD** is `"TEXT"` with escapes `\n \r \t \\ \" \xNN` (a raw byte) and `\u{H…}` (a
//!   character as UTF-8), any other character standing for itself; or `hex HH…` (groups of hex
//!   digit pairs, spaces between groups allowed); or `generated LEN seed SEED`, the bytes of
//!   [`crate::generator`].
//! - **SIZE** is decimal digits with an optional `KiB`, `MiB` or `GiB`. **DURATION** is decimal
//!   digits with `ns`, `us` (or `µs`), `ms` or `s`, or a bare `0`; at most 60 s.
//! - Every misuse is a parse error at its line: a step on an undeclared connection
//!   ([`ParseErrorKind::UnknownConnection`]), a step that cannot follow the connection's earlier
//!   ones ([`ParseErrorKind::UnexpectedStep`]), a declaration after a top-level step
//!   ([`ParseErrorKind::Misplaced`]).
//!
//! # What `check` writes
//! A generated [`Case`] is the subset of the language in which every connection has a block
//! holding one of four conversations — a stream (`send P`, `shutdown write`, `expect echo`,
//! `expect eof`), interactive rounds (`send M`, `expect echo`, repeated, then `shutdown
//! write`, `expect eof`), a close (`send P`, `expect echo`, `close`), or an abort (`send P`,
//! `expect bytes` the first bytes of P, `reset`) — except the two
//! connections of a [`Hold`](crate::case::Hold), whose steps are top-level. The printer
//! writes a block with every setting (so a reader never has to know the defaults) and a
//! connection without steps of its own with only the settings that differ from the default;
//! the version line is `v1` when there are no top-level steps, `v2` otherwise.
//!
//! # Limits
//! The parser never panics and never hangs, and refuses what no case may hold, with an error
//! at the place: more than [`crate::case::MAX_CONNECTIONS`] connections, lists longer than
//! [`crate::case::MAX_PLAN_ENTRIES`], chunks above [`crate::case::MAX_CHUNK_LEN`], pauses above
//! 60 s, more than [`crate::case::MAX_CONNECTION_BYTES`] sent on one connection (a `generated`
//! length and a repetition are checked, never allocated), more than
//! [`crate::case::MAX_ROUNDS`] rounds or repetitions. A parsed
//! case may well lie outside a [`crate::case::CaseBounds`]: bounds are for generating cases,
//! not for reading them.

mod error;
mod parse;
mod play;
mod play_path;
mod print;

pub use error::{ParseError, ParseErrorKind};
pub use parse::{parse, parse_case};
pub use play::play_file;
// A folder's files, for the kept crashes of `fuzzing` too.
pub(crate) use play_path::folder_files;
// What the CLI's `run` and `replay` share with `play_path`.
#[cfg(feature = "cli")]
pub(crate) use play_path::{load, measured, scenario_paths, LoadError};
pub use play_path::{
    play_path, play_path_with, FileReport, FileVerdict, PlayPathError, Report, EXTENSION,
};
pub use print::{print, print_case};

/// The step model of scenario text; it lives in [`crate::script`].
/// The `through` line's data, which lives with the proxy.
pub use crate::proxy::Through;
pub use crate::script::{
    script_strategy, Expectation, InvalidScript, LaneId, Script, ScriptConnection, Step,
    MAX_REPEAT, STEP_WORDS,
};

use std::fmt;

use crate::case::Case;

/// The first line `check --save` writes for a file without top-level steps.
pub const VERSION_LINE: &str = "# echo-harness scenario v1";

/// The first line of a file with top-level steps.
pub const VERSION_LINE_V2: &str = "# echo-harness scenario v2";

/// What every version line starts with, whatever the version.
const VERSION_PREFIX: &str = "# echo-harness scenario ";

/// A saved scenario: what to play, and what is known about where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioFile {
    /// What the file plays.
    pub script: Script,
    /// The `check` seed that found it (`# seed: N`).
    pub seed: Option<u64>,
    /// What it failed against (`# target: …`): an address or the spawned command, for people.
    pub target: Option<String>,
    /// The divergence report, one entry per line (`# divergence: …`).
    pub divergence: Vec<String>,
    /// Free comments of the header, such as what a regression pins down.
    pub comments: Vec<String>,
    /// The proxy to play it through (`through seed N CHAIN`), if any.
    pub through: Option<Through>,
    /// Played in lockstep with the server (`lockstep`): after each chunk the writer waits
    /// until the server has read it, so the server's reads are the file's chunks, whatever
    /// the server (see [`Lockstep`](crate::roundtrip::Lockstep)).
    pub lockstep: bool,
    /// Where each step stands in the text it was parsed from, for reports.
    pub lines: StepLines,
}

/// The 1-based line of every step of a parsed file, by lane; empty for a file built in code.
///
/// It describes the text, not the scenario: two files that differ only in layout are equal, so
/// this type compares equal always.
#[derive(Debug, Clone, Default)]
pub struct StepLines {
    own: Vec<Vec<usize>>,
    shared: Vec<usize>,
}

impl StepLines {
    /// The line of step `index` of `lane`, when known.
    pub fn line(&self, lane: LaneId, index: usize) -> Option<usize> {
        match lane {
            LaneId::Own(i) => self.own.get(i)?.get(index).copied(),
            LaneId::Shared => self.shared.get(index).copied(),
        }
    }

    pub(crate) fn push(&mut self, lane: LaneId, line: usize) {
        match lane {
            LaneId::Own(i) => {
                if self.own.len() <= i {
                    self.own.resize(i + 1, Vec::new());
                }
                self.own[i].push(line);
            }
            LaneId::Shared => self.shared.push(line),
        }
    }
}

impl PartialEq for StepLines {
    fn eq(&self, _: &StepLines) -> bool {
        true
    }
}

impl Eq for StepLines {}

impl ScenarioFile {
    /// A file holding only `script`.
    pub fn new(script: Script) -> Self {
        Self {
            script,
            seed: None,
            target: None,
            divergence: Vec::new(),
            comments: Vec::new(),
            through: None,
            lockstep: false,
            lines: StepLines::default(),
        }
    }

    /// A file holding only the script of `case`.
    pub fn from_case(case: &Case) -> Self {
        Self::new(Script::from_case(case))
    }

    /// The case the file holds, when its script is one ([`Script::to_case`]).
    pub fn to_case(&self) -> Option<Case> {
        self.script.to_case()
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

    /// Records the proxy the scenario is played through.
    pub fn with_through(mut self, through: Through) -> Self {
        self.through = Some(through);
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
