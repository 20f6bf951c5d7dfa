//! One call in flight: its span, its start time, and how it ended.
//!
//! The guard is created when the call starts and travels with the
//! response future and then the response body, so the outcome is recorded
//! exactly once — when the status is known (end of stream), when the
//! transport fails, or, if nobody ever reaches the end, when the guard is
//! dropped. A drop is told apart three ways: past the call's deadline
//! (`grpc-timeout`) it is a `timeout`; after response data arrived it is
//! `body_dropped` (a reader that stopped early); otherwise the caller gave
//! up (`cancelled`).
//!
//! A server-streaming call (the `subscribe` family) is one call from its
//! request to the end of its stream: its span also carries the number of
//! messages received, a drop is the caller closing the stream
//! (`cancelled`, however much arrived), and the time to its first message
//! is recorded with the call's final labels.

use std::sync::Arc;
use std::time::{Duration, Instant};

use metrics::{Key, Label};
use tonic::Code;

use crate::classify::{grpc_code_name, ErrorClass};
use crate::layer::key_cache::record_histogram;
use crate::semconv::{
    ERROR_TYPE, RPC_CLIENT_CALL_DURATION, RPC_CLIENT_TIME_TO_FIRST_MESSAGE, RPC_METHOD,
    RPC_RESPONSE_STATUS_CODE, RPC_SYSTEM_GRPC, RPC_SYSTEM_NAME, XMTP_RPC_FAMILY,
    XMTP_RPC_MESSAGES_RECEIVED,
};

/// `error.type` of a response body dropped after data arrived.
pub(crate) const BODY_DROPPED: &str = "body_dropped";

use super::framing::MessageCounter;
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
    /// The response body was dropped after data arrived, before its end.
    BodyDropped,
}

/// What distinguishes one series of a layer's call metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct CallKey {
    /// `rpc.client.call.duration` or `rpc.client.time_to_first_message`.
    metric: &'static str,
    method: &'static str,
    status: Option<&'static str>,
    error_type: Option<&'static str>,
}

pub(crate) struct CallGuard {
    span: tracing::Span,
    started: Instant,
    deadline: Option<Instant>,
    method: Method,
    config: Arc<RpcConfig>,
    saw_data: bool,
    /// Server streaming: counts messages and times the first.
    streaming: Option<Stream>,
    done: bool,
}

/// What a server-streaming call measures besides its duration.
#[derive(Default)]
struct Stream {
    messages: MessageCounter,
    first_seen: bool,
}

impl CallGuard {
    pub(crate) fn new(
        span: tracing::Span,
        method: Method,
        config: Arc<RpcConfig>,
        timeout: Option<Duration>,
    ) -> Self {
        let started = Instant::now();
        Self {
            span,
            started,
            deadline: timeout.and_then(|timeout| started.checked_add(timeout)),
            streaming: method.is_streaming().then(Stream::default),
            method,
            config,
            saw_data: false,
            done: false,
        }
    }

    /// Notes that response data arrived: `chunks`, the bytes of one frame.
    pub(crate) fn saw_data<'a>(&mut self, chunks: impl IntoIterator<Item = &'a [u8]>) {
        self.saw_data = true;
        if let Some(stream) = self.streaming.as_mut() {
            for chunk in chunks {
                stream.messages.feed(chunk);
            }
            if !stream.first_seen && stream.messages.count() > 0 {
                stream.first_seen = true;
                // Recorded now, not at the end: a subscription may stay
                // open for days. Its status is not known yet, so the
                // point carries none.
                let id = CallKey {
                    metric: RPC_CLIENT_TIME_TO_FIRST_MESSAGE,
                    method: self.method.name,
                    status: None,
                    error_type: None,
                };
                self.record(id, self.started.elapsed().as_secs_f64());
            }
        }
    }

    /// Whether the call's `grpc-timeout` has passed.
    fn past_deadline(&self) -> bool {
        self.deadline
            .is_some_and(|deadline| Instant::now() >= deadline)
    }

    /// How a drop before the end reads.
    fn dropped(&self) -> CallEnd {
        if self.past_deadline() {
            CallEnd::Transport(ErrorClass::Timeout)
        } else if self.saw_data && self.streaming.is_none() {
            CallEnd::BodyDropped
        } else {
            CallEnd::Dropped
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
        let end = if end == CallEnd::Dropped {
            self.dropped()
        } else {
            end
        };
        let seconds = self.started.elapsed().as_secs_f64();
        let (status, failure) = match end {
            CallEnd::Status(code) => {
                let name = grpc_code_name(code);
                let failure = (!self.config.is_success(code)).then(|| {
                    if code == Code::Cancelled && self.past_deadline() {
                        // tonic's channel and servers end a call whose
                        // grpc-timeout passed with CANCELLED.
                        (ErrorClass::Timeout, ErrorClass::Timeout.as_str())
                    } else {
                        (
                            ErrorClass::from_code(code).unwrap_or(ErrorClass::Server),
                            name,
                        )
                    }
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
            CallEnd::BodyDropped => (None, Some((ErrorClass::Cancelled, BODY_DROPPED))),
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

        let id = CallKey {
            metric: RPC_CLIENT_CALL_DURATION,
            method: self.method.name,
            status,
            error_type: failure.map(|(_, error_type)| error_type),
        };
        self.record(id, seconds);
        if let Some(stream) = &self.streaming {
            // As an i64: OpenTelemetry has no unsigned integers, and a
            // u64 would be exported as a string.
            let count = i64::try_from(stream.messages.count()).unwrap_or(i64::MAX);
            self.span.record(XMTP_RPC_MESSAGES_RECEIVED, count);
        }
    }

    fn record(&self, id: CallKey, value: f64) {
        let (method, config) = (self.method, &self.config);
        config.keys.with(
            id,
            || call_key(method, &id, config),
            |key| record_histogram(key, value),
        );
    }
}

fn call_key(method: Method, id: &CallKey, config: &RpcConfig) -> Key {
    let mut labels = Vec::with_capacity(7);
    labels.push(Label::from_static_parts(RPC_SYSTEM_NAME, RPC_SYSTEM_GRPC));
    labels.push(Label::from_static_parts(RPC_METHOD, method.name));
    labels.push(Label::from_static_parts(XMTP_RPC_FAMILY, method.family));
    if let Some(status) = id.status {
        labels.push(Label::from_static_parts(RPC_RESPONSE_STATUS_CODE, status));
    }
    if let Some(error_type) = id.error_type {
        labels.push(Label::from_static_parts(ERROR_TYPE, error_type));
    }
    labels.extend(config.target_labels.iter().cloned());
    Key::from_parts(id.metric, labels)
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
        CallEnd::BodyDropped => "the response was dropped after data arrived".to_owned(),
    }
}

/// The `grpc-status` of a header map (headers of a trailers-only response,
/// or trailers).
pub(crate) fn grpc_status(headers: &http::HeaderMap) -> Option<Code> {
    let value = headers.get("grpc-status")?.to_str().ok()?;
    value.parse::<i32>().ok().map(Code::from_i32)
}

/// The deadline a `grpc-timeout` header sets (`<digits><unit>`, units
/// `H M S m u n`, at most eight digits).
pub(crate) fn grpc_timeout(headers: &http::HeaderMap) -> Option<Duration> {
    let value = headers.get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount * 3600),
        "M" => Duration::from_secs(amount * 60),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}
