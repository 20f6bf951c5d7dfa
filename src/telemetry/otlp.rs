//! OTLP/gRPC exporters, the SDK providers around them, and the `tracing`
//! subscriber that feeds spans into them.

use std::sync::Arc;
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry::InstrumentationScope;
use opentelemetry_otlp::{WithExportConfig, WithTonicConfig};
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider, Temporality};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider};
use opentelemetry_sdk::Resource;
use tonic::metadata::{AsciiMetadataKey, AsciiMetadataValue};
#[cfg(feature = "tls")]
use tonic::transport::ClientTlsConfig;
use tonic::transport::{Channel, Endpoint};
use tracing::Subscriber;
use tracing_subscriber::filter::{EnvFilter, LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{Layer, Registry};

use super::TelemetryError;
use crate::semconv;

/// Targets whose spans never reach the OpenTelemetry layer: the transport
/// crates, whose spans include those of the exporter's own requests (a
/// feedback loop), and the SDK itself. Matching is by prefix, so `hyper`
/// also covers `hyper_util` and `opentelemetry` covers `opentelemetry_sdk`.
const TRANSPORT_TARGETS: [&str; 6] = [
    "h2",
    "hyper",
    "hyper_util",
    "tonic",
    "tower",
    "opentelemetry",
];

/// The OTLP settings, validated before anything global is touched.
#[derive(Clone)]
pub(super) struct OtlpConfig {
    endpoint: String,
    tls: bool,
    headers: Arc<Vec<(AsciiMetadataKey, AsciiMetadataValue)>>,
    export_timeout: Duration,
    metric_interval: Duration,
}

impl OtlpConfig {
    pub(super) fn new(
        endpoint: &str,
        headers: &[(String, String)],
        export_timeout: Duration,
        metric_interval: Duration,
    ) -> Result<Self, TelemetryError> {
        let invalid = |reason: &str| TelemetryError::InvalidOtlpEndpoint {
            url: endpoint.to_owned(),
            reason: reason.to_owned(),
        };
        let uri: http::Uri = endpoint
            .parse()
            .map_err(|e: http::uri::InvalidUri| invalid(&e.to_string()))?;
        let tls = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            Some(_) => return Err(invalid("the scheme must be http or https")),
            None => {
                return Err(invalid(
                    "the scheme is missing (e.g. http://127.0.0.1:4317)",
                ))
            }
        };
        if uri.host().is_none_or(str::is_empty) {
            return Err(invalid("the host is missing"));
        }
        let headers = headers
            .iter()
            .map(|(name, value)| {
                let invalid = || TelemetryError::InvalidOtlpHeader { name: name.clone() };
                let key = AsciiMetadataKey::from_bytes(name.as_bytes()).map_err(|_| invalid())?;
                let mut value =
                    AsciiMetadataValue::try_from(value.as_str()).map_err(|_| invalid())?;
                value.set_sensitive(true);
                Ok((key, value))
            })
            .collect::<Result<Vec<_>, TelemetryError>>()?;
        Ok(Self {
            endpoint: endpoint.to_owned(),
            tls,
            headers: Arc::new(headers),
            export_timeout,
            metric_interval,
        })
    }

    /// One lazily connecting channel, shared by the span and metric
    /// exporters. Must be called inside the telemetry runtime.
    fn channel(&self) -> Result<Channel, TelemetryError> {
        let invalid = |reason: String| TelemetryError::InvalidOtlpEndpoint {
            url: self.endpoint.clone(),
            reason,
        };
        #[cfg_attr(not(feature = "tls"), allow(unused_mut))]
        let mut endpoint = Endpoint::from_shared(self.endpoint.clone())
            .map_err(|e| invalid(e.to_string()))?
            // A collector that accepts and never answers costs one timeout
            // per export attempt, not a stuck exporter.
            .timeout(self.export_timeout)
            .connect_timeout(self.export_timeout);
        if self.tls {
            #[cfg(feature = "tls")]
            {
                endpoint = endpoint
                    .tls_config(ClientTlsConfig::new().with_webpki_roots())
                    .map_err(|e| invalid(e.to_string()))?;
            }
            #[cfg(not(feature = "tls"))]
            return Err(invalid(
                "https needs this crate's `tls` feature, which this build lacks".to_owned(),
            ));
        }
        Ok(endpoint.connect_lazy())
    }

    /// Adds the configured headers to every export. Applied after the
    /// exporter's own `OTEL_EXPORTER_OTLP_HEADERS`, so the builder wins.
    fn interceptor(
        &self,
    ) -> impl FnMut(tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status>
           + Clone
           + Send
           + Sync
           + 'static {
        let headers = Arc::clone(&self.headers);
        move |mut request: tonic::Request<()>| {
            for (key, value) in headers.iter() {
                request.metadata_mut().insert(key.clone(), value.clone());
            }
            Ok(request)
        }
    }
}

