//! Every error class is provoked for real and shows on the operation span,
//! the operation metric and (where a call was made) the RPC span.

mod common;

use std::time::Duration;

use common::fake_server::{self, Misbehaviour};
use common::otlp::{AttrValue, OtlpReceiver, ReceivedSpan};
use tower::{Service, ServiceBuilder, ServiceExt};
use xmtp_opmon::classify::ErrorClass;
use xmtp_opmon::client::Op;
use xmtp_opmon::client::{ApiVersion, ClientConfig, V4Client};
use xmtp_opmon::identity::{new_inbox_update, InstallationKey, Wallet};
use xmtp_opmon::layer::OpTelemetryLayer;
use xmtp_opmon::node::{parse_errors, Faults, Latency, NodeConfig, RunningNode};
use xmtp_opmon::semconv;

const ADDRESS: &str = "0x1234567890abcdef1234567890abcdef12345678";

fn client_for(url: &str, config: ClientConfig) -> V4Client {
    V4Client::connect_traced(url, url, config).unwrap()
}

/// Runs one operation through the op layer and returns its error class.
async fn run(client: V4Client, op: Op) -> ErrorClass {
    let mut ops = ServiceBuilder::new()
        .layer(OpTelemetryLayer::new(ApiVersion::V4))
        .service(client);
    let error = ops.ready().await.unwrap().call(op).await.unwrap_err();
    error.class()
}

fn lookup() -> Op {
    Op::LookupIdentity {
        address: ADDRESS.into(),
    }
}

async fn faulty_node(faults: Faults) -> RunningNode {
    common::node_with(NodeConfig {
        faults,
        ..NodeConfig::default()
    })
    .await
}

async fn failing_with(code: &str) -> RunningNode {
    faulty_node(Faults {
        errors: parse_errors(&format!("{code}=100%")).unwrap(),
        ..Faults::default()
    })
    .await
}

fn op_spans_with_class<'a>(spans: &'a [ReceivedSpan], class: &str) -> Vec<&'a ReceivedSpan> {
    spans
        .iter()
        .filter(|s| {
            s.attributes.contains_key(semconv::XMTP_OPERATION)
                && !s.attributes.contains_key(semconv::XMTP_PHASE)
                && s.attributes.get(semconv::XMTP_ERROR_CLASS)
                    == Some(&AttrValue::Str(class.into()))
        })
        .collect()
}

