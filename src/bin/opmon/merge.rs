//! `opmon merge`: one exact result from runs made on several machines.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

/// What `opmon merge` accepts.
#[derive(Args, Debug)]
pub struct MergeArgs {
    /// Runs to combine: run.json files or result directories.
    #[arg(required = true, num_args = 1..)]
    runs: Vec<PathBuf>,
    /// Directory for the merged run.json and summary.csv.
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    out: PathBuf,
}

pub fn merge(args: MergeArgs) -> anyhow::Result<ExitCode> {
    let _ = (args.runs, args.out);
    anyhow::bail!("opmon merge is not built yet")
}
