//! [`OpTelemetry`]: the service made by [`super::OpTelemetryLayer`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use metrics::Label;
use tower::Service;
use tracing::Instrument;

use crate::classify::Classify;
use crate::semconv::{
    group_size_bucket, ERROR_TYPE, OPERATION_ACTIVE, OPERATION_DURATION, XMTP_API,
    XMTP_ERROR_CLASS, XMTP_GROUP_SIZE, XMTP_GROUP_SIZE_BUCKET, XMTP_MEMBERS_ADDED, XMTP_OPERATION,
    XMTP_OUTCOME, XMTP_TRAFFIC,
};

use super::context::{self, OpContext};
use super::layer::OpConfig;
use super::observer::{OpFailure, Outcome};
use super::{OpKind, Operation, OperationOutput};

/// Measures the operations performed by `S`.
#[derive(Clone)]
pub struct OpTelemetry<S> {
    inner: S,
    config: Arc<OpConfig>,
}

impl<S: std::fmt::Debug> std::fmt::Debug for OpTelemetry<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpTelemetry")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S> OpTelemetry<S> {
    pub(crate) fn new(inner: S, config: Arc<OpConfig>) -> Self {
        Self { inner, config }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, R> Service<R> for OpTelemetry<S>
where
    R: Operation,
    S: Service<R>,
    S::Future: Send + 'static,
    S::Response: OperationOutput + Send + 'static,
    S::Error: Classify + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let kind = request.kind();
        let context = OpContext {
            kind,
            api: self.config.api,
            traffic: self.config.traffic,
        };
        let span = tracing::info_span!(
            "xmtp.operation",
            otel.name = kind.as_str(),
            otel.kind = "internal",
            otel.status_code = tracing::field::Empty,
            otel.status_description = tracing::field::Empty,
            xmtp.operation = kind.as_str(),
            xmtp.api = context.api.as_str(),
            xmtp.traffic = context.traffic.as_str(),
            xmtp.outcome = tracing::field::Empty,
            xmtp.error.class = tracing::field::Empty,
            "error.type" = tracing::field::Empty,
            xmtp.group.size = tracing::field::Empty,
            xmtp.members.added = tracing::field::Empty,
        );
        let mut record = OpRecord::start(
            context,
            self.config.clone(),
            span.clone(),
            request.group_size(),
        );
        let future = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        Box::pin(async move {
            // Read here, not in `call`: the caller wraps the returned future
            // in `with_intended_start`, which is in scope only while it runs.
            record.intended_start = context::intended_start();
            record.started = Instant::now();
            let result = context::scope(context, future.instrument(span)).await;
            record.finish(&result);
            result
        })
    }
}

/// One operation in flight. Records its outcome once: when it ends, or
/// as `cancelled` if the future is dropped first.
struct OpRecord {
    context: OpContext,
    config: Arc<OpConfig>,
    span: tracing::Span,
    started: Instant,
    intended_start: Option<Instant>,
    group_size_hint: Option<usize>,
    done: bool,
}

impl OpRecord {
    fn start(
        context: OpContext,
        config: Arc<OpConfig>,
        span: tracing::Span,
        group_size_hint: Option<usize>,
    ) -> Self {
        metrics::gauge!(OPERATION_ACTIVE, active_labels(&context)).increment(1.0);
        Self {
            context,
            config,
            span,
            started: Instant::now(),
            intended_start: None,
            group_size_hint,
            done: false,
        }
    }

    fn finish<T: OperationOutput, E: Classify>(&mut self, result: &Result<T, E>) {
        let (error, group_size, members_added) = match result {
            Ok(output) => (
                None,
                output.group_size().or(self.group_size_hint),
                output.members_added(),
            ),
            Err(error) => (
                Some(OpFailure {
                    class: error.class(),
                    error_type: error.error_type(),
                }),
                self.group_size_hint,
                None,
            ),
        };
        self.record(error, group_size, members_added);
    }

    fn record(
        &mut self,
        error: Option<OpFailure>,
        group_size: Option<usize>,
        members_added: Option<usize>,
    ) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        let outcome = Outcome {
            operation: self.context.kind,
            api: self.context.api,
            traffic: self.context.traffic,
            started: self.started,
            intended_start: self.intended_start,
            duration: self.started.elapsed(),
            error,
            group_size: group_size.filter(|_| is_group_op(self.context.kind)),
            members_added,
        };

        let span = &self.span;
        span.record(XMTP_OUTCOME, outcome_label(&outcome));
        if let Some(failure) = &outcome.error {
            span.record(XMTP_ERROR_CLASS, failure.class.as_str());
            span.record(ERROR_TYPE, failure.error_type);
            span.record("otel.status_code", "error");
            span.record("otel.status_description", failure.class.as_str());
        }
        if let Some(size) = outcome.group_size {
            span.record(XMTP_GROUP_SIZE, size as i64);
        }
        if let Some(added) = outcome.members_added {
            span.record(XMTP_MEMBERS_ADDED, added as i64);
        }

        let mut labels = active_labels(&self.context);
        labels.push(Label::from_static_parts(
            XMTP_OUTCOME,
            outcome_label(&outcome),
        ));
        if let Some(failure) = &outcome.error {
            labels.push(Label::from_static_parts(
                XMTP_ERROR_CLASS,
                failure.class.as_str(),
            ));
            labels.push(Label::from_static_parts(ERROR_TYPE, failure.error_type));
        }
        if let Some(size) = outcome.group_size {
            labels.push(Label::from_static_parts(
                XMTP_GROUP_SIZE_BUCKET,
                group_size_bucket(size),
            ));
        }
        metrics::histogram!(OPERATION_DURATION, labels).record(outcome.duration.as_secs_f64());
        metrics::gauge!(OPERATION_ACTIVE, active_labels(&self.context)).decrement(1.0);

        for observer in &self.config.observers {
            observer.on_outcome(&outcome);
        }
    }
}

impl Drop for OpRecord {
    fn drop(&mut self) {
        let cancelled = OpFailure {
            class: crate::classify::ErrorClass::Cancelled,
            error_type: "cancelled",
        };
        let hint = self.group_size_hint;
        self.record(Some(cancelled), hint, None);
    }
}

fn is_group_op(kind: OpKind) -> bool {
    matches!(kind, OpKind::GroupCreate | OpKind::GroupAddMembers)
}

fn outcome_label(outcome: &Outcome) -> &'static str {
    if outcome.is_ok() {
        "ok"
    } else {
        "error"
    }
}

/// The labels shared by every operation metric, in a fixed order.
fn active_labels(context: &OpContext) -> Vec<Label> {
    vec![
        Label::from_static_parts(XMTP_OPERATION, context.kind.as_str()),
        Label::from_static_parts(XMTP_API, context.api.as_str()),
        Label::from_static_parts(XMTP_TRAFFIC, context.traffic.as_str()),
    ]
}
