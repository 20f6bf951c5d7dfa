//! A comparison as a terminal table, CSV, JSON or Markdown.

use std::fmt::Write as _;

use super::{Comparison, Figure, Row};

pub(crate) fn value(row: &Row, value: f64) -> String {
    match row.figure {
        Figure::ErrorRate => format!("{value:.2}%"),
        Figure::Throughput => format!("{value:.1}/s"),
        _ if value >= 100.0 => format!("{value:.0}ms"),
        _ if value >= 10.0 => format!("{value:.1}ms"),
        _ => format!("{value:.2}ms"),
    }
}

/// A change on the row's scale: `+12.3%`, or `+0.40pp` for error rates.
fn delta(row: &Row, change: f64) -> String {
    if row.figure == Figure::ErrorRate {
        format!("{change:+.2}pp")
    } else {
        format!("{:+.1}%", change * 100.0)
    }
}

pub(crate) fn change_text(row: &Row) -> String {
    row.change
        .map(|c| delta(row, c))
        .unwrap_or_else(|| "n/a".into())
}

pub(crate) fn interval_text(row: &Row) -> String {
    row.interval
        .map(|(low, high)| format!("[{}, {}]", delta(row, low), delta(row, high)))
        .unwrap_or_else(|| "n/a".into())
}

pub(crate) fn ratio_text(row: &Row) -> String {
    row.ratio
        .map(|r| format!("{r:.2}x"))
        .unwrap_or_else(|| "n/a".into())
}

/// The adjusted p-value, which the verdict reads.
pub(crate) fn p_text(row: &Row) -> String {
    p_cell(row.p_adjusted)
}

/// A p-value as shown: `-` when untested, `<0.001`, or three decimals.
pub(crate) fn p_cell(p: Option<f64>) -> String {
    match p {
        None => "-".into(),
        Some(p) if p < 0.001 => "<0.001".into(),
        Some(p) => format!("{p:.3}"),
    }
}

/// The verdict, with the reason when there is none to give.
pub(crate) fn verdict_text(row: &Row) -> String {
    verdict_cell(row.verdict.as_str(), row.reason.as_deref())
}

/// A verdict with its reason in parentheses, if any.
pub(crate) fn verdict_cell(verdict: &str, reason: Option<&str>) -> String {
    match reason {
        Some(reason) => format!("{verdict} ({reason})"),
        None => verdict.to_owned(),
    }
}

/// A number for CSV: empty when absent.
pub(crate) fn csv_number(value: Option<f64>) -> String {
    value.map(|v| format!("{v}")).unwrap_or_default()
}

/// Prose for CSV (it has commas): quoted, quotes doubled; empty when absent.
pub(crate) fn csv_text(text: Option<&str>) -> String {
    text.map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
        .unwrap_or_default()
}

/// A Markdown table after `intro`: `align` is the rule under the header;
/// each row comes with whether its last cell (the verdict) is bold.
pub(crate) fn markdown(
    intro: &str,
    header: &[&str],
    align: &str,
    rows: impl Iterator<Item = (Vec<String>, bool)>,
) -> String {
    let mut out = format!("{intro}\n\n| {} |\n{align}\n", header.join(" | "));
    for (mut cells, bold) in rows {
        if let (true, Some(last)) = (bold, cells.last_mut()) {
            *last = format!("**{last}**");
        }
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out
}

/// A row's ten display cells: operation, figure, base, candidate, change,
/// 95% CI, ratio, adjusted p, method and verdict.
pub(crate) fn cells(row: &Row) -> [String; 10] {
    [
        row.operation.clone(),
        row.figure.name().to_owned(),
        value(row, row.base),
        value(row, row.candidate),
        change_text(row),
        interval_text(row),
        ratio_text(row),
        p_text(row),
        if row.method.is_empty() {
            "-".to_owned()
        } else {
            row.method.to_owned()
        },
        verdict_text(row),
    ]
}

/// The header of [`cells`].
pub(crate) const HEADER: [&str; 10] = [
    "operation",
    "figure",
    "base",
    "candidate",
    "change",
    "95% CI",
    "ratio",
    "p (adj.)",
    "method",
    "verdict",
];

pub(crate) fn sides(comparison: &Comparison) -> String {
    let mut text = format!(
        "base: {} · candidate: {}\nnoise threshold {:.1}% · significant at adjusted p < {} (Benjamini–Hochberg over {} tested figures)",
        comparison.base_label,
        comparison.candidate_label,
        comparison.threshold * 100.0,
        super::ALPHA,
        comparison.rows.iter().filter(|row| row.p_value.is_some()).count(),
    );
    let runs = super::stats::MIN_RUNS_FOR_RANK_TEST;
    let pooled = comparison.rows.iter().any(|row| {
        row.figure != super::Figure::ErrorRate
            && row.method != "mann-whitney"
            && row.p_value.is_some()
    });
    if comparison.single_run && pooled {
        text.push_str(&format!(
            "\nwarning: --single-run judges latency from fewer than {runs} runs a side; its intervals show the sampling noise within the runs, not the variation between runs, which is often larger"
        ));
    }
    text
}

/// The comparison as an aligned table for a terminal.
pub fn to_table(comparison: &Comparison) -> String {
    let mut out = sides(comparison);
    out.push('\n');
    let line = |out: &mut String, c: &[&str; 10]| {
        let _ = writeln!(
            out,
            "  {:<18} {:<10} {:>10} {:>10} {:>9} {:>22} {:>8} {:>8}  {:<15} {}",
            c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9]
        );
    };
    line(&mut out, &HEADER);
    for row in &comparison.rows {
        let cells = cells(row);
        line(&mut out, &cells.each_ref().map(String::as_str));
    }
    out
}

/// The comparison as Markdown, for pull requests and reports.
pub fn to_markdown(comparison: &Comparison) -> String {
    let rows = comparison.rows.iter().map(|row| {
        let bold = matches!(row.verdict, super::Verdict::Better | super::Verdict::Worse);
        (cells(row).to_vec(), bold)
    });
    markdown(
        &sides(comparison),
        &HEADER,
        "|---|---|---:|---:|---:|---:|---:|---:|---|---|",
        rows,
    )
}

/// The comparison as CSV with raw numbers: one row per operation and figure.
pub fn to_csv(comparison: &Comparison) -> String {
    let mut out = String::from(
        "operation,figure,unit,base,candidate,change,ci_low,ci_high,ratio,p_value,p_adjusted,method,verdict,reason\n",
    );
    let number = csv_number;
    for row in &comparison.rows {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            row.operation,
            row.figure.name(),
            row.unit,
            row.base,
            row.candidate,
            number(row.change),
            number(row.interval.map(|i| i.0)),
            number(row.interval.map(|i| i.1)),
            number(row.ratio),
            number(row.p_value),
            number(row.p_adjusted),
            row.method,
            row.verdict.as_str(),
            csv_text(row.reason.as_deref())
        );
    }
    out
}

/// The comparison as JSON.
pub fn to_json(comparison: &Comparison) -> String {
    // Serializing plain numbers and strings cannot fail.
    serde_json::to_string_pretty(comparison).unwrap_or_default()
}
