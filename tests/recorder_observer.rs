//! The benchmark recorder is fed by the operation layer: the outcomes of
//! real operations, with response time measured from the intended start.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tower::{Service, ServiceBuilder, ServiceExt};
use xmtp_opmon::classify::ErrorClass;
use xmtp_opmon::client::ApiVersion;
use xmtp_opmon::client::{Op, OpKind};
use xmtp_opmon::layer::{with_intended_start, OpTelemetryLayer, Traffic};
use xmtp_opmon::load::Recorder;
use xmtp_opmon::node::{parse_errors, Faults, Latency, NodeConfig};

#[tokio::test]
async fn recorder_sees_what_the_layer_measures() {
    let node = common::node_with(NodeConfig {
        faults: Faults {
            latency: Some(Latency::Fixed(Duration::from_millis(20))),
            errors: parse_errors("unavailable=10%").unwrap(),
            ..Faults::default()
        },
        ..NodeConfig::default()
    })
    .await;
    let recorder = Arc::new(Recorder::new());
    let mut ops = ServiceBuilder::new()
        .layer(
            OpTelemetryLayer::new(ApiVersion::V4)
                .traffic(Traffic::Synthetic)
                .observe_shared(recorder.clone()),
        )
        .service(common::client(&node));

    for i in 0..20 {
        let lookup = Op::LookupIdentity {
            address: "0x1234567890abcdef1234567890abcdef12345678".into(),
        };
        let call = ops.ready().await.unwrap().call(lookup);
        // One operation "should have started" 300 ms ago.
        let intended = Instant::now() - Duration::from_millis(if i == 5 { 300 } else { 0 });
        let _ = with_intended_start(intended, call).await;
    }

    let stats = &recorder.snapshot()[&OpKind::IdentityLookup];
    assert_eq!(stats.attempts, 20);
    assert_eq!(
        stats.errors.get(&ErrorClass::Unavailable),
        Some(&2),
        "10% of 20 calls"
    );
    assert_eq!(stats.ok, 18);
    assert!(
        stats.service_us.min() >= 20_000,
        "the injected 20 ms is in every call"
    );
    assert!(stats.service_us.max() < 300_000);
    assert!(
        stats.response_us.max() >= 320_000,
        "the late start counts in response time"
    );
}
