//! `opmon report`: a run as a self-contained HTML page with plots.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

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
    let _ = (args.run, args.html);
    anyhow::bail!("opmon report is not built yet")
}
