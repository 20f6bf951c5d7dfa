//! Does the benchmark look like production? Synthetic runs against the
//! real users' telemetry in Prometheus.
//!
//! Apps and `opmon bench` record the same histograms through the same
//! layers; they differ only in `xmtp_traffic` (`real` or `synthetic`).
//! So the operations real users ran in a window — read from Prometheus
//! ([`fetch`]) — can be held against one or more synthetic runs, per
//! operation and figure ([`judge`]).
//!
//! The two sides do not know their latencies equally well. A run keeps an
//! HDR histogram: its p50 is exact to 0.1%. Prometheus keeps buckets: a
//! real p50 is only known to lie between two bounds (10 ms and 25 ms,
//! say), and the single number `histogram_quantile` prints is a straight
//! line drawn through that bucket. So a synthetic percentile is compared
//! with the bucket, not with the number: `faster` below it, `slower`
//! above it, `inside` when the data cannot tell them apart at this
//! resolution — which is the honest answer, not a weak one. Error rates
//! are counts on both sides and get a real test; throughput is shown only.

pub mod api;
pub mod buckets;
pub mod fetch;
mod format;
pub mod judge;
mod page;
pub mod selector;
pub mod window;

use serde::Serialize;

pub use api::Prometheus;
pub use fetch::{fetch, RealQuery, RealSide};
pub use format::{to_csv, to_json, to_markdown, to_table};
pub use page::real_page;
pub use selector::Selector;
pub use window::Window;

use crate::report::RunResult;

/// What a comparison with real users concludes about one figure (for
/// latency, where the synthetic value lies against the real bucket; for
/// error rates, the synthetic rate against the real one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RealVerdict {
    /// Within the real percentile's bucket.
    Inside,
    /// Below the real percentile's bucket.
    Faster,
    /// Above it.
    Slower,
    /// A significantly higher rate.
    Higher,
    /// A significantly lower rate.
    Lower,
    /// No significant difference.
    #[serde(rename = "~")]
    Same,
    /// The data cannot tell.
    #[serde(rename = "?")]
    Unknown,
    /// Shown, not judged.
    #[serde(rename = "-")]
    NotJudged,
}

impl RealVerdict {
    /// The verdict as printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inside => "inside",
            Self::Faster => "faster",
            Self::Slower => "slower",
            Self::Higher => "higher",
            Self::Lower => "lower",
            Self::Same => "~",
            Self::Unknown => "?",
            Self::NotJudged => "-",
        }
    }
}

/// One figure of one operation, synthetic against real.
#[derive(Debug, Clone, Serialize)]
pub struct RealRow {
    /// The operation.
    pub operation: String,
    /// The phase of it the row is about (`--phases`); absent for the
    /// whole operation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// `p50`, `p90`, `p99`, `mean`, `error rate`, `errors CLASS` (the
    /// class's share of the failures) or `throughput`.
    pub figure: String,
    /// `ms`, `%` or `ok/s`.
    pub unit: &'static str,
    /// The synthetic runs' value.
    pub synthetic: f64,
    /// The real value (for a percentile, `histogram_quantile`'s).
    pub real: Option<f64>,
    /// For a percentile: the lower bound of the real bucket.
    pub real_low: Option<f64>,
    /// Its upper bound (absent: `+Inf`).
    pub real_high: Option<f64>,
    /// Synthetic over real.
    pub ratio: Option<f64>,
    /// For a tested rate: the two-proportion test's p-value.
    pub p_value: Option<f64>,
    /// The same, adjusted over all tested rates (Benjamini–Hochberg).
    pub p_adjusted: Option<f64>,
    /// The conclusion.
    pub verdict: RealVerdict,
    /// Why there is no verdict, or what to keep in mind reading it.
    pub reason: Option<String>,
}

impl RealRow {
    /// A row shown but not judged.
    fn shown(operation: &str, figure: &str, unit: &'static str, synthetic: f64, real: f64) -> Self {
        Self {
            operation: operation.to_owned(),
            phase: None,
            figure: figure.to_owned(),
            unit,
            synthetic,
            real: Some(real),
            real_low: None,
            real_high: None,
            ratio: (real > 0.0).then(|| synthetic / real),
            p_value: None,
            p_adjusted: None,
            verdict: RealVerdict::NotJudged,
            reason: None,
        }
    }
}

