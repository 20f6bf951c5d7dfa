//! The Prometheus recorder behind the Pushgateway pusher.

use metrics::{KeyName, Recorder, SharedString, Unit};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

use super::{TelemetryError, HISTOGRAMS};
use crate::semconv;

/// A recorder (no listener, no push task: the guard's pusher renders it)
/// that renders the semconv histograms as real Prometheus histograms with
/// their boundaries (not the default summaries) and names with the
/// Prometheus unit and `_total` suffixes, e.g.
/// `rpc_client_call_duration_seconds_bucket{le="0.005"}`.
pub(super) fn recorder() -> Result<(PrometheusRecorder, PrometheusHandle), TelemetryError> {
    let mut builder = PrometheusBuilder::new().with_recommended_naming(true);
    for name in HISTOGRAMS {
        if let Some(bounds) = semconv::histogram_boundaries(name) {
            builder = builder
                .set_buckets_for_metric(Matcher::Full(name.to_owned()), bounds)
                .map_err(|e| TelemetryError::Exporter {
                    what: "Prometheus recorder",
                    reason: e.to_string(),
                })?;
        }
    }
    let recorder = builder.build_recorder();
    for name in HISTOGRAMS {
        recorder.describe_histogram(
            KeyName::from_const_str(name),
            prometheus_unit(name),
            help(name),
        );
    }
    recorder.describe_gauge(
        KeyName::from_const_str(semconv::OPERATION_ACTIVE),
        prometheus_unit(semconv::OPERATION_ACTIVE),
        help(semconv::OPERATION_ACTIVE),
    );
    let handle = recorder.handle();
    Ok((recorder, handle))
}

/// The `metrics` unit of a semconv unit, where Prometheus has a suffix for
/// it (`{operation}` has none).
fn prometheus_unit(name: &str) -> Option<Unit> {
    match semconv::unit(name)? {
        semconv::UNIT_SECONDS => Some(Unit::Seconds),
        _ => None,
    }
}

fn help(name: &str) -> SharedString {
    SharedString::const_str(super::description(name).unwrap_or(""))
}
