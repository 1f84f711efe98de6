//! Playing a scenario file, or a whole folder of them (a regression corpus), against an address
//! from a plain test, blocking: [`play_path`] and [`play_path_with`], with one readable
//! [`Report`]. Also what the CLI's `run` and `replay` share with it: reading and parsing one
//! file ([`load`]), the files a folder stands for ([`scenario_paths`]), and the figures of a
//! pass ([`measured`]).

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::{parse, play_file, ScenarioFile};
use crate::roundtrip::{Divergence, Outcome, PlayOptions};
use crate::runtime::{self, WouldBlockRuntime};

/// The extension of scenario files: what `check --save` writes, and what a folder is searched
/// for.
pub const EXTENSION: &str = "scenario";

/// Plays the scenario file at `path`, or every `*.scenario` file of the folder at `path` in
/// sorted order, against `addr` with the default [`PlayOptions`], blocking; see
/// [`play_path_with`].
///
/// ```
/// use echo_harness::{scenario, EchoServer, ServerConfig};
///
/// let server = EchoServer::spawn(ServerConfig::ephemeral())?; // your server here
/// let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/regressions");
/// let report = scenario::play_path(folder, server.local_addr())?;
/// report.assert_passed(); // panics naming each failing file, its step and line
/// assert!(report.files.len() > 10);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn play_path(path: impl AsRef<Path>, addr: SocketAddr) -> Result<Report, PlayPathError> {
    play_path_with(path, addr, &PlayOptions::default())
}

/// Plays the scenario file at `path`, or every `*.scenario` file directly in the folder at
/// `path` in sorted order, against `addr` with `options`, blocking, and reports on each.
///
/// Each file is played as [`play_file`] plays it: a failure whose only evidence is time is
/// confirmed at four times the timeout, and a `through` line puts a proxy in front of `addr`.
/// A file that cannot be read or does not parse is a failure of the report, with the
/// rendered error (`file:line:column`, the line, a caret), and the other files still play.
///
/// `Err` only when there is nothing to play: `path` cannot be read, or is a folder without
/// any `*.scenario` file; or when called inside a current-thread tokio runtime, where it
/// refuses rather than block the thread a server may run on ([`WouldBlockRuntime`]; see
/// [`crate::check`]). Inside a multi-thread runtime it plays under `block_in_place`.
pub fn play_path_with(
    path: impl AsRef<Path>,
    addr: SocketAddr,
    options: &PlayOptions,
) -> Result<Report, PlayPathError> {
    let path = path.as_ref();
    let paths = scenario_paths(path)?;
    let instead = "`scenario::play_file(&file, addr, &options).await` for each file";
    let files = runtime::try_block_on("scenario::play_path()", instead, || async {
        let mut files = Vec::with_capacity(paths.len());
        for path in paths {
            let verdict = play_one(&path, addr, options).await;
            files.push(FileReport { path, verdict });
        }
        files
    })?;
    Ok(Report {
        path: path.to_path_buf(),
        target: addr,
        files,
    })
}

async fn play_one(path: &Path, addr: SocketAddr, options: &PlayOptions) -> FileVerdict {
    let file = match load(path) {
        Ok(file) => file,
        Err(e) => return FileVerdict::NotPlayed(e.to_string()),
    };
    match play_file(&file, addr, options).await {
        Ok(Ok(outcome)) => FileVerdict::Passed(outcome),
        Ok(Err(divergence)) => FileVerdict::Failed(Box::new(divergence)),
        Err(e) => FileVerdict::NotPlayed(format!(
            "the proxy of its `through` line does not start: {e}"
        )),
    }
}

/// Why [`play_path`] played nothing.
#[derive(Debug, thiserror::Error)]
pub enum PlayPathError {
    /// The path cannot be read: missing, or an unreadable folder.
    #[error("cannot read {}: {error}", path.display())]
    Read {
        /// The path given.
        path: PathBuf,
        /// What reading it said.
        error: io::Error,
    },
    /// A folder without any `*.scenario` file: nothing would be tested.
    #[error("no *.scenario file in {}: nothing to play", path.display())]
    Empty {
        /// The folder.
        path: PathBuf,
    },
    /// Called inside a current-thread tokio runtime.
    #[error(transparent)]
    WouldBlock(#[from] WouldBlockRuntime),
}

/// What [`play_path`] found: a verdict per file, in the order played. Its
/// [`Display`](fmt::Display) names each file, and for a failure the failing step, its line
/// and the divergence report.
#[must_use = "a report that is not checked hides failures: call assert_passed() or passed()"]
#[derive(Debug)]
pub struct Report {
    /// The path given: a file or a folder.
    pub path: PathBuf,
    /// The address played against.
    pub target: SocketAddr,
    /// Every file played, in order.
    pub files: Vec<FileReport>,
}

/// One file of a [`Report`].
#[derive(Debug)]
pub struct FileReport {
    /// The file.
    pub path: PathBuf,
    /// How it went.
    pub verdict: FileVerdict,
}

/// How one file went.
#[derive(Debug)]
pub enum FileVerdict {
    /// Every step passed.
    Passed(Outcome),
    /// A step failed; the divergence names it and its line in the file.
    Failed(Box<Divergence>),
    /// The file was not played: it cannot be read, it does not parse (the rendered error,
    /// with `file:line:column`), or the proxy of its `through` line does not start.
    NotPlayed(String),
}

impl FileReport {
    /// True when the file played and every step passed.
    pub fn passed(&self) -> bool {
        matches!(self.verdict, FileVerdict::Passed(_))
    }
}

impl Report {
    /// True when every file played and passed.
    pub fn passed(&self) -> bool {
        self.files.iter().all(FileReport::passed)
    }

