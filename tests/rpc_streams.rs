//! The RPC layer on server-streaming calls: one CLIENT span per stream,
//! from the request to the end of the stream, with the number of messages
//! received and the outcome of the final status — or `cancelled` when the
//! caller drops the stream first — and the time to the first message as
//! a metric, recorded when it arrives.
//!
//! Telemetry globals are process-wide, so this file has a single test.

mod common;

use std::time::Duration;

use common::envelopes::welcome;
use common::otlp::{AttrValue, OtlpReceiver, ReceivedSpan};
use common::streams::{
    failing_node, node_with_streams, publish, send_v3, subscriptions_reach, take, ARRIVES_WITHIN,
};
use tokio_stream::StreamExt;
use tonic::Code;
use xmtp_opmon::client::{traced, ClientError, Subscriber};
use xmtp_opmon::node::{RunningNode, StreamLimits};
use xmtp_opmon::semconv;

const GROUP_STREAM: &str = "xmtp.mls.api.v1.MlsApi/SubscribeGroupMessages";
const WELCOME_STREAM: &str = "xmtp.mls.api.v1.MlsApi/SubscribeWelcomeMessages";

fn traced_subscriber(node: &RunningNode) -> Subscriber {
    Subscriber::new(traced(node.url()).unwrap())
}

fn attribute<'a>(span: &'a ReceivedSpan, key: &str) -> Option<&'a AttrValue> {
    span.attributes.get(key)
}

fn text(span: &ReceivedSpan, key: &str) -> String {
    attribute(span, key)
        .map(|v| v.to_string())
        .unwrap_or_default()
}

fn the_span(receiver: &OtlpReceiver, name: &str, class: &str) -> ReceivedSpan {
    receiver
        .wait_for(ARRIVES_WITHIN, |r| {
            r.spans()
                .into_iter()
                .find(|s| s.name == name && text(s, semconv::XMTP_ERROR_CLASS) == class)
        })
        .unwrap_or_else(|| panic!("no {name} span of class {class:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_calls_are_one_span_with_their_messages_and_final_status() {
    let receiver = OtlpReceiver::start();
    let guard = common::export_to(&receiver);

    // Dropped by the caller after three messages: cancelled.
    let node = common::node().await;
    let group = [1; 16];
    for tag in 1..=3 {
        send_v3(&node, group, tag).await;
    }
    let mut stream = traced_subscriber(&node)
        .group_messages([(group.to_vec(), 0)])
        .await
        .unwrap();
    take(&mut stream, 3).await;
    // The time to the first message is out while the stream is still open:
    // a subscription may last for days.
    guard.flush();
    let open = receiver
        .wait_for(ARRIVES_WITHIN, |r| {
            r.last_metric(semconv::RPC_CLIENT_TIME_TO_FIRST_MESSAGE)
        })
        .expect("time to first message exported before the stream ends");
    assert!(
        open.points
            .iter()
            .any(|p| p.attributes.get(semconv::RPC_METHOD).unwrap().to_string() == GROUP_STREAM),
        "{:?}",
        open.points
    );
    drop(stream);
    subscriptions_reach(&node, 0).await;

    // Refused at the start by an injected error.
    let failing = failing_node(Code::Unavailable).await;
    let refused = traced_subscriber(&failing)
        .group_messages([(group.to_vec(), 0)])
        .await;
    assert!(refused.is_err());

    // Ended by the node after some messages: a subscriber that fell behind.
    let slow = node_with_streams(StreamLimits {
        buffer: 1,
        ..StreamLimits::default()
    })
    .await;
    let key = [2; 32];
    let mut stream = traced_subscriber(&slow)
        .welcomes([(key.to_vec(), 0)])
        .await
        .unwrap();
    subscriptions_reach(&slow, 1).await;
    for _ in 0..150 {
        publish(&slow, vec![welcome(key, 64 << 10)]).await;
    }
    subscriptions_reach(&slow, 0).await;
    let mut received = 0;
    loop {
        match tokio::time::timeout(ARRIVES_WITHIN, stream.next()).await {
            Ok(Some(Ok(_))) => received += 1,
            Ok(Some(Err(ClientError::Rpc { status, .. }))) => {
                assert_eq!(status.code(), Code::ResourceExhausted);
                break;
            }
            other => panic!("the stream did not end with a status: {other:?}"),
        }
    }
    drop(stream);

    guard.flush();

    let cancelled = the_span(&receiver, GROUP_STREAM, "cancelled");
    assert_eq!(cancelled.kind, 3, "CLIENT");
    assert_eq!(
        attribute(&cancelled, semconv::XMTP_RPC_MESSAGES_RECEIVED),
        Some(&AttrValue::Int(3))
    );
    assert_eq!(text(&cancelled, semconv::ERROR_TYPE), "cancelled");

    let unavailable = the_span(&receiver, GROUP_STREAM, "unavailable");
    assert_eq!(
        text(&unavailable, semconv::RPC_RESPONSE_STATUS_CODE),
        "UNAVAILABLE"
    );
    assert_eq!(
        attribute(&unavailable, semconv::XMTP_RPC_MESSAGES_RECEIVED),
        Some(&AttrValue::Int(0))
    );

    let cut_off = the_span(&receiver, WELCOME_STREAM, "rate_limited");
    assert_eq!(
        text(&cut_off, semconv::RPC_RESPONSE_STATUS_CODE),
        "RESOURCE_EXHAUSTED"
    );
    assert_eq!(
        attribute(&cut_off, semconv::XMTP_RPC_MESSAGES_RECEIVED),
        Some(&AttrValue::Int(received)),
        "one span counting every message of the stream"
    );
    assert!(received > 0);

    let first = receiver
        .wait_for(Duration::from_secs(5), |r| {
            r.last_metric(semconv::RPC_CLIENT_TIME_TO_FIRST_MESSAGE)
        })
        .expect("time to first message exported");
    assert_eq!(first.unit, "s");
    let methods: Vec<String> = first
        .points
        .iter()
        .map(|p| p.attributes.get(semconv::RPC_METHOD).unwrap().to_string())
        .collect();
    assert!(methods.contains(&GROUP_STREAM.to_owned()), "{methods:?}");
    assert!(methods.contains(&WELCOME_STREAM.to_owned()), "{methods:?}");
    assert!(first.points.iter().all(|p| p.count.unwrap_or(0) >= 1));
}
