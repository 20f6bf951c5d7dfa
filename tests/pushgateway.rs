//! The final push at shutdown reaches a real Pushgateway (Debian's
//! `prometheus-pushgateway`), even when the push interval never elapsed.
//!
//! Ignored by a plain `cargo test`, which cannot assume the program; CI
//! installs it and runs the test with `--include-ignored`.

mod common;

use std::time::Duration;

use common::daemon::Daemon;

use xmtp_opmon::semconv;
use xmtp_opmon::telemetry::TelemetryBuilder;

#[test]
#[ignore = "needs prometheus-pushgateway"]
fn final_push_at_shutdown_reaches_the_pushgateway() {
    let gateway = Daemon::pushgateway();

    let guard = TelemetryBuilder::from_env()
        .pushgateway(gateway.url())
        // Never elapses: only the final push at shutdown can deliver.
        .push_interval(Duration::from_secs(3600))
        .init()
        .expect("telemetry starts");

    metrics::histogram!(semconv::RPC_CLIENT_CALL_DURATION, "server.port" => "443", "rpc.method" => "x.v1.S/M")
        .record(0.004);
    metrics::histogram!(semconv::OPERATION_DURATION, "xmtp.operation" => "identity.create")
        .record(1.5);
    metrics::gauge!(semconv::OPERATION_ACTIVE).increment(2.0);

    assert!(
        !gateway.get("/metrics").contains("rpc_client_call_duration"),
        "nothing is pushed before shutdown"
    );
    guard.shutdown();

    let exposed = gateway.get("/metrics");
    let line = |prefix: &str, parts: &[&str]| {
        exposed
            .lines()
            .find(|l| l.starts_with(prefix) && parts.iter().all(|p| l.contains(p)))
            .unwrap_or_else(|| panic!("no `{prefix}` line with {parts:?} in:\n{exposed}"))
            .to_owned()
    };
    let first_bucket = line(
        "rpc_client_call_duration_seconds_bucket{",
        &[
            r#"job="xmtp_opmon""#,
            r#"le="0.005""#,
            r#"server_port="443""#,
        ],
    );
    assert!(first_bucket.ends_with(" 1"), "{first_bucket}");
    // All 14 semconv boundaries plus +Inf.
    let buckets = exposed
        .lines()
        .filter(|l| l.starts_with("rpc_client_call_duration_seconds_bucket{"))
        .count();
    assert_eq!(buckets, 15, "{exposed}");
    let slow = line(
        "xmtp_client_operation_duration_seconds_bucket{",
        &[r#"le="2.5""#, r#"xmtp_operation="identity.create""#],
    );
    assert!(slow.ends_with(" 1"), "{slow}");
    let active = line("xmtp_client_operation_active{", &[r#"job="xmtp_opmon""#]);
    assert!(active.ends_with(" 2"), "{active}");
    assert!(exposed.contains("# TYPE rpc_client_call_duration_seconds histogram"));
}
