//! Which runs `opmon compare` reads, and how `--by TAG` splits them.
//!
//! A path names one run (its `run.json` or its results directory) or a
//! directory of results directories, read in name order, so a side can be
//! a whole directory of runs without a shell glob.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail};
use xmtp_opmon::report::{RunResult, RUN_FILE};

/// How deep below a given directory runs are looked for.
const MAX_DEPTH: usize = 4;

/// Every run named by `paths`.
pub fn read_runs(paths: &[PathBuf]) -> anyhow::Result<Vec<RunResult>> {
    let mut runs = Vec::new();
    for path in paths {
        let mut found = Vec::new();
        find(path, MAX_DEPTH, &mut found)?;
        if found.is_empty() {
            bail!("{} holds no {RUN_FILE}", path.display());
        }
        for run in found {
            runs.push(RunResult::read(&run)?);
        }
    }
    Ok(runs)
}

fn find(path: &Path, depth: usize, found: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    if !path.is_dir() || path.join(RUN_FILE).exists() {
        // A file, or a results directory; reading it reports what is wrong.
        found.push(path.to_owned());
        return Ok(());
    }
    if depth == 0 {
        return Ok(());
    }
    let entries =
        std::fs::read_dir(path).map_err(|e| anyhow!("cannot list {}: {e}", path.display()))?;
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|entry| entry.is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        find(&dir, depth - 1, found)?;
    }
    Ok(())
}

/// The value of `tag` in a run: one of its tags, or else the API it
/// measured (`--by api` splits untagged V3 and V4 runs).
fn value_of<'a>(run: &'a RunResult, tag: &str) -> Option<&'a str> {
    match run.parameters.tags.get(tag) {
        Some(value) => Some(value),
        None if tag == "api" => Some(&run.parameters.api),
        None => None,
    }
}

/// Splits runs into base and candidate by the two values of `tag`: the
/// base is `base_value` if given, else the value first in sort order.
pub fn split_by(
    runs: Vec<RunResult>,
    tag: &str,
    base_value: Option<&str>,
) -> anyhow::Result<(Vec<RunResult>, Vec<RunResult>)> {
    let mut sides: BTreeMap<String, Vec<RunResult>> = BTreeMap::new();
    for run in runs {
        let value = value_of(&run, tag)
            .ok_or_else(|| anyhow!("run {} has no tag {tag}", run.run_id))?
            .to_owned();
        sides.entry(value).or_default().push(run);
    }
    if sides.len() != 2 {
        let values: Vec<&str> = sides.keys().map(String::as_str).collect();
        bail!(
            "--by {tag} needs runs with exactly two values of {tag}, found {}: {}",
            values.len(),
            values.join(", ")
        );
    }
    let base_value = match base_value {
        Some(value) if sides.contains_key(value) => value.to_owned(),
        Some(value) => bail!("no run has {tag}={value}"),
        None => sides.keys().next().cloned().unwrap_or_default(),
    };
    let base = sides.remove(&base_value).unwrap_or_default();
    let candidate = sides.into_values().next().unwrap_or_default();
    Ok((base, candidate))
}
