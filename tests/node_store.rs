//! The bounded store of the embedded node: per-topic reads from a cursor,
//! eviction after the retention period and over the size cap, and the
//! rules that keep what validation and readers depend on.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use prost::Message;
use xmtp_opmon::node::{NodeConfig, RunningNode};
use xmtp_opmon::proto::envelopes::{
    client_envelope::Payload, AuthenticatedData, ClientEnvelope, Cursor, OriginatorEnvelope,
    PayerEnvelope, UnsignedOriginatorEnvelope,
};
use xmtp_opmon::proto::gateway_api::gateway_api_client::GatewayApiClient;
use xmtp_opmon::proto::message_api::query_api_client::QueryApiClient;
use xmtp_opmon::proto::message_api::{EnvelopesQuery, QueryEnvelopesRequest};
use xmtp_opmon::proto::payer_api::PublishClientEnvelopesRequest;
use xmtp_opmon::topic::{
    topic, TopicKind, COMMITS_ORIGINATOR, IDENTITY_ORIGINATOR, NODE_ORIGINATOR,
};

fn welcome(installation: u8, data_len: usize) -> ClientEnvelope {
    common::envelopes::welcome([installation; 32], data_len)
}

async fn publish(node: &RunningNode, envelopes: Vec<ClientEnvelope>) {
    GatewayApiClient::new(xmtp_opmon::client::channel(node.url()).unwrap())
        .publish_client_envelopes(PublishClientEnvelopesRequest { envelopes })
        .await
        .expect("publish succeeds");
}

async fn query(
    node: &RunningNode,
    topics: Vec<Vec<u8>>,
    cursor: HashMap<u32, u64>,
    limit: u32,
) -> Vec<OriginatorEnvelope> {
    QueryApiClient::new(xmtp_opmon::client::channel(node.url()).unwrap())
        .query_envelopes(QueryEnvelopesRequest {
            query: Some(EnvelopesQuery {
                topics,
                originator_node_ids: Vec::new(),
                last_seen: Some(Cursor {
                    node_id_to_sequence_id: cursor,
                }),
            }),
            limit,
        })
        .await
        .expect("query succeeds")
        .into_inner()
        .envelopes
}

/// (originator, sequence id) of each envelope.
fn positions(envelopes: &[OriginatorEnvelope]) -> Vec<(u32, u64)> {
    envelopes
        .iter()
        .map(|e| {
            let u = UnsignedOriginatorEnvelope::decode(e.unsigned_originator_envelope.as_slice())
                .unwrap();
            (u.originator_node_id, u.originator_sequence_id)
        })
        .collect()
}

fn client_payload(envelope: &OriginatorEnvelope) -> Option<Payload> {
    let u = UnsignedOriginatorEnvelope::decode(envelope.unsigned_originator_envelope.as_slice())
        .unwrap();
    let payer = PayerEnvelope::decode(u.payer_envelope_bytes.as_slice()).unwrap();
    ClientEnvelope::decode(payer.unsigned_client_envelope.as_slice())
        .unwrap()
        .payload
}

#[tokio::test]
async fn queries_merge_topics_in_order_from_the_cursor() {
    let node = common::node().await;
    // Interleaved over two topics: sequence ids 1..=6, odd on topic 1.
    publish(&node, (0..6).map(|i| welcome(1 + i % 2, 8)).collect()).await;
    let both = vec![
        topic(TopicKind::WelcomeMessages, &[1; 32]),
        topic(TopicKind::WelcomeMessages, &[2; 32]),
        // Named twice: still read once.
        topic(TopicKind::WelcomeMessages, &[1; 32]),
    ];
    let after_two = HashMap::from([(NODE_ORIGINATOR, 2)]);
    let page = query(&node, both.clone(), after_two.clone(), 3).await;
    assert_eq!(
        positions(&page),
        [
            (NODE_ORIGINATOR, 3),
            (NODE_ORIGINATOR, 4),
            (NODE_ORIGINATOR, 5)
        ]
    );
    let one = query(&node, both[1..2].to_vec(), after_two, 0).await;
    assert_eq!(
        positions(&one),
        [(NODE_ORIGINATOR, 4), (NODE_ORIGINATOR, 6)]
    );
}

#[tokio::test]
async fn over_the_cap_the_oldest_envelopes_go_first() {
    let cap = 16 * 1024;
    let node = common::node_with(NodeConfig {
        max_store: cap,
        ..NodeConfig::default()
    })
    .await;
    let count = 40u8;
    for installation in 1..=count {
        publish(&node, vec![welcome(installation, 1024)]).await;
    }
    let stats = node.store_stats();
    assert!(stats.bytes <= cap, "{stats:?}");
    assert!(stats.evictions > 0, "{stats:?}");
    assert_eq!(stats.envelopes + stats.evictions, u64::from(count));

    // What is left is the newest envelopes, each read as before; every
    // older one reads as nothing.
    let mut present = Vec::new();
    for installation in 1..=count {
        let read = query(
            &node,
            vec![topic(TopicKind::WelcomeMessages, &[installation; 32])],
            HashMap::new(),
            0,
        )
        .await;
        present.push(!read.is_empty());
    }
    let first_kept = present.iter().position(|p| *p).expect("some are kept");
    assert!(present[first_kept..].iter().all(|p| *p), "{present:?}");
    assert_eq!((count as usize - first_kept) as u64, stats.envelopes);
}

