//! Tower middleware that turns calls and operations into telemetry.
//!
//! Two layers, stacked:
//!
//! - [`RpcTelemetryLayer`] wraps any gRPC channel (an http service) and
//!   records every call: a CLIENT span per call and `rpc.client.call.duration`,
//!   with the outcome read at the end of the response stream.
//! - [`OpTelemetryLayer`] wraps any `tower::Service` whose requests are
//!   [`Operation`]s (they name themselves) and records every operation: a
//!   span per operation (parent of the phase spans, which are parents of
//!   the RPC spans), `xmtp.client.operation.duration`,
//!   `xmtp.client.phase.duration` (through [`in_phase`]) and
//!   `xmtp.client.operation.active`, and hands each finished operation's
//!   [`Outcome`] to registered observers.
//!
//! The layers depend on nothing else in this crate but [`crate::classify`]
//! and [`crate::semconv`]: with `--no-default-features` they build without
//! the XMTP client, node or load generator.
//!
//! Spans go through `tracing` and metrics through the `metrics` facade, so
//! the layers never force an exporter; [`crate::telemetry`] routes both to
//! OpenTelemetry or a Prometheus Pushgateway.

mod key_cache;
pub mod op;
pub mod rpc;

pub use op::{
    in_phase, in_phase_sync, with_intended_start, ByClassify, ByErrorChain, ClassifyError,
    OpFailure, OpFuture, OpObserver, OpTelemetry, OpTelemetryLayer, Operation, OperationOutput,
    Outcome, PhaseOutcome, Traffic,
};
pub use rpc::{InspectError, RpcTelemetry, RpcTelemetryLayer};

/// A type-erased error, as tower middleware such as `timeout` or `buffer`
/// returns (see [`ByErrorChain`]).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
