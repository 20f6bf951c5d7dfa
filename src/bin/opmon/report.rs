//! `opmon report`: a run as a self-contained HTML page with plots.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use xmtp_opmon::report::{run_page, RunResult};

/// What `opmon report` accepts.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// The run: a run.json file or a result directory.
    run: PathBuf,
    /// Where to write the page.
    #[arg(long, value_name = "FILE")]
    html: PathBuf,
}

pub fn report(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let run = RunResult::read(&args.run)?;
    let page = run_page(&run);
    std::fs::write(&args.html, page)
        .with_context(|| format!("cannot write the report to {}", args.html.display()))?;
    say!("report: {}", args.html.display());
    Ok(ExitCode::SUCCESS)
}
