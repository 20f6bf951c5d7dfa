//! Whether a run read from a file is one opmon could have written.
//!
//! `run.json` is edited by hand, truncated by full disks and passed between
//! machines. Everything downstream (tables, comparisons, merges, pages)
//! relies on the checks here instead of re-checking: counts that add up,
//! sizes bounded by the file itself, times that parse.

use super::{decode_histogram, OperationReport, RunResult, RUN_SCHEMA};
use crate::load::TIMELINE_SECONDS;

/// The largest count a run may hold: a million operations a second for
/// nine years. Summing thousands of such runs still fits in a `u64`.
pub const MAX_COUNT: u64 = 1 << 48;
/// The most cores or worker threads one machine may report.
const MAX_CORES: usize = 1 << 20;

/// Why a run cannot be used: one sentence, without the file's name.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidRun(pub String);

fn invalid(reason: String) -> Result<(), InvalidRun> {
    Err(InvalidRun(reason))
}

fn count(what: &str, value: u64) -> Result<(), InvalidRun> {
    if value > MAX_COUNT {
        return invalid(format!("{what} is {value}, more than a run can record"));
    }
    Ok(())
}

fn cores(what: &str, value: usize) -> Result<(), InvalidRun> {
    if value > MAX_CORES {
        return invalid(format!("{what} is {value}, more than one machine has"));
    }
    Ok(())
}

fn time(what: &str, value: &str) -> Result<(), InvalidRun> {
    if humantime::parse_rfc3339_weak(value).is_err() {
        return invalid(format!("{what} `{value}` is not an RFC 3339 time"));
    }
    Ok(())
}

fn seconds(what: &str, value: f64) -> Result<(), InvalidRun> {
    if !(value.is_finite() && value >= 0.0) {
        return invalid(format!("{what} is {value}, not a duration"));
    }
    Ok(())
}

impl RunResult {
    /// Checks that the run is consistent and bounded: a known schema,
    /// times that parse, successes and failures that add up to the
    /// attempts, dense per-second timelines no longer than a recorder
    /// keeps, and histograms that decode within a small memory bound.
    /// [`RunResult::read`] calls it on every file it reads.
    ///
    /// # Errors
    ///
    /// The first problem found, as one sentence.
    pub fn validate(&self) -> Result<(), InvalidRun> {
        if self.schema != RUN_SCHEMA {
            return invalid(format!("schema `{}`, expected `{RUN_SCHEMA}`", self.schema));
        }
        time("started_at", &self.started_at)?;
        time("finished_at", &self.finished_at)?;
        time("window_started_at", &self.window_started_at)?;
        let window = &self.window;
        seconds("the measured window", window.measured_s)?;
        seconds("the warm-up", window.warmup_s)?;
        count("warmup_ops", window.warmup_ops)?;
        count("started_ops", window.started_ops)?;
        count("abandoned_ops", window.abandoned_ops as u64)?;
        count("skipped_ops", window.skipped_ops)?;
        let made = &self.provisioning;
        count("provisioned identities", made.identities as u64)?;
        count("provisioned groups", made.groups as u64)?;
        count("replacement groups", made.replacement_groups as u64)?;
        cores("environment cores", self.environment.cores)?;
        cores("environment threads", self.environment.threads.unwrap_or(0))?;
        cores("resources cores", self.resources.cores)?;
        for part in &self.merged_from {
            time("a part's window_started_at", &part.window_started_at)?;
            seconds("a part's measured window", part.window.measured_s)?;
            cores("a part's cores", part.environment.cores)?;
            cores("a part's threads", part.environment.threads.unwrap_or(0))?;
            cores("a part's resources cores", part.resources.cores)?;
        }
        for (i, stage) in self.stages.iter().enumerate() {
            let what = |field: &str| format!("stage {}'s {field}", i + 1);
            seconds(&what("start"), stage.start_s)?;
            seconds(&what("end"), stage.end_s)?;
            seconds(&what("measured time"), stage.measured_s)?;
            seconds(&what("achieved rate"), stage.achieved_rate_per_s)?;
            seconds(&what("target rate"), stage.target_rate_per_s.unwrap_or(0.0))?;
            count(&what("warm-up operations"), stage.warmup_ops)?;
            stage.operations.iter().try_for_each(validate_operation)?;
        }
        self.operations.iter().try_for_each(validate_operation)
    }
}

fn validate_operation(op: &OperationReport) -> Result<(), InvalidRun> {
    let name = &op.operation;
    count(&format!("{name} attempts"), op.attempts)?;
    if op.ok > op.attempts {
        return invalid(format!(
            "{name} has more successes ({}) than attempts ({})",
            op.ok, op.attempts
        ));
    }
    let failed = op.attempts - op.ok;
    // Each class is at most `failed`, so with `failed` below MAX_COUNT a
    // saturating sum can only reach past it when the classes disagree.
    let by_class = op
        .errors
        .values()
        .fold(0u64, |sum, n| sum.saturating_add(*n));
    if by_class != failed {
        return invalid(format!(
            "{name} has {failed} failures but its errors by class add up to {by_class}"
        ));
    }
    if op.timeline.len() > TIMELINE_SECONDS {
        return invalid(format!(
            "{name} has a timeline of {} seconds, more than the {TIMELINE_SECONDS} a run keeps",
            op.timeline.len()
        ));
    }
    let (mut ok, mut errors) = (0u64, 0u64);
    for (at, point) in op.timeline.iter().enumerate() {
        // Dense timelines keep any later merge proportional to the file.
        if point.second != at as u64 {
            return invalid(format!(
                "{name} has timeline second {} at position {at}, where second {at} belongs",
                point.second
            ));
        }
        ok = ok.saturating_add(point.ok);
        errors = errors.saturating_add(point.errors);
    }
    if ok > op.ok || errors > failed {
        return invalid(format!(
            "{name} has a timeline with {ok} successes and {errors} failures, more than its totals ({} and {failed})",
            op.ok
        ));
    }
    let phases = op.phases.iter().map(|phase| {
        count(&format!("{name} {} successes", phase.phase), phase.ok)?;
        count(&format!("{name} {} failures", phase.phase), phase.failed)?;
        Ok((format!("{} phase", phase.phase), &phase.duration_us))
    });
    let histograms = [
        Ok(("response".to_owned(), &op.histograms.response_us)),
        Ok(("service".to_owned(), &op.histograms.service_us)),
    ];
    for histogram in histograms.into_iter().chain(phases) {
        let (which, text) = histogram?;
        // An empty histogram is one that could not be written; readers
        // treat it as missing.
        if !text.is_empty() {
            if let Err(reason) = decode_histogram(text) {
                return invalid(format!(
                    "{name} has an unusable {which} histogram ({reason})"
                ));
            }
        }
    }
    Ok(())
}
