//! The result of one benchmark run: the `opmon.run.v1` document.
//!
//! Everything a later reader needs is inside: the parameters (so two runs
//! can be compared without knowing how they were started), per operation
//! the counts, errors by class, throughput, percentiles of response and
//! service time, the full HDR histograms (for exact merges and any other
//! percentile), a per-second timeline, the phases' histograms, and the
//! resources used.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::{encode_histogram, CapacityReport, StageReport};
use crate::load::{OpStats, PhaseStats, Second};

/// The schema name written in every run file.
pub const RUN_SCHEMA: &str = "opmon.run.v1";

/// One run, as written to `run.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunResult {
    /// Always [`RUN_SCHEMA`].
    pub schema: String,
    /// A unique id, also attached to exported telemetry.
    pub run_id: String,
    /// When the run started (RFC 3339, UTC).
    pub started_at: String,
    /// When it ended (RFC 3339, UTC).
    pub finished_at: String,
    /// When the measured window opened (RFC 3339, UTC): second 0 of every
    /// timeline, for aligning runs made at the same time.
    pub window_started_at: String,
    /// False when the run was interrupted or failed before its planned end.
    pub complete: bool,
    /// `finished`, `interrupted`, or what went wrong.
    pub end_reason: String,
    /// How the run was configured.
    pub parameters: Parameters,
    /// Where it ran.
    pub environment: Environment,
    /// What was created before measuring.
    pub provisioning: ProvisioningReport,
    /// The measured window.
    pub window: Window,
    /// Per operation, in documentation order.
    pub operations: Vec<OperationReport>,
    /// CPU and memory of the client and (when embedded) the node.
    pub resources: Resources,
    /// The thresholds checked, passed or not.
    pub thresholds: Vec<ThresholdResult>,
    /// A staged run's stages, or a capacity search's steps, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<StageReport>,
    /// What a capacity search found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<CapacityReport>,
    /// For a merged run, the runs it combines (each machine's own
    /// environment, window and resources); empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<RunPart>,
}

/// One of the runs a merged run combines.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RunPart {
    /// The part's own run id.
    pub run_id: String,
    /// When the part's measured window opened (RFC 3339, UTC).
    pub window_started_at: String,
    /// Where it ran.
    pub environment: Environment,
    /// Its measured window.
    pub window: Window,
    /// Its machine's CPU and memory.
    pub resources: Resources,
}

/// How a run was configured.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Parameters {
    /// `v4` or `v3`.
    pub api: String,
    /// What was measured.
    pub target: Target,
    /// The scenario's name.
    pub scenario: String,
    /// Operation weights (a single operation at 1 outside `mix`).
    pub weights: BTreeMap<String, u32>,
    /// Initial group size (creator included).
    pub group_size: usize,
    /// Inboxes per addition.
    pub add: usize,
    /// `closed` or `open`.
    pub load_model: String,
    /// Workers, in the closed model.
    pub concurrency: Option<usize>,
    /// Operations per second, in the open model.
    pub rate: Option<f64>,
    /// The stages of a staged run, as written (`30s:50/s,1m:200/s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stages: Option<String>,
    /// With each write followed by its visibility measurement: how
    /// newcomers read their welcomes (`poll` or `stream`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<String>,
    /// Planned measured duration in seconds, if the run was timed.
    pub duration_s: Option<f64>,
    /// Planned measured operations, if the run was counted.
    pub ops: Option<u64>,
    /// Warm-up in seconds.
    pub warmup_s: f64,
    /// The seed of the operation choice.
    pub seed: u64,
    /// Free-form labels from `--tag k=v`.
    pub tags: BTreeMap<String, String>,
    /// Faults injected into the embedded node, as written on the command line.
    pub faults: BTreeMap<String, String>,
}

/// What a run measured.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Target {
    /// `embedded`, `env` or `explicit`.
    pub kind: String,
    /// The preset's name, for `env`.
    pub env: Option<String>,
    /// Where reads went.
    pub node: String,
    /// Where writes went.
    pub gateway: String,
}

