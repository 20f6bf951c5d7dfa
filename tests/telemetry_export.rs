//! Spans and metrics emitted through `tracing` and the `metrics` facade
//! reach a real OTLP/gRPC receiver with the right names, kinds, parents,
//! resource, units, bucket boundaries and attribute types.
//!
//! Telemetry globals are process-wide, so this file has a single test.

mod common;

use std::time::{Duration, Instant};

use common::otlp::{AttrValue, OtlpReceiver};
use xmtp_opmon::semconv;
use xmtp_opmon::telemetry::TelemetryBuilder;

const CALL: &str = "xmtp.xmtpv4.payer_api.PayerApi/PublishClientEnvelopes";
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

// A current-thread runtime is where a blocking SDK shutdown deadlocks; the
// guard must flush and shut down from right here.
#[tokio::test(flavor = "current_thread")]
async fn spans_and_metrics_reach_the_collector() {
    let receiver = OtlpReceiver::start();
    let guard = TelemetryBuilder::from_env()
        .otlp_endpoint(receiver.endpoint())
        .otlp_header("x-honeycomb-team", "test-key")
        .service_name("opmon-test")
        .environment("ci")
        .resource_attribute("xmtp.run.id", "run-7")
        // Only explicit flushes export, so what arrives is what they sent.
        .metric_interval(Duration::from_secs(3600))
        .shutdown_timeout(SHUTDOWN_TIMEOUT)
        .init()
        .expect("telemetry starts");

    // Spans: an operation with one client call inside it.
    {
        let operation = tracing::info_span!(
            "operation",
            otel.name = "identity.create",
            xmtp.operation = "identity.create"
        );
        let _entered = operation.enter();
        let call = tracing::info_span!(
            "rpc",
            otel.kind = "client",
            otel.name = CALL,
            rpc.system.name = "grpc",
            server.port = 443_i64
        );
        call.in_scope(|| {});
    }
    // Transport crates and below-INFO spans must not be exported.
    tracing::info_span!(target: "h2", "h2_frame").in_scope(|| {});
    tracing::info_span!(target: "tonic::transport", "tonic_connect").in_scope(|| {});
    tracing::info_span!(target: "hyper_util::client", "hyper_pool").in_scope(|| {});
    tracing::debug_span!("too_quiet").in_scope(|| {});

    // Metrics through the facade, as the layers record them.
    metrics::histogram!(semconv::RPC_CLIENT_CALL_DURATION, "server.port" => "443", "rpc.method" => CALL).record(0.003);
    metrics::histogram!(semconv::RPC_CLIENT_CALL_DURATION, "server.port" => "443", "rpc.method" => CALL).record(0.2);
    let active = metrics::gauge!(semconv::OPERATION_ACTIVE, "xmtp.operation" => "identity.create");
    active.increment(1.0);
    active.increment(1.0);
    active.decrement(1.0);
    metrics::counter!("xmtp.test.events").increment(3);

    guard.flush();

    // --- spans ---
    let spans = receiver.spans();
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    let call = spans
        .iter()
        .find(|s| s.name == CALL)
        .expect("client span exported");
    let operation = spans
        .iter()
        .find(|s| s.name == "identity.create")
        .expect("operation span exported");
    assert_eq!(call.kind, 3, "span kind CLIENT");
    assert_eq!(call.trace_id, operation.trace_id);
    assert_eq!(call.parent_span_id, operation.span_id);
    assert!(
        operation.parent_span_id.is_empty(),
        "the operation is a root span"
    );
    assert_eq!(
        call.attributes["rpc.system.name"],
        AttrValue::Str("grpc".into())
    );
    assert_eq!(call.attributes["server.port"], AttrValue::Int(443));
    assert_eq!(call.scope, semconv::SCOPE_NAME);
    for filtered in ["h2_frame", "tonic_connect", "hyper_pool", "too_quiet"] {
        assert!(
            !names.contains(&filtered),
            "{filtered} must not be exported: {names:?}"
        );
    }
    assert_eq!(
        spans.len(),
        2,
        "no transport spans of the exporter itself: {names:?}"
    );

    let resource = &call.resource;
    assert_eq!(resource["service.name"], "opmon-test");
    assert_eq!(resource["service.version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(resource["deployment.environment.name"], "ci");
    assert_eq!(resource["xmtp.run.id"], "run-7");
    assert_eq!(receiver.headers()["x-honeycomb-team"], "test-key");

    // --- metrics ---
    let duration = receiver
        .last_metric(semconv::RPC_CLIENT_CALL_DURATION)
        .expect("call duration exported");
    assert_eq!(duration.unit, "s");
    assert_eq!(duration.scope, semconv::SCOPE_NAME);
    assert_eq!(duration.resource["service.name"], "opmon-test");
    let [point] = &duration.points[..] else {
        panic!("one attribute set: {:?}", duration.points)
    };
    assert_eq!(
        point.bounds,
        semconv::RPC_DURATION_BOUNDARIES.to_vec(),
        "the 14 semconv boundaries"
    );
    assert_eq!(point.count, Some(2));
    assert_eq!(point.bucket_counts.len(), 15);
    assert_eq!(
        point.bucket_counts[0], 1,
        "0.003 s falls in the first bucket"
    );
    assert_eq!(point.bucket_counts[6], 1, "0.2 s falls in (0.1, 0.25]");
    assert!((point.sum.unwrap() - 0.203).abs() < 1e-9);
    assert_eq!(
        point.attributes["server.port"],
        AttrValue::Int(443),
        "server.port is an int"
    );
    assert_eq!(point.attributes["rpc.method"], AttrValue::Str(CALL.into()));

    let in_flight = receiver
        .last_metric(semconv::OPERATION_ACTIVE)
        .expect("in-flight counter exported");
    assert_eq!(in_flight.unit, semconv::UNIT_OPERATIONS);
    let [point] = &in_flight.points[..] else {
        panic!("one attribute set: {:?}", in_flight.points)
    };
    assert_eq!(point.monotonic, Some(false), "an up-down counter");
    assert_eq!(point.value, Some(1.0));

    let events = receiver
        .last_metric("xmtp.test.events")
        .expect("counter exported");
    assert_eq!(events.points[0].monotonic, Some(true));
    assert_eq!(events.points[0].value, Some(3.0));

    // --- shutdown exports what came after the last flush, within its bound ---
    tracing::info_span!("after_flush").in_scope(|| {});
    metrics::histogram!(semconv::RPC_CLIENT_CALL_DURATION, "server.port" => "443", "rpc.method" => CALL).record(0.5);
    let started = Instant::now();
    guard.shutdown();
    let took = started.elapsed();
    assert!(took < SHUTDOWN_TIMEOUT, "shutdown took {took:?}");
    assert!(
        receiver.spans().iter().any(|s| s.name == "after_flush"),
        "shutdown flushes the last spans"
    );
    let duration = receiver
        .last_metric(semconv::RPC_CLIENT_CALL_DURATION)
        .unwrap();
    assert_eq!(
        duration.points[0].count,
        Some(3),
        "shutdown exports metrics a last time"
    );
}
