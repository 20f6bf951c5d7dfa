//! One call in flight: its span, its start time, and how it ended.
//!
//! The guard is created when the call starts and travels with the
//! response future and then the response body, so the outcome is recorded
//! exactly once — when the status is known (end of stream), when the
//! transport fails, or, if nobody ever reaches the end, when the guard is
//! dropped (`cancelled`).

use std::sync::Arc;
use std::time::Instant;

use metrics::Label;
use tonic::Code;

use crate::classify::{grpc_code_name, ErrorClass};
use crate::semconv::{
    ERROR_TYPE, RPC_CLIENT_CALL_DURATION, RPC_METHOD, RPC_RESPONSE_STATUS_CODE, RPC_SYSTEM_GRPC,
    RPC_SYSTEM_NAME, XMTP_RPC_FAMILY,
};

use super::layer::RpcConfig;
use super::methods::Method;

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallEnd {
    /// A gRPC status arrived (in headers or trailers).
    Status(Code),
    /// The server answered HTTP without gRPC framing.
    Http(http::StatusCode),
    /// The transport failed before a status arrived.
    Transport(ErrorClass),
    /// The stream ended without a status.
    MissingStatus,
    /// The caller dropped the call before it ended.
    Dropped,
}

pub(crate) struct CallGuard {
    span: tracing::Span,
    started: Instant,
    method: Method,
    config: Arc<RpcConfig>,
    done: bool,
}

impl CallGuard {
    pub(crate) fn new(span: tracing::Span, method: Method, config: Arc<RpcConfig>) -> Self {
        Self {
            span,
            started: Instant::now(),
            method,
            config,
            done: false,
        }
    }

    pub(crate) fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// Records the outcome, once.
    pub(crate) fn finish(&mut self, end: CallEnd) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        let seconds = self.started.elapsed().as_secs_f64();
        let (status, failure) = match end {
            CallEnd::Status(code) => {
                let name = grpc_code_name(code);
                let failure = (!self.config.is_success(code)).then(|| {
                    (
                        ErrorClass::from_code(code).unwrap_or(ErrorClass::Server),
                        name,
                    )
                });
                (Some(name), failure)
            }
            CallEnd::Http(status) => {
                let class = ErrorClass::from_http_status(status);
                (None, Some((class, class.as_str())))
            }
            CallEnd::Transport(class) => (None, Some((class, class.as_str()))),
            CallEnd::MissingStatus => (None, Some((ErrorClass::Protocol, "protocol"))),
            CallEnd::Dropped => (None, Some((ErrorClass::Cancelled, "cancelled"))),
        };

        if let Some(status) = status {
            self.span.record(RPC_RESPONSE_STATUS_CODE, status);
        }
        if let Some((class, error_type)) = failure {
            self.span.record(ERROR_TYPE, error_type);
            self.span
                .record(crate::semconv::XMTP_ERROR_CLASS, class.as_str());
            self.span.record("otel.status_code", "error");
            self.span.record("otel.status_description", describe(end));
        }

        let mut labels = Vec::with_capacity(7);
        labels.push(Label::from_static_parts(RPC_SYSTEM_NAME, RPC_SYSTEM_GRPC));
        labels.push(Label::from_static_parts(RPC_METHOD, self.method.name));
        labels.push(Label::from_static_parts(
            XMTP_RPC_FAMILY,
            self.method.family,
        ));
        if let Some(status) = status {
            labels.push(Label::from_static_parts(RPC_RESPONSE_STATUS_CODE, status));
        }
        if let Some((_, error_type)) = failure {
            labels.push(Label::from_static_parts(ERROR_TYPE, error_type));
        }
        labels.extend(self.config.target_labels.iter().cloned());
        metrics::histogram!(RPC_CLIENT_CALL_DURATION, labels).record(seconds);
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        self.finish(CallEnd::Dropped);
    }
}

fn describe(end: CallEnd) -> String {
    match end {
        CallEnd::Status(code) => format!("grpc-status {}", grpc_code_name(code)),
        CallEnd::Http(status) => format!("HTTP {status} without a gRPC status"),
        CallEnd::Transport(class) => format!("transport failure ({class})"),
        CallEnd::MissingStatus => "the stream ended without a gRPC status".to_owned(),
        CallEnd::Dropped => "the caller dropped the call".to_owned(),
    }
}

/// The `grpc-status` of a header map (headers of a trailers-only response,
/// or trailers).
pub(crate) fn grpc_status(headers: &http::HeaderMap) -> Option<Code> {
    let value = headers.get("grpc-status")?.to_str().ok()?;
    value.parse::<i32>().ok().map(Code::from_i32)
}
