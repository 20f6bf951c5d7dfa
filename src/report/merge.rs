//! Merging runs made on several machines at the same time.
//!
//! One load generator rarely loads a network enough on its own, so a
//! benchmark is often started on several machines at once, each writing its
//! own `run.json`. Because every run carries its full HDR histograms, the
//! runs can be combined *exactly*: adding two histograms bucket by bucket
//! gives the histogram a single machine would have recorded had it seen
//! every operation. The merged percentiles are therefore the true
//! percentiles of all operations — not an average of per-machine
//! percentiles, which has no meaning.
//!
//! [`merge_runs`] documents what is combined and how, and when runs are
//! refused.

mod check;
mod ops;
#[cfg(test)]
mod tests;

use std::time::SystemTime;

use super::{Environment, ProvisioningReport, Resources, RunPart, RunResult, Window, RUN_SCHEMA};

/// Why runs could not be merged. Each message is one sentence naming the
/// run at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MergeError {
    /// Fewer than two runs were given.
    #[error("cannot merge: at least two runs are needed, {0} given")]
    TooFew(usize),
    /// A run has a schema this version does not merge.
    #[error("cannot merge: run {run} has schema `{schema}`, expected `{RUN_SCHEMA}`")]
    Schema {
        /// The run's id.
        run: String,
        /// Its schema.
        schema: String,
    },
    /// A run has stages, which are not merged stage by stage yet.
    #[error("cannot merge: run {0} has stages (a staged run or a capacity search), and stages are not merged yet")]
    Staged(String),
    /// The same run appears twice (directly or inside a merged run).
    #[error("cannot merge: run {0} is given twice")]
    Duplicate(String),
    /// Two runs were configured differently.
    #[error(
        "cannot merge: run {other} used {parameter} `{other_value}`, run {first} `{first_value}`"
    )]
    Parameter {
        /// The first parameter that differs, e.g. `scenario`.
        parameter: &'static str,
        /// The first run's id.
        first: String,
        /// Its value there.
        first_value: String,
        /// The differing run's id.
        other: String,
        /// Its value there.
        other_value: String,
    },
    /// A timestamp could not be read.
    #[error("cannot merge: run {run} has {field} `{value}`, which is not an RFC 3339 time")]
    Time {
        /// The run's id.
        run: String,
        /// The field, e.g. `window_started_at`.
        field: &'static str,
        /// What it holds.
        value: String,
    },
    /// A run's window began after every earlier one had ended, so the runs
    /// never loaded the target together.
    #[error(
        "cannot merge: run {later}'s window opens {gap_s:.1} s after run {earlier}'s closed, so they never ran together (--force merges them anyway)"
    )]
    Apart {
        /// The run whose window closed last before the gap.
        earlier: String,
        /// The run that started after the gap.
        later: String,
        /// Seconds between them.
        gap_s: f64,
    },
    /// A histogram could not be decoded or added.
    #[error(
        "cannot merge: run {run} has an unusable {operation} {histogram} histogram ({reason})"
    )]
    Histogram {
        /// The run's id.
        run: String,
        /// The operation.
        operation: String,
        /// `response`, `service`, or a phase's (`key_package.publish phase`).
        histogram: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Combines runs of the same scenario, made at the same time on several
/// machines, into one run.
///
/// How each part of a run is combined:
///
/// - **Counts** (attempts, successes, errors by class, window and
///   provisioning counters) are summed.
/// - **Histograms** are added; percentiles are read from the sums.
/// - **Throughput**: the machines ran at the same time, so their rates add
///   up: the merged window runs from the earliest window start to the
///   latest window end, and throughput is all successes over that span.
///   Runs whose windows leave a gap (merged only with
///   [`MergeOptions::force`]) count the measured seconds only, the length of
///   the union of their windows, so the gap does not dilute the rate.
/// - **Timelines** are aligned on the wall clock: a run's second 0 moves by
///   the distance of its window start from the earliest one, rounded to
///   whole seconds. Per merged second, counts are summed, the mean response
///   time is weighted by successes and the maximum is the largest. Like a
///   recorder's, the merged timeline stops after
///   [`TIMELINE_SECONDS`](crate::load::TIMELINE_SECONDS); later operations
///   still count in the totals.
/// - **Resources** do not add up across machines, so each machine's
///   environment, window and CPU/memory figures stay in
///   [`RunResult::merged_from`]; the top level only says whether any client
///   was saturated. Merging a merged run flattens its parts into the list.
/// - **Thresholds** are dropped: they were checked against each run's own
///   figures and are not re-evaluated here.
/// - **The rest**: a new run id, stable for the same parts; the earliest
///   start and the latest finish; complete only if every run was; an
///   environment field the machines disagree on reads `mixed`, cores are
///   totalled; provisioning seconds are the longest, since the machines
///   provisioned side by side.
///
/// Runs are merged only when they measured the same thing: equal
/// parameters, except where each machine sent its traffic
/// (`target.node`, `target.gateway`), its seed, and its tags. The merged
/// run keeps the first run's URLs and seed, and only the tags every run
/// agrees on.
///
/// # Errors
///
/// A [`MergeError`] for fewer than two runs, a run given twice (also
/// inside a merged run), differing parameters, windows with a gap between
/// them (unless forced), or an unreadable time or histogram.
pub fn merge_runs(runs: &[RunResult]) -> Result<RunResult, MergeError> {
    merge_runs_with(runs, MergeOptions::default())
}

/// What [`merge_runs_with`] lets through.
#[derive(Debug, Clone, Copy, Default)]
pub struct MergeOptions {
    /// Merge runs whose windows leave a gap between them.
    pub force: bool,
}

/// [`merge_runs`], with options.
///
/// # Errors
///
/// As [`merge_runs`], without the gap refusal when forced.
pub fn merge_runs_with(runs: &[RunResult], options: MergeOptions) -> Result<RunResult, MergeError> {
    check::compatible(runs)?;
    let parts: Vec<RunPart> = runs.iter().flat_map(parts_of).collect();
    check::distinct(parts.iter().map(|part| part.run_id.as_str()))?;

    let window_starts = times(runs, "window_started_at", |run| &run.window_started_at)?;
    let earliest = *window_starts.iter().min().expect("at least two runs");
    let since_earliest = |at: SystemTime| {
        at.duration_since(earliest)
            .unwrap_or_default()
            .as_secs_f64()
    };
    // Whole seconds, because timeline points are whole seconds.
    let offsets: Vec<u64> = window_starts
        .iter()
        .map(|at| since_earliest(*at).round() as u64)
        .collect();
    let windows: Vec<(f64, f64)> = runs
        .iter()
        .zip(&window_starts)
        .map(|(run, at)| {
            let start = since_earliest(*at);
            (start, start + run.window.measured_s.max(0.0))
        })
        .collect();
    let span_s = check::measured_union(runs, &windows, options.force)?;

    let first = &runs[0];
    let mut parameters = first.parameters.clone();
    parameters.tags.retain(|key, value| {
        runs.iter()
            .all(|run| run.parameters.tags.get(key) == Some(value))
    });
    Ok(RunResult {
        schema: RUN_SCHEMA.to_owned(),
        run_id: merged_id(&parts),
        started_at: pick(runs, "started_at", |run| &run.started_at, |a, b| a < b)?,
        finished_at: pick(runs, "finished_at", |run| &run.finished_at, |a, b| a > b)?,
        window_started_at: pick(
            runs,
            "window_started_at",
            |run| &run.window_started_at,
            |a, b| a < b,
        )?,
        complete: runs.iter().all(|run| run.complete),
        end_reason: end_reason(runs),
        environment: environment(&parts),
        provisioning: provisioning(runs),
        window: Window {
            warmup_s: parameters.warmup_s,
            measured_s: span_s,
            warmup_ops: runs.iter().map(|run| run.window.warmup_ops).sum(),
            started_ops: runs.iter().map(|run| run.window.started_ops).sum(),
            abandoned_ops: runs.iter().map(|run| run.window.abandoned_ops).sum(),
            skipped_ops: runs.iter().map(|run| run.window.skipped_ops).sum(),
        },
        operations: ops::merge(runs, &offsets, span_s)?,
        resources: Resources {
            cores: parts.iter().map(|part| part.resources.cores).sum(),
            client: None,
            node: None,
            client_saturated: parts.iter().any(|part| part.resources.client_saturated),
            samples: Vec::new(),
        },
        thresholds: Vec::new(),
        stages: Vec::new(),
        capacity: None,
        parameters,
        merged_from: parts,
    })
}

/// The machines behind `run`: itself, or the parts it was merged from.
fn parts_of(run: &RunResult) -> Vec<RunPart> {
    if !run.merged_from.is_empty() {
        return run.merged_from.clone();
    }
    vec![RunPart {
        run_id: run.run_id.clone(),
        window_started_at: run.window_started_at.clone(),
        environment: run.environment.clone(),
        window: run.window.clone(),
        resources: run.resources.clone(),
    }]
}

/// `field` of every run, as a time.
fn times(
    runs: &[RunResult],
    field: &'static str,
    get: impl Fn(&RunResult) -> &String,
) -> Result<Vec<SystemTime>, MergeError> {
    runs.iter()
        .map(|run| {
            humantime::parse_rfc3339_weak(get(run)).map_err(|_| MergeError::Time {
                run: run.run_id.clone(),
                field,
                value: get(run).clone(),
            })
        })
        .collect()
}

/// The text of the time `field` that `better` prefers over all others.
fn pick(
    runs: &[RunResult],
    field: &'static str,
    get: impl Fn(&RunResult) -> &String + Copy,
    better: impl Fn(SystemTime, SystemTime) -> bool,
) -> Result<String, MergeError> {
    let at = times(runs, field, get)?;
    let best = (1..runs.len()).fold(0, |best, i| if better(at[i], at[best]) { i } else { best });
    Ok(get(&runs[best]).clone())
}

/// `merged-<first part>-<parts>-<hash of all parts>`: stable for the same
/// inputs, different for different ones.
fn merged_id(parts: &[RunPart]) -> String {
    // FNV-1a, folded to 16 bits: short, and the same on every platform.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in parts.iter().flat_map(|part| part.run_id.bytes().chain([0])) {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    let short = (hash ^ (hash >> 16) ^ (hash >> 32) ^ (hash >> 48)) & 0xffff;
    format!("merged-{}-{}-{short:04x}", parts[0].run_id, parts.len())
}

fn end_reason(runs: &[RunResult]) -> String {
    match runs.iter().find(|run| !run.complete) {
        // A merged run's reason already names its part.
        Some(run) if !run.merged_from.is_empty() => run.end_reason.clone(),
        Some(run) => format!("run {}: {}", run.run_id, run.end_reason),
        None => format!("merged {} runs", runs.len()),
    }
}

/// What the machines share; a field they disagree on reads `mixed`, and
/// cores and threads are counted over all machines.
fn environment(parts: &[RunPart]) -> Environment {
    let agreed = |get: fn(&Environment) -> &String| {
        let first = get(&parts[0].environment);
        if parts.iter().all(|part| get(&part.environment) == first) {
            first.clone()
        } else {
            "mixed".to_owned()
        }
    };
    Environment {
        opmon_version: agreed(|e| &e.opmon_version),
        os: agreed(|e| &e.os),
        arch: agreed(|e| &e.arch),
        cores: parts.iter().map(|part| part.environment.cores).sum(),
        threads: parts.iter().map(|part| part.environment.threads).sum(),
    }
}

/// Summed counts; the seconds are the longest, since the machines
/// provisioned at the same time.
fn provisioning(runs: &[RunResult]) -> ProvisioningReport {
    let all = runs.iter().map(|run| &run.provisioning);
    ProvisioningReport {
        identities: all.clone().map(|p| p.identities).sum(),
        groups: all.clone().map(|p| p.groups).sum(),
        replacement_groups: all.clone().map(|p| p.replacement_groups).sum(),
        seconds: all.map(|p| p.seconds).fold(0.0, f64::max),
    }
}
