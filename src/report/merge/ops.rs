//! One operation's figures over several runs.
//!
//! Everything is rebuilt from what adds up exactly — counts, histograms,
//! per-second sums — and the derived figures (rates, percentiles, means)
//! are computed again from those, never averaged.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use super::MergeError;
use crate::client::OpKind;
use crate::load::{new_histogram, new_phase_histogram, TIMELINE_SECONDS};
use crate::report::{
    decode_histogram, encode_histogram, Histograms, OperationReport, Percentiles, PhaseReport,
    RunResult, TimelinePoint,
};

/// Sums for one operation.
struct Sum {
    operation: String,
    attempts: u64,
    ok: u64,
    errors: BTreeMap<String, u64>,
    response_us: Histogram<u64>,
    service_us: Histogram<u64>,
    max_lag_ms: f64,
    timeline: Vec<Second>,
    phases: BTreeMap<String, PhaseSum>,
}

/// Sums for one phase of one operation.
struct PhaseSum {
    ok: u64,
    failed: u64,
    duration_us: Histogram<u64>,
}

/// One merged second: the response-time sum rebuilt from each part's mean,
/// so the merged mean is weighted by successes.
#[derive(Clone, Copy, Default)]
struct Second {
    ok: u64,
    errors: u64,
    response_sum_ms: f64,
    max_response_ms: f64,
}

impl Sum {
    fn new(operation: &str) -> Self {
        Self {
            operation: operation.to_owned(),
            attempts: 0,
            ok: 0,
            errors: BTreeMap::new(),
            response_us: growing(new_histogram()),
            service_us: growing(new_histogram()),
            max_lag_ms: 0.0,
            timeline: Vec::new(),
            phases: BTreeMap::new(),
        }
    }

    /// Adds `op` from `run`, its timeline moved `offset` seconds later.
    fn add(
        &mut self,
        run: &RunResult,
        op: &OperationReport,
        offset: u64,
    ) -> Result<(), MergeError> {
        // Saturating: merge_runs also takes runs that were never validated.
        self.attempts = self.attempts.saturating_add(op.attempts);
        self.ok = self.ok.saturating_add(op.ok);
        for (class, count) in &op.errors {
            let sum = self.errors.entry(class.clone()).or_default();
            *sum = sum.saturating_add(*count);
        }
        add_histogram(
            &mut self.response_us,
            run,
            op,
            "response",
            &op.histograms.response_us,
        )?;
        add_histogram(
            &mut self.service_us,
            run,
            op,
            "service",
            &op.histograms.service_us,
        )?;
        for phase in &op.phases {
            let sum = self
                .phases
                .entry(phase.phase.clone())
                .or_insert_with(|| PhaseSum {
                    ok: 0,
                    failed: 0,
                    duration_us: growing(new_phase_histogram()),
                });
            sum.ok = sum.ok.saturating_add(phase.ok);
            sum.failed = sum.failed.saturating_add(phase.failed);
            let which = format!("{} phase", phase.phase);
            add_histogram(&mut sum.duration_us, run, op, &which, &phase.duration_us)?;
        }
        self.max_lag_ms = self.max_lag_ms.max(op.max_schedule_lag_ms);
        for point in &op.timeline {
            // Bounded like a recorder's timeline, whatever the file claims.
            let at = point.second.saturating_add(offset);
            if at >= TIMELINE_SECONDS as u64 {
                continue;
            }
            let at = at as usize;
            if self.timeline.len() <= at {
                self.timeline.resize(at + 1, Second::default());
            }
            let second = &mut self.timeline[at];
            second.ok = second.ok.saturating_add(point.ok);
            second.errors = second.errors.saturating_add(point.errors);
            second.response_sum_ms += point.mean_response_ms * point.ok as f64;
            second.max_response_ms = second.max_response_ms.max(point.max_response_ms);
        }
        Ok(())
    }

    fn report(self, span_s: f64) -> OperationReport {
        let per_second = |count| crate::report::run::per_second(count, span_s);
        OperationReport {
            error_rate: if self.attempts == 0 {
                0.0
            } else {
                self.attempts.saturating_sub(self.ok) as f64 / self.attempts as f64
            },
            throughput_per_s: per_second(self.ok),
            attempts_per_s: per_second(self.attempts),
            response_ms: Percentiles::of(&self.response_us),
            service_ms: Percentiles::of(&self.service_us),
            max_schedule_lag_ms: self.max_lag_ms,
            histograms: Histograms {
                response_us: encode_histogram(&self.response_us),
                service_us: encode_histogram(&self.service_us),
            },
            timeline: self
                .timeline
                .iter()
                .enumerate()
                .map(|(second, s)| TimelinePoint {
                    second: second as u64,
                    ok: s.ok,
                    errors: s.errors,
                    mean_response_ms: if s.ok == 0 {
                        0.0
                    } else {
                        s.response_sum_ms / s.ok as f64
                    },
                    max_response_ms: s.max_response_ms,
                })
                .collect(),
            phases: self
                .phases
                .into_iter()
                .map(|(phase, sum)| PhaseReport::new(phase, sum.ok, sum.failed, &sum.duration_us))
                .collect(),
            operation: self.operation,
            attempts: self.attempts,
            ok: self.ok,
            errors: self.errors,
        }
    }
}

/// `histogram`, growing on demand in case a part was recorded with a
/// wider range.
fn growing(mut histogram: Histogram<u64>) -> Histogram<u64> {
    histogram.auto(true);
    histogram
}

fn add_histogram(
    into: &mut Histogram<u64>,
    run: &RunResult,
    op: &OperationReport,
    histogram: &str,
    text: &str,
) -> Result<(), MergeError> {
    let unusable = |reason: String| MergeError::Histogram {
        run: run.run_id.clone(),
        operation: op.operation.clone(),
        histogram: histogram.to_owned(),
        reason,
    };
    let part = decode_histogram(text).map_err(unusable)?;
    into.add(&part)
        .map_err(|_| unusable("its values do not fit the merged histogram".to_owned()))
}

/// Every operation any run measured, in documentation order; an operation
/// a run did not measure gets nothing from it.
pub(super) fn merge(
    runs: &[RunResult],
    offsets: &[u64],
    span_s: f64,
) -> Result<Vec<OperationReport>, MergeError> {
    let mut sums: Vec<Sum> = Vec::new();
    for (run, offset) in runs.iter().zip(offsets) {
        for op in &run.operations {
            let index = match sums.iter().position(|s| s.operation == op.operation) {
                Some(index) => index,
                None => {
                    sums.push(Sum::new(&op.operation));
                    sums.len() - 1
                }
            };
            sums[index].add(run, op, *offset)?;
        }
    }
    // Operations this version does not know keep their order, after the rest.
    sums.sort_by_key(|s| {
        OpKind::ALL
            .iter()
            .position(|kind| kind.as_str() == s.operation)
            .unwrap_or(OpKind::ALL.len())
    });
    Ok(sums.into_iter().map(|s| s.report(span_s)).collect())
}
