//! Synthetic traffic: the pieces `opmon bench` is built from.
//!
//! A benchmark [provisions](Workload::provision) what its
//! [`Scenario`] needs, then [drives](drive) operations through the same
//! [`OpTelemetryLayer`](crate::layer::OpTelemetryLayer) production apps
//! use, on a closed or open [`Schedule`]. The layer hands every outcome to
//! a [`Recorder`], which keeps HDR histograms of response time (from the
//! intended start) and service time (from the actual start), errors by
//! class and a per-second timeline. A [`ResourceSampler`] watches the CPU
//! and memory of the load generator and of the node it embeds, and
//! [`Threshold`]s turn the statistics into a CI pass or fail.

mod capacity;
mod groups;
mod machine;
mod recorder;
mod resources;
mod scenario;
mod schedule;
mod stages;
mod threshold;
mod visibility;

pub use capacity::{CapacitySearch, SearchEnd, PRECISION};
pub use groups::GroupLease;
pub use machine::MachineCpu;
pub use recorder::{
    new_histogram, new_phase_histogram, OpStats, PhaseStats, Recorder, Second, StageStats,
    SAMPLES_HEADER, TIMELINE_SECONDS,
};
pub use resources::{
    cores, saturated, ProcessProbe, ProcessReading, ResourceSample, ResourceSampler,
    ResourceSummary,
};
pub use scenario::{
    from_short_name, short_name, Mix, NextOp, Provisioning, Scenario, ScenarioError, Workload,
    WorkloadConfig, SHORT_NAMES,
};
pub use schedule::{drive, LoadModel, RunEnd, Schedule, Stop, INTERRUPT_GRACE};
pub use stages::{Level, Ramp, Stage, Stages};
pub use threshold::{
    evaluate, evaluate_any_samples, parse_max_error_rate, Breach, Threshold, ThresholdError,
};
pub use visibility::Follow;