/// RPC spans below `op` (through its phases).
fn rpc_spans_under<'a>(spans: &'a [ReceivedSpan], op: &ReceivedSpan) -> Vec<&'a ReceivedSpan> {
    spans
        .iter()
        .filter(|s| s.trace_id == op.trace_id && s.kind == 3)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_class_is_reported_on_spans_and_metrics() {
    let receiver = OtlpReceiver::start();
    let guard = common::export_to(&receiver);
    let quick = ClientConfig {
        rpc_timeout: Duration::from_millis(200),
        visibility_timeout: Duration::from_millis(200),
        ..ClientConfig::default()
    };

    // (class, an attribute and value one of its RPC spans must carry)
    let mut expected: Vec<(ErrorClass, Option<(&str, &str)>)> = Vec::new();

    // Codes injected by the node, answered trailers-only.
    for (code, class, status) in [
        ("unavailable", ErrorClass::Unavailable, "UNAVAILABLE"),
        (
            "resource_exhausted",
            ErrorClass::RateLimited,
            "RESOURCE_EXHAUSTED",
        ),
        ("unauthenticated", ErrorClass::Auth, "UNAUTHENTICATED"),
        ("invalid_argument", ErrorClass::Invalid, "INVALID_ARGUMENT"),
        ("internal", ErrorClass::Server, "INTERNAL"),
    ] {
        let node = failing_with(code).await;
        assert_eq!(
            run(client_for(node.url(), quick.clone()), lookup()).await,
            class
        );
        expected.push((class, Some((semconv::RPC_RESPONSE_STATUS_CODE, status))));
    }

    // A closed port.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    assert_eq!(
        run(client_for(&closed, quick.clone()), lookup()).await,
        ErrorClass::Connect
    );
    expected.push((ErrorClass::Connect, None));

    // A node slower than the client's deadline.
    let slow = faulty_node(Faults {
        latency: Some(Latency::Fixed(Duration::from_secs(2))),
        ..Faults::default()
    })
    .await;
    assert_eq!(
        run(client_for(slow.url(), quick.clone()), lookup()).await,
        ErrorClass::Timeout
    );
    // The deadline travels with the call (grpc-timeout), so the RPC span
    // says timeout too, not cancelled.
    expected.push((ErrorClass::Timeout, Some((semconv::ERROR_TYPE, "timeout"))));

    // The caller gives up: the operation future is dropped mid-call.
    let patient = ClientConfig::default();
    let mut ops = ServiceBuilder::new()
        .layer(OpTelemetryLayer::new(ApiVersion::V4))
        .service(client_for(slow.url(), patient));
    let call = ops.ready().await.unwrap().call(lookup());
    assert!(tokio::time::timeout(Duration::from_millis(100), call)
        .await
        .is_err());
    expected.push((ErrorClass::Cancelled, None));

    // A forged identity update: accepted, never visible.
    let node = common::node().await;
    let wallet = Wallet::generate();
    let intruder = Wallet::generate();
    let installation = InstallationKey::generate();
    let forged_by = InstallationKey::from_secret_bytes(&[7; 32]);
    // Signed for a different installation than the one registering: the
    // installation signature does not match the key it claims.
    let mut update = new_inbox_update(&wallet, &forged_by, 0, 1_750_000_000_000_000_000).unwrap();
    let honest = new_inbox_update(&intruder, &installation, 0, 1_750_000_000_000_000_000).unwrap();
    update.actions[1] = honest.actions[1].clone();
    let forged = Op::RegisterIdentity {
        installation: Box::new(installation),
        address: wallet.address(),
        nonce: 0,
        update: Box::new(update),
    };
    assert_eq!(
        run(client_for(node.url(), quick.clone()), forged).await,
        ErrorClass::NotVisible
    );
    expected.push((ErrorClass::NotVisible, None));

    // A server whose answer does not decode.
    let garbage = fake_server::start(Misbehaviour::Garbage).await;
    assert_eq!(
        run(client_for(&garbage.url, quick.clone()), lookup()).await,
        ErrorClass::Protocol
    );
    // tonic stops reading once the message fails to decode, so the call
    // never reaches its trailers: the RPC span says the response was
    // dropped after data arrived, which no caller's cancellation reads as.
    expected.push((
        ErrorClass::Protocol,
        Some((semconv::ERROR_TYPE, "body_dropped")),
    ));
    assert!(
        !garbage.seen_traceparent.lock().unwrap().is_empty(),
        "the call carried a W3C traceparent"
    );

    // An error sent in trailers after the response headers.
    let late = fake_server::start(Misbehaviour::ErrorInTrailers(tonic::Code::DataLoss)).await;
    assert_eq!(
        run(client_for(&late.url, quick.clone()), lookup()).await,
        ErrorClass::Server
    );
    expected.push((
        ErrorClass::Server,
        Some((semconv::RPC_RESPONSE_STATUS_CODE, "DATA_LOSS")),
    ));

    guard.flush();
    let spans = receiver.spans();
    let op_metric = receiver.last_metric(semconv::OPERATION_DURATION).unwrap();
    for (class, status) in expected {
        let ops = op_spans_with_class(&spans, class.as_str());
        assert!(!ops.is_empty(), "no operation span with class {class}");
        assert!(
            ops.iter().all(|s| s.status_code == 2),
            "{class}: span status is error"
        );
        assert!(
            op_metric
                .points
                .iter()
                .any(|p| p.attributes.get(semconv::XMTP_ERROR_CLASS)
                    == Some(&AttrValue::Str(class.as_str().into()))
                    && p.attributes.get(semconv::XMTP_OUTCOME)
                        == Some(&AttrValue::Str("error".into()))),
            "no metric point with class {class}"
        );
        if let Some((key, value)) = status {
            let rpcs: Vec<_> = ops
                .iter()
                .flat_map(|op| rpc_spans_under(&spans, op))
                .collect();
            assert!(
                rpcs.iter()
                    .any(|s| s.attributes.get(key) == Some(&AttrValue::Str(value.into()))),
                "{class}: an RPC span with {key}={value}: {rpcs:#?}"
            );
        }
    }

    // RPC-level classes of failures that never produced a status.
    let rpc_metric = receiver
        .last_metric(semconv::RPC_CLIENT_CALL_DURATION)
        .unwrap();
    for error_type in ["connect", "cancelled", "DATA_LOSS", "UNAVAILABLE"] {
        assert!(
            rpc_metric
                .points
                .iter()
                .any(|p| p.attributes.get(semconv::ERROR_TYPE)
                    == Some(&AttrValue::Str(error_type.into()))),
            "no rpc.client.call.duration point with error.type {error_type}"
        );
    }
    guard.shutdown();
}
