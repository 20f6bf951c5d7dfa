//! Streams from the embedded node: V4 `SubscribeTopics` (on `QueryApi`
//! and `ReplicationApi`) and V3 `SubscribeGroupMessages` /
//! `SubscribeWelcomeMessages` deliver what is after the subscriber's
//! cursor, then what is published later, in order and exactly once;
//! chain-path envelopes only once the indexer lag has passed; and the
//! node's faults apply (an injected error ends the stream, a stall holds
//! delivery).

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::envelopes::welcome;
use common::streams::{failing_node, position, publish, quiet, send_v3, subscriber, take};
use tokio::time::Instant;
use tonic::Code;
use xmtp_opmon::client::{ClientError, ReadService};
use xmtp_opmon::identity::{inbox_id, new_inbox_update, InstallationKey, Wallet};
use xmtp_opmon::node::{Faults, NodeConfig, Stall};
use xmtp_opmon::proto::envelopes::{client_envelope::Payload, AuthenticatedData, ClientEnvelope};
use xmtp_opmon::proto::xmtp::mls::api::v1::{
    group_message, mls_api_client::MlsApiClient, welcome_message, SendWelcomeMessagesRequest,
};
use xmtp_opmon::topic::{topic, TopicKind, IDENTITY_ORIGINATOR, NODE_ORIGINATOR};

fn welcome_topic(key: [u8; 32]) -> Vec<u8> {
    topic(TopicKind::WelcomeMessages, &key)
}

#[tokio::test]
async fn v4_streams_deliver_after_the_cursor_then_live_in_order_exactly_once() {
    for service in [ReadService::Query, ReadService::Replication] {
        let node = common::node().await;
        let key = [3; 32];
        let stored = publish(&node, (0..3).map(|_| welcome(key, 64)).collect()).await;
        // Another topic's envelopes are not delivered.
        publish(&node, vec![welcome([4; 32], 64)]).await;
        let after_first = HashMap::from([(NODE_ORIGINATOR, position(&stored[0]).1)]);
        let mut stream = subscriber(&node)
            .topics(service, [(welcome_topic(key), after_first)])
            .await
            .expect("subscribed");

        let caught_up = take(&mut stream, 2).await;
        assert_eq!(
            caught_up.iter().map(position).collect::<Vec<_>>(),
            stored[1..].iter().map(position).collect::<Vec<_>>(),
            "{service:?}: catch-up starts after the cursor"
        );
        assert!(
            catch_up_completes(&mut stream).await,
            "{service:?}: CATCHUP_COMPLETE"
        );

        let live = publish(&node, (0..2).map(|_| welcome(key, 64)).collect()).await;
        publish(&node, vec![welcome([4; 32], 64)]).await;
        let delivered = take(&mut stream, 2).await;
        assert_eq!(
            delivered.iter().map(position).collect::<Vec<_>>(),
            live.iter().map(position).collect::<Vec<_>>(),
            "{service:?}: live envelopes in order"
        );
        assert_eq!(delivered, live, "{service:?}: delivered as stored");
        quiet(&mut stream).await;
    }
}

/// Whether the node says the catch-up is complete once the caught-up
/// envelopes are read (the status comes with the next poll, nothing else).
async fn catch_up_completes(stream: &mut xmtp_opmon::client::TopicStream) -> bool {
    use tokio_stream::StreamExt;
    let _ = tokio::time::timeout(Duration::from_millis(200), stream.next()).await;
    stream.caught_up()
}

/// A signed identity update creating a fresh inbox, and its topic.
fn identity_update() -> (ClientEnvelope, Vec<u8>) {
    let wallet = Wallet::generate();
    let installation = InstallationKey::generate();
    let inbox = inbox_id(&wallet.address(), 0).unwrap();
    let update = new_inbox_update(&wallet, &installation, 0, 1).unwrap();
    let topic = topic(TopicKind::IdentityUpdates, &hex::decode(&inbox).unwrap());
    let envelope = ClientEnvelope {
        aad: Some(AuthenticatedData {
            target_topic: topic.clone(),
            depends_on: None,
        }),
        payload: Some(Payload::IdentityUpdate(update)),
    };
    (envelope, topic)
}

#[tokio::test]
async fn identity_updates_wait_for_the_indexer_lag_welcomes_do_not() {
    let lag = Duration::from_millis(500);
    let node = common::node_with(NodeConfig {
        faults: Faults {
            indexer_lag: lag,
            ..Faults::default()
        },
        ..NodeConfig::default()
    })
    .await;
    let (update, identity_topic) = identity_update();
    let key = [5; 32];
    let mut stream = subscriber(&node)
        .topics(
            ReadService::Query,
            [
                (identity_topic, HashMap::new()),
                (welcome_topic(key), HashMap::new()),
            ],
        )
        .await
        .unwrap();

    let published = Instant::now();
    publish(&node, vec![update]).await;
    publish(&node, vec![welcome(key, 32)]).await;
    let first = take(&mut stream, 1).await;
    assert_eq!(
        position(&first[0]).0,
        NODE_ORIGINATOR,
        "the welcome comes first, at once"
    );
    let second = take(&mut stream, 1).await;
    assert_eq!(position(&second[0]).0, IDENTITY_ORIGINATOR);
    assert!(
        published.elapsed() >= lag,
        "the identity update arrived {:?} after publishing, before the {lag:?} lag",
        published.elapsed()
    );
    quiet(&mut stream).await;
}

