//! What each RPC layer costs per call, isolated from any network.
//!
//! The service is a canned `tower::service_fn`: a response with one gRPC
//! message frame and `grpc-status: 0` trailers, which the benchmark drains
//! to the end (where our layer classifies the call). Everything runs on a
//! current-thread runtime. Spans go through one OpenTelemetry SDK pipeline
//! (batch processor) to an exporter that discards them; metrics through the
//! `metrics` → OpenTelemetry bridge into a meter provider whose exporter
//! also discards. Variants:
//!
//! - `bare`: the canned service alone;
//! - `opmon`: inside [`RpcTelemetryLayer`] (span, context injection,
//!   duration histogram, classification at end of stream);
//! - `opmon-metrics-off`: the same with no metrics recorder (spans only);
//! - `tonic-tracing-opentelemetry`: inside that crate's `OtelGrpcLayer`
//!   (span and context injection only).
//!
//! Besides criterion's times, it prints allocations per call for each
//! variant (counted by a wrapping global allocator). The loopback
//! benchmark, `layer_overhead`, is the end-to-end counterpart.
//!
//! ```text
//! cargo bench --bench layer_isolated
//! ```

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use http_body::{Body, Frame};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider, Temporality};
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use tower::{service_fn, Layer, Service, ServiceExt};
use tracing_subscriber::layer::SubscriberExt;
use xmtp_opmon::layer::RpcTelemetryLayer;
use xmtp_opmon::telemetry::{otel_tracing_layer, TelemetryRecorder};

#[global_allocator]
static ALLOCATOR: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

const PATH: &str = "/xmtp.xmtpv4.message_api.QueryApi/GetInboxIds";
/// Calls per allocation count.
const COUNTED_CALLS: usize = 10_000;

/// One message frame, then `grpc-status: 0` trailers.
struct Canned(VecDeque<Frame<Bytes>>);

impl Canned {
    fn new() -> Self {
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
        Self(VecDeque::from([
            Frame::data(Bytes::from_static(&[0, 0, 0, 0, 2, 8, 1])),
            Frame::trailers(trailers),
        ]))
    }
}

impl Body for Canned {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.0.pop_front().map(Ok))
    }
}

/// Discards spans.
#[derive(Debug)]
struct NoSpans;

impl SpanExporter for NoSpans {
    fn export(&self, _batch: Vec<SpanData>) -> impl Future<Output = OTelSdkResult> + Send {
        std::future::ready(Ok(()))
    }
}

/// Discards metrics.
#[derive(Debug)]
struct NoMetrics;

impl PushMetricExporter for NoMetrics {
    async fn export(&self, _metrics: &ResourceMetrics) -> OTelSdkResult {
        Ok(())
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: std::time::Duration) -> OTelSdkResult {
        Ok(())
    }

    fn temporality(&self) -> Temporality {
        Temporality::Cumulative
    }
}

fn canned() -> impl Service<
    http::Request<()>,
    Response = http::Response<Canned>,
    Error = Infallible,
    Future = impl Future<Output = Result<http::Response<Canned>, Infallible>> + Send,
> + Clone
       + Send
       + 'static {
    service_fn(|_request: http::Request<()>| async { Ok(http::Response::new(Canned::new())) })
}

/// One call: request, response, body drained to its trailers.
async fn call<S, B>(service: &mut S)
where
    S: Service<http::Request<()>, Response = http::Response<B>>,
    S::Error: std::fmt::Debug,
    B: Body + Unpin,
    B::Error: std::fmt::Debug,
{
    let request = http::Request::builder().uri(PATH).body(()).unwrap();
    let response = service.ready().await.unwrap().call(request).await.unwrap();
    let mut body = response.into_body();
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        frame.unwrap();
    }
}

fn allocations_per_call<S, B>(runtime: &tokio::runtime::Runtime, service: &mut S) -> f64
where
    S: Service<http::Request<()>, Response = http::Response<B>>,
    S::Error: std::fmt::Debug,
    B: Body + Unpin,
    B::Error: std::fmt::Debug,
{
    // Warm caches (label sets, span name interning) before counting.
    runtime.block_on(call(service));
    let region = Region::new(ALLOCATOR);
    runtime.block_on(async {
        for _ in 0..COUNTED_CALLS {
            call(service).await;
        }
    });
    region.change().allocations as f64 / COUNTED_CALLS as f64
}

fn layer_isolated(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let tracer = SdkTracerProvider::builder()
        .with_batch_exporter(NoSpans)
        .build();
    let meter = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(NoMetrics).build())
        .build();
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    let subscriber = tracing_subscriber::registry().with(otel_tracing_layer(&tracer));
    tracing::subscriber::set_global_default(subscriber).unwrap();
    let recorder = TelemetryRecorder::for_meter_provider(&meter);

    let mut bare = canned();
    let mut ours = RpcTelemetryLayer::for_target("http://node:5050").layer(canned());
    let mut ours_spans_only = RpcTelemetryLayer::for_target("http://node:5050").layer(canned());
    let mut theirs = tonic_tracing_opentelemetry::middleware::client::OtelGrpcLayer.layer(canned());

    metrics::with_local_recorder(&recorder, || {
        eprintln!("allocations per call:");
        eprintln!(
            "  bare                         {:.1}",
            allocations_per_call(&runtime, &mut bare)
        );
        eprintln!(
            "  opmon                        {:.1}",
            allocations_per_call(&runtime, &mut ours)
        );
        eprintln!(
            "  tonic-tracing-opentelemetry  {:.1}",
            allocations_per_call(&runtime, &mut theirs)
        );
    });
    eprintln!(
        "  opmon-metrics-off            {:.1}",
        allocations_per_call(&runtime, &mut ours_spans_only)
    );

    let mut group = c.benchmark_group("rpc_layer_isolated");
    metrics::with_local_recorder(&recorder, || {
        group.bench_function("bare", |b| b.iter(|| runtime.block_on(call(&mut bare))));
        group.bench_function("opmon", |b| b.iter(|| runtime.block_on(call(&mut ours))));
        group.bench_function("tonic-tracing-opentelemetry", |b| {
            b.iter(|| runtime.block_on(call(&mut theirs)))
        });
    });
    // No recorder at all: the metrics facade's no-op.
    group.bench_function("opmon-metrics-off", |b| {
        b.iter(|| runtime.block_on(call(&mut ours_spans_only)))
    });
    group.finish();
    let _ = tracer.shutdown();
    let _ = meter.shutdown();
}

criterion_group!(benches, layer_isolated);
criterion_main!(benches);
