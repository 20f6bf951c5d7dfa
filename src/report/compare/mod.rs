//! Is the candidate better, worse, or the same as the base?
//!
//! Each side is one or more runs of the same benchmark (say, V3 and V4, or
//! yesterday's build and today's). For every operation and every figure —
//! p50, p90, p99, p99.9 and mean response time, error rate, throughput —
//! the comparison gives both values, the change, its 95% confidence
//! interval, the ratio, a p-value and a verdict.
//!
//! A change is called `better` or `worse` only when it is both
//! *significant* (p < 0.05) and *larger than the noise threshold* (2% by
//! default, as machines are noisy); otherwise it is `~`. With at least
//! four runs a side, the runs' figures are compared with a rank test;
//! with fewer, the figures' uncertainty is simulated from the HDR
//! histograms (see [`stats`]).

pub mod stats;

pub(crate) mod format;

use std::collections::BTreeSet;

use hdrhistogram::Histogram;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use super::{decode_histogram, OperationReport, RunResult};
use stats::{
    draw_mean, draw_proportion, draw_quantile, draw_rate, interval_and_p, mann_whitney, median,
    MIN_RUNS_FOR_RANK_TEST, ROUNDS,
};

pub use format::{to_csv, to_json, to_markdown, to_table};

/// Below this p-value a change is significant.
pub const ALPHA: f64 = 0.05;
/// Changes in error rate smaller than this (absolute, 0.1 percentage
/// point) are noise.
pub const ERROR_RATE_NOISE: f64 = 0.001;

/// How to compare.
#[derive(Debug, Clone, Copy)]
pub struct CompareOptions {
    /// Relative changes up to this size are noise (0.02 = 2%).
    pub threshold: f64,
    /// Compare runs even when their parameters differ.
    pub force: bool,
}

impl Default for CompareOptions {
    fn default() -> Self {
        Self {
            threshold: 0.02,
            force: false,
        }
    }
}

/// A figure compared for each operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Figure {
    /// Median response time.
    P50,
    /// 90th percentile response time.
    P90,
    /// 99th percentile response time.
    P99,
    /// 99.9th percentile response time.
    #[serde(rename = "p99_9")]
    P999,
    /// Mean response time.
    Mean,
    /// Failed attempts over attempts.
    ErrorRate,
    /// Successes per second.
    Throughput,
}

impl Figure {
    /// Every figure, in report order.
    pub const ALL: [Figure; 7] = [
        Self::P50,
        Self::P90,
        Self::P99,
        Self::P999,
        Self::Mean,
        Self::ErrorRate,
        Self::Throughput,
    ];

    /// The figure's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::P50 => "p50",
            Self::P90 => "p90",
            Self::P99 => "p99",
            Self::P999 => "p99.9",
            Self::Mean => "mean",
            Self::ErrorRate => "error rate",
            Self::Throughput => "throughput",
        }
    }

    /// The unit values are given in.
    pub fn unit(self) -> &'static str {
        match self {
            Self::ErrorRate => "%",
            Self::Throughput => "ok/s",
            _ => "ms",
        }
    }

    fn quantile(self) -> Option<f64> {
        match self {
            Self::P50 => Some(0.5),
            Self::P90 => Some(0.9),
            Self::P99 => Some(0.99),
            Self::P999 => Some(0.999),
            _ => None,
        }
    }

    /// Whether a rise is an improvement.
    fn higher_is_better(self) -> bool {
        self == Self::Throughput
    }

    /// One run's value, in the figure's unit.
    fn of_run(self, op: &OperationReport) -> f64 {
        match self {
            Self::P50 => op.response_ms.p50,
            Self::P90 => op.response_ms.p90,
            Self::P99 => op.response_ms.p99,
            Self::P999 => op.response_ms.p99_9,
            Self::Mean => op.response_ms.mean,
            Self::ErrorRate => op.error_rate * 100.0,
            Self::Throughput => op.throughput_per_s,
        }
    }
}

/// What a comparison concludes about one figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Significantly better, beyond the noise threshold.
    Better,
    /// Significantly worse, beyond the noise threshold.
    Worse,
    /// No significant change beyond the noise.
    #[serde(rename = "~")]
    Same,
}

impl Verdict {
    /// `better`, `worse` or `~`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Better => "better",
            Self::Worse => "worse",
            Self::Same => "~",
        }
    }
}

/// One figure of one operation, base against candidate.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The operation.
    pub operation: String,
    /// The figure.
    pub figure: Figure,
    /// The figure's unit.
    pub unit: &'static str,
    /// The base's value.
    pub base: f64,
    /// The candidate's value.
    pub candidate: f64,
    /// Relative change (0.1 = +10%); for the error rate, the difference in
    /// percentage points. Absent when the base is zero.
    pub change: Option<f64>,
    /// 95% confidence interval of the change, on the same scale.
    pub interval: Option<(f64, f64)>,
    /// Candidate over base. Absent when the base is zero.
    pub ratio: Option<f64>,
    /// Two-sided p-value of "no change".
    pub p_value: f64,
    /// `mann-whitney` (runs compared) or `bootstrap` (histograms resampled).
    pub method: &'static str,
    /// The conclusion.
    pub verdict: Verdict,
}

