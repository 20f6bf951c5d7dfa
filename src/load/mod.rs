//! Synthetic traffic: the pieces `opmon bench` is built from.
//!
//! So far: the [`Recorder`] that turns operation outcomes into HDR
//! statistics. Scheduling, resource sampling and result files follow.

mod recorder;

pub use recorder::{OpStats, Recorder};
