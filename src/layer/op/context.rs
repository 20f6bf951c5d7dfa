//! What the operation in progress is, for code that runs inside it.
//!
//! A phase (see [`super::phase`]) records `xmtp.client.phase.duration`
//! with the same operation, API and traffic attributes as the operation
//! itself, without the client passing them around: the layer sets them
//! for the duration of the operation's future, in a task-local.

use std::future::Future;
use std::time::Instant;

use super::Traffic;

/// The operation a piece of code runs in.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OpContext {
    pub(crate) name: &'static str,
    pub(crate) api: &'static str,
    pub(crate) traffic: Traffic,
}

tokio::task_local! {
    static CURRENT: OpContext;
    static INTENDED_START: Instant;
}

/// The operation the calling task is inside, if any.
pub(crate) fn current() -> Option<OpContext> {
    CURRENT.try_with(|context| *context).ok()
}

/// The future that runs `work` with `context` as the current operation.
pub(crate) type Scoped<F> = tokio::task::futures::TaskLocalFuture<OpContext, F>;

pub(crate) fn scope<F: Future>(context: OpContext, work: F) -> Scoped<F> {
    CURRENT.scope(context, work)
}

/// Runs `work` — the future an [`OpTelemetryLayer`](super::OpTelemetryLayer)
/// service returned for one operation — as scheduled for
/// `intended`, so its [`Outcome`](super::Outcome) can report the response
/// time from the intended start — the correction for coordinated omission
/// that open-loop load generators need.
pub async fn with_intended_start<F: Future>(intended: Instant, work: F) -> F::Output {
    INTENDED_START.scope(intended, work).await
}

pub(crate) fn intended_start() -> Option<Instant> {
    INTENDED_START.try_with(|instant| *instant).ok()
}
