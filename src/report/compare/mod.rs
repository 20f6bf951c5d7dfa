//! Is the candidate better, worse, or the same as the base, and can the
//! data tell?
//!
//! Each side is one or more runs of the same benchmark (say, V3 and V4, or
//! yesterday's build and today's). For every operation and every figure —
//! p50, p90, p99, p99.9 and mean response time, error rate, throughput —
//! the comparison gives both values, the change, its 95% confidence
//! interval, the ratio, a p-value adjusted for the number of figures
//! tested, and a verdict.
//!
//! A verdict is `better` or `worse` only when the change is *significant*
//! after the false-discovery-rate adjustment (see [`fdr`]) and its whole
//! confidence interval lies *beyond the noise threshold* (2% by default);
//! otherwise it is `~`. Before
//! any test, [`evidence`] decides whether the data can speak at all: a
//! percentile with too few samples beyond it, or a latency figure from
//! fewer than four runs a side, gets `?` with the reason, and
//! per-operation throughput in a random mix gets `-` (shown, not judged).
//! With four runs a side or more, figures are compared run by run with a
//! rank test; with `--single-run`, from the runs' pooled samples (see
//! [`stats`]).
//!
//! Staged runs with the same stages on both sides are also compared stage
//! by stage: the rows of stage 2 of `30s:50/s,1m:200/s` are named
//! `stage 2 (200/s) identity.lookup`, and all rows share one
//! false-discovery-rate adjustment.

pub mod evidence;
pub mod fdr;
pub mod stats;

pub(crate) mod format;
pub(crate) mod sides;

use std::collections::BTreeSet;

use hdrhistogram::Histogram;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use super::{decode_histogram, OperationReport, RunResult};
use evidence::{Evidence, Unjudged};
use stats::{
    draw_mean, draw_quantile, draw_rate, interval_and_p, mann_whitney, median, two_proportions,
    MIN_RUNS_FOR_RANK_TEST, ROUNDS,
};

pub use format::{to_csv, to_json, to_markdown, to_table};

/// Below this adjusted p-value a change is significant.
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
    /// Judge latency and throughput from fewer than four runs a side,
    /// from the sampling noise within the runs alone.
    pub single_run: bool,
}

impl Default for CompareOptions {
    fn default() -> Self {
        Self {
            threshold: 0.02,
            force: false,
            single_run: false,
        }
    }
}

/// The operation name of the rows about all operations together.
pub const TOTAL: &str = "total";

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

    /// The quantile a percentile figure estimates.
    pub fn quantile(self) -> Option<f64> {
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

    /// How the figure is tested when the runs are pooled.
    fn pooled_method(self) -> &'static str {
        match self {
            Self::P50 | Self::P90 | Self::P99 | Self::P999 => "order-statistic",
            Self::ErrorRate => "two-proportion",
            Self::Mean | Self::Throughput => "bootstrap",
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
    /// The data cannot tell (too few samples, or too few runs).
    #[serde(rename = "?")]
    Unknown,
    /// Shown, but not a property of the target (a mix's per-operation
    /// throughput).
    #[serde(rename = "-")]
    NotJudged,
}

impl Verdict {
    /// `better`, `worse`, `~`, `?` or `-`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Better => "better",
            Self::Worse => "worse",
            Self::Same => "~",
            Self::Unknown => "?",
            Self::NotJudged => "-",
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
    /// Two-sided p-value of "no change", for a figure that was tested.
    pub p_value: Option<f64>,
    /// The p-value adjusted for all figures tested in the comparison
    /// (Benjamini–Hochberg); the verdict reads this one.
    pub p_adjusted: Option<f64>,
    /// `mann-whitney` (runs compared), `order-statistic`, `bootstrap` or
    /// `two-proportion` (runs pooled); empty when nothing was tested.
    pub method: &'static str,
    /// The conclusion.
    pub verdict: Verdict,
    /// Why a figure was not judged (`?` or `-`).
    pub reason: Option<String>,
}

/// A whole comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// The base side, named by what sets it apart from the candidate.
    pub base_label: String,
    /// The candidate side, likewise.
    pub candidate_label: String,
    /// Run ids of the base side.
    pub base_runs: Vec<String>,
    /// Run ids of the candidate side.
    pub candidate_runs: Vec<String>,
    /// The noise threshold used (0.02 = 2%).
    pub threshold: f64,
    /// Whether latency was judged from fewer than four runs a side.
    pub single_run: bool,
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
    let mix = base
        .iter()
        .chain(candidate)
        .any(|run| run.parameters.weights.len() > 1);
    let mut rng = StdRng::seed_from_u64(0x0b5e_55ed);
    let mut rows = Vec::new();
    let views = stage_views(base, candidate);
    let whole = std::iter::once((String::new(), base.to_vec(), candidate.to_vec()));
    for (prefix, base, candidate) in whole.chain(views) {
        for operation in &operations {
            let a = Side::of(&base, operation)?;
            let b = Side::of(&candidate, operation)?;
            if a.runs.is_empty() || b.runs.is_empty() {
                continue;
            }
            let name = format!("{prefix}{operation}");
            for figure in Figure::ALL {
                rows.push(measure(&name, figure, &a, &b, mix, options, &mut rng));
            }
        }
    }
    if mix {
        let (a, b) = (Side::total(base), Side::total(candidate));
        rows.push(measure(
            TOTAL,
            Figure::Throughput,
            &a,
            &b,
            false,
            options,
            &mut rng,
        ));
    }
    decide(&mut rows, options.threshold);
    let (base_label, candidate_label) = sides::labels(base, candidate);
    Ok(Comparison {
        base_label,
        candidate_label,
        base_runs: base.iter().map(|r| r.run_id.clone()).collect(),
        candidate_runs: candidate.iter().map(|r| r.run_id.clone()).collect(),
        threshold: options.threshold,
        single_run: options.single_run,
        rows,
    })
}

