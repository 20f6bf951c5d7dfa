//! The stages of a staged run or a capacity search, drawn.
//!
//! Two pictures answer "what happens as load rises?". Latency against the
//! achieved rate shows the knee: flat while the target keeps up, then
//! turning up where it queues. The rate over time shows what the run asked
//! for (each stage's target) beside what it got, so a stage the target
//! could not keep up with stands out.

use std::fmt::Write as _;

use super::escape;
use super::svg::{colour, Axis, Band, LineChart, Series};
use crate::report::table::ms;
use crate::report::{RunResult, StageReport};

/// The stages section of the run page: verdict, table and both charts;
/// empty for a run without stages.
pub(super) fn section(run: &RunResult) -> String {
    if run.stages.is_empty() {
        return String::new();
    }
    let mut html = String::from("<h2>Stages</h2>\n");
    if let Some(capacity) = &run.capacity {
        let _ = writeln!(
            html,
            r#"<p class="note">Capacity search ({}): <strong>{}</strong></p>"#,
            escape(&capacity.rules.join(", ")),
            escape(&capacity.verdict)
        );
        if let Some(caution) = &capacity.caution {
            let _ = writeln!(html, r#"<p class="note">Caution: {}</p>"#, escape(caution));
        }
    }
    table(&mut html, run);
    html.push_str(r#"<div class="gap"></div><div class="plots">"#);
    html.push_str(&latency_against_rate(run));
    html.push_str(&rate_over_time(run));
    html.push_str(
        "</div>\n<p class=\"caption\">Left: each stage's median (solid) and 99th percentile \
         (dashed) response time against the rate it achieved; where the lines turn up, the \
         target has started to queue. Right: the rate each stage asked for (dashed) and the \
         operations that ended per second.</p>\n",
    );
    html
}

fn table(html: &mut String, run: &RunResult) {
    html.push_str(
        "<table><tr><th>stage</th><th>window</th><th>target</th><th>achieved/s</th>\
         <th>operation</th><th>attempts</th><th>err %</th><th>p50</th><th>p99</th><th>verdict</th></tr>\n",
    );
    for (i, stage) in run.stages.iter().enumerate() {
        let verdict = match stage.passed {
            Some(true) => "held".to_owned(),
            Some(false) => format!("broke: {}", stage.breaches.join("; ")),
            None => String::new(),
        };
        for op in &stage.operations {
            let _ = writeln!(
                html,
                "<tr><td>{}</td><td>{:.1}–{:.1}s</td><td>{}</td><td>{:.1}</td><td>{}</td><td>{}</td>\
                 <td>{:.2}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                i + 1,
                stage.start_s,
                stage.end_s,
                escape(&stage.target),
                stage.achieved_rate_per_s,
                escape(&op.operation),
                op.attempts,
                op.error_rate * 100.0,
                ms(op.response_ms.p50),
                ms(op.response_ms.p99),
                escape(&verdict),
            );
        }
    }
    html.push_str("</table>\n");
}

/// The names of the operations the stages measured, in first-seen order.
fn operations(stages: &[StageReport]) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for op in stages.iter().flat_map(|s| &s.operations) {
        if !names.contains(&op.operation.as_str()) {
            names.push(&op.operation);
        }
    }
    names
}

/// p50 and p99 of each operation against each stage's achieved rate.
fn latency_against_rate(run: &RunResult) -> String {
    let mut series = Vec::new();
    for (i, name) in operations(&run.stages).into_iter().enumerate() {
        let mut points: Vec<(f64, f64, f64)> = run
            .stages
            .iter()
            .filter_map(|stage| {
                let op = stage.operation(name).filter(|op| op.ok > 0)?;
                Some((
                    stage.achieved_rate_per_s,
                    op.response_ms.p50,
                    op.response_ms.p99,
                ))
            })
            .collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (label, dashed, pick) in [("p50", false, 1), ("p99", true, 2)] {
            series.push(Series {
                label: format!("{name} {label}"),
                colour: colour(i),
                dashed,
                markers: true,
                points: points
                    .iter()
                    .map(|p| (p.0, if pick == 1 { p.1 } else { p.2 }))
                    .collect(),
            });
        }
    }
    let points = || series.iter().flat_map(|s| s.points.iter());
    let x_max = points().map(|p| p.0).fold(0.0, f64::max);
    let y_max = points().map(|p| p.1).fold(0.0, f64::max);
    if series.iter().all(|s| s.points.is_empty()) {
        return r#"<p class="note">No stage had a successful operation: no latency to plot.</p>"#
            .to_owned();
    }
    let mut chart = LineChart::new(
        "Response time against achieved rate",
        Axis::linear_with_headroom("operations per second achieved", x_max),
        Axis::linear_with_headroom("ms", y_max),
        series,
    );
    chart.width = super::plots::HALF;
    if let Some(capacity) = &run.capacity {
        if let (Some(good), Some(bad)) = (capacity.capacity_per_s, capacity.broken_at_per_s) {
            chart.bands.push(Band {
                from: good.min(bad),
                to: bad.max(good),
                label: "capacity lies here".to_owned(),
            });
        }
    }
    chart.render()
}

/// Each stage's target as a step line, and operations ended per second.
fn rate_over_time(run: &RunResult) -> String {
    let mut target = Vec::new();
    for stage in &run.stages {
        if let Some(rate) = stage.target_rate_per_s {
            target.push((stage.start_s, rate));
            target.push((stage.end_s, rate));
        }
    }
    let seconds = run
        .operations
        .iter()
        .map(|op| op.timeline.len())
        .max()
        .unwrap_or(0);
    let ended: Vec<(f64, f64)> = (0..seconds)
        .flat_map(|second| {
            let count: u64 = run
                .operations
                .iter()
                .filter_map(|op| op.timeline.get(second))
                .map(|p| p.ok + p.errors)
                .sum();
            [
                (second as f64, count as f64),
                (second as f64 + 1.0, count as f64),
            ]
        })
        .collect();
    let mut series = vec![Series {
        label: "ended per second".to_owned(),
        colour: colour(0),
        dashed: false,
        markers: false,
        points: ended,
    }];
    if !target.is_empty() {
        series.push(Series {
            label: "target".to_owned(),
            colour: colour(1),
            dashed: true,
            markers: false,
            points: target,
        });
    }
    let points = || series.iter().flat_map(|s| s.points.iter());
    let x_max = points().map(|p| p.0).fold(0.0, f64::max);
    let y_max = points().map(|p| p.1).fold(0.0, f64::max);
    let mut chart = LineChart::new(
        "Rate over time",
        Axis::linear_range("seconds into the measured window", 0.0, x_max.max(1.0)),
        Axis::linear_with_headroom("operations per second", y_max),
        series,
    );
    chart.width = super::plots::HALF;
    chart.render()
}