/// A whole comparison with real users.
#[derive(Debug, Clone, Serialize)]
pub struct RealComparison {
    /// The synthetic side, e.g. `run 20261202-…` or `4 runs`.
    pub synthetic_label: String,
    /// Its run ids.
    pub synthetic_runs: Vec<String>,
    /// The Prometheus URL.
    pub prometheus: String,
    /// The series read (histogram name and label matchers).
    pub selector: String,
    /// The window's start (RFC 3339).
    pub start: String,
    /// Its end.
    pub end: String,
    /// Operations (and, with phases, `operation phase`s) only the
    /// synthetic runs measured.
    pub only_synthetic: Vec<String>,
    /// Operations (and phases) only the real users ran.
    pub only_real: Vec<String>,
    /// One row per operation and figure.
    pub rows: Vec<RealRow>,
}

/// Why a comparison with real users cannot be made; each a sentence.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RealError {
    /// `--vs-prometheus` is not a usable URL.
    #[error("--vs-prometheus {url} {reason}")]
    Url {
        /// As given.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// No connection or no answer.
    #[error("cannot reach Prometheus at {url}: {reason}")]
    Unreachable {
        /// The server.
        url: String,
        /// Why.
        reason: String,
    },
    /// An answer that is not what the API answers.
    #[error("Prometheus at {url} {reason}")]
    Answer {
        /// The server.
        url: String,
        /// What came back.
        reason: String,
    },
    /// No series matched.
    #[error("Prometheus has no series {selector} between {start} and {end}; check --selector, --traffic and the window")]
    NoSeries {
        /// What was asked for.
        selector: String,
        /// Window start.
        start: String,
        /// Window end.
        end: String,
    },
    /// Series, but no operation in the window.
    #[error("the series {selector} did not increase between {start} and {end}: no operations were recorded then; widen --range")]
    EmptyRange {
        /// What was asked for.
        selector: String,
        /// Window start.
        start: String,
        /// Window end.
        end: String,
    },
    /// The named metric is not a histogram.
    #[error("{metric} is not a histogram: {reason}")]
    NotHistogram {
        /// The metric.
        metric: String,
        /// The evidence.
        reason: String,
    },
    /// The runs cannot be read or pooled.
    #[error("{0}")]
    Runs(String),
    /// The two sides have no operation in common.
    #[error("the runs measured {synthetic} but the real users ran {real}: no operation in common")]
    NothingShared {
        /// The runs' operations.
        synthetic: String,
        /// Prometheus' operations.
        real: String,
    },
}

/// Compares `runs` with what `prometheus` recorded for `query`.
pub async fn compare_real(
    runs: &[RunResult],
    prometheus: &Prometheus,
    query: &RealQuery,
    force: bool,
) -> Result<(RealComparison, RealSide), RealError> {
    // Refuse bad runs before asking the server anything.
    if runs.is_empty() {
        return Err(RealError::Runs("give at least one run".into()));
    }
    let without_phases = runs
        .iter()
        .find(|run| run.operations.iter().all(|op| op.phases.is_empty()));
    if let (true, Some(run)) = (query.phases, without_phases) {
        return Err(RealError::Runs(format!(
            "--phases needs the runs' phase histograms, and run {} has none (an opmon older than phases wrote it)",
            run.run_id
        )));
    }
    let real = fetch(prometheus, query).await?;
    let window_s = query.window.length().as_secs_f64();
    let judged = judge::judge(runs, &real, window_s, force)?;
    let (synthetic_label, _) = crate::report::compare::sides::labels(runs, runs);
    Ok((
        RealComparison {
            synthetic_label,
            synthetic_runs: runs.iter().map(|r| r.run_id.clone()).collect(),
            prometheus: prometheus.url().to_owned(),
            selector: real.selector.clone(),
            start: Window::rfc3339(query.window.start),
            end: Window::rfc3339(query.window.end),
            only_synthetic: judged.only_synthetic,
            only_real: judged.only_real,
            rows: judged.rows,
        },
        real,
    ))
}
