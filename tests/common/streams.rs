//! Publishing and subscribing against the embedded node, for the stream
//! tests.

use std::time::Duration;

use prost::Message;
use tokio_stream::{Stream, StreamExt};
use xmtp_opmon::client::{channel, Subscriber, Transport};
use xmtp_opmon::node::{Faults, InjectedError, NodeConfig, RunningNode, StreamLimits};
use xmtp_opmon::proto::envelopes::{
    ClientEnvelope, OriginatorEnvelope, UnsignedOriginatorEnvelope,
};
use xmtp_opmon::proto::gateway_api::gateway_api_client::GatewayApiClient;
use xmtp_opmon::proto::payer_api::PublishClientEnvelopesRequest;
use xmtp_opmon::proto::xmtp::mls::api::v1::{
    group_message_input, mls_api_client::MlsApiClient, GroupMessageInput, SendGroupMessagesRequest,
};

/// How long a test waits for something it expects to arrive.
pub const ARRIVES_WITHIN: Duration = Duration::from_secs(10);

/// A subscriber on a plain channel to `node`.
pub fn subscriber(node: &RunningNode) -> Subscriber {
    Subscriber::new(Transport::new(channel(node.url()).unwrap()))
}

/// A node whose streams have these bounds.
pub async fn node_with_streams(streams: StreamLimits) -> RunningNode {
    super::node_with(NodeConfig {
        streams,
        ..NodeConfig::default()
    })
    .await
}

/// A node answering every call with `code`.
pub async fn failing_node(code: tonic::Code) -> RunningNode {
    super::node_with(NodeConfig {
        faults: Faults {
            errors: vec![InjectedError { code, rate: 1.0 }],
            ..Faults::default()
        },
        ..NodeConfig::default()
    })
    .await
}

/// Sends an application message tagged `tag` to a group through the V3 API.
pub async fn send_v3(node: &RunningNode, group_id: [u8; 16], tag: u8) {
    MlsApiClient::new(channel(node.url()).unwrap())
        .send_group_messages(SendGroupMessagesRequest {
            messages: vec![GroupMessageInput {
                version: Some(group_message_input::Version::V1(group_message_input::V1 {
                    data: super::envelopes::application_message(group_id, tag),
                    sender_hmac: vec![9; 32],
                    should_push: true,
                })),
            }],
        })
        .await
        .expect("group message accepted");
}

/// Publishes through the V4 gateway API; the stored envelopes.
pub async fn publish(
    node: &RunningNode,
    envelopes: Vec<ClientEnvelope>,
) -> Vec<OriginatorEnvelope> {
    GatewayApiClient::new(channel(node.url()).unwrap())
        .publish_client_envelopes(PublishClientEnvelopesRequest { envelopes })
        .await
        .expect("publish succeeds")
        .into_inner()
        .originator_envelopes
}

/// (originator, sequence id) of an envelope.
pub fn position(envelope: &OriginatorEnvelope) -> (u32, u64) {
    let unsigned =
        UnsignedOriginatorEnvelope::decode(envelope.unsigned_originator_envelope.as_slice())
            .unwrap();
    (unsigned.originator_node_id, unsigned.originator_sequence_id)
}

/// The next `n` items of `stream`, failing the test if they do not come.
pub async fn take<T, S>(stream: &mut S, n: usize) -> Vec<T>
where
    S: Stream<Item = Result<T, xmtp_opmon::client::ClientError>> + Unpin,
{
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let item = tokio::time::timeout(ARRIVES_WITHIN, stream.next())
            .await
            .expect("the stream delivers in time")
            .expect("the stream is open")
            .expect("the stream has no error");
        out.push(item);
    }
    out
}

/// Asserts that nothing more arrives for a while (nothing is sent twice).
pub async fn quiet<T, S>(stream: &mut S)
where
    S: Stream<Item = Result<T, xmtp_opmon::client::ClientError>> + Unpin,
{
    let extra = tokio::time::timeout(Duration::from_millis(300), stream.next()).await;
    assert!(
        extra.is_err(),
        "the stream delivered more than was published"
    );
}

/// Waits until the node serves `count` subscriptions.
pub async fn subscriptions_reach(node: &RunningNode, count: usize) {
    let deadline = tokio::time::Instant::now() + ARRIVES_WITHIN;
    while node.subscriptions() != count {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the node still serves {} subscriptions, not {count}",
            node.subscriptions()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
