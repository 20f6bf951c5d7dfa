//! Operation telemetry: see [`OpTelemetryLayer`].

mod context;
mod layer;
mod observer;
#[allow(clippy::module_inception)]
mod op;
mod service;

pub use context::with_intended_start;
pub use layer::{OpTelemetryLayer, Traffic};
pub use observer::{OpFailure, OpObserver, Outcome};
pub use op::{Op, OpKind, OpResult, Operation, OperationOutput, SharedGroup};
pub use service::OpTelemetry;

pub(crate) use context::current as current_operation;
