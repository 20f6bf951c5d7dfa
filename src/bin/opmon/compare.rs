//! `opmon compare`: is the candidate better, worse, or the same?

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use xmtp_opmon::report::compare::{self, CompareOptions};
use xmtp_opmon::report::RunResult;

/// Exit code when `--fail-on-regression` finds one.
const EXIT_REGRESSION: u8 = 98;

/// How to print the comparison.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Csv,
    Json,
    Markdown,
}

/// What `opmon compare` accepts.
#[derive(Args, Debug)]
pub struct CompareArgs {
    /// The base side: run.json files or result directories (several runs make a side).
    #[arg(required = true, num_args = 1.., value_name = "BASE")]
    base: Vec<PathBuf>,
    /// The candidate side, after --vs.
    #[arg(long = "vs", required = true, num_args = 1.., value_name = "CANDIDATE")]
    candidate: Vec<PathBuf>,
    /// Relative changes up to this size count as noise.
    #[arg(long, default_value = "2%", value_parser = parse_percent)]
    threshold: f64,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Exit 98 when any figure is significantly worse beyond the threshold.
    #[arg(long)]
    fail_on_regression: bool,
    /// Compare runs even if their scenario, load model or operations differ.
    #[arg(long)]
    force: bool,
    /// Judge latency and throughput from fewer than 4 runs a side, from the
    /// noise within the runs alone (misses the variation between runs).
    #[arg(long)]
    single_run: bool,
    /// Also write the comparison as a self-contained HTML page with the spectra overlaid.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
}

fn parse_percent(text: &str) -> Result<f64, String> {
    text.trim()
        .strip_suffix('%')
        .and_then(|number| number.trim().parse::<f64>().ok())
        .filter(|pct| (0.0..100.0).contains(pct))
        .map(|pct| pct / 100.0)
        .ok_or_else(|| format!("`{text}` is not a percentage like 2% or 0.5%"))
}

fn read_all(paths: &[PathBuf]) -> anyhow::Result<Vec<RunResult>> {
    paths
        .iter()
        .map(|path| RunResult::read(path).map_err(anyhow::Error::from))
        .collect()
}

pub fn compare(args: CompareArgs) -> anyhow::Result<ExitCode> {
    let base = read_all(&args.base)?;
    let candidate = read_all(&args.candidate)?;
    let options = CompareOptions {
        threshold: args.threshold,
        force: args.force,
        single_run: args.single_run,
    };
    let comparison = compare::compare(&base, &candidate, options)?;
    let text = match args.format {
        Format::Table => compare::to_table(&comparison),
        Format::Csv => compare::to_csv(&comparison),
        Format::Json => compare::to_json(&comparison),
        Format::Markdown => compare::to_markdown(&comparison),
    };
    // A reader that stops early (`| head`) is not an error worth a panic.
    say!("{}", text.trim_end());
    if let Some(path) = &args.html {
        let page = xmtp_opmon::report::html::comparison_page(&comparison, &base, &candidate);
        std::fs::write(path, page)
            .map_err(|e| anyhow::anyhow!("cannot write the page to {}: {e}", path.display()))?;
        eprintln!("report: {}", path.display());
    }
    Ok(if args.fail_on_regression && comparison.has_regression() {
        eprintln!("opmon: a figure is significantly worse than the base");
        ExitCode::from(EXIT_REGRESSION)
    } else {
        ExitCode::SUCCESS
    })
}
