//! Operation telemetry: see [`OpTelemetryLayer`].

mod classifier;
mod context;
mod labels;
mod layer;
mod observer;
mod operation;
pub mod phase;
mod service;

pub use classifier::{ByClassify, ByErrorChain, ClassifyError};
pub use context::with_intended_start;
pub use layer::{OpTelemetryLayer, Traffic};
pub use observer::{OpFailure, OpObserver, Outcome, PhaseOutcome};
pub use operation::{Operation, OperationOutput};
pub use phase::{in_phase, in_phase_sync};
pub use service::{OpFuture, OpTelemetry};
