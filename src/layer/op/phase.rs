//! Phases: the steps an operation is made of (`xmtp.phase`).
//!
//! A client that wants its operations broken down runs each step through
//! [`in_phase`] (or [`in_phase_sync`] for local work such as signing). The
//! step gets its own INTERNAL span, a child of the operation's span, so a
//! trace shows where the time went; the RPC spans of the calls it makes
//! become its children. It also records one point of
//! `xmtp.client.phase.duration`, labelled with the phase, its outcome, and
//! the operation it runs in (name, API, traffic), which the
//! [`OpTelemetryLayer`](super::OpTelemetryLayer) provides without the
//! client passing it along; and the layer's observers get a
//! [`PhaseOutcome`] (how a benchmark keeps per-phase histograms). Outside
//! an operation the phase is still recorded, without the operation's
//! labels.
//!
//! Phase names become metric labels: take them from a small fixed set.

use std::future::Future;
use std::time::Instant;

use metrics::Label;
use tracing::Instrument;

use crate::semconv::{
    PHASE_DURATION, XMTP_API, XMTP_OPERATION, XMTP_OUTCOME, XMTP_PHASE, XMTP_TRAFFIC,
};

use super::context::{self, OpContext};
use super::observer::tell_all;
use super::PhaseOutcome;

/// Runs `work` as the phase `name` of the current operation.
pub async fn in_phase<T, E>(
    name: &'static str,
    work: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let started = Instant::now();
    let result = work.instrument(span(name)).await;
    record(name, started, result.is_ok());
    result
}

/// Runs synchronous `work` as the phase `name` of the current operation.
pub fn in_phase_sync<T, E>(
    name: &'static str,
    work: impl FnOnce() -> Result<T, E>,
) -> Result<T, E> {
    let started = Instant::now();
    let result = span(name).in_scope(work);
    record(name, started, result.is_ok());
    result
}

fn span(name: &'static str) -> tracing::Span {
    tracing::info_span!(
        "xmtp.phase",
        otel.name = name,
        otel.kind = "internal",
        xmtp.phase = name
    )
}

fn record(name: &'static str, started: Instant, ok: bool) {
    let duration = started.elapsed();
    let seconds = duration.as_secs_f64();
    let inside = context::with_current(|current| {
        let op = &current.context;
        metrics::histogram!(PHASE_DURATION, labels(name, ok, Some(op))).record(seconds);
        let finished = PhaseOutcome {
            phase: name,
            operation: op.name,
            traffic: op.traffic,
            scheduled: context::intended_start().unwrap_or(started),
            duration,
            ok,
        };
        tell_all(&current.config.observers, name, |observer| {
            observer.on_phase(&finished)
        });
    });
    if inside.is_none() {
        metrics::histogram!(PHASE_DURATION, labels(name, ok, None)).record(seconds);
    }
}

/// The phase metric's labels: the phase, the operation's when inside one,
/// and the outcome.
fn labels(name: &'static str, ok: bool, op: Option<&OpContext>) -> Vec<Label> {
    let mut labels = vec![Label::from_static_parts(XMTP_PHASE, name)];
    if let Some(op) = op {
        labels.extend([
            Label::from_static_parts(XMTP_OPERATION, op.name),
            Label::from_static_parts(XMTP_API, op.api),
            Label::from_static_parts(XMTP_TRAFFIC, op.traffic.as_str()),
        ]);
    }
    let outcome = if ok { "ok" } else { "error" };
    labels.push(Label::from_static_parts(XMTP_OUTCOME, outcome));
    labels
}
