//! `opmon bench --otlp` exports through the same telemetry set-up as an
//! app: operation spans and metrics marked `xmtp.traffic=synthetic`, with
//! the run id as a resource attribute, flushed before the process exits.

mod common;

use common::bench::bench_ok;
use common::otlp::{AttrValue, OtlpReceiver};

#[test]
fn a_bench_run_exports_synthetic_telemetry_tagged_with_its_run_id() {
    let receiver = OtlpReceiver::start();
    let endpoint = receiver.endpoint();
    let ran = bench_ok(
        "otlp",
        &[
            "--scenario",
            "lookup",
            "--ops",
            "5",
            "--warmup",
            "0s",
            "--otlp",
            &endpoint,
        ],
    );
    let run_id = ran.run().run_id;

    // Everything was flushed at exit: no waiting needed.
    let spans = receiver.spans();
    let lookups: Vec<_> = spans
        .iter()
        .filter(|span| span.name == "identity.lookup")
        .collect();
    assert_eq!(lookups.len(), 5, "{spans:#?}");
    for span in &lookups {
        assert_eq!(
            span.attributes.get("xmtp.traffic"),
            Some(&AttrValue::Str("synthetic".into()))
        );
        assert_eq!(span.resource.get("xmtp.run.id"), Some(&run_id));
        assert_eq!(
            span.resource.get("service.name").map(String::as_str),
            Some("opmon")
        );
    }
    let duration = receiver
        .last_metric("xmtp.client.operation.duration")
        .expect("operation metrics were exported");
    assert_eq!(duration.resource.get("xmtp.run.id"), Some(&run_id));
    let count: u64 = duration
        .points
        .iter()
        .filter(|p| p.attributes.get("xmtp.traffic") == Some(&AttrValue::Str("synthetic".into())))
        .filter_map(|p| p.count)
        .sum();
    // Provisioning is not an operation: only the five lookups are counted.
    assert_eq!(count, 5, "{duration:#?}");
    // The run id never becomes a metric label.
    assert!(duration
        .points
        .iter()
        .all(|p| !p.attributes.contains_key("xmtp.run.id")));
}

#[test]
fn a_v3_run_carries_the_v3_method_names_and_api() {
    let receiver = OtlpReceiver::start();
    let endpoint = receiver.endpoint();
    bench_ok(
        "otlp-v3",
        &[
            "--api",
            "v3",
            "--scenario",
            "mix",
            "--mix",
            "identity=1,lookup=1",
            "--ops",
            "6",
            "--warmup",
            "0s",
            "--otlp",
            &endpoint,
        ],
    );
    let spans = receiver.spans();
    let operations: Vec<_> = spans
        .iter()
        .filter(|span| span.attributes.contains_key("xmtp.operation") && span.kind == 1)
        .filter(|span| span.name == "identity.create" || span.name == "identity.lookup")
        .collect();
    assert!(!operations.is_empty(), "{spans:#?}");
    for span in &operations {
        assert_eq!(
            span.attributes.get("xmtp.api"),
            Some(&AttrValue::Str("v3".into())),
            "{span:#?}"
        );
    }
    let calls: Vec<&str> = spans
        .iter()
        .filter(|span| span.kind == 3)
        .map(|span| span.name.as_str())
        .collect();
    for method in [
        "xmtp.identity.api.v1.IdentityApi/GetInboxIds",
        "xmtp.identity.api.v1.IdentityApi/PublishIdentityUpdate",
        "xmtp.identity.api.v1.IdentityApi/GetIdentityUpdates",
        "xmtp.mls.api.v1.MlsApi/UploadKeyPackage",
    ] {
        assert!(calls.contains(&method), "no {method} in {calls:?}");
    }
    assert!(
        calls.iter().all(|name| !name.starts_with("xmtp.xmtpv4")),
        "a V3 run makes no V4 call: {calls:?}"
    );
    let rpc = spans
        .iter()
        .find(|span| span.name == "xmtp.mls.api.v1.MlsApi/UploadKeyPackage")
        .unwrap();
    assert_eq!(
        rpc.attributes.get("rpc.method"),
        Some(&AttrValue::Str(
            "xmtp.mls.api.v1.MlsApi/UploadKeyPackage".into()
        ))
    );
}
