//! Scenario text: the saved form of a [`Case`] (version 1, written by `check --save`) or of a
//! [`Script`] (version 2, written by people), read by `run` and `replay`, kept under
//! `tests/regressions/`; and [`play_script`], the interpreter that plays a script.
//!
//! A scenario is line-oriented text that a person can write, read and diff. Version 1 is the
//! subset that a generated case needs. Version 2 adds free interleaving of named connections,
//! exact-bytes and last-message expectations, repetition, sleeps and per-step deadlines; it
//! never changes what a version 1 file means, and [`parse`] reads both. [`print()`] and
//! [`parse`] round-trip: `parse(&print(&file)) == Ok(file)`. See `docs/scenarios.md` for a
//! tutorial.
//!
//! # Example (version 1)
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
//! - **`through seed N CHAIN`**, before the first connection, at most once: the scenario is
//!   played through an in-process [`crate::proxy::Proxy`] in front of the target, with the toxic
//!   chain CHAIN (the rest of the line, in the grammar of [`crate::proxy::ToxicChain`]) seeded
//!   with N; its connections are accepted in the file's order, so the same faults hit the same
//!   connections every time. `check --through` saves its failures with this line.
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
//! # Version 2
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
//! - The first line is exactly `# echo-harness scenario v2`. Lines, comments, the header,
//!   `pause-scale`, PAYLOAD, SIZE and DURATION are as in version 1; indentation never matters.
//! - **Declarations** come first: `connection NAME`, then that connection's settings (the
//!   version 1 settings, each at most once, defaults as in version 1). A name may be anything
//!   version 1 allows except `send`, `expect`, `shutdown` and `close`. All connections are
//!   opened, in declaration order, before the first step.
//! - **Steps** follow, one a line, played in file order; the first step ends the declarations
//!   (a `connection` or a setting after it is misplaced). Each but `sleep` starts with a declared
//!   connection's name:
//!   - `NAME send PAYLOAD [x N]` hands PAYLOAD, N times (1 to [`MAX_REPEAT`], each a send of
//!     its own for the write plan), to the connection's writer, which writes in the background
//!     while later steps run;
//!   - `NAME expect echo` reads the echo of everything sent and not yet expected;
//!     `NAME expect last` the echo of the last `send` (all its repetitions), which needs
//!     everything before it expected already — the interactive pattern;
//!     `NAME expect bytes PAYLOAD` exactly these bytes, at most what was sent and not yet
//!     expected; `NAME expect eof` the server's EOF with no byte more, which needs everything
//!     sent expected. Each may end in `within DURATION`: a deadline for the step (at most 60 s);
//!     without one the run's no-progress timeout applies;
//!   - `NAME shutdown write` half-closes once everything sent is written (at most once, and no
//!     `send` after it); `NAME close` closes without half-closing, and nothing may follow it on
//!     that connection;
//!   - `sleep DURATION` waits (scaled by `pause-scale`) while the writers go on writing.
//! - A line is a step when its first word is a declared connection and its second a step word,
//!   or its first word is a declared connection that is not a keyword (`connection`,
//!   `pause-scale`, `sleep` or a setting); so a connection may be called `sleep` or `nodelay`.
//! - Every misuse is a parse error at its line: a step on an undeclared connection
//!   ([`ParseErrorKind::UnknownConnection`]), a step that cannot follow the connection's earlier
//!   ones ([`ParseErrorKind::UnexpectedStep`]), a declaration after a step
//!   ([`ParseErrorKind::Misplaced`]).
//!
//! [`Script::from_case`] turns a version 1 case into the equivalent script (its connections'
//! readers then take turns instead of running at once), and [`ScenarioFile::into_v2`] a file.
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
mod interpret;
mod parse;
mod print;
mod script;
mod strategy;

pub use error::{ParseError, ParseErrorKind};
pub use interpret::{play_file, play_script, play_script_confirmed, FailedStep, ScriptFailure};
pub use parse::{parse, parse_case};
pub use print::{print, print_case, print_script};
pub use script::{
    Expectation, InvalidScript, Script, ScriptConnection, Step, MAX_REPEAT, STEP_WORDS,
};
pub use strategy::script_strategy;

