//! Run results: the `opmon.run.v1` model, its files, and the summary a
//! person reads.
//!
//! [`RunResult`] is written as `run.json` (everything, including the HDR
//! histograms) and `summary.csv` (one self-describing row per operation,
//! for spreadsheets and quick A/B comparisons), and printed as a table;
//! [`html`] draws it as a self-contained page with plots. [`compare`]
//! tells whether one set of runs is better, worse or the same as another,
//! [`real`] holds runs against the real users' telemetry in Prometheus,
//! and [`merge_runs`] combines runs made on several machines at the same
//! time into one exact result.

pub mod compare;
mod csv;
mod histogram;
pub mod html;
mod json;
mod merge;
pub mod real;
mod run;
mod stage;
mod table;
mod validate;

pub use csv::{summary_csv, SUMMARY_FILE};
pub use histogram::{decode_histogram, encode_histogram};
pub use html::{run_page, spectrum_svg};
pub use json::{ReportError, RUN_FILE};
pub use merge::{merge_runs, merge_runs_with, MergeError, MergeOptions};
pub use run::{
    Environment, Histograms, OperationReport, Parameters, Percentiles, PhaseReport,
    ProvisioningReport, ResourcePoint, Resources, RunPart, RunResult, Target, ThresholdResult,
    TimelinePoint, Window, RUN_SCHEMA,
};
pub use stage::{operation_reports, CapacityReport, StageReport};
pub use table::summary_table;
pub use validate::{InvalidRun, MAX_COUNT};
