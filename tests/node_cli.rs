//! `opmon node` serves the embedded node until SIGTERM; bad flags get one
//! clear sentence and a non-zero exit.

mod common;

use std::process::{Child, Command};
use std::time::Duration;

use common::otlp::OtlpReceiver;
use common::spawn_node;
use xmtp_opmon::proto::gateway_api::gateway_api_client::GatewayApiClient;
use xmtp_opmon::proto::payer_api::PublishClientEnvelopesRequest;
use xmtp_opmon::semconv::{
    NODE_STORE_BYTES, NODE_STORE_ENVELOPES, NODE_STORE_EVICTIONS, NODE_STORE_FORGOTTEN,
};

fn terminate(mut child: Child) {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn opmon_node_serves_until_terminated() {
    let (child, url) = spawn_node(&["--indexer-lag", "1ms"], &[]);

    let client = xmtp_opmon::client::V4Client::connect(&url, &url).unwrap();
    let alice = client.create_identity().await.unwrap();
    assert_eq!(
        client
            .lookup_inbox(alice.address())
            .await
            .unwrap()
            .as_deref(),
        Some(alice.inbox_id())
    );

    terminate(child);
}

#[test]
fn bad_fault_flags_are_one_sentence() {
    for args in [
        ["--inject-latency", "sometimes"],
        ["--stall", "5s/500ms"],
        ["--inject-error", "bogus=1%"],
        ["--indexer-lag", "soon"],
        ["--retention", "a while"],
        ["--max-store", "lots"],
        ["--max-store", "12 parsecs"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_opmon"))
            .arg("node")
            .args(args)
            .output()
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("invalid value"), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[tokio::test]
async fn store_figures_reach_the_nodes_telemetry() {
    let receiver = OtlpReceiver::start();
    let endpoint = receiver.endpoint();
    let (child, url) = spawn_node(
        &[
            "--indexer-lag",
            "1ms",
            "--max-store",
            "4KiB",
            "--otlp",
            &endpoint,
        ],
        &[("OTEL_METRIC_EXPORT_INTERVAL", "200")],
    );
    // Two identities (kept by rule, but not past the cap), then welcomes a
    // 4 KiB store cannot all hold: envelopes are evicted and, once only
    // kept ones are left, whole topics forgotten.
    let client = xmtp_opmon::client::V4Client::connect(&url, &url).unwrap();
    for _ in 0..2 {
        client.create_identity().await.unwrap();
    }
    let mut gateway = GatewayApiClient::new(xmtp_opmon::client::channel(&url).unwrap());
    for installation in 1..=8u8 {
        gateway
            .publish_client_envelopes(PublishClientEnvelopesRequest {
                envelopes: vec![common::envelopes::welcome([installation; 32], 1024)],
            })
            .await
            .unwrap();
    }
    let value = |name: &str| {
        let metric = receiver.last_metric(name)?;
        metric.points.iter().find_map(|p| p.value)
    };
    let evictions = receiver.wait_for(Duration::from_secs(20), |_| {
        value(NODE_STORE_EVICTIONS).filter(|v| *v > 0.0)
    });
    assert!(evictions.is_some(), "no evictions exported");
    let forgotten = receiver.wait_for(Duration::from_secs(20), |_| {
        value(NODE_STORE_FORGOTTEN).filter(|v| *v > 0.0)
    });
    assert!(forgotten.is_some(), "no forgotten topics exported");
    let envelopes = value(NODE_STORE_ENVELOPES).expect("envelopes exported");
    let bytes = value(NODE_STORE_BYTES).expect("bytes exported");
    assert!(envelopes >= 1.0, "the newest welcome stays: {envelopes}");
    assert!(bytes > 0.0 && bytes <= 4096.0, "{bytes}");
    terminate(child);
}
