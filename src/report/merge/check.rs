//! Whether runs can be merged: enough of them, each once, same schema,
//! same configuration.
//!
//! Parameters are compared as the text a person would read, so the refusal
//! can quote both values. Rust prints floats in their shortest form that
//! reads back to the same number, so two different rates never print alike.

use std::collections::{BTreeMap, BTreeSet};

use super::MergeError;
use crate::report::{Parameters, RunResult, Target, RUN_SCHEMA};

/// Refuses fewer than two runs, foreign schemas, a run id given twice, or
/// runs configured differently from the first.
pub(super) fn compatible(runs: &[RunResult]) -> Result<(), MergeError> {
    if runs.len() < 2 {
        return Err(MergeError::TooFew(runs.len()));
    }
    if let Some(run) = runs.iter().find(|run| run.schema != RUN_SCHEMA) {
        return Err(MergeError::Schema {
            run: run.run_id.clone(),
            schema: run.schema.clone(),
        });
    }
    distinct(runs.iter().map(|run| run.run_id.as_str()))?;
    if let Some(run) = runs.iter().find(|run| !run.stages.is_empty()) {
        return Err(MergeError::Staged(run.run_id.clone()));
    }
    let first = &runs[0];
    for other in &runs[1..] {
        if let Some((parameter, first_value, other_value)) =
            first_difference(&first.parameters, &other.parameters)
        {
            return Err(MergeError::Parameter {
                parameter,
                first: first.run_id.clone(),
                first_value,
                other: other.run_id.clone(),
                other_value,
            });
        }
    }
    Ok(())
}

/// The seconds covered by at least one of `windows` (start, end), one per
/// run; refuses a gap between them unless `force`.
pub(super) fn measured_union(
    runs: &[RunResult],
    windows: &[(f64, f64)],
    force: bool,
) -> Result<f64, MergeError> {
    let mut order: Vec<usize> = (0..windows.len()).collect();
    order.sort_by(|a, b| windows[*a].0.total_cmp(&windows[*b].0));
    let (mut union, mut reach, mut reached_by) = (0.0, windows[order[0]].0, order[0]);
    for i in order {
        let (start, end) = windows[i];
        if start > reach {
            if !force {
                return Err(MergeError::Apart {
                    earlier: runs[reached_by].run_id.clone(),
                    later: runs[i].run_id.clone(),
                    gap_s: start - reach,
                });
            }
            reach = start;
        }
        if end > reach {
            union += end - reach;
            reach = end;
            reached_by = i;
        }
    }
    Ok(union)
}

/// Refuses the first id seen twice.
pub(super) fn distinct<'a>(ids: impl Iterator<Item = &'a str>) -> Result<(), MergeError> {
    let mut seen = BTreeSet::new();
    for id in ids {
        if !seen.insert(id) {
            return Err(MergeError::Duplicate(id.to_owned()));
        }
    }
    Ok(())
}

/// A shown parameter: its name and how to print it.
type Shown = (&'static str, fn(&Parameters) -> String);

/// The parameters that must agree, in the order they are checked.
const MUST_AGREE: [Shown; 15] = [
    ("api", |p| p.api.clone()),
    ("target", |p| p.target.kind.clone()),
    ("target env", |p| optional(p.target.env.as_ref())),
    ("scenario", |p| p.scenario.clone()),
    ("weights", |p| pairs(&p.weights)),
    ("group size", |p| p.group_size.to_string()),
    ("add", |p| p.add.to_string()),
    ("load model", |p| p.load_model.clone()),
    ("visibility", |p| optional(p.visibility.as_ref())),
    ("concurrency", |p| optional(p.concurrency)),
    ("rate", |p| optional(p.rate.map(|rate| format!("{rate}/s")))),
    ("duration", |p| {
        optional(p.duration_s.map(|s| format!("{s}s")))
    }),
    ("ops", |p| optional(p.ops)),
    ("warm-up", |p| format!("{}s", p.warmup_s)),
    ("faults", |p| pairs(&p.faults)),
];

/// The first parameter `a` and `b` disagree on, with both values.
fn first_difference(a: &Parameters, b: &Parameters) -> Option<(&'static str, String, String)> {
    // Spelled out so that a new parameter fails to compile until it is
    // either checked above or knowingly allowed to differ.
    let Parameters {
        api: _,
        target:
            Target {
                kind: _,
                env: _,
                node: _,
                gateway: _,
            },
        scenario: _,
        weights: _,
        group_size: _,
        add: _,
        load_model: _,
        concurrency: _,
        rate: _,
        stages: _,
        visibility: _,
        duration_s: _,
        ops: _,
        warmup_s: _,
        seed: _,
        tags: _,
        faults: _,
    } = a;
    MUST_AGREE.iter().find_map(|(name, show)| {
        let (a, b) = (show(a), show(b));
        (a != b).then_some((*name, a, b))
    })
}

fn optional<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "none".to_owned(), |v| v.to_string())
}

fn pairs<V: ToString>(map: &BTreeMap<String, V>) -> String {
    if map.is_empty() {
        return "none".to_owned();
    }
    map.iter()
        .map(|(key, value)| format!("{key}={}", value.to_string()))
        .collect::<Vec<_>>()
        .join(",")
}