/// For runs that all have the same stages, each stage's view of both
/// sides: runs whose operations and window are the stage's, with the
/// prefix its rows get. Empty when the runs' stages differ.
fn stage_views(
    base: &[RunResult],
    candidate: &[RunResult],
) -> Vec<(String, Vec<RunResult>, Vec<RunResult>)> {
    let targets =
        |run: &RunResult| -> Vec<String> { run.stages.iter().map(|s| s.target.clone()).collect() };
    let first = targets(&base[0]);
    if first.is_empty()
        || base
            .iter()
            .chain(candidate)
            .any(|run| targets(run) != first)
    {
        return Vec::new();
    }
    let view = |runs: &[RunResult], i: usize| -> Vec<RunResult> {
        runs.iter()
            .map(|run| {
                let stage = &run.stages[i];
                let mut view = run.clone();
                view.operations = stage.operations.clone();
                view.window.measured_s = stage.measured_s;
                view.stages = Vec::new();
                view
            })
            .collect()
    };
    first
        .iter()
        .enumerate()
        .map(|(i, target)| {
            let prefix = format!("stage {} ({target}) ", i + 1);
            (prefix, view(base, i), view(candidate, i))
        })
        .collect()
}

/// Parameters that make runs comparable; they must agree unless forced.
fn fingerprint(run: &RunResult) -> [(&'static str, String); 8] {
    let p = &run.parameters;
    [
        ("scenario", p.scenario.clone()),
        ("weights", format!("{:?}", p.weights)),
        ("group size", p.group_size.to_string()),
        ("members added", p.add.to_string()),
        ("load model", p.load_model.clone()),
        ("concurrency", format!("{:?}", p.concurrency)),
        ("rate", format!("{:?}", p.rate)),
        ("stages", format!("{:?}", p.stages)),
    ]
}

fn operations_of(runs: &[RunResult]) -> BTreeSet<String> {
    runs.iter()
        .flat_map(|run| run.operations.iter().map(|op| op.operation.clone()))
        .collect()
}

/// Checks that all runs measured the same thing; returns the operations
/// to compare.
pub(crate) fn check_compatible(
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

/// All `runs`' response times for `operation` (microseconds) in one
/// histogram: HDR histograms merge exactly, so runs pool without loss.
pub(crate) fn pooled(runs: &[RunResult], operation: &str) -> Result<Histogram<u64>, CompareError> {
    let mut all = crate::load::new_histogram();
    for run in runs {
        for op in run.operations.iter().filter(|op| op.operation == operation) {
            let histogram = decode_histogram(&op.histograms.response_us).map_err(|e| {
                CompareError(format!("run {}: {operation} histogram is {e}", run.run_id))
            })?;
            all.add(&histogram).map_err(|e| {
                CompareError(format!("run {}: {operation} histogram: {e:?}", run.run_id))
            })?;
        }
    }
    Ok(all)
}

/// One side's data for one operation (or for all of them).
struct Side {
    /// Each run's value of every figure, in [`Figure::ALL`] order.
    runs: Vec<[f64; 7]>,
    /// All runs' response times in one histogram.
    pooled: Histogram<u64>,
    /// Successful samples in the smallest run.
    fewest_samples: u64,
    attempts: u64,
    ok: u64,
    seconds: f64,
}

impl Side {
    fn empty() -> Self {
        Side {
            runs: Vec::new(),
            pooled: crate::load::new_histogram(),
            fewest_samples: u64::MAX,
            attempts: 0,
            ok: 0,
            seconds: 0.0,
        }
    }

    fn of(runs: &[RunResult], operation: &str) -> Result<Self, CompareError> {
        let mut side = Side::empty();
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
            side.fewest_samples = side.fewest_samples.min(histogram.len());
            side.attempts += op.attempts;
            side.ok += op.ok;
            side.seconds += run.window.measured_s;
            side.runs.push(Figure::ALL.map(|figure| figure.of_run(op)));
        }
        Ok(side)
    }

    /// All operations of each run together; only its throughput is read.
    fn total(runs: &[RunResult]) -> Self {
        let mut side = Side::empty();
        for run in runs {
            let ok: u64 = run.operations.iter().map(|op| op.ok).sum();
            side.ok += ok;
            side.attempts += run.operations.iter().map(|op| op.attempts).sum::<u64>();
            side.seconds += run.window.measured_s;
            let throughput = if run.window.measured_s > 0.0 {
                ok as f64 / run.window.measured_s
            } else {
                0.0
            };
            side.runs.push(Figure::ALL.map(|figure| match figure {
                Figure::Throughput => throughput,
                _ => 0.0,
            }));
        }
        side
    }

    fn evidence(&self) -> Evidence {
        Evidence {
            runs: self.runs.len(),
            fewest_samples: if self.runs.is_empty() {
                0
            } else {
                self.fewest_samples
            },
        }
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
                    self.attempts.saturating_sub(self.ok) as f64 / self.attempts as f64 * 100.0
                }
                _ if self.seconds <= 0.0 => 0.0,
                _ => self.ok as f64 / self.seconds,
            },
        }
    }

    /// One simulated draw of a latency or throughput figure from the
    /// pooled data.
    fn draw(&self, figure: Figure, rng: &mut StdRng) -> f64 {
        match figure.quantile() {
            Some(_) if self.pooled.is_empty() => 0.0,
            Some(q) => draw_quantile(rng, &self.pooled, q) / 1000.0,
            None => match figure {
                Figure::Mean if self.pooled.is_empty() => 0.0,
                Figure::Mean => draw_mean(rng, &self.pooled) / 1000.0,
                _ => draw_rate(rng, self.ok, self.seconds),
            },
        }
    }

    /// Each run's value of `figure`.
    fn per_run(&self, figure: Figure) -> Vec<f64> {
        let at = Figure::ALL.iter().position(|f| *f == figure).unwrap_or(0);
        self.runs.iter().map(|values| values[at]).collect()
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

/// A row with its values, interval and raw p-value; the verdict of a
/// tested row is left to [`decide`].
fn measure(
    operation: &str,
    figure: Figure,
    a: &Side,
    b: &Side,
    mix: bool,
    options: CompareOptions,
    rng: &mut StdRng,
) -> Row {
    let rank_test =
        a.runs.len() >= MIN_RUNS_FOR_RANK_TEST && b.runs.len() >= MIN_RUNS_FOR_RANK_TEST;
    let (base, candidate) = if rank_test {
        (median(&a.per_run(figure)), median(&b.per_run(figure)))
    } else {
        (a.value(figure), b.value(figure))
    };
    let point = change(figure, base, candidate);
    let mut row = Row {
        operation: operation.to_owned(),
        figure,
        unit: figure.unit(),
        base,
        candidate,
        change: point,
        interval: None,
        ratio: (base > 0.0).then(|| candidate / base),
        p_value: None,
        p_adjusted: None,
        method: "",
        verdict: Verdict::Same,
        reason: None,
    };
    let judged = evidence::check(
        figure,
        &a.evidence(),
        &b.evidence(),
        mix,
        options.single_run,
    );
    if let Err(why) = judged {
        let (verdict, reason) = match why {
            Unjudged::Unknown(reason) => (Verdict::Unknown, reason),
            Unjudged::NotJudged(reason) => (Verdict::NotJudged, reason),
        };
        row.verdict = verdict;
        row.reason = Some(reason);
        return row;
    }
    let (interval, p_value) = if rank_test {
        row.method = "mann-whitney";
        let (xs, ys) = (a.per_run(figure), b.per_run(figure));
        // Resample the runs of each side to see how far the medians move.
        let draws: Vec<f64> = (0..ROUNDS)
            .filter_map(|_| {
                let mut pick = |values: &[f64]| {
                    let sample: Vec<f64> = (0..values.len())
                        .map(|_| values[rng.gen_range(0..values.len())])
                        .collect();
                    median(&sample)
                };
                let (x, y) = (pick(&xs), pick(&ys));
                change(figure, x, y)
            })
            .collect();
        let interval = (point.is_some() && !draws.is_empty()).then(|| interval_and_p(draws).0);
        (interval, mann_whitney(&xs, &ys))
    } else if figure == Figure::ErrorRate {
        row.method = figure.pooled_method();
        let failed = |side: &Side| side.attempts.saturating_sub(side.ok);
        let ((low, high), p) = two_proportions(failed(a), a.attempts, failed(b), b.attempts);
        (Some((low * 100.0, high * 100.0)), p)
    } else {
        row.method = figure.pooled_method();
        let draws: Vec<f64> = (0..ROUNDS)
            .filter_map(|_| change(figure, a.draw(figure, rng), b.draw(figure, rng)))
            .collect();
        match point {
            Some(_) if !draws.is_empty() => {
                let (interval, p) = interval_and_p(draws);
                (Some(interval), p)
            }
            _ => (None, 1.0),
        }
    };
    row.interval = interval;
    row.p_value = Some(p_value);
    row
}

/// Adjusts the p-values of all tested rows together and gives each its
/// verdict.
fn decide(rows: &mut [Row], threshold: f64) {
    let raw: Vec<Option<f64>> = rows.iter().map(|row| row.p_value).collect();
    for (row, adjusted) in rows.iter_mut().zip(fdr::adjust_tested(&raw)) {
        let Some(adjusted) = adjusted else { continue };
        row.p_adjusted = Some(adjusted);
        let noise = if row.figure == Figure::ErrorRate {
            ERROR_RATE_NOISE * 100.0
        } else {
            threshold
        };
        // The whole interval must clear the threshold, not only the point:
        // a change that may be noise-sized is not worth a verdict.
        let clears = |x: f64, delta: f64| x.abs() > noise && (x > 0.0) == (delta > 0.0);
        let beyond_noise = |delta: f64| {
            clears(delta, delta)
                && row
                    .interval
                    .is_none_or(|(low, high)| clears(low, delta) && clears(high, delta))
        };
        row.verdict = match row.change {
            Some(delta) if adjusted < ALPHA && beyond_noise(delta) => {
                if (delta > 0.0) == row.figure.higher_is_better() {
                    Verdict::Better
                } else {
                    Verdict::Worse
                }
            }
            _ => Verdict::Same,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tested(change: f64, interval: (f64, f64)) -> Row {
        Row {
            operation: "group.create".into(),
            figure: Figure::P50,
            unit: "ms",
            base: 10.0,
            candidate: 10.0 * (1.0 + change),
            change: Some(change),
            interval: Some(interval),
            ratio: Some(1.0 + change),
            p_value: Some(0.001),
            p_adjusted: None,
            method: "mann-whitney",
            verdict: Verdict::Same,
            reason: None,
        }
    }

    #[test]
    fn a_verdict_needs_the_whole_interval_beyond_the_threshold() {
        let mut rows = [
            tested(0.10, (0.03, 0.20)),
            tested(0.10, (0.01, 0.20)),
            tested(-0.10, (-0.20, -0.03)),
            tested(-0.10, (-0.20, 0.05)),
        ];
        decide(&mut rows, 0.02);
        let verdicts: Vec<Verdict> = rows.iter().map(|row| row.verdict).collect();
        assert_eq!(
            verdicts,
            [
                Verdict::Worse,
                Verdict::Same,
                Verdict::Better,
                Verdict::Same
            ]
        );
    }
}
