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
