//! The header: the version line (`v1` and `v2` both introduce the one language) and the
//! comment lines before the first directive, which are the file's metadata (`# seed:`,
//! `# target:`, `# divergence:`) or free comments.

use super::values::parse_u64;
use super::{Parser, K};
use crate::scenario::error::ParseError;
use crate::scenario::{VERSION_LINE, VERSION_LINE_V2, VERSION_PREFIX};

impl Parser<'_> {
    pub(super) fn version(&mut self, line: &str, start: usize) -> Result<(), ParseError> {
        // Both version lines introduce the same language; this is the only place that reads
        // them.
        if line == VERSION_LINE || line == VERSION_LINE_V2 {
            return Ok(());
        }
        if let Some(version) = line.strip_prefix(VERSION_PREFIX) {
            let span = start + VERSION_PREFIX.len()..start + line.len();
            return Err(self.err(
                K::UnsupportedVersion,
                span,
                format!("unsupported scenario version `{version}`"),
                Some("`v1` or `v2`"),
            ));
        }
        Err(self.err(
            K::MissingVersion,
            start..start + line.len(),
            "not an echo-harness scenario",
            Some(&format!(
                "`{VERSION_LINE}` or `{VERSION_LINE_V2}` as the first line"
            )),
        ))
    }

    /// A comment line in the header; `at` is the offset just after its `#`.
    pub(super) fn metadata(&mut self, comment: &str, at: usize) -> Result<(), ParseError> {
        let (text, at) = match comment.strip_prefix(' ') {
            Some(rest) => (rest, at + 1),
            None => (comment, at),
        };
        if let Some(value) = text.strip_prefix("seed:") {
            let lead = value.len() - value.trim_start().len();
            let value = value.trim();
            let span = at + "seed:".len() + lead..at + "seed:".len() + lead + value.len();
            if self.file_seed.is_some() {
                return Err(self.err(K::DuplicateSetting, span, "a second `# seed:` line", None));
            }
            let seed = parse_u64(value).ok_or_else(|| {
                self.err(
                    K::InvalidMetadata,
                    span,
                    "invalid seed",
                    Some("a number from 0 to 18446744073709551615"),
                )
            })?;
            self.file_seed = Some(seed);
        } else if let Some(value) = text.strip_prefix("target:") {
            if self.target.is_some() {
                let span = at..at + text.len();
                return Err(self.err(K::DuplicateSetting, span, "a second `# target:` line", None));
            }
            self.target = Some(value.trim().to_string());
        } else if let Some(value) = text.strip_prefix("divergence:") {
            let value = value.strip_prefix(' ').unwrap_or(value);
            self.divergence.push(value.to_string());
        } else {
            self.comments.push(text.to_string());
        }
        Ok(())
    }
}
