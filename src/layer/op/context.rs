//! What the operation in progress is, for code that runs inside it.
//!
//! The phase helper records `xmtp.client.phase.duration` with the same
//! operation, API and traffic attributes as the operation itself, without
//! the client passing them around: the layer sets them for the duration
//! of the operation's future.

use std::future::Future;
use std::time::Instant;

use crate::client::ApiVersion;

use super::{OpKind, Traffic};

/// The operation a piece of code runs in.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OpContext {
    pub(crate) kind: OpKind,
    pub(crate) api: ApiVersion,
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

pub(crate) async fn scope<F: Future>(context: OpContext, work: F) -> F::Output {
    CURRENT.scope(context, work).await
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