/// A whole comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// Run ids of the base side.
    pub base_runs: Vec<String>,
    /// Run ids of the candidate side.
    pub candidate_runs: Vec<String>,
    /// The noise threshold used (0.02 = 2%).
    pub threshold: f64,
    /// One row per operation and figure.
    pub rows: Vec<Row>,
}

impl Comparison {
    /// Whether any figure got significantly worse beyond the threshold.
    pub fn has_regression(&self) -> bool {
        self.rows.iter().any(|row| row.verdict == Verdict::Worse)
    }
}

/// Runs that cannot be compared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot compare: {0}")]
pub struct CompareError(String);

/// Compares `candidate` runs against `base` runs.
pub fn compare(
    base: &[RunResult],
    candidate: &[RunResult],
    options: CompareOptions,
) -> Result<Comparison, CompareError> {
    if base.is_empty() || candidate.is_empty() {
        return Err(CompareError("each side needs at least one run".into()));
    }
    let operations = check_compatible(base, candidate, options.force)?;
    let mut rng = StdRng::seed_from_u64(0x0b5e_55ed);
    let mut rows = Vec::new();
    for operation in operations {
        let a = Side::of(base, &operation)?;
        let b = Side::of(candidate, &operation)?;
        for figure in Figure::ALL {
            rows.push(compare_figure(
                &operation, figure, &a, &b, options, &mut rng,
            ));
        }
    }
    Ok(Comparison {
        base_runs: base.iter().map(|r| r.run_id.clone()).collect(),
        candidate_runs: candidate.iter().map(|r| r.run_id.clone()).collect(),
        threshold: options.threshold,
        rows,
    })
}

/// Parameters that make runs comparable; they must agree unless forced.
fn fingerprint(run: &RunResult) -> [(&'static str, String); 7] {
    let p = &run.parameters;
    [
        ("scenario", p.scenario.clone()),
        ("weights", format!("{:?}", p.weights)),
        ("group size", p.group_size.to_string()),
        ("members added", p.add.to_string()),
        ("load model", p.load_model.clone()),
        ("concurrency", format!("{:?}", p.concurrency)),
        ("rate", format!("{:?}", p.rate)),
    ]
}

fn operations_of(runs: &[RunResult]) -> BTreeSet<String> {
    runs.iter()
        .flat_map(|run| run.operations.iter().map(|op| op.operation.clone()))
        .collect()
}

/// Checks that all runs measured the same thing; returns the operations
/// to compare.
fn check_compatible(
    base: &[RunResult],
    candidate: &[RunResult],
    force: bool,
) -> Result<Vec<String>, CompareError> {
    let (ours, theirs) = (operations_of(base), operations_of(candidate));
    if !force {
        let first = &base[0];
        for other in base.iter().chain(candidate) {
            for ((name, want), (_, got)) in fingerprint(first).iter().zip(fingerprint(other)) {
                if *want != got {
                    return Err(CompareError(format!(
                        "run {} has {name} {got} but run {} has {want} (add --force to compare anyway)",
                        other.run_id, first.run_id
                    )));
                }
            }
        }
        if ours != theirs {
            let list = |set: &BTreeSet<String>| set.iter().cloned().collect::<Vec<_>>().join(", ");
            return Err(CompareError(format!(
                "the base measured {} but the candidate {} (add --force to compare the operations both have)",
                list(&ours),
                list(&theirs)
            )));
        }
    }
    let shared: Vec<String> = ours.intersection(&theirs).cloned().collect();
    if shared.is_empty() {
        return Err(CompareError(
            "the two sides have no operation in common".into(),
        ));
    }
    Ok(shared)
}

/// One side's data for one operation.
struct Side<'a> {
    /// Each run's report of the operation.
    runs: Vec<&'a OperationReport>,
    /// All runs' response times in one histogram.
    pooled: Histogram<u64>,
    attempts: u64,
    ok: u64,
    seconds: f64,
}

impl<'a> Side<'a> {
    fn of(runs: &'a [RunResult], operation: &str) -> Result<Self, CompareError> {
        let mut side = Side {
            runs: Vec::new(),
            pooled: crate::load::new_histogram(),
            attempts: 0,
            ok: 0,
            seconds: 0.0,
        };
        for run in runs {
            let Some(op) = run.operations.iter().find(|op| op.operation == operation) else {
                continue;
            };
            let histogram = decode_histogram(&op.histograms.response_us).map_err(|e| {
                CompareError(format!("run {}: {operation} histogram is {e}", run.run_id))
            })?;
            side.pooled.add(&histogram).map_err(|e| {
                CompareError(format!("run {}: {operation} histogram: {e:?}", run.run_id))
            })?;
            side.attempts += op.attempts;
            side.ok += op.ok;
            side.seconds += run.window.measured_s;
            side.runs.push(op);
        }
        Ok(side)
    }

