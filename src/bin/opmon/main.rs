//! `opmon`: serve the embedded XMTP V4 node, and (soon) drive benchmark
//! traffic through the same client and layers that production apps use.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use xmtp_opmon::node::{
    parse_duration, parse_errors, EmbeddedNode, Faults, Latency, NodeConfig, Stall,
};

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
    /// Serve the embedded V4 node (gateway and node on one listener).
    Node(NodeArgs),
}

#[derive(Args)]
struct NodeArgs {
    /// Address to listen on (port 0 picks a free port; the bound address is printed).
    #[arg(long, default_value = "127.0.0.1:5050")]
    listen: SocketAddr,
    /// Refuse invalid identity updates at publish instead of dropping them silently.
    #[arg(long)]
    strict: bool,
    #[command(flatten)]
    faults: FaultArgs,
}

/// Fault flags shared by `node` and (embedded-node) `bench`.
#[derive(Args)]
struct FaultArgs {
    /// Latency added to each call: fixed:10ms | uniform:5ms..15ms | lognormal:p50=20ms,p99=200ms.
    #[arg(long, value_name = "SPEC", value_parser = |s: &str| s.parse::<Latency>())]
    inject_latency: Option<Latency>,
    /// Periodic stalls, DURATION/EVERY: e.g. 500ms/5s answers nothing for 500 ms every 5 s.
    #[arg(long, value_name = "D/EVERY", value_parser = |s: &str| s.parse::<Stall>())]
    stall: Option<Stall>,
    /// Error codes at rates, e.g. unavailable=1%,resource_exhausted=0.5%.
    #[arg(long, value_name = "SPEC", value_parser = parse_errors)]
    inject_error: Option<Vec<xmtp_opmon::node::InjectedError>>,
    /// Delay before chain-path writes (identity updates, commits) become readable.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    indexer_lag: Option<Duration>,
}

impl FaultArgs {
    fn faults(self) -> Faults {
        Faults {
            latency: self.inject_latency,
            stall: self.stall,
            errors: self.inject_error.unwrap_or_default(),
            indexer_lag: self.indexer_lag.unwrap_or_default(),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("opmon: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Node(args) => serve_node(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("opmon: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve_node(args: NodeArgs) -> anyhow::Result<()> {
    let config = NodeConfig {
        strict: args.strict,
        faults: args.faults.faults(),
        hold_faults: false,
    };
    let node = EmbeddedNode::start_with(args.listen, config)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", args.listen))?;
    // One line on stdout, so a parent process can read the bound address.
    println!("listening on {}", node.url());
    shutdown_signal().await?;
    node.shutdown().await;
    Ok(())
}

/// Ctrl-C, or SIGTERM from a parent process or a container runtime.
async fn shutdown_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut terminate = signal(SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result,
            _ = terminate.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await
}
