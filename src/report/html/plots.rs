//! The run page's plots, each drawn from one part of the run file.
//!
//! Every function returns an HTML fragment: a chart when there is
//! something to draw, otherwise a one-line `<p class="note">` that says
//! why not (nothing succeeded, no errors, too short to sample), so an
//! odd run never produces an empty or broken drawing.
//!
//! An operation keeps the same colour in every plot: its position in the
//! run's list of operations picks it from the palette.

use std::time::SystemTime;

use super::spectrum::{spectrum_chart, SpectrumLine};
use super::svg::{colour, Axis, Band, Bar, BarChart, LineChart, Rule, Series};
use crate::report::{decode_histogram, OperationReport, RunResult, TimelinePoint};

/// Width of a chart that has a row of the page to itself.
pub(super) const WIDE: f64 = 1000.0;
/// Width of a chart that shares a row with another.
pub(super) const HALF: f64 = 600.0;

/// Series with at most this many points also get a dot per point, so
/// that sparse samples are visible as samples.
const MARKER_LIMIT: usize = 30;

fn note(text: &str) -> String {
    format!(r#"<p class="note">{}</p>"#, super::escape(text))
}

/// Response and service time by percentile for the operation at `index`,
/// in a chart `width` pixels wide.
pub(super) fn operation_spectrum(op: &OperationReport, index: usize, width: f64) -> String {
    let (response, service) = match (
        decode_histogram(&op.histograms.response_us),
        decode_histogram(&op.histograms.service_us),
    ) {
        (Ok(response), Ok(service)) => (response, service),
        (Err(reason), _) | (_, Err(reason)) => {
            return note(&format!(
                "{}: the latency histograms could not be read ({reason}).",
                op.operation
            ))
        }
    };
    let lines = [
        SpectrumLine {
            label: "response time".into(),
            histogram: &response,
            colour: colour(index),
            dashed: false,
        },
        SpectrumLine {
            label: "service time".into(),
            histogram: &service,
            colour: colour(index),
            dashed: true,
        },
    ];
    let title = format!("{}: latency by percentile", op.operation);
    match spectrum_chart(&title, &lines) {
        Some(mut chart) => {
            chart.width = width;
            chart.render()
        }
        None => note(&format!(
            "{}: no successful operations, so no latency to plot.",
            op.operation
        )),
    }
}

/// How much of second `second` the measured window covered: 1, except
/// for a final, partial second.
fn bucket_width(second: u64, measured_s: f64) -> f64 {
    let rest = measured_s - second as f64;
    if rest > 0.0 && rest < 1.0 {
        rest
    } else {
        1.0
    }
}

/// A per-second count as a staircase of rates: each second is a flat
/// step, and a partial last second is scaled to a rate over the time it
/// covered — or left out when it covered less than half a second, too
/// little to say anything fair.
fn staircase(
    timeline: &[TimelinePoint],
    measured_s: f64,
    count: impl Fn(&TimelinePoint) -> u64,
) -> Vec<(f64, f64)> {
    let mut points = Vec::with_capacity(timeline.len() * 2);
    for (i, point) in timeline.iter().enumerate() {
        let width = bucket_width(point.second, measured_s);
        if i > 0 && i + 1 == timeline.len() && width < 0.5 {
            break;
        }
        let start = point.second as f64;
        let rate = count(point) as f64 / width;
        points.push((start, rate));
        points.push((start + width, rate));
    }
    points
}

/// One staircase per operation that has anything to show.
fn timeline_chart(
    run: &RunResult,
    title: &str,
    y_label: &str,
    count: impl Fn(&TimelinePoint) -> u64 + Copy,
) -> Option<LineChart> {
    let series: Vec<Series> = run
        .operations
        .iter()
        .enumerate()
        .filter(|(_, op)| op.timeline.iter().any(|p| count(p) > 0))
        .map(|(i, op)| Series {
            label: op.operation.clone(),
            colour: colour(i),
            dashed: false,
            markers: false,
            points: staircase(&op.timeline, run.window.measured_s, count),
        })
        .collect();
    if series.is_empty() {
        return None;
    }
    let (x_max, y_max) = extent(&series);
    Some(LineChart {
        width: WIDE,
        plot_height: 180.0,
        ..LineChart::new(
            title,
            Axis::linear_range("seconds into the measured window", 0.0, x_max),
            Axis::linear_with_headroom(y_label, y_max),
            series,
        )
    })
}

/// The largest x and y of any point.
fn extent(series: &[Series]) -> (f64, f64) {
    series
        .iter()
        .flat_map(|s| s.points.iter())
        .fold((0.0, 0.0), |(x, y), &(px, py)| {
            (f64::max(x, px), f64::max(y, py))
        })
}

/// Successes per second, per operation.
pub(super) fn throughput(run: &RunResult) -> String {
    let Some(mut chart) = timeline_chart(run, "Successes per second", "ok/s", |p| p.ok) else {
        return if run.operations.iter().any(|op| op.ok > 0) {
            note(NO_TIMELINE)
        } else {
            note("Nothing succeeded in the measured window: no throughput to plot.")
        };
    };
    // With one operation under an open model, the planned rate is the
    // line the successes should sit on.
    if let (Some(rate), [_]) = (run.parameters.rate, run.operations.as_slice()) {
        chart.rules.push(Rule {
            y: rate,
            label: format!("planned {rate}/s"),
        });
        if rate * 1.05 > chart.y.max {
            chart.y = Axis::linear_with_headroom(&chart.y.label, rate);
        }
    }
    chart.render()
}

/// Failures per second, per operation that had any.
pub(super) fn errors_over_time(run: &RunResult) -> String {
    match timeline_chart(run, "Errors per second", "errors/s", |p| p.errors) {
        Some(chart) => chart.render(),
        None if run.operations.iter().any(|op| op.attempts > op.ok) => note(NO_TIMELINE),
        None => note("No errors in the measured window."),
    }
}

const NO_TIMELINE: &str = "The run file has no per-second timeline to plot.";

/// A bar per operation and error class, with its share of the attempts.
pub(super) fn error_classes(run: &RunResult) -> String {
    let bars: Vec<Bar> = run
        .operations
        .iter()
        .enumerate()
        .flat_map(|(i, op)| {
            op.errors.iter().map(move |(class, &n)| Bar {
                label: format!("{} · {class}", op.operation),
                value: n as f64,
                colour: colour(i),
                note: format!("{n} ({:.2}% of attempts)", share(n, op.attempts)),
            })
        })
        .collect();
    if bars.is_empty() {
        return note("No errors.");
    }
    BarChart {
        title: "Errors by class".into(),
        width: WIDE,
        x_label: "failed operations".into(),
        bars,
    }
    .render()
}

fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// Seconds from the start of the run to the opening of the measured
/// window, when both times can be read.
fn window_offset(run: &RunResult) -> Option<f64> {
    let parse = |text: &str| humantime::parse_rfc3339(text).ok();
    let started: SystemTime = parse(&run.started_at)?;
    let window = parse(&run.window_started_at)?;
    window.duration_since(started).ok().map(|d| d.as_secs_f64())
}

/// A resource chart over the run's samples: `client` and, when sampled,
/// `node` values per sample.
fn resource_chart(
    run: &RunResult,
    title: &str,
    y_label: &str,
    client: impl Fn(&crate::report::ResourcePoint) -> f64,
    node: impl Fn(&crate::report::ResourcePoint) -> Option<f64>,
) -> Option<LineChart> {
    let samples = &run.resources.samples;
    if samples.is_empty() {
        return None;
    }
    let markers = samples.len() <= MARKER_LIMIT;
    let mut series = vec![Series {
        label: "client (opmon)".into(),
        colour: colour(0),
        dashed: false,
        markers,
        points: samples.iter().map(|s| (s.t_s, client(s))).collect(),
    }];
    let node_points: Vec<(f64, f64)> = samples
        .iter()
        .filter_map(|s| node(s).map(|v| (s.t_s, v)))
        .collect();
    if !node_points.is_empty() {
        series.push(Series {
            label: "embedded node".into(),
            colour: colour(1),
            dashed: false,
            markers,
            points: node_points,
        });
    }
    let (x_max, y_max) = extent(&series);
    let mut chart = LineChart {
        width: HALF,
        plot_height: 220.0,
        ..LineChart::new(
            title,
            Axis::linear_range("seconds since the run started", 0.0, x_max),
            Axis::linear_with_headroom(y_label, y_max),
            series,
        )
    };
    if let Some(start) = window_offset(run) {
        let end = start + run.window.measured_s;
        chart.bands.push(Band {
            from: start,
            to: end,
            label: "measured window".into(),
        });
        if end > chart.x.max {
            chart.x = Axis::linear_range(&chart.x.label, 0.0, end);
        }
    }
    Some(chart)
}

const TOO_SHORT: &str = "No CPU or memory samples: the run was too short to sample.";

/// CPU over time, with the machine's capacity as a reference line.
pub(super) fn cpu(run: &RunResult) -> String {
    let Some(mut chart) = resource_chart(
        run,
        "CPU",
        "% of one core",
        |s| s.client_cpu_percent,
        |s| s.node_cpu_percent,
    ) else {
        return note(TOO_SHORT);
    };
    let cores = run.resources.cores;
    if cores > 0 {
        let all = cores as f64 * 100.0;
        chart.rules.push(Rule {
            y: all,
            label: format!("all {cores} cores"),
        });
        if all > chart.y.max {
            chart.y = Axis::linear(&chart.y.label, all);
        }
    }
    chart.render()
}

/// Resident memory over time.
pub(super) fn memory(run: &RunResult) -> String {
    let mib = |bytes: u64| bytes as f64 / 1048576.0;
    match resource_chart(
        run,
        "Memory (resident)",
        "MiB",
        |s| mib(s.client_rss_bytes),
        |s| s.node_rss_bytes.map(mib),
    ) {
        Some(chart) => chart.render(),
        None => note(TOO_SHORT),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(second: u64, ok: u64) -> TimelinePoint {
        TimelinePoint {
            second,
            ok,
            ..TimelinePoint::default()
        }
    }

    #[test]
    fn a_partial_last_second_is_scaled_or_left_out() {
        let timeline = [point(0, 10), point(1, 12), point(2, 3)];
        // 2.6 s: the last second covered 0.6 s, so 3 in it is 5/s.
        let points = staircase(&timeline, 2.6, |p| p.ok);
        assert_eq!(points.len(), 6);
        assert!((points[4].1 - 5.0).abs() < 1e-9 && (points[5].0 - 2.6).abs() < 1e-9);
        // 2.1 s: a tenth of a second says nothing fair; drop it.
        assert_eq!(staircase(&timeline, 2.1, |p| p.ok).len(), 4);
        // A run shorter than a second is all partial second, and kept.
        let short = staircase(&[point(0, 40)], 0.25, |p| p.ok);
        assert_eq!(short, [(0.0, 160.0), (0.25, 160.0)]);
    }

    #[test]
    fn timestamps_give_the_window_offset() {
        let mut run = crate::report::html::page::tests::run_with(&[]);
        run.started_at = "2026-01-02T03:04:05.250Z".into();
        run.window_started_at = "2026-01-02T03:04:07.000Z".into();
        assert_eq!(window_offset(&run), Some(1.75));
        run.window_started_at = "yesterday".into();
        assert_eq!(window_offset(&run), None);
    }
}
