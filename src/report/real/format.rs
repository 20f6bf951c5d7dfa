//! A comparison with real users as a terminal table, CSV, JSON or
//! Markdown, in the shape of `opmon compare`'s.

use std::fmt::Write as _;

use super::{RealComparison, RealRow, RealVerdict};
use crate::report::compare::format::{csv_number, csv_text, markdown, p_cell, verdict_cell};

/// A value in the row's unit.
fn value(row: &RealRow, value: f64) -> String {
    match row.unit {
        "%" => format!("{value:.2}%"),
        "ok/s" => format!("{value:.2}/s"),
        _ if value >= 100.0 => format!("{value:.0}ms"),
        _ if value >= 10.0 => format!("{value:.1}ms"),
        _ => format!("{value:.2}ms"),
    }
}

/// The real bucket, `[10.0ms, 25.0ms]` or `[10.0s, +Inf)`.
fn bucket(row: &RealRow) -> String {
    match (row.real_low, row.real_high) {
        (Some(low), Some(high)) => format!("[{}, {}]", value(row, low), value(row, high)),
        (Some(low), None) => format!("[{}, +Inf)", value(row, low)),
        _ => "-".into(),
    }
}

/// The header of [`cells`].
pub(crate) const HEADER: [&str; 8] = [
    "operation",
    "figure",
    "synthetic",
    "real",
    "real bucket",
    "ratio",
    "p (adj.)",
    "verdict",
];

/// A row's display cells, in [`HEADER`] order.
pub(crate) fn cells(row: &RealRow) -> [String; 8] {
    [
        row.operation.clone(),
        match &row.phase {
            Some(phase) => format!("{phase} {}", row.figure),
            None => row.figure.clone(),
        },
        value(row, row.synthetic),
        row.real.map_or_else(|| "-".into(), |r| value(row, r)),
        bucket(row),
        row.ratio
            .map_or_else(|| "n/a".into(), |r| format!("{r:.2}x")),
        p_cell(row.p_adjusted),
        verdict_cell(row.verdict.as_str(), row.reason.as_deref()),
    ]
}

/// The lines above the table: what was compared with what.
pub(crate) fn sides(comparison: &RealComparison) -> String {
    let mut text = format!(
        "synthetic: {} · real: {} at {}, {} to {}\n\
         a percentile is `inside` when the synthetic value lies in the real percentile's bucket; \
         rates are tested (two-proportion, Benjamini–Hochberg), throughput only shown",
        comparison.synthetic_label,
        comparison.selector,
        comparison.prometheus,
        comparison.start,
        comparison.end,
    );
    for (side, only) in [
        ("the runs", &comparison.only_synthetic),
        ("the real users", &comparison.only_real),
    ] {
        if !only.is_empty() {
            let _ = write!(text, "\nonly {side}: {}", only.join(", "));
        }
    }
    text
}

/// As an aligned table for a terminal.
pub fn to_table(comparison: &RealComparison) -> String {
    let mut out = sides(comparison);
    out.push('\n');
    let line = |out: &mut String, c: &[&str; 8]| {
        let _ = writeln!(
            out,
            "  {:<18} {:<28} {:>10} {:>10} {:>22} {:>8} {:>8}  {}",
            c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]
        );
    };
    line(&mut out, &HEADER);
    for row in &comparison.rows {
        let cells = cells(row);
        line(&mut out, &cells.each_ref().map(String::as_str));
    }
    out
}

/// As Markdown.
pub fn to_markdown(comparison: &RealComparison) -> String {
    let rows = comparison.rows.iter().map(|row| {
        let judged = !matches!(
            row.verdict,
            RealVerdict::Same | RealVerdict::Unknown | RealVerdict::NotJudged
        );
        (cells(row).to_vec(), judged)
    });
    markdown(
        &sides(comparison),
        &HEADER,
        "|---|---|---:|---:|---:|---:|---:|---|",
        rows,
    )
}

/// As CSV with raw numbers, one row per operation and figure.
pub fn to_csv(comparison: &RealComparison) -> String {
    let mut out = String::from(
        "operation,phase,figure,unit,synthetic,real,real_low,real_high,ratio,p_value,p_adjusted,verdict,reason\n",
    );
    let number = csv_number;
    for row in &comparison.rows {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{},{}",
            row.operation,
            row.phase.as_deref().unwrap_or(""),
            row.figure,
            row.unit,
            row.synthetic,
            number(row.real),
            number(row.real_low),
            // An open bucket's bound is +Inf, as Prometheus writes it.
            match (row.real_low, row.real_high) {
                (Some(_), None) => "+Inf".to_owned(),
                (_, high) => number(high),
            },
            number(row.ratio),
            number(row.p_value),
            number(row.p_adjusted),
            row.verdict.as_str(),
            csv_text(row.reason.as_deref())
        );
    }
    out
}

/// As JSON.
pub fn to_json(comparison: &RealComparison) -> String {
    // Plain numbers and strings cannot fail to serialize.
    serde_json::to_string_pretty(comparison).unwrap_or_default()
}
