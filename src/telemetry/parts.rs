//! The telemetry pipeline as parts, for an app that owns its own
//! `tracing` subscriber and `metrics` recorder.
//!
//! [`TelemetryBuilder::init`](super::TelemetryBuilder::init) is the
//! convenience: it installs a global subscriber and recorder of its own,
//! and fails if the app already has one. [`TelemetryBuilder::build`]
//! starts the same exporters but installs nothing; the app takes what it
//! wants from the [`TelemetryParts`]:
//!
//! - [`tracing_layer`](TelemetryParts::tracing_layer): the OpenTelemetry
//!   layer, with the transport crates filtered out (their spans include the
//!   exporter's own requests), to add to the app's subscriber next to its
//!   own layers;
//! - [`take_recorder`](TelemetryParts::take_recorder): the `metrics`
//!   recorder that forwards to OpenTelemetry and/or the Pushgateway, for the
//!   app to install or to wrap (an app with a recorder of its own can skip
//!   it; the layers record through whatever recorder is global);
//! - [`install_otel_globals`](TelemetryParts::install_otel_globals): the
//!   W3C propagator, which the RPC layer injects through, and the providers
//!   as OpenTelemetry globals;
//! - [`into_guard`](TelemetryParts::into_guard): the guard that flushes on
//!   shutdown.

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use metrics_util::layers::Fanout;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Subscriber;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use super::{otlp, TelemetryError, TelemetryGuard};

/// The started exporters, nothing installed yet. See the
/// [module docs](self).
#[derive(Debug)]
#[must_use = "dropping the parts shuts telemetry down at once"]
pub struct TelemetryParts {
    pub(super) recorder: Option<TelemetryRecorder>,
    pub(super) guard: TelemetryGuard,
}

impl TelemetryParts {
    /// The `tracing` → OpenTelemetry layer for a subscriber of type `S`, if
    /// OTLP is configured.
    pub fn tracing_layer<S>(&self) -> Option<impl Layer<S> + Send + Sync + 'static>
    where
        S: Subscriber + for<'span> LookupSpan<'span> + Send + Sync,
    {
        self.guard
            .providers()
            .map(|providers| otlp::tracing_layer(&providers.tracer))
    }

    /// The `metrics` recorder feeding the configured exporters (once; later
    /// calls return `None`).
    pub fn take_recorder(&mut self) -> Option<TelemetryRecorder> {
        self.recorder.take()
    }

    /// Installs the recorder as the global `metrics` recorder.
    pub fn install_recorder(&mut self) -> Result<(), TelemetryError> {
        match self.take_recorder() {
            Some(recorder) => metrics::set_global_recorder(recorder)
                .map_err(|_| TelemetryError::RecorderAlreadySet),
            None => Ok(()),
        }
    }

    /// Makes the W3C trace-context propagator and, with OTLP, the tracer
    /// and meter providers the OpenTelemetry globals.
    pub fn install_otel_globals(&self) {
        otlp::install_propagator();
        if let Some(providers) = self.guard.providers() {
            providers.install_globals();
        }
    }

    /// The guard that owns the exporters.
    pub fn into_guard(self) -> TelemetryGuard {
        self.guard
    }
}

/// The `tracing` → OpenTelemetry layer over an app's own tracer provider,
/// with the same transport-crate filter as [`TelemetryParts::tracing_layer`].
pub fn otel_tracing_layer<S>(provider: &SdkTracerProvider) -> impl Layer<S> + Send + Sync + 'static
where
    S: Subscriber + for<'span> LookupSpan<'span> + Send + Sync,
{
    otlp::tracing_layer(provider)
}

/// The `metrics` recorder of a telemetry pipeline: every metric goes to
/// each configured exporter.
pub struct TelemetryRecorder(pub(super) Fanout);

impl TelemetryRecorder {
    /// A recorder forwarding to an app's own meter provider (histograms
    /// keep this crate's bucket boundaries).
    pub fn for_meter_provider(provider: &SdkMeterProvider) -> Self {
        Self(
            metrics_util::layers::FanoutBuilder::default()
                .add_recorder(super::bridge::OtelRecorder::new(provider))
                .build(),
        )
    }
}

impl std::fmt::Debug for TelemetryRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TelemetryRecorder")
    }
}

impl Recorder for TelemetryRecorder {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.0.describe_counter(key, unit, description)
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.0.describe_gauge(key, unit, description)
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.0.describe_histogram(key, unit, description)
    }

    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        self.0.register_counter(key, metadata)
    }

    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        self.0.register_gauge(key, metadata)
    }

    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        self.0.register_histogram(key, metadata)
    }
}