#[tokio::test]
async fn a_stall_holds_delivery_until_it_ends() {
    let stall = Duration::from_secs(1);
    let node = common::node_with(NodeConfig {
        faults: Faults {
            // Chain-path envelopes become readable inside the stall.
            indexer_lag: Duration::from_millis(200),
            stall: Some(Stall {
                duration: stall,
                every: Duration::from_secs(3600),
            }),
            ..Faults::default()
        },
        hold_faults: true,
        ..NodeConfig::default()
    })
    .await;
    let (update, identity_topic) = identity_update();
    let mut stream = subscriber(&node)
        .topics(ReadService::Query, [(identity_topic, HashMap::new())])
        .await
        .unwrap();
    publish(&node, vec![update]).await;
    let stalled = Instant::now();
    node.arm_faults();
    take(&mut stream, 1).await;
    assert!(
        stalled.elapsed() >= stall,
        "delivered {:?} into a {stall:?} stall",
        stalled.elapsed()
    );
}

#[tokio::test]
async fn an_injected_error_ends_the_stream_with_its_status() {
    let node = failing_node(Code::Unavailable).await;
    let subscriber = subscriber(&node);
    let v4 = subscriber
        .topics(
            ReadService::Query,
            [(welcome_topic([1; 32]), HashMap::new())],
        )
        .await;
    assert!(
        matches!(v4, Err(ClientError::Rpc { status, .. }) if status.code() == Code::Unavailable)
    );
    let v3 = subscriber.group_messages([(vec![1; 16], 0)]).await;
    assert!(
        matches!(v3, Err(ClientError::Rpc { status, .. }) if status.code() == Code::Unavailable)
    );
    assert_eq!(node.subscriptions(), 0);
}

fn mls(node: &xmtp_opmon::node::RunningNode) -> MlsApiClient<tonic::transport::Channel> {
    MlsApiClient::new(xmtp_opmon::client::channel(node.url()).unwrap())
}

/// The tags of a group's messages, checking that their V3 ids (the
/// node's arrival ids) increase.
fn tags(messages: &[xmtp_opmon::proto::xmtp::mls::api::v1::GroupMessage]) -> Vec<u8> {
    let (ids, tags): (Vec<u64>, Vec<u8>) = messages
        .iter()
        .map(|m| match &m.version {
            Some(group_message::Version::V1(v1)) => (v1.id, *v1.data.last().unwrap()),
            None => panic!("a message without a version"),
        })
        .unzip();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids in order: {ids:?}");
    tags
}

#[tokio::test]
async fn v3_group_streams_deliver_after_the_id_cursor_then_live() {
    let node = common::node().await;
    let group = [8; 16];
    for tag in 1..=3 {
        send_v3(&node, group, tag).await;
    }
    send_v3(&node, [9; 16], 99).await;
    let mut stream = subscriber(&node)
        .group_messages([(group.to_vec(), 1)])
        .await
        .unwrap();
    let caught_up = take(&mut stream, 2).await;
    assert_eq!(tags(&caught_up), vec![2, 3]);
    for tag in 4..=5 {
        send_v3(&node, group, tag).await;
    }
    send_v3(&node, [9; 16], 99).await;
    let live = take(&mut stream, 2).await;
    assert_eq!(tags(&live), vec![4, 5]);
    quiet(&mut stream).await;
}

#[tokio::test]
async fn v3_welcome_streams_deliver_after_the_id_cursor_then_live() {
    let node = common::node().await;
    let key = [6; 32];
    let send = |tag: u8| {
        let node = &node;
        async move {
            let Some(Payload::WelcomeMessage(input)) = welcome(key, usize::from(tag)).payload
            else {
                unreachable!()
            };
            mls(node)
                .send_welcome_messages(SendWelcomeMessagesRequest {
                    messages: vec![input],
                })
                .await
                .unwrap();
        }
    };
    send(1).await;
    send(2).await;
    let mut stream = subscriber(&node)
        .welcomes([(key.to_vec(), 1)])
        .await
        .unwrap();
    let sizes = |messages: &[xmtp_opmon::proto::xmtp::mls::api::v1::WelcomeMessage]| {
        messages
            .iter()
            .map(|m| match &m.version {
                Some(welcome_message::Version::V1(v1)) => (v1.id, v1.data.len()),
                _ => panic!("a V1 welcome was sent"),
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(sizes(&take(&mut stream, 1).await), vec![(2, 2)]);
    send(3).await;
    assert_eq!(sizes(&take(&mut stream, 1).await), vec![(3, 3)]);
    quiet(&mut stream).await;
}
