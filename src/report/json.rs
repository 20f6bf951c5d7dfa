//! `run.json`: writing it safely and reading it back with clear errors.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{InvalidRun, RunResult, RUN_SCHEMA};

/// The run file's name inside a results directory.
pub const RUN_FILE: &str = "run.json";

/// A results file that could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The file system refused.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What was being done, e.g. `write`.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The file is not a run this version understands.
    #[error("{path} is not an opmon run file: {reason}")]
    NotARun {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> ReportError + 'a {
    move |source| ReportError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

/// Writes `contents` to `path` through a temporary file and a rename, so
/// a reader never sees half a file.
pub(crate) fn write_atomically(path: &Path, contents: &[u8]) -> Result<(), ReportError> {
    let partial = path.with_extension("partial");
    let mut file = std::fs::File::create(&partial).map_err(io("write", &partial))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(io("write", &partial))?;
    std::fs::rename(&partial, path).map_err(io("write", path))
}

impl RunResult {
    /// Writes `run.json` into `dir`, creating the directory if needed.
    pub fn write_json(&self, dir: &Path) -> Result<PathBuf, ReportError> {
        std::fs::create_dir_all(dir).map_err(io("create directory", dir))?;
        let path = dir.join(RUN_FILE);
        let json = serde_json::to_vec_pretty(self).map_err(|e| ReportError::NotARun {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        write_atomically(&path, &json)?;
        Ok(path)
    }

    /// Reads a run from a `run.json` file or a results directory holding
    /// one, and [validates](Self::validate) it.
    pub fn read(path: &Path) -> Result<Self, ReportError> {
        let path = if path.is_dir() {
            path.join(RUN_FILE)
        } else {
            path.to_owned()
        };
        let text = std::fs::read(&path).map_err(io("read", &path))?;
        Self::from_json(&text).map_err(|InvalidRun(reason)| ReportError::NotARun { path, reason })
    }

    /// Parses and [validates](Self::validate) the contents of a `run.json`.
    ///
    /// # Errors
    ///
    /// Why the text is not a usable run, as one sentence.
    pub fn from_json(text: &[u8]) -> Result<Self, InvalidRun> {
        let not_a_run = |reason: String| InvalidRun(reason);
        let value: serde_json::Value =
            serde_json::from_slice(text).map_err(|e| not_a_run(format!("invalid JSON ({e})")))?;
        match value.get("schema").and_then(|s| s.as_str()) {
            Some(RUN_SCHEMA) => {}
            Some(other) => {
                return Err(not_a_run(format!(
                    "schema `{other}`, expected `{RUN_SCHEMA}`"
                )))
            }
            None => return Err(not_a_run("no `schema` field".into())),
        }
        let run: Self = serde_json::from_value(value).map_err(|e| not_a_run(e.to_string()))?;
        run.validate()?;
        Ok(run)
    }
}
