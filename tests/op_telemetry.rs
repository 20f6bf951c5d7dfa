//! Each operation against the embedded node exports the span tree
//! operation → phase → RPC, and the metric points, with the right names,
//! kinds, parents, attributes, units and boundaries.

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::otlp::{AttrValue, OtlpReceiver, ReceivedSpan};
use tower::ServiceBuilder;
use xmtp_opmon::client::{ApiVersion, ClientConfig, V4Client};
use xmtp_opmon::client::{Op, OpResult};
use xmtp_opmon::layer::{OpTelemetryLayer, Outcome};
use xmtp_opmon::semconv;
use xmtp_opmon::telemetry::TelemetryBuilder;

const CLIENT: i32 = 3;
const INTERNAL: i32 = 1;

fn attr<'a>(span: &'a ReceivedSpan, key: &str) -> Option<&'a AttrValue> {
    span.attributes.get(key)
}

fn text(span: &ReceivedSpan, key: &str) -> String {
    attr(span, key).map(|v| v.to_string()).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_export_span_trees_and_metrics() {
    let receiver = OtlpReceiver::start();
    let guard = TelemetryBuilder::from_env()
        .otlp_endpoint(receiver.endpoint())
        .service_name("op-telemetry-test")
        .metric_interval(Duration::from_secs(3600))
        .init()
        .unwrap();

    let node = common::node().await;
    let client = V4Client::connect_traced(node.url(), node.url(), ClientConfig::default()).unwrap();
    let outcomes: Arc<Mutex<Vec<Outcome>>> = Arc::default();
    let seen = outcomes.clone();
    let mut ops = ServiceBuilder::new()
        .layer(
            OpTelemetryLayer::new(ApiVersion::V4)
                .observe(move |o: &Outcome| seen.lock().unwrap().push(o.clone())),
        )
        .service(client);

    let mut identities = Vec::new();
    for _ in 0..3 {
        match common::perform(&mut ops, Op::CreateIdentity).await {
            OpResult::Identity(identity) => identities.push(identity),
            other => panic!("{other:?}"),
        }
    }
    let group = match common::perform(
        &mut ops,
        Op::CreateGroup {
            owner: identities[0].clone(),
            members: vec![identities[1].inbox_id().to_owned()],
        },
    )
    .await
    {
        OpResult::Group(group) => group,
        other => panic!("{other:?}"),
    };
    common::perform(
        &mut ops,
        Op::AddMembers {
            group,
            members: vec![identities[2].inbox_id().to_owned()],
        },
    )
    .await;
    let lookup = common::perform(
        &mut ops,
        Op::LookupIdentity {
            address: identities[0].address().to_owned(),
        },
    )
    .await;
    assert!(matches!(lookup, OpResult::Inbox(Some(_))));
    guard.flush();

    // --- observers ---
    let outcomes = outcomes.lock().unwrap().clone();
    assert_eq!(outcomes.len(), 6);
    assert!(outcomes.iter().all(Outcome::is_ok));
    assert_eq!(outcomes[4].members_added, Some(1));
    assert_eq!(outcomes[4].group_size, Some(3));

    // --- spans: operation → phase → rpc ---
    let spans = receiver.spans();
    let by_id = |id: &str| spans.iter().find(|s| s.span_id == id);
    let op_spans: Vec<&ReceivedSpan> = spans
        .iter()
        .filter(|s| {
            s.name.contains('.')
                && attr(s, semconv::XMTP_OPERATION).is_some()
                && attr(s, semconv::XMTP_PHASE).is_none()
        })
        .collect();
    let names: BTreeSet<&str> = op_spans.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "identity.create",
            "group.create",
            "group.add_members",
            "identity.lookup"
        ])
    );
    for op in &op_spans {
        assert_eq!(op.kind, INTERNAL, "{}", op.name);
        assert_eq!(text(op, semconv::XMTP_OPERATION), op.name);
        assert_eq!(text(op, semconv::XMTP_API), "v4");
        assert_eq!(text(op, semconv::XMTP_TRAFFIC), "real");
        assert_eq!(text(op, semconv::XMTP_OUTCOME), "ok");
        assert!(op.parent_span_id.is_empty(), "operations are roots here");
        assert_eq!(
            op.resource.get("service.name").map(String::as_str),
            Some("op-telemetry-test")
        );
    }
    let add = op_spans
        .iter()
        .find(|s| s.name == "group.add_members")
        .unwrap();
    assert_eq!(
        attr(add, semconv::XMTP_GROUP_SIZE),
        Some(&AttrValue::Int(3))
    );
    assert_eq!(
        attr(add, semconv::XMTP_MEMBERS_ADDED),
        Some(&AttrValue::Int(1))
    );

    // The add issues libxmtp's RPCs in libxmtp's order, including the
    // second key-package fetch at publish time (polls collapsed to one).
    let mut add_rpcs: Vec<String> = Vec::new();
    for phase in spans.iter().filter(|s| s.parent_span_id == add.span_id) {
        let mut names: Vec<&str> = spans
            .iter()
            .filter(|r| r.kind == CLIENT && r.parent_span_id == phase.span_id)
            .map(|r| r.name.as_str())
            .collect();
        names.dedup();
        let phase_name = text(phase, semconv::XMTP_PHASE);
        add_rpcs.extend(names.iter().map(|name| format!("{phase_name} {name}")));
    }
    assert_eq!(
        add_rpcs,
        [
            "identity.load xmtp.xmtpv4.message_api.QueryApi/QueryEnvelopes",
            "key_package.fetch xmtp.xmtpv4.message_api.QueryApi/GetNewestEnvelope",
            "key_package.fetch xmtp.xmtpv4.message_api.QueryApi/GetNewestEnvelope",
            "commit.publish xmtp.xmtpv4.gateway_api.GatewayApi/PublishClientEnvelopes",
            "commit.await_visible xmtp.xmtpv4.message_api.QueryApi/QueryEnvelopes",
            "welcome.publish xmtp.xmtpv4.gateway_api.GatewayApi/PublishClientEnvelopes",
        ]
    );

    let identity_op = op_spans
        .iter()
        .find(|s| s.name == "identity.create")
        .unwrap();
    let phases: Vec<&ReceivedSpan> = spans
        .iter()
        .filter(|s| s.parent_span_id == identity_op.span_id)
        .collect();
    let phase_names: Vec<String> = phases
        .iter()
        .map(|s| text(s, semconv::XMTP_PHASE))
        .collect();
    assert_eq!(
        phase_names,
        [
            "inbox.lookup",
            "key_package.build",
            "key_package.publish",
            "identity.sign",
            "identity.publish",
            "identity.await_visible"
        ]
    );
    let publish_phase = phases
        .iter()
        .find(|s| s.name == "key_package.publish")
        .unwrap();
    let rpc = spans
        .iter()
        .find(|s| s.parent_span_id == publish_phase.span_id)
        .expect("the publish phase has an RPC child");
    assert_eq!(rpc.kind, CLIENT);
    assert_eq!(
        rpc.name,
        "xmtp.xmtpv4.gateway_api.GatewayApi/PublishClientEnvelopes"
    );
    assert_eq!(rpc.trace_id, identity_op.trace_id);
    assert_eq!(text(rpc, semconv::RPC_SYSTEM_NAME), "grpc");
    assert_eq!(text(rpc, semconv::RPC_METHOD), rpc.name);
    assert_eq!(text(rpc, semconv::RPC_RESPONSE_STATUS_CODE), "OK");
    assert_eq!(text(rpc, semconv::SERVER_ADDRESS), "127.0.0.1");
    assert_eq!(
        attr(rpc, semconv::SERVER_PORT),
        Some(&AttrValue::Int(node.local_addr().port() as i64))
    );
    assert!(!rpc.attributes.contains_key(semconv::ERROR_TYPE));
    // Every RPC span hangs under a phase or an operation, never loose.
    for span in spans.iter().filter(|s| s.kind == CLIENT) {
        let parent = by_id(&span.parent_span_id).expect("rpc spans have parents");
        assert!(
            attr(parent, semconv::XMTP_PHASE).is_some()
                || attr(parent, semconv::XMTP_OPERATION).is_some()
        );
    }

    // --- metrics ---
    let rpc_metric = receiver
        .last_metric(semconv::RPC_CLIENT_CALL_DURATION)
        .unwrap();
    assert_eq!(rpc_metric.unit, "s");
    let point = &rpc_metric.points[0];
    assert_eq!(point.bounds, semconv::RPC_DURATION_BOUNDARIES.to_vec());
    assert!(rpc_metric
        .points
        .iter()
        .any(|p| p.attributes.get(semconv::RPC_METHOD)
            == Some(&AttrValue::Str(
                "xmtp.xmtpv4.message_api.QueryApi/GetInboxIds".into()
            ))));

    let op_metric = receiver.last_metric(semconv::OPERATION_DURATION).unwrap();
    assert_eq!(op_metric.unit, "s");
    let count = |op: &str| -> u64 {
        op_metric
            .points
            .iter()
            .filter(|p| {
                p.attributes.get(semconv::XMTP_OPERATION) == Some(&AttrValue::Str(op.into()))
            })
            .map(|p| p.count.unwrap_or(0))
            .sum()
    };
    assert_eq!(count("identity.create"), 3);
    assert_eq!(count("group.create"), 1);
    assert_eq!(count("group.add_members"), 1);
    assert_eq!(count("identity.lookup"), 1);
    for point in &op_metric.points {
        assert_eq!(point.bounds, semconv::OPERATION_BOUNDARIES.to_vec());
        assert_eq!(
            point.attributes.get(semconv::XMTP_OUTCOME),
            Some(&AttrValue::Str("ok".into()))
        );
        assert!(!point.attributes.contains_key(semconv::XMTP_ERROR_CLASS));
    }
    let group_point = op_metric
        .points
        .iter()
        .find(|p| {
            p.attributes.get(semconv::XMTP_OPERATION)
                == Some(&AttrValue::Str("group.create".into()))
        })
        .unwrap();
    assert_eq!(
        group_point.attributes.get(semconv::XMTP_GROUP_SIZE_BUCKET),
        Some(&AttrValue::Str("2-10".into()))
    );
    // Exact sizes and identifiers never become metric labels.
    assert!(op_metric
        .points
        .iter()
        .all(|p| !p.attributes.contains_key(semconv::XMTP_GROUP_SIZE)));

    let phase_metric = receiver.last_metric(semconv::PHASE_DURATION).unwrap();
    assert!(phase_metric.points.iter().any(|p| {
        p.attributes.get(semconv::XMTP_PHASE) == Some(&AttrValue::Str("welcome.publish".into()))
            && p.attributes.get(semconv::XMTP_OPERATION)
                == Some(&AttrValue::Str("group.add_members".into()))
    }));

    let active = receiver.last_metric(semconv::OPERATION_ACTIVE).unwrap();
    assert!(
        active.points.iter().all(|p| p.value == Some(0.0)),
        "{active:?}"
    );

    guard.shutdown();
}
