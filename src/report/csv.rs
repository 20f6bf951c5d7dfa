//! `summary.csv`: one self-describing row per operation.
//!
//! Each row repeats the run's parameters, so rows from many runs can be
//! concatenated and compared (V3 against V4, build against build) without
//! the JSON files. A staged run (or a capacity search) adds one row per
//! stage and operation after the whole run's, with the `stage` columns
//! filled in; they are empty on the whole run's rows.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::json::write_atomically;
use super::{OperationReport, Percentiles, ReportError, RunResult};

/// The summary file's name inside a results directory.
pub const SUMMARY_FILE: &str = "summary.csv";

const HEADER: &str = "run_id,started_at,complete,api,target,node,scenario,load_model,concurrency,rate,duration_s,ops,warmup_s,group_size,add,seed,faults,tags,\
operation,attempts,ok,error_rate,throughput_per_s,errors,\
response_p50_ms,response_p90_ms,response_p99_ms,response_p99_9_ms,response_max_ms,response_mean_ms,\
service_p50_ms,service_p90_ms,service_p99_ms,service_p99_9_ms,service_max_ms,service_mean_ms,\
max_schedule_lag_ms,client_cpu_mean_percent,client_rss_peak_mib,\
stage,stage_start_s,stage_end_s,stage_target,stage_achieved_rate_per_s,stage_passed";

/// Quotes a field if it holds a separator, quote or line break.
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

fn optional<T: ToString>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

fn pairs<'a, V: ToString + 'a>(map: impl IntoIterator<Item = (&'a String, V)>) -> String {
    map.into_iter()
        .map(|(k, v)| format!("{k}={}", v.to_string()))
        .collect::<Vec<_>>()
        .join(";")
}

fn latency(p: &Percentiles) -> String {
    format!(
        "{:.3},{:.3},{:.3},{:.3},{:.3},{:.3}",
        p.p50, p.p90, p.p99, p.p99_9, p.max, p.mean
    )
}

/// The summary CSV of `run`, header included.
pub fn summary_csv(run: &RunResult) -> String {
    let p = &run.parameters;
    let client = run.resources.client.as_ref();
    let common = [
        field(&run.run_id),
        field(&run.started_at),
        run.complete.to_string(),
        field(&p.api),
        field(&p.target.kind),
        field(&p.target.node),
        field(&p.scenario),
        field(&p.load_model),
        optional(p.concurrency),
        optional(p.rate),
        optional(p.duration_s),
        optional(p.ops),
        p.warmup_s.to_string(),
        p.group_size.to_string(),
        p.add.to_string(),
        p.seed.to_string(),
        field(&pairs(&p.faults)),
        field(&pairs(&p.tags)),
    ]
    .join(",");
    let resources = format!(
        "{},{}",
        optional(client.map(|c| format!("{:.1}", c.mean_cpu_percent))),
        optional(client.map(|c| format!("{:.1}", c.peak_rss_bytes as f64 / 1048576.0))),
    );
    let mut csv = String::from(HEADER);
    csv.push('\n');
    let mut row = |op: &OperationReport, stage: &str| {
        let _ = writeln!(
            csv,
            "{common},{},{},{},{:.6},{:.3},{},{},{},{:.3},{resources},{stage}",
            field(&op.operation),
            op.attempts,
            op.ok,
            op.error_rate,
            op.throughput_per_s,
            field(&pairs(&op.errors)),
            latency(&op.response_ms),
            latency(&op.service_ms),
            op.max_schedule_lag_ms,
        );
    };
    for op in &run.operations {
        row(op, ",,,,,");
    }
    for (i, stage) in run.stages.iter().enumerate() {
        let columns = format!(
            "{},{:.3},{:.3},{},{:.3},{}",
            i + 1,
            stage.start_s,
            stage.end_s,
            field(&stage.target),
            stage.achieved_rate_per_s,
            optional(stage.passed),
        );
        for op in &stage.operations {
            row(op, &columns);
        }
    }
    csv
}

impl RunResult {
    /// Writes `summary.csv` into `dir` (which must exist).
    pub fn write_csv(&self, dir: &Path) -> Result<PathBuf, ReportError> {
        let path = dir.join(SUMMARY_FILE);
        write_atomically(&path, summary_csv(self).as_bytes())?;
        Ok(path)
    }
}
