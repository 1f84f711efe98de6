//! Crash files kept as regression tests: [`Harness::reproduce_folder`] replays every file of a
//! folder through a target's body, in lockstep, and [`KeptCrashes`] says which still fail.
//!
//! ```no_run
//! use echo_harness::fuzzing::{FuzzTarget, Harness};
//! # mod my_server { pub async fn run(_: tokio::net::TcpListener, _: impl std::future::Future) {} }
//!
//! #[test]
//! fn every_kept_crash_is_fixed() {
//!     Harness::tokio(my_server::run)
//!         .reproduce_folder(FuzzTarget::Roundtrip, "tests/crashes")
//!         .expect("a folder of crash files")
//!         .assert_fixed();
//! }
//! ```

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use super::{FuzzFailure, FuzzTarget, Harness, InputVerdict};

/// What replaying a folder of crash files found.
#[derive(Debug)]
pub struct KeptCrashes {
    /// The folder.
    pub folder: PathBuf,
    /// The target whose body replayed them.
    pub target: FuzzTarget,
    /// Every file, in sorted order, with how its replay went: `Ok(Passed)` is fixed,
    /// `Ok(Rejected)` no longer decodes to a case (the regression is lost), `Err` still fails.
    pub files: Vec<(PathBuf, Result<InputVerdict, FuzzFailure>)>,
}

impl KeptCrashes {
    /// True when every file replays and passes.
    pub fn fixed(&self) -> bool {
        self.files
            .iter()
            .all(|(_, result)| matches!(result, Ok(InputVerdict::Passed)))
    }

    /// Panics with the whole report unless every file replays and passes.
    #[track_caller]
    pub fn assert_fixed(&self) {
        if !self.fixed() {
            panic!("kept crashes still fail\n{self}");
        }
    }
}

impl fmt::Display for KeptCrashes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut failed = 0;
        for (path, result) in &self.files {
            let path = path.display();
            match result {
                Ok(InputVerdict::Passed) => writeln!(f, "PASS {path}")?,
                Ok(InputVerdict::Rejected) => {
                    failed += 1;
                    writeln!(
                        f,
                        "LOST {path}: {} no longer plays it (rejected)",
                        self.target
                    )?
                }
                Err(failure) => {
                    failed += 1;
                    let report = failure.to_string().replace('\n', "\n  ");
                    writeln!(f, "FAIL {path}:\n  {report}")?
                }
            }
        }
        write!(
            f,
            "{} fixed, {failed} not: {} crash files of {} in {}",
            self.files.len() - failed,
            self.files.len(),
            self.target,
            self.folder.display()
        )
    }
}

impl Harness {
    /// Replays every file of `folder` (sorted; subfolders and hidden files are skipped) through
    /// `target`'s body with [`reproduce`](Harness::reproduce): on a fresh connection, in
    /// lockstep with the server. `Err` only when the folder cannot be read or holds no file.
    pub fn reproduce_folder(
        &self,
        target: FuzzTarget,
        folder: impl AsRef<Path>,
    ) -> io::Result<KeptCrashes> {
        let folder = folder.as_ref();
        let context = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", folder.display()));
        let paths = crate::scenario::folder_files(folder, |path| {
            let hidden = path
                .file_name()
                .is_some_and(|name| name.to_string_lossy().starts_with('.'));
            path.is_file() && !hidden
        })
        .map_err(context)?;
        if paths.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{}: no crash file to replay", folder.display()),
            ));
        }
        let mut files = Vec::with_capacity(paths.len());
        for path in paths {
            let result = match std::fs::read(&path) {
                Ok(bytes) => self.reproduce(target, &bytes),
                Err(e) => Err(FuzzFailure::Start(format!(
                    "cannot read {}: {e}",
                    path.display()
                ))),
            };
            files.push((path, result));
        }
        Ok(KeptCrashes {
            folder: folder.to_path_buf(),
            target,
            files,
        })
    }
}
