//! Saving a verdict's minimal failing case as a scenario file: what `check --save DIR` writes,
//! for the CLI and a user's own test alike.

use std::io;
use std::path::{Path, PathBuf};

use super::Verdict;
use crate::scenario::ScenarioFile;

impl Verdict {
    /// Writes the minimal failing case under `dir` (created if missing) as
    /// `seed-S-case-N.scenario`, the file `check --save DIR` writes: the case as scenario text,
    /// with the seed, the target and the divergence report as comments, and the proxy's
    /// `through` line for a campaign played through one. `Ok(None)` when there is nothing to
    /// save: every case passed, or the campaign never ran.
    ///
    /// ```
    /// use echo_harness::{Check, EchoServer, ServerConfig};
    ///
    /// let server = EchoServer::spawn(ServerConfig::ephemeral())?;
    /// let verdict = Check::new(server.local_addr()).seed(7).cases(5).run();
    /// let dir = std::env::temp_dir().join("echo-harness-doctest-save");
    /// // In a test: save before asserting, so that the failing case is kept.
    /// if let Some(path) = verdict.save(&dir)? {
    ///     eprintln!("minimal case saved as {}", path.display());
    /// }
    /// verdict.assert_passed();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn save(&self, dir: impl AsRef<Path>) -> io::Result<Option<PathBuf>> {
        match self.scenario_file(&self.target.to_string()) {
            Some(file) => self.write_scenario(dir.as_ref(), &file),
            None => Ok(None),
        }
    }

    /// The minimal failing case as the file [`Verdict::save`] writes, recording `target` as
    /// what it failed against (the CLI names a spawned server's command there).
    pub(crate) fn scenario_file(&self, target: &str) -> Option<ScenarioFile> {
        let failure = self.failure.as_ref()?;
        let file = ScenarioFile::from_case(&failure.minimal)
            .with_seed(self.seed)
            .with_target(target)
            .with_divergence(&failure.divergence.to_string());
        Some(ScenarioFile {
            through: failure.through.clone(),
            ..file
        })
    }

    /// Writes `file` under `dir` with the failing case's name; `Ok(None)` without a failure.
    /// An error names the folder or the file.
    pub(crate) fn write_scenario(
        &self,
        dir: &Path,
        file: &ScenarioFile,
    ) -> io::Result<Option<PathBuf>> {
        let Some(failure) = &self.failure else {
            return Ok(None);
        };
        let context =
            |what: String| move |e: io::Error| io::Error::new(e.kind(), format!("{what}: {e}"));
        std::fs::create_dir_all(dir)
            .map_err(context(format!("cannot create {}", dir.display())))?;
        let path = dir.join(format!(
            "seed-{}-case-{}.scenario",
            self.seed,
            failure.case_index + 1
        ));
        std::fs::write(&path, file.to_string())
            .map_err(context(format!("cannot write {}", path.display())))?;
        Ok(Some(path))
    }
}
