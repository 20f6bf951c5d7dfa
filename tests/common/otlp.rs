//! An in-process OTLP/gRPC receiver: a real collector endpoint on a free
//! loopback port that keeps every span and metric point it is sent.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};

/// An attribute value, keeping its OTLP type.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    Str(String),
    Int(i64),
    Double(f64),
    Bool(bool),
    Other(String),
}

impl fmt::Display for AttrValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttrValue::Str(s) | AttrValue::Other(s) => f.write_str(s),
            AttrValue::Int(i) => write!(f, "{i}"),
            AttrValue::Double(d) => write!(f, "{d}"),
            AttrValue::Bool(b) => write!(f, "{b}"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ReceivedSpan {
    pub name: String,
    /// OTLP span kind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer.
    pub kind: i32,
    pub trace_id: String,
    pub span_id: String,
    /// Empty for a root span.
    pub parent_span_id: String,
    pub attributes: BTreeMap<String, AttrValue>,
    pub status_code: i32,
    pub status_message: String,
    pub resource: BTreeMap<String, String>,
    pub scope: String,
}

#[derive(Debug, Clone)]
pub struct ReceivedMetric {
    pub name: String,
    pub unit: String,
    pub scope: String,
    pub resource: BTreeMap<String, String>,
    pub points: Vec<ReceivedPoint>,
}

#[derive(Debug, Clone, Default)]
pub struct ReceivedPoint {
    pub attributes: BTreeMap<String, AttrValue>,
    pub count: Option<u64>,
    pub sum: Option<f64>,
    pub bounds: Vec<f64>,
    pub bucket_counts: Vec<u64>,
    pub value: Option<f64>,
    /// Sums only: whether the sum is monotonic (false for up-down counters).
    pub monotonic: Option<bool>,
}

#[derive(Default)]
struct Received {
    spans: Vec<ReceivedSpan>,
    metrics: Vec<ReceivedMetric>,
    /// `x-*` metadata of the latest export.
    headers: BTreeMap<String, String>,
}

fn remember_headers(received: &mut Received, metadata: &tonic::metadata::MetadataMap) {
    for (key, value) in metadata.clone().into_headers() {
        if let (Some(key), Ok(value)) = (key, value.to_str()) {
            if key.as_str().starts_with("x-") {
                received
                    .headers
                    .insert(key.as_str().to_owned(), value.to_owned());
            }
        }
    }
}

/// The receiver; runs on its own thread and runtime until dropped.
pub struct OtlpReceiver {
    addr: SocketAddr,
    received: Arc<Mutex<Received>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl OtlpReceiver {
    pub fn start() -> OtlpReceiver {
        let received = Arc::new(Mutex::new(Received::default()));
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let sink = Arc::clone(&received);
        std::thread::Builder::new()
            .name("otlp-receiver".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                    addr_tx.send(listener.local_addr().unwrap()).unwrap();
                    tonic::transport::Server::builder()
                        .add_service(TraceServiceServer::new(Sink(Arc::clone(&sink))))
                        .add_service(MetricsServiceServer::new(Sink(sink)))
                        .serve_with_incoming_shutdown(
                            tokio_stream::wrappers::TcpListenerStream::new(listener),
                            async {
                                let _ = stopped.await;
                            },
                        )
                        .await
                        .unwrap();
                });
            })
            .unwrap();
        let addr = addr_rx.recv().unwrap();
        OtlpReceiver {
            addr,
            received,
            stop: Some(stop),
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The `x-*` gRPC metadata the exporter sent (latest value per key).
    pub fn headers(&self) -> BTreeMap<String, String> {
        self.received.lock().unwrap().headers.clone()
    }

    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.received.lock().unwrap().spans.clone()
    }

    /// Every metric export received, in order (cumulative exports repeat
    /// a metric; the last one is the latest state).
    pub fn metrics(&self) -> Vec<ReceivedMetric> {
        self.received.lock().unwrap().metrics.clone()
    }

    /// The latest export of the metric `name`.
    pub fn last_metric(&self, name: &str) -> Option<ReceivedMetric> {
        self.metrics().into_iter().rev().find(|m| m.name == name)
    }

    /// Polls `check` until it returns `Some` or `timeout` passes.
    pub fn wait_for<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&Self) -> Option<T>,
    ) -> Option<T> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(found) = check(self) {
                return Some(found);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

struct Sink(Arc<Mutex<Received>>);

#[tonic::async_trait]
impl TraceService for Sink {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut received = self.0.lock().unwrap();
        remember_headers(&mut received, request.metadata());
        for resource_spans in request.into_inner().resource_spans {
            let resource = resource_spans
                .resource
                .map(|r| strings(&r.attributes))
                .unwrap_or_default();
            for scope_spans in resource_spans.scope_spans {
                let scope = scope_spans.scope.map(|s| s.name).unwrap_or_default();
                for span in scope_spans.spans {
                    let status = span.status.unwrap_or_default();
                    received.spans.push(ReceivedSpan {
                        name: span.name,
                        kind: span.kind,
                        trace_id: hex::encode(&span.trace_id),
                        span_id: hex::encode(&span.span_id),
                        parent_span_id: hex::encode(&span.parent_span_id),
                        attributes: attributes(&span.attributes),
                        status_code: status.code,
                        status_message: status.message,
                        resource: resource.clone(),
                        scope: scope.clone(),
                    });
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Sink {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        let mut received = self.0.lock().unwrap();
        remember_headers(&mut received, request.metadata());
        for resource_metrics in request.into_inner().resource_metrics {
            let resource = resource_metrics
                .resource
                .map(|r| strings(&r.attributes))
                .unwrap_or_default();
            for scope_metrics in resource_metrics.scope_metrics {
                let scope = scope_metrics.scope.map(|s| s.name).unwrap_or_default();
                for metric in scope_metrics.metrics {
                    let points = match metric.data {
                        Some(metric::Data::Histogram(h)) => h
                            .data_points
                            .into_iter()
                            .map(|p| ReceivedPoint {
                                attributes: attributes(&p.attributes),
                                count: Some(p.count),
                                sum: p.sum,
                                bounds: p.explicit_bounds,
                                bucket_counts: p.bucket_counts,
                                ..ReceivedPoint::default()
                            })
                            .collect(),
                        Some(metric::Data::Sum(s)) => s
                            .data_points
                            .into_iter()
                            .map(|p| ReceivedPoint {
                                attributes: attributes(&p.attributes),
                                value: number(p.value),
                                monotonic: Some(s.is_monotonic),
                                ..ReceivedPoint::default()
                            })
                            .collect(),
                        Some(metric::Data::Gauge(g)) => g
                            .data_points
                            .into_iter()
                            .map(|p| ReceivedPoint {
                                attributes: attributes(&p.attributes),
                                value: number(p.value),
                                ..ReceivedPoint::default()
                            })
                            .collect(),
                        _ => Vec::new(),
                    };
                    received.metrics.push(ReceivedMetric {
                        name: metric.name,
                        unit: metric.unit,
                        scope: scope.clone(),
                        resource: resource.clone(),
                        points,
                    });
                }
            }
        }
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

fn number(value: Option<number_data_point::Value>) -> Option<f64> {
    match value? {
        number_data_point::Value::AsDouble(d) => Some(d),
        number_data_point::Value::AsInt(i) => Some(i as f64),
    }
}

fn attributes(kvs: &[KeyValue]) -> BTreeMap<String, AttrValue> {
    kvs.iter()
        .map(|kv| {
            let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(any_value::Value::StringValue(s)) => AttrValue::Str(s.clone()),
                Some(any_value::Value::IntValue(i)) => AttrValue::Int(*i),
                Some(any_value::Value::DoubleValue(d)) => AttrValue::Double(*d),
                Some(any_value::Value::BoolValue(b)) => AttrValue::Bool(*b),
                other => AttrValue::Other(format!("{other:?}")),
            };
            (kv.key.clone(), value)
        })
        .collect()
}

fn strings(kvs: &[KeyValue]) -> BTreeMap<String, String> {
    attributes(kvs)
        .into_iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect()
}
