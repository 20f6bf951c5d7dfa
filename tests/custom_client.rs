//! `examples/custom_client.rs` against a real OTLP receiver: a client with
//! operations of its own names gets operation, phase and RPC telemetry.

mod common;

#[path = "../examples/custom_client.rs"]
#[allow(dead_code)]
mod example;

use std::time::Duration;

use common::otlp::{AttrValue, OtlpReceiver};
use xmtp_opmon::semconv;
use xmtp_opmon::telemetry::TelemetryBuilder;

fn text(value: Option<&AttrValue>) -> String {
    value.map(ToString::to_string).unwrap_or_default()
}

#[tokio::test(flavor = "current_thread")]
async fn a_client_of_its_own_is_measured_under_its_own_names() {
    let receiver = OtlpReceiver::start();
    let telemetry = TelemetryBuilder::from_env()
        .otlp_endpoint(receiver.endpoint())
        .metric_interval(Duration::from_secs(3600));
    let guard = example::run(telemetry).await.expect("the example runs");
    guard.flush();

    let spans = receiver.spans();
    let named = |name: &str| spans.iter().filter(|s| s.name == name).count();
    assert_eq!(named("inventory.reserve"), 2, "{spans:#?}");
    assert_eq!(named("inventory.lookup"), 1);
    assert_eq!(named("order.validate"), 2);
    // The reservation refused locally never calls the server.
    assert_eq!(named("stock.hold"), 1);

    // Each RPC span sits under its phase, which sits under its operation.
    let call = spans
        .iter()
        .find(|s| s.name == "shop.Inventory/Lookup")
        .expect("the lookup's RPC span");
    assert_eq!(text(call.attributes.get("xmtp.rpc.family")), "read");
    assert_eq!(
        text(call.attributes.get("rpc.response.status_code")),
        "NOT_FOUND"
    );
    let phase = spans
        .iter()
        .find(|s| s.span_id == call.parent_span_id)
        .unwrap();
    assert_eq!(phase.name, "stock.read");
    let lookup = spans
        .iter()
        .find(|s| s.span_id == phase.parent_span_id)
        .unwrap();
    assert_eq!(lookup.name, "inventory.lookup");
    assert_eq!(text(lookup.attributes.get("xmtp.error.class")), "not_found");

    let operations = receiver
        .last_metric(semconv::OPERATION_DURATION)
        .expect("operation durations exported");
    let mut seen: Vec<(String, String, String)> = operations
        .points
        .iter()
        .map(|p| {
            (
                text(p.attributes.get("xmtp.operation")),
                text(p.attributes.get("xmtp.outcome")),
                text(p.attributes.get("xmtp.error.class")),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            (
                "inventory.lookup".into(),
                "error".into(),
                "not_found".into()
            ),
            ("inventory.reserve".into(), "error".into(), "client".into()),
            ("inventory.reserve".into(), "ok".into(), String::new()),
        ]
    );
    for point in &operations.points {
        assert_eq!(text(point.attributes.get("xmtp.api")), "shop-v2");
    }
    let calls = receiver
        .last_metric(semconv::RPC_CLIENT_CALL_DURATION)
        .expect("call durations exported");
    assert!(calls
        .points
        .iter()
        .all(|p| text(p.attributes.get("server.address")) == "inventory"));
    guard.shutdown();
}