/// The SDK providers that own the exporters.
#[derive(Debug, Clone)]
pub(super) struct Providers {
    pub(super) tracer: SdkTracerProvider,
    pub(super) meter: SdkMeterProvider,
}

impl Providers {
    /// Builds both pipelines. Must run inside the telemetry runtime, because
    /// the tonic channel spawns its connection task on the current runtime.
    pub(super) fn build(config: &OtlpConfig, resource: Resource) -> Result<Self, TelemetryError> {
        let channel = config.channel()?;
        let exporter_error = |what: &'static str| {
            move |e: opentelemetry_otlp::ExporterBuildError| TelemetryError::Exporter {
                what,
                reason: e.to_string(),
            }
        };

        let spans = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_channel(channel.clone())
            .with_interceptor(config.interceptor())
            .with_timeout(config.export_timeout)
            .build()
            .map_err(exporter_error("OTLP span exporter"))?;
        // The default batch configuration is bounded (a queue of 2048 spans,
        // `OTEL_BSP_*` may change it): when the collector is slow or down,
        // spans are dropped rather than buffered without limit.
        let batch = BatchSpanProcessor::builder(spans)
            .with_batch_config(BatchConfigBuilder::default().build())
            .build();
        let tracer = SdkTracerProvider::builder()
            .with_span_processor(batch)
            .with_resource(resource.clone())
            .build();

        let metrics = opentelemetry_otlp::MetricExporter::builder()
            .with_tonic()
            .with_temporality(Temporality::Cumulative)
            .with_channel(channel)
            .with_interceptor(config.interceptor())
            .with_timeout(config.export_timeout)
            .build()
            .map_err(exporter_error("OTLP metric exporter"))?;
        let reader = PeriodicReader::builder(metrics)
            .with_interval(config.metric_interval)
            .build();
        let meter = SdkMeterProvider::builder()
            .with_reader(reader)
            .with_resource(resource)
            .build();

        Ok(Self { tracer, meter })
    }

    /// Makes the providers and the W3C propagator the OpenTelemetry globals,
    /// for code that uses the OpenTelemetry API directly.
    pub(super) fn install_globals(&self) {
        opentelemetry::global::set_tracer_provider(self.tracer.clone());
        opentelemetry::global::set_meter_provider(self.meter.clone());
    }
}

/// Makes W3C trace context the global propagator, which the RPC layer
/// injects through.
pub(super) fn install_propagator() {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
}

/// The instrumentation scope of everything this crate emits.
pub(super) fn scope() -> InstrumentationScope {
    InstrumentationScope::builder(semconv::SCOPE_NAME)
        .with_version(env!("CARGO_PKG_VERSION"))
        .with_schema_url(semconv::SCHEMA_URL)
        .build()
}

/// The `tracing` → OpenTelemetry layer, with the transport crates filtered
/// out per layer (other layers still see them).
pub(super) fn tracing_layer<S>(tracer: &SdkTracerProvider) -> impl Layer<S> + Send + Sync + 'static
where
    S: Subscriber + for<'span> LookupSpan<'span> + Send + Sync,
{
    let filter = TRANSPORT_TARGETS.iter().fold(
        Targets::new().with_default(LevelFilter::INFO),
        |filter, target| filter.with_target(*target, LevelFilter::OFF),
    );
    tracing_opentelemetry::layer()
        .with_tracer(tracer.tracer_with_scope(scope()))
        .with_filter(filter)
}

/// Installs the global subscriber: the OpenTelemetry layer (if any) and
/// [`stderr_logs`].
pub(super) fn install_subscriber<L>(otel: Option<L>) -> Result<(), TelemetryError>
where
    L: Layer<Registry> + Send + Sync + 'static,
{
    let subscriber = tracing_subscriber::registry()
        .with(otel)
        .with(stderr_logs());
    tracing::subscriber::set_global_default(subscriber)
        .map_err(|_| TelemetryError::SubscriberAlreadySet)
}

/// Human-readable logs on standard error, filtered by `RUST_LOG` (default
/// `warn`).
pub(super) fn stderr_logs<S>() -> impl Layer<S> + Send + Sync + 'static
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    let logs = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(logs)
}