/// Where a run ran.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Environment {
    /// This tool's version.
    pub opmon_version: String,
    /// Operating system.
    pub os: String,
    /// CPU architecture.
    pub arch: String,
    /// Cores available to the process.
    pub cores: usize,
    /// Worker threads the load generator ran on (absent in runs written
    /// before opmon recorded them).
    pub threads: Option<usize>,
}

/// What was created before measuring.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ProvisioningReport {
    /// Identities created.
    pub identities: usize,
    /// Groups created before the run.
    pub groups: usize,
    /// Groups created during the run to replace used-up ones (outside the
    /// measured operations, but on the same machine).
    pub replacement_groups: usize,
    /// Seconds spent before the run started.
    pub seconds: f64,
}

/// The measured window.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Window {
    /// Seconds of warm-up.
    pub warmup_s: f64,
    /// Seconds from the end of the warm-up to the last operation's end.
    pub measured_s: f64,
    /// Operations left out as warm-up.
    pub warmup_ops: u64,
    /// Operations started, warm-up included.
    pub started_ops: u64,
    /// Operations still running when the run stopped waiting (recorded as
    /// `cancelled`).
    pub abandoned_ops: usize,
    /// Additions not attempted because no group to add to became
    /// available in time (replacement groups kept failing).
    pub skipped_ops: u64,
}

/// One operation's figures.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OperationReport {
    /// `identity.create`, `group.create`, `group.add_members` or `identity.lookup`.
    pub operation: String,
    /// Attempts in the measured window.
    pub attempts: u64,
    /// Successes.
    pub ok: u64,
    /// Failures by error class.
    pub errors: BTreeMap<String, u64>,
    /// Failures over attempts.
    pub error_rate: f64,
    /// Successes per second of the measured window.
    pub throughput_per_s: f64,
    /// Attempts per second of the measured window.
    pub attempts_per_s: f64,
    /// Response time from the intended start (ms), successes only.
    pub response_ms: Percentiles,
    /// Service time from the actual start (ms), successes only.
    pub service_ms: Percentiles,
    /// The longest an operation started after its intended start (ms).
    pub max_schedule_lag_ms: f64,
    /// The histograms behind the percentiles.
    pub histograms: Histograms,
    /// Per second of the measured window.
    pub timeline: Vec<TimelinePoint>,
    /// The operation's phases, by name (absent in runs written before
    /// opmon recorded them, and in stages).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<PhaseReport>,
}

/// One phase of one operation (`xmtp.phase`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PhaseReport {
    /// `key_package.publish`, `commit.await_visible`, …
    pub phase: String,
    /// Successes in the measured window.
    pub ok: u64,
    /// Failures.
    pub failed: u64,
    /// Duration percentiles (ms), successes only.
    pub duration_ms: Percentiles,
    /// The histogram behind them (µs; encoded as in [`Histograms`]).
    pub duration_us: String,
}

impl PhaseReport {
    /// The report of `phase`: `ok` successes of the durations in
    /// `duration_us`, and `failed` failures.
    pub fn new(phase: String, ok: u64, failed: u64, duration_us: &Histogram<u64>) -> Self {
        Self {
            phase,
            ok,
            failed,
            duration_ms: Percentiles::of(duration_us),
            duration_us: encode_histogram(duration_us),
        }
    }

    /// The report of one phase's statistics.
    pub fn from_stats(phase: &str, stats: &PhaseStats) -> Self {
        Self::new(phase.to_owned(), stats.ok, stats.failed, &stats.duration_us)
    }
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p99_9: f64,
    /// Slowest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

impl Percentiles {
    /// Reads the percentiles off a histogram of microseconds.
    pub fn of(histogram: &Histogram<u64>) -> Self {
        let ms = |us: u64| us as f64 / 1000.0;
        if histogram.is_empty() {
            return Self::default();
        }
        Self {
            p50: ms(histogram.value_at_quantile(0.5)),
            p90: ms(histogram.value_at_quantile(0.9)),
            p99: ms(histogram.value_at_quantile(0.99)),
            p99_9: ms(histogram.value_at_quantile(0.999)),
            max: ms(histogram.max()),
            mean: histogram.mean() / 1000.0,
        }
    }
}

/// HDR histograms of microseconds, in the V2 compressed format, base64.
/// Any HdrHistogram implementation (Java, C, Go, JS, Rust) reads them.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Histograms {
    /// Response time.
    pub response_us: String,
    /// Service time.
    pub service_us: String,
}

