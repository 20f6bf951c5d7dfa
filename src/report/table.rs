//! The summary a person reads at the end of a run.

use std::fmt::Write as _;

use super::{OperationReport, Parameters, RunResult};

/// Milliseconds, in the unit that reads best.
pub(super) fn ms(value: f64) -> String {
    if value >= 1000.0 {
        format!("{:.2}s", value / 1000.0)
    } else if value >= 100.0 {
        format!("{value:.0}ms")
    } else if value >= 10.0 {
        format!("{value:.1}ms")
    } else {
        format!("{value:.2}ms")
    }
}

pub(super) fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / 1048576.0)
}

/// The load model in a few words: `open 50/s` or `closed, concurrency 4`.
pub(super) fn load_model(p: &Parameters) -> String {
    match (p.concurrency, p.rate, &p.stages) {
        (_, _, Some(stages)) => format!("{} stages {stages}", p.load_model),
        (_, Some(rate), None) => format!("open {rate}/s"),
        (Some(c), None, None) => format!("closed, concurrency {c}"),
        _ => p.load_model.clone(),
    }
}

/// Each stage's figures per operation, and a capacity search's verdict.
fn stages(out: &mut String, run: &RunResult) {
    if run.stages.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "  {:<5} {:>15} {:>9} {:>9} {:<18} {:>9} {:>7} {:>9} {:>9} {:>9}",
        "stage",
        "window",
        "target",
        "achieved",
        "operation",
        "attempts",
        "err %",
        "p50",
        "p99",
        "ok/s"
    );
    for (i, stage) in run.stages.iter().enumerate() {
        let window = format!("{:.1}-{:.1}s", stage.start_s, stage.end_s);
        for op in &stage.operations {
            let _ = writeln!(
                out,
                "  {:<5} {window:>15} {:>9} {:>9.1} {:<18} {:>9} {:>7.2} {:>9} {:>9} {:>9.1}{}",
                i + 1,
                stage.target,
                stage.achieved_rate_per_s,
                op.operation,
                op.attempts,
                op.error_rate * 100.0,
                ms(op.response_ms.p50),
                ms(op.response_ms.p99),
                op.throughput_per_s,
                match stage.passed {
                    Some(true) => "  held".to_owned(),
                    Some(false) => format!("  broke: {}", stage.breaches.join("; ")),
                    None => String::new(),
                },
            );
        }
        if stage.operations.is_empty() {
            let _ = writeln!(
                out,
                "  {:<5} {window:>15} {:>9} {:>9.1} (no operations)",
                i + 1,
                stage.target,
                stage.achieved_rate_per_s
            );
        }
    }
    if let Some(capacity) = &run.capacity {
        let _ = writeln!(
            out,
            "  capacity ({}): {}",
            capacity.rules.join(", "),
            capacity.verdict
        );
        if let Some(caution) = &capacity.caution {
            let _ = writeln!(out, "  caution: {caution}");
        }
    }
}

fn row(table: &mut String, op: &OperationReport, response: bool) {
    let p = if response {
        &op.response_ms
    } else {
        &op.service_ms
    };
    let _ = writeln!(
        table,
        "  {:<18} {:>9} {:>9} {:>7.2} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10.1}",
        op.operation,
        op.attempts,
        op.ok,
        op.error_rate * 100.0,
        ms(p.p50),
        ms(p.p90),
        ms(p.p99),
        ms(p.p99_9),
        ms(p.max),
        op.throughput_per_s,
    );
}

/// A plain-text summary of `run`: per operation the counts, error rate,
/// response-time percentiles and throughput; errors by class; service
/// time; resources.
pub fn summary_table(run: &RunResult) -> String {
    let p = &run.parameters;
    let mut out = String::new();
    let model = load_model(p);
    let _ = writeln!(
        out,
        "run {} · {} {} · {} · {} · {:.2}s measured after {:.1}s warm-up{}",
        run.run_id,
        p.api,
        p.target.kind,
        p.scenario,
        model,
        run.window.measured_s,
        run.window.warmup_s,
        if run.complete {
            String::new()
        } else {
            format!(" · INCOMPLETE ({})", run.end_reason)
        },
    );
    let header = |out: &mut String, title: &str| {
        let _ = writeln!(
            out,
            "  {:<18} {:>9} {:>9} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10}",
            title, "attempts", "ok", "err %", "p50", "p90", "p99", "p99.9", "max", "ok/s"
        );
    };
    header(&mut out, "response time");
    for op in &run.operations {
        row(&mut out, op, true);
    }
    // In the closed model every operation starts when it is meant to, so
    // service time is response time and one table says it all.
    if p.load_model == "open" {
        header(&mut out, "service time");
        for op in &run.operations {
            row(&mut out, op, false);
        }
    }
    for op in run.operations.iter().filter(|op| !op.errors.is_empty()) {
        let classes: Vec<String> = op
            .errors
            .iter()
            .map(|(class, n)| format!("{class} {n}"))
            .collect();
        let _ = writeln!(out, "  errors {}: {}", op.operation, classes.join(", "));
    }
    stages(&mut out, run);
    let lag = run
        .operations
        .iter()
        .map(|op| op.max_schedule_lag_ms)
        .fold(0.0, f64::max);
    if p.load_model == "open" {
        let _ = writeln!(out, "  largest scheduling lag: {}", ms(lag));
    }
    let w = &run.window;
    if w.skipped_ops > 0 || w.abandoned_ops > 0 {
        let _ = writeln!(
            out,
            "  not measured: {} additions skipped (no group available), {} operations still running at the end (recorded as cancelled)",
            w.skipped_ops, w.abandoned_ops
        );
    }
    let r = &run.resources;
    for (name, summary) in [("client", &r.client), ("node", &r.node)] {
        if summary.as_ref().is_some_and(|s| s.samples == 0) {
            let _ = writeln!(
                out,
                "  {name:<6} cpu and memory: the run was too short to sample"
            );
        } else if let Some(s) = summary {
            let _ = writeln!(
                out,
                "  {name:<6} cpu mean {:.0}% max {:.0}% (100% = one of {} cores) · rss peak {}",
                s.mean_cpu_percent,
                s.max_cpu_percent,
                r.cores,
                mib(s.peak_rss_bytes)
            );
        }
    }
    let v = &run.provisioning;
    let _ = writeln!(
        out,
        "  provisioned {} identities and {} groups in {:.2}s, and {} replacement groups during the run (not measured)",
        v.identities, v.groups, v.seconds, v.replacement_groups
    );
    out
}
