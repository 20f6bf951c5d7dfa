//! The production pattern: an app wraps its XMTP client in both telemetry
//! layers and exports per the standard `OTEL_*` variables.
//!
//! ```text
//! # against an embedded node started in-process, printing outcomes only:
//! cargo run --example instrumented_app
//! # exporting to a local Collector or Jaeger:
//! OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4317 cargo run --example instrumented_app
//! # against a real network:
//! cargo run --example instrumented_app -- --node https://grpc.testnet-dev.xmtp.network:443 \
//!     --gateway https://payer.testnet-dev.xmtp.network:443
//! # real-user telemetry for `opmon compare --vs-prometheus`: ten cycles pushed
//! # to a Pushgateway that Prometheus scrapes:
//! cargo run --example instrumented_app -- --ops 10 --pushgateway http://localhost:9091
//! ```
//!
//! Flags: `--node URL --gateway URL` (default: an embedded node),
//! `--traffic real|synthetic` (the `xmtp.traffic` attribute, default real),
//! `--ops N` (repeat the cycle of operations N times, default 1),
//! `--pushgateway URL` and `--otlp URL` (override `PUSHGATEWAY_URL` and
//! `OTEL_EXPORTER_OTLP_ENDPOINT`), and for the embedded node
//! `--inject-latency SPEC` (as `opmon node`'s, e.g. `fixed:20ms`).

use tower::{Service, ServiceBuilder, ServiceExt};
use xmtp_opmon::client::{ApiVersion, ClientConfig, V4Client};
use xmtp_opmon::client::{Op, OpResult};
use xmtp_opmon::layer::{OpTelemetryLayer, Outcome, Traffic};
use xmtp_opmon::node::{EmbeddedNode, Faults, Latency, NodeConfig};
use xmtp_opmon::telemetry::TelemetryBuilder;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    run(&args).await
}

/// The app, given its command-line arguments (tests call it in-process).
pub async fn run(args: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let traffic = match flag("--traffic").as_deref() {
        None | Some("real") => Traffic::Real,
        Some("synthetic") => Traffic::Synthetic,
        Some(other) => return Err(format!("--traffic {other}: use real or synthetic").into()),
    };
    let cycles: u32 = match flag("--ops") {
        None => 1,
        Some(n) => n.parse().map_err(|_| format!("--ops {n}: not a count"))?,
    };

    // 1. Telemetry from OTEL_* (and PUSHGATEWAY_URL), or the flags; the
    //    guard flushes on drop.
    let mut builder = TelemetryBuilder::from_env()
        .service_name("instrumented-app")
        .push_job("instrumented_app");
    if let Some(url) = flag("--pushgateway") {
        builder = builder.pushgateway(url);
    }
    if let Some(url) = flag("--otlp") {
        builder = builder.otlp_endpoint(url);
    }
    let telemetry = builder.init()?;

    // 2. Connect: a real network, or an embedded node in this process.
    let embedded;
    let (node, gateway) = match (flag("--node"), flag("--gateway")) {
        (Some(node), Some(gateway)) => (node, gateway),
        (None, None) => {
            // The embedded node may play a slow network: --inject-latency fixed:20ms.
            let latency = flag("--inject-latency")
                .map(|spec| spec.parse::<Latency>())
                .transpose()?;
            let config = NodeConfig {
                faults: Faults {
                    latency,
                    ..Faults::default()
                },
                ..NodeConfig::default()
            };
            embedded = EmbeddedNode::start_with("127.0.0.1:0".parse()?, config).await?;
            (embedded.url().to_owned(), embedded.url().to_owned())
        }
        _ => return Err("give both --node and --gateway, or neither".into()),
    };

    // 3. Both layers: RPC telemetry on the channels, operation telemetry
    //    around the client.
    let client = V4Client::connect_traced(&gateway, &node, ClientConfig::default())?;
    let mut ops = ServiceBuilder::new()
        .layer(
            OpTelemetryLayer::new(ApiVersion::V4)
                .traffic(traffic)
                .observe(|o: &Outcome| {
                    let result = o.error.map_or("ok", |f| f.class.as_str());
                    println!("{:<18} {:>10.3?} {result}", o.operation, o.duration);
                }),
        )
        .service(client);

    // 4. The operations, `--ops` times.
    for _ in 0..cycles {
        cycle(&mut ops).await?;
    }

    // 5. Flush traces, metrics and the last push, within a bounded wait.
    telemetry.shutdown();
    Ok(())
}

/// One cycle of what an app does: three new identities; a group created
/// with the second, the third added to it; the first looked up.
async fn cycle<S>(ops: &mut S) -> Result<(), Box<dyn std::error::Error>>
where
    S: Service<Op, Response = OpResult>,
    S::Error: Into<Box<dyn std::error::Error>>,
{
    let mut identities = Vec::new();
    for _ in 0..3 {
        if let OpResult::Identity(identity) = call(ops, Op::CreateIdentity).await? {
            identities.push(identity);
        }
    }
    let [first, second, third] = &identities[..] else {
        return Err("identity.create returned something else".into());
    };
    let create = Op::CreateGroup {
        owner: first.clone(),
        members: vec![second.inbox_id().to_owned()],
    };
    let OpResult::Group(group) = call(ops, create).await? else {
        return Err("group.create returned something else".into());
    };
    let add = Op::AddMembers {
        group,
        members: vec![third.inbox_id().to_owned()],
    };
    call(ops, add).await?;
    let lookup = Op::LookupIdentity {
        address: first.address().to_owned(),
    };
    call(ops, lookup).await?;
    Ok(())
}

/// One operation through the layered service.
async fn call<S>(ops: &mut S, op: Op) -> Result<OpResult, Box<dyn std::error::Error>>
where
    S: Service<Op, Response = OpResult>,
    S::Error: Into<Box<dyn std::error::Error>>,
{
    let ready = ops.ready().await.map_err(Into::into)?;
    ready.call(op).await.map_err(Into::into)
}
