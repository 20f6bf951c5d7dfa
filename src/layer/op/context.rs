//! What the operation in progress is, for code that runs inside it.
//!
//! A phase (see [`super::phase`]) records `xmtp.client.phase.duration`
//! with the same operation, API and traffic attributes as the operation
//! itself, and tells the same observers, without the client passing them
//! around: the layer sets them for the duration of the operation's
//! future, in a task-local.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use super::layer::OpConfig;
use super::Traffic;

/// The operation a piece of code runs in.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OpContext {
    pub(crate) name: &'static str,
    pub(crate) api: &'static str,
    pub(crate) traffic: Traffic,
}

/// The operation a task is inside, with the layer that measures it.
pub(crate) struct Current {
    pub(crate) context: OpContext,
    pub(crate) config: Arc<OpConfig>,
}

tokio::task_local! {
    static CURRENT: Current;
    static INTENDED_START: Instant;
}

/// Runs `f` on the operation the calling task is inside; `None` outside one.
pub(crate) fn with_current<R>(f: impl FnOnce(&Current) -> R) -> Option<R> {
    CURRENT.try_with(f).ok()
}

/// The future that runs `work` as the current operation.
pub(crate) type Scoped<F> = tokio::task::futures::TaskLocalFuture<Current, F>;

pub(crate) fn scope<F: Future>(context: OpContext, config: Arc<OpConfig>, work: F) -> Scoped<F> {
    CURRENT.scope(Current { context, config }, work)
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
