//! The page for a comparison with real users: the verdicts, then per
//! operation the synthetic spectrum with the real one overlaid.
//!
//! The real line is a staircase: a bucket says only that a share of the
//! operations finished at or below its bound, so for the quantiles up to
//! that share the line stands at the bound, and jumps at the next. Where
//! the synthetic line runs inside a step, the two sides agree as far as
//! the buckets can tell.

use std::fmt::Write as _;

use super::buckets::Buckets;
use super::format::{cells, sides, HEADER};
use super::{RealComparison, RealSide, RealVerdict};
use crate::report::compare::pooled;
use crate::report::html::svg::{colour, percentile_position, Axis, Series};
use crate::report::html::{
    escape, figures_table, head, operations, spectrum_chart, Judged, SpectrumLine,
};
use crate::report::RunResult;

/// The page for `comparison` of `runs` with `real`.
pub fn real_page(comparison: &RealComparison, real: &RealSide, runs: &[RunResult]) -> String {
    let mut html = String::with_capacity(64 * 1024);
    html.push_str(&head("opmon: synthetic against real"));
    html.push_str("<h1>opmon: synthetic against real users</h1>\n");
    for line in sides(comparison).lines() {
        let _ = writeln!(html, "<p class=\"caption\">{}</p>", escape(line));
    }
    let rows = comparison.rows.iter().map(|row| {
        let judged = match row.verdict {
            RealVerdict::Unknown | RealVerdict::NotJudged => Judged::Not,
            _ => Judged::Yes,
        };
        (cells(row).to_vec(), judged)
    });
    html.push_str(&figures_table(&HEADER, rows));
    html.push_str("<h2>Latency by percentile</h2>\n<div class=\"plots\">\n");
    let operations = operations(comparison.rows.iter().map(|r| r.operation.as_str()));
    for operation in operations {
        let synthetic = pooled(runs, operation).unwrap_or_else(|_| crate::load::new_histogram());
        let line = SpectrumLine {
            label: "synthetic".into(),
            histogram: &synthetic,
            colour: colour(1),
            dashed: false,
        };
        let title = format!("{operation}: synthetic and real");
        let buckets = real.operations.get(operation).map(|op| &op.ok_buckets);
        match (spectrum_chart(&title, &[line]), buckets) {
            (Some(mut chart), Some(buckets)) => {
                let steps = staircase(buckets, chart.x.max);
                let top = steps.iter().map(|(_, y)| *y).fold(0.0, f64::max);
                if top > chart.y.max {
                    chart.y = if chart.y.logarithmic {
                        Axis::logarithmic(&chart.y.label, chart.y.min, top)
                    } else {
                        Axis::linear_with_headroom(&chart.y.label, top)
                    };
                }
                chart.series.push(Series {
                    label: "real (bucket bounds)".into(),
                    colour: colour(0),
                    dashed: true,
                    markers: false,
                    points: steps,
                });
                html.push_str(&chart.render());
            }
            (Some(chart), None) => html.push_str(&chart.render()),
            (None, _) => {
                let _ = write!(
                    html,
                    "<p class=\"note\">{}: no successful synthetic operations.</p>",
                    escape(operation)
                );
            }
        }
        html.push('\n');
    }
    html.push_str(
        "</div>\n<p class=\"caption\">Synthetic runs pooled, solid; real users dashed, as a \
         staircase over the bucket bounds (the real latency at a percentile is only known to \
         be at or below the step). The last bucket, up to +Inf, is drawn at the highest finite \
         bound.</p>\n<footer>Written by opmon. Self-contained: no scripts, fonts or images are \
         loaded.</footer>\n</main></body></html>\n",
    );
    html
}

/// `(percentile position, ms)` of the real staircase up to `x_max`: each
/// bucket holds the line at its bound from the share below it to its own.
fn staircase(buckets: &Buckets, x_max: f64) -> Vec<(f64, f64)> {
    let highest = buckets.bounds().fold(0.0, f64::max);
    let position = |share: f64| {
        if share >= 1.0 {
            x_max
        } else {
            percentile_position(share).min(x_max)
        }
    };
    let mut points = Vec::new();
    let mut from = 0.0;
    for (bound, share) in buckets.shares() {
        if share <= from {
            continue;
        }
        let ms = if bound.is_finite() { bound } else { highest } * 1000.0;
        points.push((position(from), ms));
        points.push((position(share), ms));
        from = share;
        if share >= 1.0 {
            break;
        }
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_staircase_steps_at_each_bound() {
        let mut b = Buckets::default();
        b.add(0.01, 50.0);
        b.add(0.025, 90.0);
        b.add(f64::INFINITY, 100.0);
        let steps = staircase(&b, 3.0);
        assert_eq!(
            steps,
            vec![
                (0.0, 10.0),
                (percentile_position(0.5), 10.0),
                (percentile_position(0.5), 25.0),
                (1.0, 25.0),
                (1.0, 25.0),
                (3.0, 25.0)
            ]
        );
    }
}
