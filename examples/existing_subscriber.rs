//! An app that already owns its `tracing` stack adds this crate's telemetry
//! to it, instead of letting `TelemetryBuilder::init` install its own.
//!
//! The app keeps its fmt layer and filter; [`TelemetryBuilder::build`]
//! hands over the OpenTelemetry layer (added next to the app's), the
//! `metrics` recorder (installed here; an app with its own recorder would
//! skip that), the W3C propagator, and the guard that flushes on exit.
//! The operations are the app's own (`greeting.send`, with a phase
//! `greeting.compose`), measured by the op layer.
//!
//! Run it with `OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4317 cargo run
//! --example existing_subscriber`; without an endpoint only the app's own
//! log lines appear.

use std::error::Error;
use std::fmt;

use tower::{service_fn, Service, ServiceBuilder, ServiceExt};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::Layer;
use xmtp_opmon::classify::{Classify, ErrorClass};
use xmtp_opmon::layer::{in_phase, OpTelemetryLayer, Operation, OperationOutput};
use xmtp_opmon::telemetry::{TelemetryBuilder, TelemetryGuard};

/// The app's operation: greet someone.
pub struct Greet(pub &'static str);

impl Operation for Greet {
    fn name(&self) -> &'static str {
        "greeting.send"
    }
}

/// What a greeting returns; nothing group-related to report.
pub struct Sent;

impl OperationOutput for Sent {}

/// The app's error: nobody to greet.
#[derive(Debug)]
pub struct NobodyToGreet;

impl fmt::Display for NobodyToGreet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("nobody to greet")
    }
}

impl Error for NobodyToGreet {}

impl Classify for NobodyToGreet {
    fn class(&self) -> ErrorClass {
        ErrorClass::Invalid
    }
}

/// Builds the app's subscriber (its own fmt layer writing to `app_log`,
/// with its own filter, plus ours), greets each of `names`, and returns
/// the guard that owns the exporters.
pub async fn run_app<W>(
    telemetry: TelemetryBuilder,
    app_log: W,
    names: &[&'static str],
) -> Result<TelemetryGuard, Box<dyn Error>>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let mut parts = telemetry.build()?;
    parts.install_recorder()?;
    parts.install_otel_globals();
    let app_layer = tracing_subscriber::fmt::layer()
        .with_writer(app_log)
        .with_ansi(false)
        .with_span_events(FmtSpan::CLOSE)
        .with_filter(LevelFilter::INFO);
    let subscriber = tracing_subscriber::registry()
        .with(app_layer)
        .with(parts.tracing_layer());
    let _app_stack = tracing::subscriber::set_default(subscriber);

    let mut greeter = ServiceBuilder::new()
        .layer(OpTelemetryLayer::new("app-v1"))
        .service(service_fn(greet));
    for name in names {
        let outcome = greeter.ready().await?.call(Greet(name)).await;
        if let Err(error) = outcome {
            tracing::warn!(%error, "greeting failed");
        }
    }
    Ok(parts.into_guard())
}

async fn greet(request: Greet) -> Result<Sent, NobodyToGreet> {
    let text = in_phase("greeting.compose", async {
        match request.0 {
            "" => Err(NobodyToGreet),
            name => Ok::<_, NobodyToGreet>(format!("hello, {name}")),
        }
    })
    .await?;
    tracing::info!(length = text.len(), "greeting sent");
    Ok(Sent)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let guard = run_app(
        TelemetryBuilder::from_env(),
        std::io::stderr,
        &["alice", "bob", ""],
    )
    .await?;
    guard.shutdown();
    Ok(())
}
