//! Turning what a run has measured into a [`RunResult`], and writing it.
//!
//! `run.json` is written more than once: checkpoints while the run goes
//! (marked incomplete, so a SIGKILL or the OOM killer loses only the
//! seconds since the last one), then the final result, which replaces
//! them. `opmon monitor` writes one such file per interval. Every write
//! goes through [`RunResult::write_json`], which renames a finished temporary
//! file into place, so a reader never sees half a file.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use xmtp_opmon::load::{cores, evaluate, Breach, Recorder, Threshold};
use xmtp_opmon::report::{
    operation_reports, CapacityReport, Environment, Parameters, ProvisioningReport, Resources,
    RunResult, StageReport, ThresholdResult, Window, RUN_SCHEMA,
};

use crate::capacity::StepVerdict;

/// A new run id: the UTC start time and a random suffix, e.g.
/// `20261126T231000Z-3f9a`. Ids sort by time.
pub fn new_run_id() -> String {
    let stamp: String = humantime::format_rfc3339_seconds(SystemTime::now())
        .to_string()
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect();
    format!("{stamp}-{:04x}", rand::random::<u16>())
}

/// `end_reason` of a checkpoint: the run had not ended when it was written.
pub const CHECKPOINT_REASON: &str = "checkpoint (the run was still going)";

/// What every write of one run's `run.json` shares.
pub struct RunFrame {
    /// The run's id.
    pub run_id: String,
    /// When the process started the run.
    pub started_at: SystemTime,
    /// The run's parameters, as recorded.
    pub parameters: Parameters,
    /// The warm-up before the measured window.
    pub warmup: Duration,
    /// The pass/fail rules.
    pub thresholds: Vec<Threshold>,
    /// Whether a threshold the run had too few samples to check fails it.
    pub strict_thresholds: bool,
}

/// Where a run stands when it is written.
pub struct RunState {
    /// Whether the run ended as planned.
    pub complete: bool,
    /// Why it ended, or [`CHECKPOINT_REASON`].
    pub end_reason: String,
    /// When the measured window opened, if it has.
    pub window_start: Option<Instant>,
    /// When the last operation ended (now, for a checkpoint).
    pub ended: Instant,
    /// Operations started, warm-up included.
    pub started_ops: u64,
    /// Operations abandoned at the end.
    pub abandoned_ops: usize,
    /// Additions skipped for want of a group.
    pub skipped_ops: u64,
    /// What provisioning created.
    pub provisioning: ProvisioningReport,
    /// CPU and memory seen.
    pub resources: Resources,
    /// A capacity search's verdict on each of its steps (the stages).
    pub step_verdicts: Vec<StepVerdict>,
    /// What a capacity search found.
    pub capacity: Option<CapacityReport>,
}

impl RunState {
    /// A checkpoint of a run still going: what `recorder` holds so far.
    pub fn checkpoint(recorder: &Recorder, resources: &Resources) -> Self {
        let finished = recorder.inspect(|stats| stats.values().map(|s| s.attempts).sum::<u64>());
        Self {
            complete: false,
            end_reason: CHECKPOINT_REASON.to_owned(),
            window_start: recorder.window_start(),
            ended: Instant::now(),
            // Operations in flight are not known here; finished ones are.
            started_ops: finished + recorder.warmup_ops(),
            abandoned_ops: 0,
            skipped_ops: 0,
            provisioning: ProvisioningReport::default(),
            resources: resources.clone(),
            step_verdicts: Vec::new(),
            capacity: None,
        }
    }
}

/// The run as `run.json` records it, with the thresholds' breaches.
pub fn assemble(
    frame: &RunFrame,
    recorder: &Recorder,
    state: RunState,
) -> (RunResult, Vec<Breach>) {
    let stats = recorder.snapshot();
    let breaches = evaluate(&frame.thresholds, &stats);
    let measured_s = state.window_start.map_or(0.0, |start| {
        state.ended.saturating_duration_since(start).as_secs_f64()
    });
    // Second 0 of the timelines, on the wall clock.
    let window_started_at = state.window_start.map_or(frame.started_at, |start| {
        SystemTime::now() - Instant::now().saturating_duration_since(start)
    });
    let run = RunResult {
        schema: RUN_SCHEMA.to_owned(),
        run_id: frame.run_id.clone(),
        started_at: humantime::format_rfc3339_millis(frame.started_at).to_string(),
        finished_at: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
        window_started_at: humantime::format_rfc3339_millis(window_started_at).to_string(),
        complete: state.complete,
        end_reason: state.end_reason,
        parameters: frame.parameters.clone(),
        environment: Environment {
            opmon_version: env!("CARGO_PKG_VERSION").to_owned(),
            os: std::env::consts::OS.to_owned(),
            arch: std::env::consts::ARCH.to_owned(),
            cores: cores(),
            threads: Some(tokio::runtime::Handle::current().metrics().num_workers()),
        },
        provisioning: state.provisioning,
        window: Window {
            warmup_s: frame.warmup.as_secs_f64(),
            measured_s,
            warmup_ops: recorder.warmup_ops(),
            started_ops: state.started_ops,
            abandoned_ops: state.abandoned_ops,
            skipped_ops: state.skipped_ops,
        },
        operations: operation_reports(&stats, measured_s),
        resources: state.resources,
        thresholds: frame
            .thresholds
            .iter()
            .map(|threshold| {
                let breach = breaches.iter().find(|b| &b.threshold == threshold);
                ThresholdResult {
                    threshold: threshold.to_string(),
                    passed: !breach.is_some_and(|b| b.fails(frame.strict_thresholds)),
                    observed: breach.map(|b| match b.evaluable {
                        true => b.observed.clone(),
                        false => format!("not evaluable: {}", b.observed),
                    }),
                }
            })
            .collect(),
        stages: stage_reports(recorder, state.window_start, &state.step_verdicts),
        capacity: state.capacity,
        merged_from: Vec::new(),
    };
    (run, breaches)
}

/// The recorder's stages, with a capacity search's verdicts on them.
fn stage_reports(
    recorder: &Recorder,
    window_start: Option<Instant>,
    verdicts: &[StepVerdict],
) -> Vec<StageReport> {
    let stages = recorder.stages();
    let Some(origin) = window_start.or_else(|| stages.first().map(|s| s.measured_from)) else {
        return Vec::new();
    };
    stages
        .iter()
        .enumerate()
        .map(|(i, stage)| {
            let mut report = StageReport::from_stats(stage, origin);
            if let Some(verdict) = verdicts.get(i) {
                report.passed = Some(verdict.passed);
                report.breaches = verdict.breaches.clone();
            }
            report
        })
        .collect()
}

/// Writes a checkpoint of a run still going into `dir`; a failure is
/// reported once per run, not once per checkpoint.
pub fn write_checkpoint(
    frame: &RunFrame,
    recorder: &Recorder,
    resources: &Resources,
    dir: &Path,
    warned: &mut bool,
) {
    let (run, _) = assemble(frame, recorder, RunState::checkpoint(recorder, resources));
    if let Err(error) = run.write_json(dir) {
        if !*warned {
            *warned = true;
            eprintln!("\ropmon: cannot write a checkpoint: {error}");
        }
    }
}
