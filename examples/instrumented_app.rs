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
//! ```

use tower::{Service, ServiceBuilder, ServiceExt};
use xmtp_opmon::client::{ApiVersion, ClientConfig, V4Client};
use xmtp_opmon::client::{Op, OpResult};
use xmtp_opmon::layer::{OpTelemetryLayer, Outcome};
use xmtp_opmon::node::EmbeddedNode;
use xmtp_opmon::telemetry::TelemetryBuilder;

fn flag(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 1. Telemetry from OTEL_* (and PUSHGATEWAY_URL); the guard flushes on drop.
    let telemetry = TelemetryBuilder::from_env()
        .service_name("instrumented-app")
        .init()?;

    // 2. Connect: a real network, or an embedded node in this process.
    let embedded;
    let (node, gateway) = match (flag("--node"), flag("--gateway")) {
        (Some(node), Some(gateway)) => (node, gateway),
        (None, None) => {
            embedded = EmbeddedNode::start("127.0.0.1:0".parse()?).await?;
            (embedded.url().to_owned(), embedded.url().to_owned())
        }
        _ => return Err("give both --node and --gateway, or neither".into()),
    };

    // 3. Both layers: RPC telemetry on the channels, operation telemetry
    //    around the client.
    let client = V4Client::connect_traced(&gateway, &node, ClientConfig::default())?;
    let mut ops = ServiceBuilder::new()
        .layer(
            OpTelemetryLayer::new(ApiVersion::V4).observe(|o: &Outcome| {
                let result = o.error.map_or("ok", |f| f.class.as_str());
                println!("{:<18} {:>10.3?} {result}", o.operation, o.duration);
            }),
        )
        .service(client);

    // 4. The operations: two identities, a group, one member added.
    let mut identities = Vec::new();
    for _ in 0..2 {
        if let OpResult::Identity(identity) = ops.ready().await?.call(Op::CreateIdentity).await? {
            identities.push(identity);
        }
    }
    let OpResult::Group(group) = ops
        .ready()
        .await?
        .call(Op::CreateGroup {
            owner: identities[0].clone(),
            members: Vec::new(),
        })
        .await?
    else {
        return Err("group.create returned something else".into());
    };
    ops.ready()
        .await?
        .call(Op::AddMembers {
            group,
            members: vec![identities[1].inbox_id().to_owned()],
        })
        .await?;

    // 5. Flush traces, metrics and the last push, within a bounded wait.
    telemetry.shutdown();
    Ok(())
}
