//! `opmon compare`: is the candidate better, worse, or the same?

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

/// What `opmon compare` accepts.
#[derive(Args, Debug)]
pub struct CompareArgs {
    /// The base side: run.json files or result directories.
    #[arg(required = true, num_args = 1..)]
    base: Vec<PathBuf>,
    /// The candidate side.
    #[arg(long = "vs", required = true, num_args = 1..)]
    candidate: Vec<PathBuf>,
}

pub fn compare(args: CompareArgs) -> anyhow::Result<ExitCode> {
    let _ = (args.base, args.candidate);
    anyhow::bail!("opmon compare is not built yet")
}
