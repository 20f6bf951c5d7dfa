//! `opmon merge`: one exact result from runs made on several machines.
//!
//! Reads every run, lets [`merge_runs`] refuse incompatible ones, then
//! writes and prints the merged run like `opmon bench` does, followed by
//! one line per machine, since CPU and memory do not add up across them.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use xmtp_opmon::report::{
    merge_runs_with, summary_table, MergeOptions, RunPart, RunResult, RUN_FILE,
};

/// What `opmon merge` accepts.
#[derive(Args, Debug)]
pub struct MergeArgs {
    /// Runs to combine: run.json files or result directories.
    #[arg(required = true, num_args = 1..)]
    runs: Vec<PathBuf>,
    /// Directory for the merged run.json and summary.csv.
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    out: PathBuf,
    /// Merge runs even if their windows leave a gap (throughput then
    /// counts only the seconds some run measured).
    #[arg(long)]
    force: bool,
}

pub fn merge(args: MergeArgs) -> anyhow::Result<ExitCode> {
    let out_file = args.out.join(RUN_FILE);
    let mut runs = Vec::with_capacity(args.runs.len());
    for path in &args.runs {
        if overwrites(path, &out_file) {
            anyhow::bail!(
                "{} is one of the runs to merge; choose another --out directory",
                out_file.display()
            );
        }
        // The message already names the file; its I/O cause is part of it.
        runs.push(RunResult::read(path).map_err(|e| anyhow::anyhow!("{e}"))?);
    }
    let merged = merge_runs_with(&runs, MergeOptions { force: args.force })?;
    merged
        .write_json(&args.out)
        .and_then(|_| merged.write_csv(&args.out))
        .map_err(|e| anyhow::anyhow!("{e}"))?;

    // Each machine's line follows the table, as its resources would.
    say!("{}", summary_table(&merged).trim_end());
    for part in &merged.merged_from {
        say!("{}", part_line(part));
    }
    say!("\nresults: {}", args.out.display());
    Ok(ExitCode::SUCCESS)
}

/// Whether writing `out_file` would replace the run read from `input`.
fn overwrites(input: &Path, out_file: &Path) -> bool {
    let input = if input.is_dir() {
        input.join(RUN_FILE)
    } else {
        input.to_owned()
    };
    match (input.canonicalize(), out_file.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// `part RUN_ID: window from T, 5.02s measured, 8 cores, client cpu mean …`.
fn part_line(part: &RunPart) -> String {
    let mut line = format!(
        "  part {}: window from {}, {:.2}s measured, {} cores",
        part.run_id, part.window_started_at, part.window.measured_s, part.environment.cores
    );
    let r = &part.resources;
    for (name, summary) in [("client", &r.client), ("node", &r.node)] {
        if let Some(s) = summary.as_ref().filter(|s| s.samples > 0) {
            line.push_str(&format!(
                " · {name} cpu mean {:.0}% max {:.0}%, rss peak {:.1} MiB",
                s.mean_cpu_percent,
                s.max_cpu_percent,
                s.peak_rss_bytes as f64 / 1048576.0
            ));
        }
    }
    if r.client_saturated {
        line.push_str(" · CLIENT SATURATED");
    }
    line
}
