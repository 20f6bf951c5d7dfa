//! Shared set-up: a real embedded node on a free loopback port and a
//! client connected to it.
#![allow(dead_code)]
// Without the `node` feature only the OTLP receiver and fake servers remain.
#![allow(unused_imports)]

use std::time::Duration;

#[cfg(feature = "node")]
use xmtp_opmon::client::{ClientConfig, Transport, V4Client};
#[cfg(feature = "node")]
use xmtp_opmon::node::{EmbeddedNode, NodeConfig, RunningNode};

#[cfg(feature = "node")]
pub async fn node() -> RunningNode {
    node_with(NodeConfig::default()).await
}

#[cfg(feature = "node")]
pub async fn node_with(config: NodeConfig) -> RunningNode {
    EmbeddedNode::start_with("127.0.0.1:0".parse().unwrap(), config)
        .await
        .expect("node starts")
}

#[cfg(feature = "node")]
pub fn client(node: &RunningNode) -> V4Client {
    V4Client::connect(node.url(), node.url()).expect("valid url")
}

#[cfg(feature = "node")]
/// A client of the same node over the V3 API.
pub fn v3_client(node: &RunningNode) -> xmtp_opmon::client::V3Client {
    xmtp_opmon::client::V3Client::connect(node.url()).expect("valid url")
}

/// Defines two tests running `body(client)`: one over V4, one over V3,
/// each against a node of its own.
#[macro_export]
macro_rules! over_both_apis {
    ($v4:ident, $v3:ident, $body:ident) => {
        #[tokio::test]
        async fn $v4() {
            let node = common::node().await;
            $body(common::client(&node)).await;
        }

        #[tokio::test]
        async fn $v3() {
            let node = common::node().await;
            $body(common::v3_client(&node)).await;
        }
    };
}

#[cfg(feature = "node")]
/// A client that gives up waiting for visibility after `wait`.
pub fn impatient_client(node: &RunningNode, wait: Duration) -> V4Client {
    let transport = Transport::new(xmtp_opmon::client::channel(node.url()).unwrap());
    V4Client::from_transports(
        transport.clone(),
        transport,
        ClientConfig {
            visibility_timeout: wait,
            ..ClientConfig::default()
        },
    )
}
#[cfg(feature = "bench")]
pub mod bench;
pub mod daemon;
#[cfg(feature = "client")]
pub mod envelopes;
pub mod fake_prometheus;
pub mod fake_server;
pub mod fuzz;
pub mod otlp;
pub mod raw_grpc;
#[cfg(feature = "node")]
pub mod streams;

/// Telemetry exporting to `receiver`, with metrics sent only on flush or
/// shutdown (so what arrives is what the test flushed).
pub fn export_to(receiver: &otlp::OtlpReceiver) -> xmtp_opmon::telemetry::TelemetryGuard {
    xmtp_opmon::telemetry::TelemetryBuilder::from_env()
        .otlp_endpoint(receiver.endpoint())
        .metric_interval(Duration::from_secs(3600))
        .init()
        .expect("telemetry starts")
}

#[cfg(feature = "node")]
/// Performs one operation through a tower service and expects success.
pub async fn perform<S>(ops: &mut S, op: xmtp_opmon::client::Op) -> xmtp_opmon::client::OpResult
where
    S: tower::Service<xmtp_opmon::client::Op, Response = xmtp_opmon::client::OpResult>,
    S::Error: std::fmt::Debug,
{
    use tower::ServiceExt;
    ops.ready().await.unwrap().call(op).await.unwrap()
}

/// Starts `opmon node` with `args` and returns it with its URL.
#[cfg(all(feature = "bench", feature = "node"))]
pub fn spawn_node(args: &[&str], env: &[(&str, &str)]) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let mut child = Command::new(env!("CARGO_BIN_EXE_opmon"))
        .args(["node", "--listen", "127.0.0.1:0"])
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();
    (child, url)
}

/// The identity updates of `inbox` once its log holds `count` of them, or
/// `None` if it never does within about four seconds.
#[cfg(feature = "node")]
pub async fn identity_log<A: xmtp_opmon::client::XmtpApi>(
    client: &xmtp_opmon::client::Client<A>,
    inbox: &str,
    count: usize,
) -> Option<Vec<xmtp_opmon::proto::associations::IdentityUpdate>> {
    for _ in 0..200 {
        let logs = client
            .api()
            .get_identity_updates(&[(inbox.to_owned(), 0)])
            .await
            .unwrap();
        let log = logs.get(inbox).cloned().unwrap_or_default();
        if log.len() >= count {
            return Some(log.into_iter().map(|entry| entry.update).collect());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}
