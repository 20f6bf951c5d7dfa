//! Why [`TelemetryBuilder::init`](super::TelemetryBuilder::init) can fail.

/// A telemetry set-up failure. Messages never contain header values.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TelemetryError {
    /// The OTLP endpoint is not a usable gRPC URL.
    #[error("the OTLP endpoint `{url}` is not a valid http:// or https:// URL: {reason}")]
    InvalidOtlpEndpoint {
        /// The endpoint as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An OTLP header name or value cannot be sent as gRPC metadata.
    #[error("the OTLP header `{name}` has an invalid name or value (the value is not shown)")]
    InvalidOtlpHeader {
        /// The header name.
        name: String,
    },
    /// The Pushgateway URL is not of the form `http://host:port[/prefix]`.
    #[error("the Pushgateway URL `{url}` is not of the form http://host:port[/prefix]: {reason}")]
    InvalidPushgatewayUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The Pushgateway URL asks for TLS, which the built-in pusher lacks.
    #[error("the Pushgateway URL `{url}` uses https://, but TLS pushes are not supported yet; use http:// (e.g. through a local proxy)")]
    PushgatewayTlsUnsupported {
        /// The URL as given.
        url: String,
    },
    /// The Pushgateway job name is empty.
    #[error("the Pushgateway job name must not be empty")]
    EmptyPushJob,
    /// Another global `tracing` subscriber was installed first.
    #[error("a global tracing subscriber is already installed; telemetry must be initialised before any other subscriber")]
    SubscriberAlreadySet,
    /// Another global `metrics` recorder was installed first.
    #[error("a global metrics recorder is already installed; telemetry must be initialised before any other recorder")]
    RecorderAlreadySet,
    /// The telemetry thread or its Tokio runtime could not be started.
    #[error("the telemetry runtime thread could not be started: {0}")]
    Runtime(#[source] std::io::Error),
    /// An exporter or recorder could not be built from a valid configuration.
    #[error("the {what} could not be built: {reason}")]
    Exporter {
        /// Which exporter.
        what: &'static str,
        /// Why.
        reason: String,
    },
}
