//! Where the crate's telemetry goes: OpenTelemetry (OTLP over gRPC) and a
//! Prometheus Pushgateway.
//!
//! The instrumentation layers only *emit*: spans through [`tracing`] and
//! metrics through the [`metrics`] facade, so a library user is never forced
//! onto an exporter. This module is the other half, for binaries and tests:
//! one call to [`TelemetryBuilder::init`] routes both to their destinations
//! and hands back a [`TelemetryGuard`] that owns every exporter.
//!
//! ## What goes where
//!
//! - **Spans** go to an OTLP/gRPC collector through a batch span processor.
//!   Spans from the transport crates (`h2`, `hyper`, `hyper_util`, `tonic`,
//!   `tower`, `opentelemetry*`) are filtered out of the OpenTelemetry layer,
//!   otherwise the exporter would trace its own requests. Everything else is
//!   kept from `INFO` up. The W3C trace-context propagator is installed
//!   globally.
//! - **Metrics** recorded with `metrics::histogram!`, `gauge!` and `counter!`
//!   are forwarded to OpenTelemetry instruments (histograms keep the
//!   boundaries from [`crate::semconv`], a gauge moved with
//!   `increment`/`decrement` becomes an up-down counter) and exported every
//!   [`metric_interval`](TelemetryBuilder::metric_interval) over OTLP with
//!   cumulative temporality; and/or rendered in the Prometheus text format
//!   and pushed to a Pushgateway every
//!   [`push_interval`](TelemetryBuilder::push_interval).
//! - **Logs** (`tracing` events) are written to standard error, filtered by
//!   `RUST_LOG` (default `warn`); export failures show up there.
//!
//! OTLP is enabled only when an endpoint is given, the Pushgateway only when
//! a URL is given, the Prometheus scrape endpoint ([`ScrapeEndpoint`]:
//! `/metrics`, `/healthz`, `/readyz`) only when a listener is given. With
//! none, `init` installs nothing at all and returns a guard that does
//! nothing.
//!
//! An app with its own `tracing` subscriber or `metrics` recorder calls
//! [`TelemetryBuilder::build`] instead of `init`: the same exporters, as
//! [parts](parts) to add to its own stack.
//!
//! ## Environment
//!
//! [`TelemetryBuilder::from_env`] reads the standard variables; builder
//! methods called afterwards override them:
//!
//! | variable | meaning |
//! |---|---|
//! | `OTEL_EXPORTER_OTLP_ENDPOINT` | gRPC collector, e.g. `http://127.0.0.1:4317` |
//! | `OTEL_EXPORTER_OTLP_HEADERS` | `key=value,…` sent with every export (API keys) |
//! | `OTEL_EXPORTER_OTLP_TIMEOUT` | export timeout in ms (default 3000) |
//! | `OTEL_SERVICE_NAME` | `service.name` (default `xmtp-opmon`) |
//! | `OTEL_RESOURCE_ATTRIBUTES` | extra resource attributes, `key=value,…` |
//! | `OTEL_METRIC_EXPORT_INTERVAL` | metric export interval in ms (default 10000) |
//! | `PUSHGATEWAY_URL` | `http://host:port[/prefix]` of a Pushgateway |
//!
//! Header values are secrets: they never appear in `Debug` output or logs.
//!
//! ## Why a guard, and its shutdown order
//!
//! Every exporter buffers: spans wait for the next batch, metrics for the
//! next period, the Pushgateway for the next push. A short run that simply
//! exits loses that tail. [`TelemetryGuard::shutdown`] (or dropping the
//! guard) drains it in order:
//!
//! 1. **traces**: flush and shut down the tracer provider;
//! 2. **metrics**: shut down the meter provider, which exports a last time;
//! 3. **the final push** to the Pushgateway;
//! 4. stop the telemetry runtime.
//!
//! Each step runs on a helper thread and is waited for with a deadline, and
//! the whole sequence never takes longer than
//! [`shutdown_timeout`](TelemetryBuilder::shutdown_timeout): a collector
//! that is down or never answers costs data, never a hung process.
//!
//! The gRPC exporters live on a dedicated thread (`opmon-telemetry`) with
//! its own single-threaded Tokio runtime. So `init` and `shutdown` are plain
//! functions that work with or without an ambient runtime of any flavour,
//! including from inside `#[tokio::main(flavor = "current_thread")]`, where
//! the SDK's blocking `shutdown()` would otherwise deadlock.
//!
//! ## Example
//!
//! ```no_run
//! use std::time::Duration;
//! use xmtp_opmon::telemetry::TelemetryBuilder;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let telemetry = TelemetryBuilder::from_env()
//!     .otlp_endpoint("http://127.0.0.1:4317")
//!     .environment("staging")
//!     .resource_attribute("xmtp.run.id", "run-42")
//!     .pushgateway("http://127.0.0.1:9091")
//!     .push_interval(Duration::from_secs(15))
//!     .init()?;
//!
//! // ... run operations; the layers emit spans and metrics ...
//!
//! telemetry.shutdown(); // flushes traces, then metrics, then pushes once more
//! # Ok(()) }
//! ```

