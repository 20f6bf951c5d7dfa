//! `opmon`: drive benchmark traffic through the same client and layers
//! that production apps use, or serve the embedded XMTP V4 node.

/// Prints a line on stdout, ignoring a closed pipe: results live in files,
/// and `opmon … | head` must end quietly rather than panic mid-run.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

mod bench;
mod capacity;
mod compare;
mod export;
mod faults;
mod merge;
mod monitor;
mod node;
mod real;
mod report;
mod run_file;
mod run_sides;
mod sampler;
mod scw;
mod signal;
mod store;
mod target;
#[cfg(test)]
mod value_fuzz;
mod visibility;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "opmon",
    version,
    about = "Operation monitor for the XMTP V4 network"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Measure identity creation, group creation, member addition and lookups under load.
    Bench(Box<bench::BenchArgs>),
    /// Compare runs: per operation and figure, the change, its confidence interval and a verdict.
    Compare(compare::CompareArgs),
    /// Combine runs made on several machines at the same time into one exact result.
    Merge(merge::MergeArgs),
    /// Write a run as a self-contained HTML page with plots.
    Report(report::ReportArgs),
    /// Serve the embedded V4 node (gateway and node on one listener).
    Node(node::NodeArgs),
    /// Run each operation on a schedule, forever: synthetic monitoring with /metrics and probes.
    Monitor(Box<monitor::MonitorArgs>),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            // Help and version are not errors; bad usage exits 1.
            return if error.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Command::Bench(args) = &cli.command {
        if let Some(threads) = args.threads() {
            builder.worker_threads(threads);
        }
    }
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("opmon: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Bench(args) => bench::bench(*args).await,
            Command::Compare(args) => compare::compare(args).await,
            Command::Merge(args) => merge::merge(args),
            Command::Report(args) => report::report(args),
            Command::Node(args) => node::serve(args).await.map(|()| ExitCode::SUCCESS),
            Command::Monitor(args) => monitor::monitor(*args).await,
        }
    });
    // Tasks still parked on stdin or timers must not hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("opmon: {error:#}");
            ExitCode::FAILURE
        }
    }
}
