//! End-to-end cost of client-side RPC telemetry per unary call over
//! loopback, side by side (`layer_isolated` is the same without a network):
//!
//! - `bare`: a tonic channel, no telemetry;
//! - `opmon`: the same channel inside [`RpcTelemetryLayer`] (span, W3C
//!   context, `rpc.client.call.duration`, classification at end of stream);
//! - `tonic-tracing-opentelemetry`: the same channel inside that crate's
//!   `OtelGrpcLayer` (span and context only).
//!
//! Both instrumented variants export through one OpenTelemetry SDK
//! pipeline (batch span processor, periodic metric reader) to an OTLP
//! receiver in this process. The call is `QueryApi/GetInboxIds` for one
//! address against the embedded node on loopback.
//!
//! ```text
//! cargo bench --bench layer_overhead
//! ```

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status};
use tower::Layer;
use xmtp_opmon::client::channel;
use xmtp_opmon::layer::RpcTelemetryLayer;
use xmtp_opmon::node::EmbeddedNode;
use xmtp_opmon::proto::message_api::get_inbox_ids_request::Request as InboxRequest;
use xmtp_opmon::proto::message_api::query_api_client::QueryApiClient;
use xmtp_opmon::proto::message_api::GetInboxIdsRequest;
use xmtp_opmon::telemetry::TelemetryBuilder;

/// An OTLP receiver that accepts and discards everything.
struct Discard;

#[tonic::async_trait]
impl TraceService for Discard {
    async fn export(
        &self,
        _: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Discard {
    async fn export(
        &self,
        _: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        Ok(Response::new(ExportMetricsServiceResponse::default()))
    }
}

fn request() -> GetInboxIdsRequest {
    GetInboxIdsRequest {
        requests: vec![InboxRequest {
            identifier: "0x1234567890abcdef1234567890abcdef12345678".into(),
            identifier_kind: 1,
        }],
    }
}

fn layer_overhead(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (node, receiver_url) = runtime.block_on(async {
        let node = EmbeddedNode::start("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let incoming = TcpIncoming::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let receiver_url = format!("http://{}", incoming.local_addr().unwrap());
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(TraceServiceServer::new(Discard))
                .add_service(MetricsServiceServer::new(Discard))
                .serve_with_incoming(incoming),
        );
        (node, receiver_url)
    });
    let telemetry = TelemetryBuilder::from_env()
        .otlp_endpoint(receiver_url)
        .metric_interval(Duration::from_secs(1))
        .init()
        .unwrap();

    let url = node.url().to_owned();
    let bare = runtime.block_on(async { QueryApiClient::new(channel(&url).unwrap()) });
    let opmon = runtime.block_on(async {
        QueryApiClient::new(RpcTelemetryLayer::for_target(&url).layer(channel(&url).unwrap()))
    });
    let davidb = runtime.block_on(async {
        QueryApiClient::new(
            tonic_tracing_opentelemetry::middleware::client::OtelGrpcLayer
                .layer(channel(&url).unwrap()),
        )
    });

    let mut group = c.benchmark_group("unary_get_inbox_ids");
    group.bench_function("bare", |b| {
        b.iter(|| {
            runtime
                .block_on(bare.clone().get_inbox_ids(request()))
                .unwrap()
        })
    });
    group.bench_function("opmon", |b| {
        b.iter(|| {
            runtime
                .block_on(opmon.clone().get_inbox_ids(request()))
                .unwrap()
        })
    });
    group.bench_function("tonic-tracing-opentelemetry", |b| {
        b.iter(|| {
            runtime
                .block_on(davidb.clone().get_inbox_ids(request()))
                .unwrap()
        })
    });
    group.finish();
    telemetry.shutdown();
    drop(node);
}

criterion_group!(benches, layer_overhead);
criterion_main!(benches);