mod bridge;
mod error;
mod guard;
mod otlp;
pub mod parts;
mod prometheus;
mod push;
mod resource;
mod runtime;
mod scrape;

use std::fmt;
use std::time::Duration;

use crate::semconv;

pub use error::TelemetryError;
pub use guard::TelemetryGuard;
pub use parts::{otel_tracing_layer, TelemetryParts, TelemetryRecorder};
pub use scrape::{Readiness, ScrapeEndpoint};

/// Installs only human-readable logs on standard error, filtered by
/// `RUST_LOG` (default `warn`), as the global `tracing` subscriber: for a
/// binary that exports nothing but must not lose its warnings.
pub fn install_log_subscriber() -> Result<(), TelemetryError> {
    use tracing_subscriber::layer::SubscriberExt;
    let subscriber = tracing_subscriber::registry().with(otlp::stderr_logs());
    tracing::subscriber::set_global_default(subscriber)
        .map_err(|_| TelemetryError::SubscriberAlreadySet)
}

const DEFAULT_SERVICE_NAME: &str = "xmtp-opmon";
const DEFAULT_METRIC_INTERVAL: Duration = Duration::from_secs(10);
const DEFAULT_PUSH_INTERVAL: Duration = Duration::from_secs(10);
const DEFAULT_PUSH_JOB: &str = "xmtp_opmon";
const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_EXPORT_TIMEOUT: Duration = Duration::from_secs(3);

/// Configures and installs the telemetry exporters; see the
/// [module docs](self).
#[derive(Clone)]
pub struct TelemetryBuilder {
    service_name: Option<String>,
    environment: Option<String>,
    resource_attributes: Vec<(&'static str, String)>,
    otlp_endpoint: Option<String>,
    otlp_headers: Vec<(String, String)>,
    export_timeout: Duration,
    metric_interval: Duration,
    pushgateway: Option<String>,
    push_interval: Duration,
    push_job: String,
    scrape: Option<ScrapeEndpoint>,
    shutdown_timeout: Duration,
}

impl TelemetryBuilder {
    /// A builder configured from the standard environment variables (see the
    /// [module docs](self#environment)). OTLP stays off unless
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` is set or
    /// [`otlp_endpoint`](Self::otlp_endpoint) is called; the Pushgateway
    /// likewise with `PUSHGATEWAY_URL` or [`pushgateway`](Self::pushgateway).
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let millis = |name: &str| {
            var(name)
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|ms| *ms > 0)
                .map(Duration::from_millis)
        };
        Self {
            // `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` are read by the
            // SDK's resource detectors at `init`.
            service_name: None,
            environment: None,
            resource_attributes: Vec::new(),
            otlp_endpoint: var("OTEL_EXPORTER_OTLP_ENDPOINT"),
            otlp_headers: var("OTEL_EXPORTER_OTLP_HEADERS")
                .map(|raw| parse_headers(&raw))
                .unwrap_or_default(),
            export_timeout: millis("OTEL_EXPORTER_OTLP_TIMEOUT").unwrap_or(DEFAULT_EXPORT_TIMEOUT),
            metric_interval: millis("OTEL_METRIC_EXPORT_INTERVAL")
                .unwrap_or(DEFAULT_METRIC_INTERVAL),
            pushgateway: var("PUSHGATEWAY_URL"),
            push_interval: DEFAULT_PUSH_INTERVAL,
            push_job: DEFAULT_PUSH_JOB.to_owned(),
            scrape: None,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
        }
    }

    /// `service.name` of the resource. Defaults to `OTEL_SERVICE_NAME` (or a
    /// `service.name` in `OTEL_RESOURCE_ATTRIBUTES`), else `xmtp-opmon`.
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// `deployment.environment.name` of the resource, e.g. `staging`.
    pub fn environment(mut self, name: impl Into<String>) -> Self {
        self.environment = Some(name.into());
        self
    }

    /// An extra resource attribute, e.g. a run id. Overrides the same key
    /// from `OTEL_RESOURCE_ATTRIBUTES`.
    pub fn resource_attribute(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.resource_attributes.push((key, value.into()));
        self
    }

    /// The OTLP/gRPC collector, e.g. `http://127.0.0.1:4317`; enables OTLP
    /// export of spans and metrics. `https://` endpoints use TLS with the
    /// webpki root certificates.
    pub fn otlp_endpoint(mut self, url: impl Into<String>) -> Self {
        self.otlp_endpoint = Some(url.into());
        self
    }

