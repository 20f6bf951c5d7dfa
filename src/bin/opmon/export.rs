//! What `opmon bench` and `opmon monitor` make of their export flags.

/// The OTLP endpoint for `--otlp [URL]`: the URL given, or else
/// `OTEL_EXPORTER_OTLP_ENDPOINT`, or else a Collector on this machine.
pub fn otlp_endpoint(flag: &str) -> String {
    if flag.is_empty() {
        std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
            .unwrap_or_else(|_| "http://localhost:4317".into())
    } else {
        flag.to_owned()
    }
}

/// Installs stderr logs alone, for a run that exports nothing: its
/// warnings must not be lost.
pub fn logs_only() -> anyhow::Result<()> {
    use anyhow::Context;
    xmtp_opmon::telemetry::install_log_subscriber().context("cannot install the log subscriber")
}
