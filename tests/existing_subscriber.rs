//! `examples/existing_subscriber.rs` run against a real OTLP receiver:
//! the app keeps its own subscriber, and both the app's layer and the
//! exporter see the operations.

mod common;

#[path = "../examples/existing_subscriber.rs"]
#[allow(dead_code)]
mod example;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::otlp::{AttrValue, OtlpReceiver};
use xmtp_opmon::semconv;
use xmtp_opmon::telemetry::TelemetryBuilder;

/// The app's log, in memory.
#[derive(Clone, Default)]
struct AppLog(Arc<Mutex<Vec<u8>>>);

impl Write for AppLog {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn the_apps_layer_and_the_collector_both_see_the_operations() {
    let receiver = OtlpReceiver::start();
    let log = AppLog::default();
    let writer = log.clone();
    let telemetry = TelemetryBuilder::from_env()
        .otlp_endpoint(receiver.endpoint())
        .metric_interval(Duration::from_secs(3600));
    let guard = example::run_app(telemetry, move || writer.clone(), &["alice", ""])
        .await
        .expect("the app runs");
    guard.flush();

    // The collector: one span per operation, the phase under it.
    let spans = receiver.spans();
    let operations: Vec<_> = spans.iter().filter(|s| s.name == "greeting.send").collect();
    assert_eq!(operations.len(), 2, "{spans:#?}");
    let phases: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "greeting.compose")
        .collect();
    assert_eq!(phases.len(), 2);
    for phase in &phases {
        assert!(
            operations
                .iter()
                .any(|op| op.span_id == phase.parent_span_id),
            "each phase is a child of its operation"
        );
    }
    let failed = operations
        .iter()
        .find(|op| op.attributes.get("xmtp.outcome") == Some(&AttrValue::Str("error".into())))
        .expect("the empty name fails");
    assert_eq!(
        failed.attributes["xmtp.error.class"],
        AttrValue::Str("invalid".into())
    );
    assert_eq!(
        failed.attributes["xmtp.api"],
        AttrValue::Str("app-v1".into())
    );

    // The collector: the duration histograms, through the recorder.
    let durations = receiver
        .last_metric(semconv::OPERATION_DURATION)
        .expect("operation durations exported");
    let outcomes: Vec<String> = durations
        .points
        .iter()
        .map(|p| p.attributes["xmtp.outcome"].to_string())
        .collect();
    assert!(outcomes.contains(&"ok".to_owned()) && outcomes.contains(&"error".to_owned()));
    for point in &durations.points {
        assert_eq!(
            point.attributes["xmtp.operation"].to_string(),
            "greeting.send"
        );
        assert_eq!(point.count, Some(1));
    }
    let phase_points = receiver
        .last_metric(semconv::PHASE_DURATION)
        .expect("phase durations exported")
        .points;
    assert!(phase_points
        .iter()
        .all(
            |p| p.attributes["xmtp.phase"].to_string() == "greeting.compose"
                && p.attributes["xmtp.operation"].to_string() == "greeting.send"
        ));

    // The app's own layer saw the same operations and events.
    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert_eq!(text.matches("greeting sent").count(), 1, "{text}");
    assert_eq!(text.matches("greeting failed").count(), 1, "{text}");
    assert_eq!(
        text.lines()
            .filter(|line| line.contains("xmtp.outcome=") && line.contains(" close "))
            .count(),
        2,
        "{text}"
    );
    guard.shutdown();
}