    /// A gRPC metadata entry sent with every OTLP export, e.g.
    /// `x-honeycomb-team`. The value is treated as a secret.
    pub fn otlp_header(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let key = key.into().to_ascii_lowercase();
        self.otlp_headers.retain(|(k, _)| *k != key);
        self.otlp_headers.push((key, value.into()));
        self
    }

    /// How often metrics are exported over OTLP (default 10 s, not the
    /// SDK's 60 s, so short runs show up while they run).
    pub fn metric_interval(mut self, every: Duration) -> Self {
        if !every.is_zero() {
            self.metric_interval = every;
        }
        self
    }

    /// The Pushgateway, `http://host:port[/prefix]`; enables pushing the
    /// metrics in the Prometheus text format. `https://` is refused by
    /// [`init`](Self::init): TLS pushes are not supported yet.
    pub fn pushgateway(mut self, url: impl Into<String>) -> Self {
        self.pushgateway = Some(url.into());
        self
    }

    /// How often metrics are pushed (default 10 s). Whatever the interval,
    /// the guard pushes one last time at shutdown.
    pub fn push_interval(mut self, every: Duration) -> Self {
        if !every.is_zero() {
            self.push_interval = every;
        }
        self
    }

    /// The Pushgateway job (default `xmtp_opmon`); metrics are pushed to
    /// `{url}/metrics/job/{job}`.
    pub fn push_job(mut self, job: impl Into<String>) -> Self {
        self.push_job = job.into();
        self
    }

    /// Serves the metrics for Prometheus to pull, at `/metrics` on the
    /// endpoint's listener, with `/healthz` and `/readyz` beside them (see
    /// [`ScrapeEndpoint`]).
    pub fn metrics_listener(mut self, endpoint: ScrapeEndpoint) -> Self {
        self.scrape = Some(endpoint);
        self
    }

    /// Upper bound on the whole shutdown sequence (default 5 s), and on each
    /// [`TelemetryGuard::flush`].
    pub fn shutdown_timeout(mut self, wait: Duration) -> Self {
        self.shutdown_timeout = wait;
        self
    }

    /// Starts the exporters and installs the global `tracing` subscriber and
    /// `metrics` recorder. With neither OTLP nor a Pushgateway configured it
    /// installs nothing and returns a guard that does nothing.
    ///
    /// Works with or without an ambient Tokio runtime. Fails, without
    /// installing anything, if a URL or header is invalid or a global
    /// subscriber or recorder is already installed.
    pub fn init(self) -> Result<TelemetryGuard, TelemetryError> {
        if self.otlp_endpoint.is_none() && self.pushgateway.is_none() && self.scrape.is_none() {
            return Ok(TelemetryGuard::noop());
        }
        if tracing::dispatcher::has_been_set() {
            return Err(TelemetryError::SubscriberAlreadySet);
        }
        let mut parts = self.build()?;
        // Recorder first: if it fails, nothing observable was installed yet.
        parts.install_recorder()?;
        otlp::install_subscriber(parts.tracing_layer())?;
        parts.install_otel_globals();
        Ok(parts.into_guard())
    }

