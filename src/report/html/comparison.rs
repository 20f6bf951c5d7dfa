//! The page for a comparison: the verdicts, then base and candidate
//! spectra overlaid per operation, so a reader sees where the
//! distributions part — at the median, or only in the tail.

use std::fmt::Write as _;

use hdrhistogram::Histogram;

use super::page::head;
use super::spectrum::{spectrum_chart, SpectrumLine};
use super::{escape, figures_table, operations, svg::colour, Judged};
use crate::report::compare::format::{cells, sides, HEADER};
use crate::report::compare::{Comparison, Verdict};
use crate::report::RunResult;

/// All runs' response times for `operation` (unreadable histograms make
/// an empty line: the comparison itself has already refused them).
fn pooled(runs: &[RunResult], operation: &str) -> Histogram<u64> {
    crate::report::compare::pooled(runs, operation).unwrap_or_else(|_| crate::load::new_histogram())
}

/// The page for `comparison` of `base` and `candidate` runs.
pub fn comparison_page(
    comparison: &Comparison,
    base: &[RunResult],
    candidate: &[RunResult],
) -> String {
    let mut html = String::with_capacity(64 * 1024);
    html.push_str(&head("opmon comparison"));
    html.push_str("<h1>opmon comparison</h1>\n");
    let count = |verdict| {
        comparison
            .rows
            .iter()
            .filter(|r| r.verdict == verdict)
            .count()
    };
    let (worse, better) = (count(Verdict::Worse), count(Verdict::Better));
    let unjudged = count(Verdict::Unknown) + count(Verdict::NotJudged);
    let _ = writeln!(
        html,
        r#"<div class="badges"><span class="badge {}">{worse} worse</span><span class="badge {}">{better} better</span><span class="badge good">{} unchanged</span><span class="badge warn">{unjudged} not judged</span></div>"#,
        if worse > 0 { "bad" } else { "good" },
        if better > 0 { "good" } else { "warn" },
        comparison.rows.len() - worse - better - unjudged,
    );
    for line in sides(comparison).lines() {
        let _ = writeln!(html, "<p class=\"caption\">{}</p>", escape(line));
    }
    let list = |runs: &[String]| escape(&runs.join(", "));
    let _ = writeln!(
        html,
        "<dl class=\"facts\"><dt>base</dt><dd>{} — {}</dd><dt>candidate</dt><dd>{} — {}</dd></dl>",
        escape(&comparison.base_label),
        list(&comparison.base_runs),
        escape(&comparison.candidate_label),
        list(&comparison.candidate_runs)
    );

    let rows = comparison.rows.iter().map(|row| {
        let judged = match row.verdict {
            Verdict::Unknown | Verdict::NotJudged => Judged::Not,
            Verdict::Worse => Judged::Bad,
            _ => Judged::Yes,
        };
        (cells(row).to_vec(), judged)
    });
    html.push_str(&figures_table(&HEADER, rows));
    html.push_str("<h2>Latency by percentile</h2>\n<div class=\"plots\">\n");
    let operations = operations(comparison.rows.iter().map(|r| r.operation.as_str()));
    for operation in operations
        .into_iter()
        .filter(|op| *op != crate::report::compare::TOTAL)
    {
        let (a, b) = (pooled(base, operation), pooled(candidate, operation));
        let lines = [
            SpectrumLine {
                label: "base".into(),
                histogram: &a,
                colour: colour(0),
                dashed: true,
            },
            SpectrumLine {
                label: "candidate".into(),
                histogram: &b,
                colour: colour(1),
                dashed: false,
            },
        ];
        match spectrum_chart(&format!("{operation}: base and candidate"), &lines) {
            Some(chart) => html.push_str(&chart.render()),
            None => {
                let _ = write!(
                    html,
                    "<p class=\"note\">{}: no successful operations on either side.</p>",
                    escape(operation)
                );
            }
        }
        html.push('\n');
    }
    html.push_str(
        "</div>\n<p class=\"caption\">Response time of all runs of a side pooled; base dashed, \
         candidate solid. Where the lines part shows where the change is: everywhere, or only in \
         the tail.</p>\n<footer>Written by opmon. Self-contained: no scripts, fonts or images are \
         loaded.</footer>\n</main></body></html>\n",
    );
    html
}
