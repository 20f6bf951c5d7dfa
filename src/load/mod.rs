//! Synthetic traffic: the pieces `opmon bench` is built from.
//!
//! So far: the [`Recorder`] that turns operation outcomes into HDR
//! statistics, the [`ResourceSampler`] that watches the CPU and memory of
//! the load generator (or the node it embeds), and the [`Threshold`]s that
//! turn a run's statistics into a CI pass or fail. Scheduling and result
//! files follow.

mod recorder;
mod resources;
mod threshold;

pub use recorder::{OpStats, Recorder};
pub use resources::{
    cores, saturated, ProcessProbe, ProcessReading, ResourceSample, ResourceSampler,
    ResourceSummary,
};
pub use threshold::{evaluate, parse_max_error_rate, Breach, Threshold, ThresholdError};
