//! [`RpcTelemetry`]: the service made by [`super::RpcTelemetryLayer`].

use std::sync::Arc;
use std::task::{Context, Poll};

use opentelemetry::propagation::Injector;
use tower::Service;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::call::{grpc_timeout, CallGuard};
use super::error::InspectError;
use super::future::ResponseFuture;
use super::layer::RpcConfig;
use super::methods::lookup;
use crate::semconv::RPC_SYSTEM_GRPC;

/// Traces and measures the gRPC calls made through `S`.
#[derive(Debug, Clone)]
pub struct RpcTelemetry<S> {
    inner: S,
    config: Arc<RpcConfig>,
}

impl<S> RpcTelemetry<S> {
    pub(crate) fn new(inner: S, config: Arc<RpcConfig>) -> Self {
        Self { inner, config }
    }
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for RpcTelemetry<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Error: InspectError,
{
    type Response = http::Response<super::ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<ReqBody>) -> Self::Future {
        let method = lookup(&self.config.methods, request.uri().path());
        let span = tracing::info_span!(
            "grpc.call",
            otel.name = if method.is_known() {
                method.name
            } else {
                RPC_SYSTEM_GRPC
            },
            otel.kind = "client",
            otel.status_code = tracing::field::Empty,
            otel.status_description = tracing::field::Empty,
            rpc.system.name = RPC_SYSTEM_GRPC,
            rpc.method = method.name,
            rpc.method_original = tracing::field::Empty,
            rpc.response.status_code = tracing::field::Empty,
            "error.type" = tracing::field::Empty,
            xmtp.rpc.family = method.family,
            xmtp.rpc.messages_received = tracing::field::Empty,
            xmtp.error.class = tracing::field::Empty,
            server.address = self.config.server_address.as_deref(),
            server.port = self.config.server_port.map(i64::from),
        );
        if !method.is_known() && !span.is_disabled() {
            span.record("rpc.method_original", request.uri().path());
        }
        inject_trace_context(&span, request.headers_mut());
        let timeout = grpc_timeout(request.headers());
        let guard = CallGuard::new(span, method, self.config.clone(), timeout);
        let future = {
            let _entered = guard.span().enter();
            self.inner.call(request)
        };
        ResponseFuture::new(future, guard)
    }
}

/// Writes the span's trace context (W3C `traceparent` with the usual
/// propagator) into the request, so the server's spans join the client's trace. Without an
/// OpenTelemetry subscriber the context is empty and nothing is written.
fn inject_trace_context(span: &tracing::Span, headers: &mut http::HeaderMap) {
    if span.is_disabled() {
        return;
    }
    let context = span.context();
    // Whatever propagator the app configured (W3C trace context once
    // `TelemetryBuilder::init` or `TelemetryParts::install_otel_globals` ran;
    // OpenTelemetry's default writes nothing).
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut HeaderInjector(headers))
    });
}

struct HeaderInjector<'a>(&'a mut http::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::header::HeaderName::from_bytes(key.as_bytes()),
            http::header::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}