/// One second of one operation.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct TimelinePoint {
    /// Seconds since the window opened.
    pub second: u64,
    /// Successes that completed in this second.
    pub ok: u64,
    /// Failures that completed in this second.
    pub errors: u64,
    /// Mean response time of the successes (ms).
    pub mean_response_ms: f64,
    /// Slowest success (ms).
    pub max_response_ms: f64,
}

/// CPU and memory use.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Resources {
    /// Cores the figures are relative to (100% = one core).
    pub cores: usize,
    /// This process.
    pub client: Option<crate::load::ResourceSummary>,
    /// The embedded node's process.
    pub node: Option<crate::load::ResourceSummary>,
    /// Whether the client's CPU ever passed 85% of all cores: its figures
    /// may then describe the load generator rather than the target.
    pub client_saturated: bool,
    /// One sample per second.
    pub samples: Vec<ResourcePoint>,
}

/// One resource sample.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct ResourcePoint {
    /// Seconds since the run started.
    pub t_s: f64,
    /// Client CPU, % of one core.
    pub client_cpu_percent: f64,
    /// Client resident memory.
    pub client_rss_bytes: u64,
    /// Node CPU, % of one core.
    pub node_cpu_percent: Option<f64>,
    /// Node resident memory.
    pub node_rss_bytes: Option<u64>,
}

/// A threshold and how the run fared against it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ThresholdResult {
    /// As written, e.g. `group.add_members:p99<800ms`.
    pub threshold: String,
    /// Whether the run met it.
    pub passed: bool,
    /// What was observed, when it was breached.
    pub observed: Option<String>,
}

impl OperationReport {
    /// Failed attempts (0 if an unvalidated report claims more successes
    /// than attempts).
    pub fn failed(&self) -> u64 {
        self.attempts.saturating_sub(self.ok)
    }

    /// The report of one operation's statistics over `measured_s` seconds.
    pub fn from_stats(operation: &str, stats: &OpStats, measured_s: f64) -> Self {
        let per_second = |count| per_second(count, measured_s);
        Self {
            operation: operation.to_owned(),
            attempts: stats.attempts,
            ok: stats.ok,
            errors: stats
                .errors
                .iter()
                .map(|(class, count)| (class.as_str().to_owned(), *count))
                .collect(),
            error_rate: stats.error_rate(),
            throughput_per_s: per_second(stats.ok),
            attempts_per_s: per_second(stats.attempts),
            response_ms: Percentiles::of(&stats.response_us),
            service_ms: Percentiles::of(&stats.service_us),
            max_schedule_lag_ms: stats.max_lag.as_secs_f64() * 1000.0,
            histograms: Histograms {
                response_us: encode_histogram(&stats.response_us),
                service_us: encode_histogram(&stats.service_us),
            },
            timeline: stats
                .timeline
                .iter()
                .enumerate()
                .map(|(second, point)| timeline_point(second as u64, point))
                .collect(),
            phases: stats
                .phases
                .iter()
                .map(|(phase, stats)| PhaseReport::from_stats(phase, stats))
                .collect(),
        }
    }
}

/// `count` per second over `seconds` (0 over an empty window).
pub(crate) fn per_second(count: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

fn timeline_point(second: u64, point: &Second) -> TimelinePoint {
    TimelinePoint {
        second,
        ok: point.ok,
        errors: point.errors,
        mean_response_ms: if point.ok == 0 {
            0.0
        } else {
            point.response_sum_us as f64 / point.ok as f64 / 1000.0
        },
        max_response_ms: point.response_max_us as f64 / 1000.0,
    }
}
