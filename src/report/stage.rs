//! Stages in a run file: a staged run's stages and a capacity search's
//! steps, each with the same per-operation figures as the whole run.
//!
//! A stage's operations are those whose start was *scheduled* inside its
//! measured part, so every measured operation belongs to exactly one
//! stage and the stages' histograms add up to the run's.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::OperationReport;
use crate::client::OpKind;
use crate::load::{Level, OpStats, StageStats};

/// One stage of a staged run, or one step of a capacity search.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StageReport {
    /// Seconds from the opening of the run's measured window to the start
    /// of the stage's measured part.
    pub start_s: f64,
    /// Seconds from the opening of the window to the stage's planned end.
    pub end_s: f64,
    /// As written on the command line: `200/s` or `c=16`.
    pub target: String,
    /// The rate ramped to or held (open model).
    pub target_rate_per_s: Option<f64>,
    /// The workers (closed model).
    pub target_concurrency: Option<usize>,
    /// Operations scheduled in the stage's own warm-up, left out.
    pub warmup_ops: u64,
    /// Seconds the measured part lasted: to the stage's planned end or to
    /// the end of its last operation, whichever is later.
    pub measured_s: f64,
    /// Operations per second over the measured part: below the target
    /// when the target (or the load generator) fell behind.
    pub achieved_rate_per_s: f64,
    /// Per operation, as in the whole run but without timelines.
    pub operations: Vec<OperationReport>,
    /// For a capacity-search step: whether every rule held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passed: Option<bool>,
    /// For a capacity-search step: the rules it broke, with what was seen.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub breaches: Vec<String>,
}

impl StageReport {
    /// The report of `stage`, placed relative to the window opened at
    /// `window_start`.
    pub fn from_stats(stage: &StageStats, window_start: Instant) -> Self {
        let since = |at: Instant| at.saturating_duration_since(window_start).as_secs_f64();
        let until = stage
            .last_done
            .map_or(stage.end, |done| done.max(stage.end));
        let measured_s = until
            .saturating_duration_since(stage.measured_from)
            .as_secs_f64();
        let attempts: u64 = stage.stats.values().map(|s| s.attempts).sum();
        Self {
            start_s: since(stage.measured_from),
            end_s: since(stage.end),
            target: stage.target.to_string(),
            target_rate_per_s: match stage.target {
                Level::Rate(rate) => Some(rate),
                Level::Concurrency(_) => None,
            },
            target_concurrency: match stage.target {
                Level::Concurrency(workers) => Some(workers),
                Level::Rate(_) => None,
            },
            warmup_ops: stage.warmup,
            measured_s,
            achieved_rate_per_s: super::run::per_second(attempts, measured_s),
            operations: operation_reports(&stage.stats, measured_s),
            passed: None,
            breaches: Vec::new(),
        }
    }

    /// The stage's figures for one operation, if it ran any.
    pub fn operation(&self, name: &str) -> Option<&OperationReport> {
        self.operations.iter().find(|op| op.operation == name)
    }
}

/// Per-operation reports over `measured_s` seconds, in documentation order.
pub fn operation_reports(
    stats: &BTreeMap<OpKind, OpStats>,
    measured_s: f64,
) -> Vec<OperationReport> {
    OpKind::ALL
        .iter()
        .filter_map(|kind| {
            let stats = stats.get(kind)?;
            Some(OperationReport::from_stats(
                kind.as_str(),
                stats,
                measured_s,
            ))
        })
        .collect()
}

/// What a capacity search found.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CapacityReport {
    /// The rules every step was held to, as written.
    pub rules: Vec<String>,
    /// `found`, `below_lowest` (even the lowest rate broke a rule),
    /// `generator_saturated` (the load generator's CPU ran out first) or
    /// `max_rate` (every rate up to `--max-rate` held).
    pub outcome: String,
    /// The highest rate at which every rule held, if any did.
    pub capacity_per_s: Option<f64>,
    /// The lowest rate that broke a rule, if any did.
    pub broken_at_per_s: Option<f64>,
    /// The verdict in one sentence.
    pub verdict: String,
    /// What may have disturbed the search, such as a machine kept busy by
    /// other processes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caution: Option<String>,
}
