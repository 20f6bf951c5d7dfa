//! Synthetic traffic: the pieces `opmon bench` is built from.
//!
//! So far: the [`Recorder`] that turns operation outcomes into HDR
//! statistics and the [`ResourceSampler`] that watches the CPU and memory of
//! the load generator (or the node it embeds). Scheduling, thresholds and
//! result files follow.

mod recorder;
mod resources;

pub use recorder::{OpStats, Recorder};
pub use resources::{
    cores, saturated, ProcessProbe, ProcessReading, ResourceSample, ResourceSampler,
    ResourceSummary,
};