    /// The pooled value of `figure`.
    fn value(&self, figure: Figure) -> f64 {
        let ms = |us: f64| us / 1000.0;
        match figure.quantile() {
            Some(_) if self.pooled.is_empty() => 0.0,
            Some(q) => ms(self.pooled.value_at_quantile(q) as f64),
            None => match figure {
                Figure::Mean if self.pooled.is_empty() => 0.0,
                Figure::Mean => ms(self.pooled.mean()),
                Figure::ErrorRate if self.attempts == 0 => 0.0,
                Figure::ErrorRate => {
                    (self.attempts - self.ok) as f64 / self.attempts as f64 * 100.0
                }
                _ if self.seconds <= 0.0 => 0.0,
                _ => self.ok as f64 / self.seconds,
            },
        }
    }

    /// One bootstrap draw of `figure`, from the pooled data.
    fn draw(&self, figure: Figure, rng: &mut StdRng) -> f64 {
        match figure.quantile() {
            Some(_) if self.pooled.is_empty() => 0.0,
            Some(q) => draw_quantile(rng, &self.pooled, q) / 1000.0,
            None => match figure {
                Figure::Mean if self.pooled.is_empty() => 0.0,
                Figure::Mean => draw_mean(rng, &self.pooled) / 1000.0,
                Figure::ErrorRate => {
                    draw_proportion(rng, self.attempts - self.ok, self.attempts) * 100.0
                }
                _ => draw_rate(rng, self.ok, self.seconds),
            },
        }
    }

    /// Each run's value of `figure`.
    fn per_run(&self, figure: Figure) -> Vec<f64> {
        self.runs.iter().map(|op| figure.of_run(op)).collect()
    }
}

/// The change from `base` to `candidate` on the figure's scale: relative
/// for most, absolute percentage points for the error rate.
fn change(figure: Figure, base: f64, candidate: f64) -> Option<f64> {
    if figure == Figure::ErrorRate {
        Some(candidate - base)
    } else if base > 0.0 {
        Some(candidate / base - 1.0)
    } else {
        None
    }
}

fn compare_figure(
    operation: &str,
    figure: Figure,
    a: &Side<'_>,
    b: &Side<'_>,
    options: CompareOptions,
    rng: &mut StdRng,
) -> Row {
    let rank_test =
        a.runs.len() >= MIN_RUNS_FOR_RANK_TEST && b.runs.len() >= MIN_RUNS_FOR_RANK_TEST;
    let (base, candidate, p_value, draws) = if rank_test {
        let (xs, ys) = (a.per_run(figure), b.per_run(figure));
        // Resample the runs of each side to see how far the medians move.
        let draws: Vec<Option<f64>> = (0..ROUNDS)
            .map(|_| {
                let pick = |values: &[f64], rng: &mut StdRng| {
                    let sample: Vec<f64> = (0..values.len())
                        .map(|_| values[rng.gen_range(0..values.len())])
                        .collect();
                    median(&sample)
                };
                let (x, y) = (pick(&xs, rng), pick(&ys, rng));
                change(figure, x, y)
            })
            .collect();
        (
            median(&xs),
            median(&ys),
            Some(mann_whitney(&xs, &ys)),
            draws,
        )
    } else {
        let draws = (0..ROUNDS)
            .map(|_| change(figure, a.draw(figure, rng), b.draw(figure, rng)))
            .collect();
        (a.value(figure), b.value(figure), None, draws)
    };
    let point = change(figure, base, candidate);
    let usable: Vec<f64> = draws.into_iter().flatten().collect();
    let (interval, bootstrap_p) = if point.is_some() && !usable.is_empty() {
        let (interval, p) = interval_and_p(usable);
        (Some(interval), p)
    } else {
        (None, 1.0)
    };
    let p_value = p_value.unwrap_or(bootstrap_p);
    let noise = if figure == Figure::ErrorRate {
        ERROR_RATE_NOISE * 100.0
    } else {
        options.threshold
    };
    let verdict = match point {
        Some(delta) if p_value < ALPHA && delta.abs() > noise => {
            if (delta > 0.0) == figure.higher_is_better() {
                Verdict::Better
            } else {
                Verdict::Worse
            }
        }
        _ => Verdict::Same,
    };
    Row {
        operation: operation.to_owned(),
        figure,
        unit: figure.unit(),
        base,
        candidate,
        change: point,
        interval,
        ratio: (base > 0.0).then(|| candidate / base),
        p_value,
        method: if rank_test {
            "mann-whitney"
        } else {
            "bootstrap"
        },
        verdict,
    }
}
