//! `opmon compare`: is the candidate better, worse, or the same?

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use xmtp_opmon::report::compare::{self, CompareOptions};

use crate::real::{vs_prometheus, RealArgs};
use crate::run_sides::{read_runs, split_by};

/// Exit code when `--fail-on-regression` finds one.
const EXIT_REGRESSION: u8 = 98;

/// How to print the comparison.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
    Markdown,
}

/// What `opmon compare` accepts.
#[derive(Args, Debug)]
pub struct CompareArgs {
    /// The base side: run.json files, result directories, or directories of them
    /// (several runs make a side). With --by, all the runs to split.
    #[arg(required = true, num_args = 1.., value_name = "BASE")]
    pub base: Vec<PathBuf>,
    /// The candidate side, after --vs.
    #[arg(long = "vs", num_args = 1.., value_name = "CANDIDATE",
          required_unless_present_any = ["by", "vs_prometheus"], conflicts_with = "by")]
    candidate: Vec<PathBuf>,
    /// Split the runs into two sides by the two values of this tag (`api` falls
    /// back to the API a run measured), e.g. --by api for V3 against V4.
    #[arg(long, value_name = "TAG", conflicts_with = "vs_prometheus")]
    by: Option<String>,
    /// With --by, the tag's value that makes the base (default: the first in sort order).
    #[arg(long = "base", value_name = "VALUE", requires = "by")]
    base_value: Option<String>,
    /// Relative changes up to this size count as noise.
    #[arg(long, default_value = "2%", value_parser = parse_percent)]
    threshold: f64,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Exit 98 when any figure is significantly worse beyond the threshold.
    #[arg(long)]
    fail_on_regression: bool,
    /// Compare runs even if their scenario, load model or operations differ.
    #[arg(long)]
    pub force: bool,
    /// Judge latency and throughput from fewer than 4 runs a side, from the
    /// noise within the runs alone (misses the variation between runs).
    #[arg(long)]
    single_run: bool,
    /// Also write the comparison as a self-contained HTML page with the spectra overlaid.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    #[command(flatten)]
    pub real: RealArgs,
}

fn parse_percent(text: &str) -> Result<f64, String> {
    text.trim()
        .strip_suffix('%')
        .and_then(|number| number.trim().parse::<f64>().ok())
        .filter(|pct| (0.0..100.0).contains(pct))
        .map(|pct| pct / 100.0)
        .ok_or_else(|| format!("`{text}` is not a percentage like 2% or 0.5%"))
}

pub async fn compare(args: CompareArgs) -> anyhow::Result<ExitCode> {
    if let Some(url) = &args.real.vs_prometheus {
        return vs_prometheus(&args, url).await;
    }
    let (base, candidate) = match &args.by {
        Some(tag) => split_by(read_runs(&args.base)?, tag, args.base_value.as_deref())?,
        None => (read_runs(&args.base)?, read_runs(&args.candidate)?),
    };
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
        write_page(
            path,
            xmtp_opmon::report::html::comparison_page(&comparison, &base, &candidate),
        )?;
    }
    Ok(if args.fail_on_regression && comparison.has_regression() {
        eprintln!("opmon: a figure is significantly worse than the base");
        ExitCode::from(EXIT_REGRESSION)
    } else {
        ExitCode::SUCCESS
    })
}

/// Writes an HTML page and says where.
pub fn write_page(path: &std::path::Path, page: String) -> anyhow::Result<()> {
    std::fs::write(path, page)
        .map_err(|e| anyhow::anyhow!("cannot write the page to {}: {e}", path.display()))?;
    eprintln!("report: {}", path.display());
    Ok(())
}