use std::borrow::Cow;
use std::fmt;

use crate::case::Case;
use crate::proxy::{Proxy, ProxyConfig, ProxyError};
use crate::roundtrip::ProxyInFront;

/// The first line of every version 1 scenario file.
pub const VERSION_LINE: &str = "# echo-harness scenario v1";

/// The first line of every version 2 scenario file.
pub const VERSION_LINE_V2: &str = "# echo-harness scenario v2";

/// What every version line starts with, whatever the version.
const VERSION_PREFIX: &str = "# echo-harness scenario ";

/// What a scenario file plays, borrowed from it: see [`ScenarioFile::body`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScenarioBody<'a> {
    /// A version 1 file: connections with one conversation each, played all at once by
    /// [`crate::roundtrip::play`].
    Case(&'a Case),
    /// A version 2 file: connections and explicit steps, played by [`play_script`].
    Script(&'a Script),
}

/// A saved scenario: what to play, and what is known about where it came from.
///
/// A version 1 file holds a [`Case`] in `case`; a version 2 file holds a [`Script`] in
/// `script`, and then `case` has no connections. [`ScenarioFile::body`] tells them apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioFile {
    /// The case of a version 1 file; without connections in a version 2 file.
    pub case: Case,
    /// The script of a version 2 file; `None` in a version 1 file.
    pub script: Option<Script>,
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
}

/// A proxy between the client and the target: the toxic chain and the seed of its generators.
/// Its text form is the argument of a scenario's `through` line: `seed N CHAIN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Through {
    /// Seeds every connection's and direction's generator (with the accept order).
    pub seed: u64,
    /// The toxics, in order.
    pub chain: crate::proxy::ToxicChain,
}

impl Through {
    /// Starts an in-process proxy with this chain in front of `upstream`, ready to play a
    /// scenario through (the play restarts it with this seed).
    pub fn start(&self, upstream: std::net::SocketAddr) -> Result<ProxyInFront, ProxyError> {
        let proxy = Proxy::spawn(ProxyConfig {
            chain: self.chain.clone(),
            seed: self.seed,
            ..ProxyConfig::new(upstream)
        })?;
        Ok(ProxyInFront {
            proxy: std::sync::Arc::new(proxy),
            seed: self.seed,
        })
    }
}

impl fmt::Display for Through {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "seed {}", self.seed)?;
        if !self.chain.is_empty() {
            write!(f, " {}", self.chain)?;
        }
        Ok(())
    }
}

impl ScenarioFile {
    /// A version 1 file holding only `case`.
    pub fn new(case: Case) -> Self {
        Self {
            case,
            script: None,
            seed: None,
            target: None,
            divergence: Vec::new(),
            comments: Vec::new(),
            through: None,
        }
    }

    /// A version 2 file holding only `script`.
    pub fn from_script(script: Script) -> Self {
        Self {
            script: Some(script),
            ..Self::new(Case {
                connections: Vec::new(),
                pause_scale: crate::case::PauseScale::ONE,
            })
        }
    }

    /// What the file plays: its script (version 2) or its case (version 1).
    pub fn body(&self) -> ScenarioBody<'_> {
        match &self.script {
            Some(script) => ScenarioBody::Script(script),
            None => ScenarioBody::Case(&self.case),
        }
    }

    /// The scenario language version the file is written in: 1 or 2.
    pub fn version(&self) -> u8 {
        if self.script.is_some() {
            2
        } else {
            1
        }
    }

    /// The script of a version 2 file, or the one a version 1 case converts to
    /// ([`Script::from_case`]).
    pub fn to_script(&self) -> Cow<'_, Script> {
        match &self.script {
            Some(script) => Cow::Borrowed(script),
            None => Cow::Owned(Script::from_case(&self.case)),
        }
    }

    /// The same file in version 2: a case becomes its script, metadata stays.
    pub fn into_v2(self) -> Self {
        let script = self.to_script().into_owned();
        Self {
            script: Some(script),
            case: Case {
                connections: Vec::new(),
                pause_scale: crate::case::PauseScale::ONE,
            },
            ..self
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
#[cfg(test)]
mod tests_v2;
