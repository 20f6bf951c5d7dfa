//! Shared set-up: a real embedded node on a free loopback port and a
//! client connected to it.
#![allow(dead_code)]

use std::time::Duration;

use xmtp_opmon::client::{ClientConfig, Transport, V4Client};
use xmtp_opmon::node::{EmbeddedNode, NodeConfig, RunningNode};

pub async fn node() -> RunningNode {
    node_with(NodeConfig::default()).await
}

pub async fn node_with(config: NodeConfig) -> RunningNode {
    EmbeddedNode::start_with("127.0.0.1:0".parse().unwrap(), config)
        .await
        .expect("node starts")
}

pub fn client(node: &RunningNode) -> V4Client {
    V4Client::connect(node.url(), node.url()).expect("valid url")
}

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
pub mod fake_server;
pub mod otlp;