#[tokio::test]
async fn past_retention_only_what_rules_keep_is_read() {
    // A zero retention makes every envelope no rule keeps go at once.
    let node = common::node_with(NodeConfig {
        retention: Duration::ZERO,
        ..NodeConfig::default()
    })
    .await;
    let client = common::client(&node);
    let alice = client.create_identity().await.unwrap();
    let bob = client.create_identity().await.unwrap();
    let mut group = client.create_group(&alice, &[]).await.unwrap();
    client
        .add_members(&mut group, &[bob.inbox_id().to_owned()])
        .await
        .unwrap();
    // Alice uploads her key package again: the first one is superseded.
    let alice_kps = topic(TopicKind::KeyPackages, &alice.installation_key());
    let first_kp = query(&node, vec![alice_kps.clone()], HashMap::new(), 0).await;
    assert_eq!(first_kp.len(), 1);
    let Some(upload) = client_payload(&first_kp[0]) else {
        panic!("a key package envelope has a payload")
    };
    publish(
        &node,
        vec![ClientEnvelope {
            aad: Some(AuthenticatedData {
                target_topic: alice_kps.clone(),
                depends_on: None,
            }),
            payload: Some(upload),
        }],
    )
    .await;

    let kps = query(&node, vec![alice_kps], HashMap::new(), 0).await;
    assert_eq!(positions(&kps).len(), 1, "only the newest key package");
    assert!(positions(&kps)[0] > positions(&first_kp)[0]);

    let welcomes = query(
        &node,
        vec![topic(TopicKind::WelcomeMessages, &bob.installation_key())],
        HashMap::new(),
        0,
    )
    .await;
    assert!(welcomes.is_empty(), "the welcome was evicted");

    let commits = query(
        &node,
        vec![topic(TopicKind::GroupMessages, &group.group_id())],
        HashMap::new(),
        0,
    )
    .await;
    assert_eq!(
        positions(&commits),
        [(COMMITS_ORIGINATOR, group.last_commit())],
        "only the group's last commit"
    );

    // Identity logs are whole, and identities still validate against them.
    let log = query(
        &node,
        vec![topic(
            TopicKind::IdentityUpdates,
            &hex::decode(alice.inbox_id()).unwrap(),
        )],
        HashMap::new(),
        0,
    )
    .await;
    assert_eq!(
        positions(&log),
        [(IDENTITY_ORIGINATOR, alice.sequence_id())]
    );
    assert_eq!(
        client.lookup_inbox(bob.address()).await.unwrap().as_deref(),
        Some(bob.inbox_id())
    );
    assert!(node.store_stats().evictions >= 2);
}

#[tokio::test]
async fn over_the_cap_the_least_recently_used_topics_are_forgotten() {
    // Identity logs and newest key packages are kept by rule, so only
    // forgetting whole topics keeps a store of ever more inboxes bounded.
    let cap = 64 * 1024;
    let node = common::node_with(NodeConfig {
        max_store: cap,
        ..NodeConfig::default()
    })
    .await;
    let client = common::client(&node);
    let used = client.create_identity().await.unwrap();
    let mut idle = Vec::new();
    while node.store_stats().forgotten < 8 {
        assert!(idle.len() < 200, "{:?}", node.store_stats());
        idle.push(client.create_identity().await.unwrap());
        // Looked up after every write, `used` stays recently used.
        assert_eq!(
            client
                .lookup_inbox(used.address())
                .await
                .unwrap()
                .as_deref(),
            Some(used.inbox_id()),
            "a recently used inbox is never forgotten"
        );
    }
    let stats = node.store_stats();
    assert!(stats.bytes <= cap, "{stats:?}");

    // The inbox unused for longest reads as from a node that never saw it:
    // no address resolves to it and its log is empty.
    let oldest = &idle[0];
    assert_eq!(client.lookup_inbox(oldest.address()).await.unwrap(), None);
    let log = query(
        &node,
        vec![topic(
            TopicKind::IdentityUpdates,
            &hex::decode(oldest.inbox_id()).unwrap(),
        )],
        HashMap::new(),
        0,
    )
    .await;
    assert!(log.is_empty(), "{} envelopes", log.len());
    let newest = idle.last().unwrap();
    assert_eq!(
        client
            .lookup_inbox(newest.address())
            .await
            .unwrap()
            .as_deref(),
        Some(newest.inbox_id())
    );
}