    /// The files that did not pass, in order.
    pub fn failures(&self) -> impl Iterator<Item = &FileReport> {
        self.files.iter().filter(|f| !f.passed())
    }

    /// Panics with the whole report unless every file played and passed.
    #[track_caller]
    pub fn assert_passed(&self) {
        if !self.passed() {
            panic!("scenario files failed\n{self}");
        }
    }
}

impl fmt::Display for FileReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        match &self.verdict {
            FileVerdict::Passed(outcome) => write!(f, "PASS {path}: {}", measured(outcome)),
            FileVerdict::Failed(divergence) => {
                // `file:line` first, so that an editor or a terminal can jump there.
                match divergence.step.as_deref() {
                    Some(step) => {
                        let line = step.line.map(|l| format!(":{l}")).unwrap_or_default();
                        writeln!(f, "FAIL {path}{line}: step `{}`", step.text)?;
                    }
                    None => writeln!(f, "FAIL {path}: before the first step")?,
                }
                write!(f, "{}", indented(&divergence.to_string()))
            }
            FileVerdict::NotPlayed(why) => {
                writeln!(f, "FAIL {path}: not played")?;
                write!(f, "{}", indented(why))
            }
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for file in &self.files {
            writeln!(f, "{file}")?;
        }
        let failed = self.failures().count();
        write!(
            f,
            "{} passed, {failed} failed: {} against {}",
            self.files.len() - failed,
            self.path.display(),
            self.target
        )
    }
}

/// `text` with every line indented by four spaces.
fn indented(text: &str) -> String {
    text.trim_end()
        .lines()
        .map(|line| format!("    {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A passing play's figures: its PASS line here and in the CLI's `run`.
pub(crate) fn measured(outcome: &Outcome) -> String {
    format!(
        "{} connections, {} bytes verified in {:.2?}",
        outcome.connections.len(),
        outcome.bytes_verified(),
        outcome.elapsed
    )
}

/// The files `path` stands for: itself when it is not a folder; a folder's `*.scenario` files
/// (not those of its subfolders), sorted. `run` expands a folder the same way.
pub(crate) fn scenario_paths(path: &Path) -> Result<Vec<PathBuf>, PlayPathError> {
    let read = |error| PlayPathError::Read {
        path: path.to_path_buf(),
        error,
    };
    if !std::fs::metadata(path).map_err(read)?.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let files = folder_files(path, |file| {
        file.extension().is_some_and(|e| e == EXTENSION)
    })
    .map_err(read)?;
    if files.is_empty() {
        return Err(PlayPathError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(files)
}

/// The files directly in `folder` (not its subfolders) that `keep` takes, sorted: the
/// scenario files of a regression folder, the crash files of a folder of kept crashes.
pub(crate) fn folder_files(
    folder: &Path,
    keep: impl Fn(&Path) -> bool,
) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(folder)? {
        let file = entry?.path();
        if !file.is_dir() && keep(&file) {
            files.push(file);
        }
    }
    files.sort();
    Ok(files)
}

/// Why a scenario file could not be loaded.
#[derive(Debug)]
pub(crate) enum LoadError {
    /// It cannot be read: `cannot read PATH: why`.
    Read(String),
    /// It does not parse: the rendered error, with `file:line:column`, the line and a caret.
    Parse(String),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Read(message) => write!(f, "error: {message}"),
            LoadError::Parse(rendered) => f.write_str(rendered),
        }
    }
}

/// Reads and parses one scenario file, its parse errors rendered under its path.
pub(crate) fn load(path: &Path) -> Result<ScenarioFile, LoadError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| LoadError::Read(format!("cannot read {}: {e}", path.display())))?;
    parse(&text).map_err(|e| LoadError::Parse(e.with_origin(path.display().to_string()).render()))
}
