//! `opmon node`: the embedded node on its own.

use std::net::SocketAddr;

use clap::Args;
use tokio::io::AsyncBufReadExt;

use anyhow::Context;
use xmtp_opmon::node::{EmbeddedNode, NodeConfig};
use xmtp_opmon::telemetry::TelemetryBuilder;

use crate::faults::FaultArgs;
use crate::scw::ScwArgs;
use crate::signal::shutdown_signal;
use crate::store::StoreArgs;

/// What `opmon node` accepts.
#[derive(Args, Debug)]
pub struct NodeArgs {
    /// Address to listen on (port 0 picks a free port; the bound address is printed).
    #[arg(long, default_value = "127.0.0.1:5050")]
    listen: SocketAddr,
    /// Check more than xmtpd: refuse invalid identity updates at publish
    /// instead of dropping them silently, envelopes whose topic names
    /// another installation, group or inbox, welcomes without data or key,
    /// and key packages of another ciphersuite or application id.
    #[arg(long)]
    strict: bool,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    scw: ScwArgs,
    /// Export the node's metrics (its store's envelopes, bytes and
    /// evictions) over OTLP/gRPC to URL.
    #[arg(long, value_name = "URL")]
    otlp: Option<String>,
    /// Run under `opmon bench`: faults wait for a line `arm` on stdin (and
    /// `armed` on stdout confirms them), and the node stops when stdin
    /// closes (so it never outlives its parent).
    #[arg(long, hide = true)]
    supervised: bool,
    #[command(flatten)]
    faults: FaultArgs,
}

/// The line a supervising parent sends to let faults apply.
pub const ARM: &str = "arm";
/// The node's answer once they do.
pub const ARMED: &str = "armed";

pub async fn serve(args: NodeArgs) -> anyhow::Result<()> {
    let telemetry = match &args.otlp {
        Some(url) => Some(
            TelemetryBuilder::from_env()
                .service_name("opmon-node")
                .otlp_endpoint(url.clone())
                .init()
                .context("cannot start telemetry export")?,
        ),
        None => {
            crate::export::logs_only()?;
            None
        }
    };
    let (retention, max_store) = args.store.bounds();
    let config = NodeConfig {
        strict: args.strict,
        faults: args.faults.faults()?,
        hold_faults: args.supervised,
        retention,
        max_store,
        scw_signatures: args.scw.policy(),
        request_timeout: xmtp_opmon::node::REQUEST_TIMEOUT,
        streams: Default::default(),
    };
    let mut node = EmbeddedNode::start_with(args.listen, config)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", args.listen))?;
    // One line on stdout, so a parent process can read the bound address.
    say!("listening on {}", node.url());
    if args.supervised {
        let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        loop {
            tokio::select! {
                line = lines.next_line() => match line {
                    Ok(Some(line)) if line.trim() == ARM => {
                        node.arm_faults();
                        // The parent waits for this before it starts measuring.
                        say!("{ARMED}");
                    }
                    Ok(Some(_)) => {}
                    // The parent is gone (or closed the pipe to stop us).
                    Ok(None) | Err(_) => break,
                },
                result = shutdown_signal() => {
                    result?;
                    break;
                }
                ended = node.serving_ended() => return server_ended(ended),
            }
        }
    } else {
        tokio::select! {
            result = shutdown_signal() => result?,
            ended = node.serving_ended() => return server_ended(ended),
        }
    }
    node.shutdown().await;
    if let Some(telemetry) = telemetry {
        telemetry.shutdown();
    }
    Ok(())
}

/// The node's server stopped by itself: always an error for `opmon node`,
/// which should serve until told to stop.
fn server_ended(ended: Result<(), String>) -> anyhow::Result<()> {
    match ended {
        Ok(()) => anyhow::bail!("the node's server stopped unexpectedly"),
        Err(error) => anyhow::bail!("the node's server failed: {error}"),
    }
}
