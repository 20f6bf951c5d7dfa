//! [`OpTelemetry`]: the service made by [`super::OpTelemetryLayer`], and
//! [`OpFuture`], its response future.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Instant;

use metrics::{Key, Label};
use pin_project_lite::pin_project;
use tower::Service;
use tracing::instrument::Instrumented;
use tracing::Instrument;

use crate::classify::ErrorClass;
use crate::layer::key_cache::{add_to_gauge, record_histogram};
use crate::semconv::{
    group_size_bucket, ERROR_TYPE, OPERATION_ACTIVE, OPERATION_DURATION, XMTP_API,
    XMTP_ERROR_CLASS, XMTP_GROUP_SIZE, XMTP_GROUP_SIZE_BUCKET, XMTP_MEMBERS_ADDED, XMTP_OPERATION,
    XMTP_OUTCOME, XMTP_TRAFFIC,
};

use super::classifier::ClassifyError;
use super::context::{self, OpContext, Scoped};
use super::labels::DurationKey;
use super::layer::OpConfig;
use super::observer::{tell_all, OpFailure, Outcome};
use super::{Operation, OperationOutput};

/// Measures the operations performed by `S`, classifying failures with `C`.
#[derive(Clone)]
pub struct OpTelemetry<S, C> {
    inner: S,
    config: Arc<OpConfig>,
    classifier: C,
}

impl<S: std::fmt::Debug, C> std::fmt::Debug for OpTelemetry<S, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpTelemetry")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, C> OpTelemetry<S, C> {
    pub(crate) fn new(inner: S, config: Arc<OpConfig>, classifier: C) -> Self {
        Self {
            inner,
            config,
            classifier,
        }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S, C, R> Service<R> for OpTelemetry<S, C>
where
    R: Operation,
    S: Service<R>,
    S::Response: OperationOutput,
    C: ClassifyError<S::Error> + Clone,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = OpFuture<S::Future, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let context = OpContext {
            name: request.name(),
            api: self.config.api,
            traffic: self.config.traffic,
        };
        let span = tracing::info_span!(
            "xmtp.operation",
            otel.name = context.name,
            otel.kind = "internal",
            otel.status_code = tracing::field::Empty,
            otel.status_description = tracing::field::Empty,
            xmtp.operation = context.name,
            xmtp.api = context.api,
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
        record.clock_start = request.started_at();
        let future = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        OpFuture {
            inner: context::scope(context, self.config.clone(), future.instrument(span)),
            record,
            classifier: self.classifier.clone(),
        }
    }
}

pin_project! {
    /// The response future of [`OpTelemetry`]: the inner future, run
    /// inside the operation's span and context, recording its outcome
    /// when it resolves (or `cancelled` if dropped first).
    pub struct OpFuture<F, C> {
        #[pin]
        inner: Scoped<Instrumented<F>>,
        record: OpRecord,
        classifier: C,
    }
}

impl<F, C, T, E> Future for OpFuture<F, C>
where
    F: Future<Output = Result<T, E>>,
    T: OperationOutput,
    C: ClassifyError<E>,
{
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if !this.record.polled {
            // Read at the first poll, not in `call`: the caller wraps the
            // returned future in `with_intended_start`, which is in scope
            // only while it runs.
            this.record.polled = true;
            this.record.intended_start = context::intended_start();
            this.record.started = this.record.clock_start.unwrap_or_else(Instant::now);
        }
        let result = ready!(this.inner.poll(cx));
        let (error, group_size, members_added) = match &result {
            Ok(output) => {
                this.record.finished_at = output.finished_at();
                (
                    None,
                    output.group_size().or(this.record.group_size_hint),
                    output.members_added(),
                )
            }
            Err(error) => (
                Some(this.classifier.classify_error(error)),
                this.record.group_size_hint,
                None,
            ),
        };
        this.record.record(error, group_size, members_added);
        Poll::Ready(result)
    }
}

/// One operation in flight. Records its outcome once: when it ends, or
/// as `cancelled` if the future is dropped first.
struct OpRecord {
    context: OpContext,
    config: Arc<OpConfig>,
    span: tracing::Span,
    started: Instant,
    /// When the request says its clock started (see
    /// [`Operation::started_at`]).
    clock_start: Option<Instant>,
    /// When the response says its event happened (see
    /// [`OperationOutput::finished_at`]).
    finished_at: Option<Instant>,
    intended_start: Option<Instant>,
    group_size_hint: Option<usize>,
    polled: bool,
    done: bool,
}

impl OpRecord {
    fn start(
        context: OpContext,
        config: Arc<OpConfig>,
        span: tracing::Span,
        group_size_hint: Option<usize>,
    ) -> Self {
        config.labels.active.with(
            context.name,
            || active_key(&context),
            |key| add_to_gauge(key, 1.0),
        );
        Self {
            context,
            config,
            span,
            started: Instant::now(),
            clock_start: None,
            finished_at: None,
            intended_start: None,
            group_size_hint,
            polled: false,
            done: false,
        }
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
            operation: self.context.name,
            api: self.context.api,
            traffic: self.context.traffic,
            started: self.started,
            intended_start: self.intended_start,
            duration: self
                .finished_at
                .unwrap_or_else(Instant::now)
                .saturating_duration_since(self.started),
            error,
            group_size,
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

        let id = DurationKey {
            operation: self.context.name,
            failure: outcome.error.map(|f| (f.class, f.error_type)),
            size_bucket: outcome.group_size.map(group_size_bucket),
        };
        let context = &self.context;
        let labels = &self.config.labels;
        labels.duration.with(
            id,
            || duration_key(context, &id),
            |key| record_histogram(key, outcome.duration.as_secs_f64()),
        );
        labels.active.with(
            context.name,
            || active_key(context),
            |key| add_to_gauge(key, -1.0),
        );

        tell_all(&self.config.observers, outcome.operation, |observer| {
            observer.on_outcome(&outcome)
        });
    }
}

impl Drop for OpRecord {
    fn drop(&mut self) {
        let cancelled = OpFailure {
            class: ErrorClass::Cancelled,
            error_type: "cancelled",
        };
        let hint = self.group_size_hint;
        self.record(Some(cancelled), hint, None);
    }
}

fn outcome_label(outcome: &Outcome) -> &'static str {
    if outcome.is_ok() {
        "ok"
    } else {
        "error"
    }
}

/// The labels shared by every operation metric, in a fixed order.
fn shared_labels(context: &OpContext) -> Vec<Label> {
    vec![
        Label::from_static_parts(XMTP_OPERATION, context.name),
        Label::from_static_parts(XMTP_API, context.api),
        Label::from_static_parts(XMTP_TRAFFIC, context.traffic.as_str()),
    ]
}

fn active_key(context: &OpContext) -> Key {
    Key::from_parts(OPERATION_ACTIVE, shared_labels(context))
}

fn duration_key(context: &OpContext, id: &DurationKey) -> Key {
    let mut labels = shared_labels(context);
    let outcome = if id.failure.is_none() { "ok" } else { "error" };
    labels.push(Label::from_static_parts(XMTP_OUTCOME, outcome));
    if let Some((class, error_type)) = id.failure {
        labels.push(Label::from_static_parts(XMTP_ERROR_CLASS, class.as_str()));
        labels.push(Label::from_static_parts(ERROR_TYPE, error_type));
    }
    if let Some(bucket) = id.size_bucket {
        labels.push(Label::from_static_parts(XMTP_GROUP_SIZE_BUCKET, bucket));
    }
    Key::from_parts(OPERATION_DURATION, labels)
}
