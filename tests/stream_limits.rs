//! What streams may hold in the embedded node: a subscription is freed
//! when its client goes away, a subscriber too slow to keep up is cut off
//! with `RESOURCE_EXHAUSTED` instead of growing the node's memory, the
//! node serves a bounded number of subscriptions, and malformed
//! subscribe requests are refused with `INVALID_ARGUMENT` and one clear
//! message.

mod common;

use std::collections::HashMap;

use common::envelopes::welcome;
use common::streams::{
    node_with_streams, publish, subscriber, subscriptions_reach, take, ARRIVES_WITHIN,
};
use tokio_stream::StreamExt;
use tonic::Code;
use xmtp_opmon::client::{ClientError, ReadService};
use xmtp_opmon::node::StreamLimits;
use xmtp_opmon::topic::{topic, TopicKind};

fn welcome_topic(key: [u8; 32]) -> Vec<u8> {
    topic(TopicKind::WelcomeMessages, &key)
}

/// A topic and its cursor.
type Filter = (Vec<u8>, HashMap<u32, u64>);

fn code_and_message<T>(result: Result<T, ClientError>) -> (Code, String) {
    match result {
        Err(ClientError::Rpc { status, .. }) => (status.code(), status.message().to_owned()),
        Err(other) => panic!("not a refusal: {other}"),
        Ok(_) => panic!("the subscription was accepted"),
    }
}

#[tokio::test]
async fn a_dropped_client_frees_its_subscription() {
    let node = common::node().await;
    let subscriber = subscriber(&node);
    let v4 = subscriber
        .topics(
            ReadService::Query,
            [(welcome_topic([1; 32]), HashMap::new())],
        )
        .await
        .unwrap();
    let v3 = subscriber.welcomes([(vec![1; 32], 0)]).await.unwrap();
    subscriptions_reach(&node, 2).await;
    drop(v4);
    subscriptions_reach(&node, 1).await;
    drop(v3);
    subscriptions_reach(&node, 0).await;
}

#[tokio::test]
async fn a_slow_subscriber_is_cut_off_and_freed() {
    let node = node_with_streams(StreamLimits {
        buffer: 2,
        ..StreamLimits::default()
    })
    .await;
    let key = [2; 32];
    let mut stream = subscriber(&node)
        .topics(ReadService::Query, [(welcome_topic(key), HashMap::new())])
        .await
        .unwrap();
    subscriptions_reach(&node, 1).await;
    // Far more than the HTTP/2 windows (4 MiB per stream) and the queue
    // hold, published while the subscriber reads nothing.
    let published = 200;
    for _ in 0..published {
        publish(&node, vec![welcome(key, 64 << 10)]).await;
    }
    // Cut off before it read anything: the node holds nothing for it.
    subscriptions_reach(&node, 0).await;

    let mut delivered = 0;
    let ended = loop {
        match tokio::time::timeout(ARRIVES_WITHIN, stream.next()).await {
            Ok(Some(Ok(_))) => delivered += 1,
            Ok(Some(Err(error))) => break error,
            Ok(None) => panic!("the stream ended without a status"),
            Err(_) => panic!("the stream neither delivered nor ended"),
        }
    };
    assert!(delivered < published, "delivered all {delivered}");
    let (code, message) = code_and_message::<()>(Err(ended));
    assert_eq!(code, Code::ResourceExhausted);
    assert!(message.contains("resubscribe"), "{message}");
}

#[tokio::test]
async fn the_node_serves_a_bounded_number_of_subscriptions() {
    let node = node_with_streams(StreamLimits {
        max_subscriptions: 2,
        ..StreamLimits::default()
    })
    .await;
    let subscriber = subscriber(&node);
    let topic = || [(welcome_topic([3; 32]), HashMap::new())];
    let first = subscriber
        .topics(ReadService::Query, topic())
        .await
        .unwrap();
    let _second = subscriber.group_messages([(vec![3; 16], 0)]).await.unwrap();
    let (code, message) = code_and_message(subscriber.topics(ReadService::Query, topic()).await);
    assert_eq!(code, Code::ResourceExhausted);
    assert!(message.contains("at most 2 subscriptions"), "{message}");
    // A place freed is a place available.
    drop(first);
    subscriptions_reach(&node, 1).await;
    let mut again = subscriber
        .topics(ReadService::Query, topic())
        .await
        .unwrap();
    publish(&node, vec![welcome([3; 32], 8)]).await;
    take(&mut again, 1).await;
}

#[tokio::test]
async fn malformed_subscriptions_are_invalid_arguments_with_one_clear_message() {
    let node = common::node().await;
    let subscriber = subscriber(&node);
    let good = welcome_topic([4; 32]);
    let v4_cases: Vec<(&str, Vec<Filter>)> = vec![
        ("no filters", Vec::new()),
        (
            "too many filters",
            (0..10_001u32)
                .map(|i| (i.to_be_bytes().to_vec(), HashMap::new()))
                .collect(),
        ),
        ("an empty topic", vec![(Vec::new(), HashMap::new())]),
        ("a long topic", vec![(vec![1; 129], HashMap::new())]),
        (
            "an unknown originator",
            vec![(good.clone(), HashMap::from([(7, 1)]))],
        ),
        (
            "a long cursor",
            vec![(good.clone(), (0..101).map(|i| (i, 1)).collect())],
        ),
    ];
    for (case, filters) in v4_cases {
        let (code, message) =
            code_and_message(subscriber.topics(ReadService::Replication, filters).await);
        assert_eq!(code, Code::InvalidArgument, "{case}: {message}");
        assert!(
            !message.is_empty() && !message.contains('\n') && message.len() < 200,
            "{case}: {message:?}"
        );
    }
    let (code, _) = code_and_message(subscriber.group_messages([(vec![1; 15], 0)]).await);
    assert_eq!(code, Code::InvalidArgument, "a short group id");
    let (code, _) = code_and_message(subscriber.welcomes(Vec::new()).await);
    assert_eq!(code, Code::InvalidArgument, "no welcome filters");
    assert_eq!(node.subscriptions(), 0);
}