    /// Starts the configured exporters without installing anything
    /// global, and returns them as [`TelemetryParts`] for an app's own
    /// `tracing` and `metrics` set-up (see [`parts`](self::parts)). With
    /// neither OTLP nor a Pushgateway configured, the parts are empty.
    ///
    /// Fails if a URL or header is invalid.
    pub fn build(self) -> Result<TelemetryParts, TelemetryError> {
        if self.otlp_endpoint.is_none() && self.pushgateway.is_none() && self.scrape.is_none() {
            return Ok(TelemetryParts {
                recorder: None,
                guard: TelemetryGuard::noop(),
            });
        }
        // Validate everything before starting anything.
        let push_target = self
            .pushgateway
            .as_deref()
            .map(|url| push::PushTarget::parse(url, &self.push_job))
            .transpose()?;
        let otlp_config = self
            .otlp_endpoint
            .as_deref()
            .map(|endpoint| {
                otlp::OtlpConfig::new(
                    endpoint,
                    &self.otlp_headers,
                    self.export_timeout,
                    self.metric_interval,
                )
            })
            .transpose()?;

        let mut guard = TelemetryGuard::new(self.shutdown_timeout);
        let mut recorders = metrics_util::layers::FanoutBuilder::default();

        if let Some(config) = otlp_config {
            let resource = resource::build(
                self.service_name.as_deref(),
                self.environment.as_deref(),
                &self.resource_attributes,
            );
            let (runtime, providers) = runtime::TelemetryRuntime::start(move || {
                otlp::Providers::build(&config, resource)
            })?;
            guard.set_runtime(runtime);
            let providers = providers?;
            recorders = recorders.add_recorder(bridge::OtelRecorder::new(&providers.meter));
            guard.set_providers(providers);
        }
        if push_target.is_some() || self.scrape.is_some() {
            // One rendering serves both the pusher and the scrapers.
            let (recorder, handle) = prometheus::recorder()?;
            recorders = recorders.add_recorder(recorder);
            if let Some(endpoint) = self.scrape {
                endpoint.start(handle.clone())?;
            }
            if let Some(target) = push_target {
                guard.set_pusher(push::Pusher::start(target, handle, self.push_interval)?);
            }
        }

        Ok(TelemetryParts {
            recorder: Some(parts::TelemetryRecorder(recorders.build())),
            guard,
        })
    }
}

impl fmt::Debug for TelemetryBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values are API keys: show only their names.
        let header_names: Vec<&str> = self.otlp_headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("TelemetryBuilder")
            .field("service_name", &self.service_name)
            .field("environment", &self.environment)
            .field("resource_attributes", &self.resource_attributes)
            .field("otlp_endpoint", &self.otlp_endpoint)
            .field("otlp_header_names", &header_names)
            .field("export_timeout", &self.export_timeout)
            .field("metric_interval", &self.metric_interval)
            .field("pushgateway", &self.pushgateway)
            .field("push_interval", &self.push_interval)
            .field("push_job", &self.push_job)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .finish()
    }
}

/// Parses `OTEL_EXPORTER_OTLP_HEADERS`: `k1=v1,k2=v2`, values URL-encoded.
/// Malformed entries are skipped.
fn parse_headers(raw: &str) -> Vec<(String, String)> {
    raw.split(',')
        .filter_map(|entry| {
            let (key, value) = entry.split_once('=')?;
            let key = key.trim().to_ascii_lowercase();
            (!key.is_empty()).then(|| (key, percent_decode(value.trim())))
        })
        .collect()
}

fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&hi), Some(&lo)) if hex(hi).is_some() && hex(lo).is_some() => {
                let byte = hex(hi).unwrap_or(0) * 16 + hex(lo).unwrap_or(0);
                out.push(byte as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A one-line description of each metric this crate records, for the
/// OpenTelemetry instruments and the Prometheus `# HELP` lines.
fn description(name: &str) -> Option<&'static str> {
    match name {
        semconv::RPC_CLIENT_CALL_DURATION => Some("Duration of outgoing gRPC calls."),
        semconv::RPC_CLIENT_TIME_TO_FIRST_MESSAGE => {
            Some("Time from the start of a server-streaming gRPC call to its first message.")
        }
        semconv::OPERATION_DURATION => Some("Duration of XMTP client operations."),
        semconv::PHASE_DURATION => Some("Duration of the phases of XMTP client operations."),
        semconv::OPERATION_ACTIVE => Some("XMTP client operations in flight."),
        _ => None,
    }
}

/// The histograms this crate records, for recorders that need their
/// boundaries up front.
const HISTOGRAMS: [&str; 4] = [
    semconv::RPC_CLIENT_CALL_DURATION,
    semconv::RPC_CLIENT_TIME_TO_FIRST_MESSAGE,
    semconv::OPERATION_DURATION,
    semconv::PHASE_DURATION,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_parsed_and_decoded() {
        let headers = parse_headers("x-honeycomb-team=abc%3D%3D, X-Other = v ,broken,=x");
        assert_eq!(
            headers,
            vec![
                ("x-honeycomb-team".to_owned(), "abc==".to_owned()),
                ("x-other".to_owned(), "v".to_owned()),
            ]
        );
        assert_eq!(percent_decode("100%"), "100%");
    }

    #[test]
    fn debug_never_prints_header_values() {
        let builder = TelemetryBuilder::from_env().otlp_header("x-honeycomb-team", "s3cr3t-key");
        let shown = format!("{builder:?}");
        assert!(shown.contains("x-honeycomb-team"));
        assert!(!shown.contains("s3cr3t-key"));
    }
}
