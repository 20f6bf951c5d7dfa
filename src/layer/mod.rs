//! Tower middleware that turns calls and operations into telemetry.
//!
//! Two layers, stacked:
//!
//! - [`RpcTelemetryLayer`] wraps any gRPC channel (an http service) and
//!   records every call: a CLIENT span per call and `rpc.client.call.duration`,
//!   with the outcome read at the end of the response stream.
//! - [`OpTelemetryLayer`] wraps any `tower::Service<Op>` and records every
//!   operation: a span per operation (parent of the phase spans, which are
//!   parents of the RPC spans), `xmtp.client.operation.duration`,
//!   `xmtp.client.phase.duration` and `xmtp.client.operation.active`, and
//!   hands each finished operation's [`Outcome`]
//!   to registered observers.
//!
//! Spans go through `tracing` and metrics through the `metrics` facade, so
//! the layers never force an exporter; [`crate::telemetry`] routes both to
//! OpenTelemetry or a Prometheus Pushgateway.

pub mod op;
pub mod rpc;

pub use op::{
    with_intended_start, Op, OpFailure, OpKind, OpObserver, OpResult, OpTelemetry,
    OpTelemetryLayer, Operation, OperationOutput, Outcome, SharedGroup, Traffic,
};
pub use rpc::{RpcTelemetry, RpcTelemetryLayer};

/// The error type of the layers' services.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
