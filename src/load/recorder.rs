//! The benchmark's statistics, fed by the operation layer.
//!
//! [`Recorder`] is an [`OpObserver`]: every finished operation's
//! [`Outcome`] lands here, the same record that feeds the spans and
//! metrics, so a benchmark and production telemetry measure the same
//! thing. Per operation it keeps two HDR histograms — *response time*,
//! from the intended start (what a user would see when the load generator
//! falls behind schedule), and *service time*, from the actual start —
//! plus attempts, successes and failures by class.
//!
//! It also keeps, per operation and [phase](crate::layer::op::phase), a
//! histogram of the phase's successful durations, so a slow operation can
//! be taken apart in the run file as in the phase metrics.
//!
//! A staged run also gets the same figures per [stage](Recorder::begin_stage):
//! every measured operation lands in the whole run and in the stage its
//! start was scheduled in, so the stages' histograms add up to the run's.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::classify::ErrorClass;
use crate::client::OpKind;
use crate::layer::{OpObserver, Outcome, PhaseOutcome};

use super::Level;

/// Lowest and highest recordable values (µs): 1 µs to 1 h.
const LOWEST_US: u64 = 1;
const HIGHEST_US: u64 = 3_600_000_000;
/// Significant digits kept by the histograms.
const SIGNIFICANT_DIGITS: u8 = 3;
/// Significant digits kept by the phase histograms. A run keeps one per
/// operation and phase (about twenty in a mix of writes), and phases are
/// read against Prometheus buckets far coarser than 1%: at two digits each
/// takes about 26 KiB instead of about 190 KiB.
const PHASE_SIGNIFICANT_DIGITS: u8 = 2;
/// Seconds a timeline covers at most, so a run of any length keeps a
/// bounded record per operation (about 2.8 MB at this length). Operations
/// ending later still count in the histograms and totals; `opmon
/// monitor`, which runs for days, starts a new recorder every interval.
pub const TIMELINE_SECONDS: usize = 86_400;

/// What is known about one operation kind.
#[derive(Debug, Clone)]
pub struct OpStats {
    /// Operations attempted (finished, successfully or not).
    pub attempts: u64,
    /// Operations that succeeded.
    pub ok: u64,
    /// Failures by class.
    pub errors: BTreeMap<ErrorClass, u64>,
    /// Response times (µs) from the intended start, successes only.
    pub response_us: Histogram<u64>,
    /// Service times (µs) from the actual start, successes only.
    pub service_us: Histogram<u64>,
    /// The longest an operation started after its intended start: how far
    /// the load generator fell behind its schedule.
    pub max_lag: Duration,
    /// Per second of the measured window, by completion time; at most
    /// [`TIMELINE_SECONDS`] long.
    pub timeline: Vec<Second>,
    /// Per phase (`xmtp.phase`), for the whole run (a stage keeps none).
    pub phases: BTreeMap<&'static str, PhaseStats>,
}

/// What is known about one phase of one operation kind.
#[derive(Debug, Clone)]
pub struct PhaseStats {
    /// Phases that succeeded.
    pub ok: u64,
    /// Phases that failed.
    pub failed: u64,
    /// Durations (µs) of the successes, to two significant digits.
    pub duration_us: Histogram<u64>,
}

impl PhaseStats {
    fn new() -> Self {
        Self {
            ok: 0,
            failed: 0,
            duration_us: new_phase_histogram(),
        }
    }
}

/// One second of one operation's timeline.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Second {
    /// Successes that completed in this second.
    pub ok: u64,
    /// Failures that completed in this second.
    pub errors: u64,
    /// Sum of the successes' response times (µs), for the mean.
    pub response_sum_us: u64,
    /// The slowest success's response time (µs).
    pub response_max_us: u64,
}

impl OpStats {
    fn new() -> Self {
        Self {
            attempts: 0,
            ok: 0,
            errors: BTreeMap::new(),
            response_us: new_histogram(),
            service_us: new_histogram(),
            max_lag: Duration::ZERO,
            timeline: Vec::new(),
            phases: BTreeMap::new(),
        }
    }

    /// Counts one attempt (its timeline is kept by the caller).
    fn add(&mut self, attempt: &Attempt) {
        self.attempts += 1;
        self.max_lag = self.max_lag.max(attempt.lag);
        match attempt.error {
            None => {
                self.ok += 1;
                self.response_us.saturating_record(attempt.response_us);
                self.service_us.saturating_record(attempt.service_us);
            }
            Some(class) => *self.errors.entry(class).or_insert(0) += 1,
        }
    }

    /// Failed attempts as a fraction of all attempts.
    pub fn error_rate(&self) -> f64 {
        if self.attempts == 0 {
            0.0
        } else {
            self.attempts.saturating_sub(self.ok) as f64 / self.attempts as f64
        }
    }
}

/// One finished attempt, as the statistics count it.
struct Attempt {
    response_us: u64,
    service_us: u64,
    lag: Duration,
    error: Option<ErrorClass>,
}

/// One stage of a staged run and what was measured in it.
#[derive(Debug, Clone)]
pub struct StageStats {
    /// What the stage held the load at, or ramped it to.
    pub target: Level,
    /// When the stage began.
    pub begin: Instant,
    /// When its measured part began (after any warm-up).
    pub measured_from: Instant,
    /// When it was planned to end.
    pub end: Instant,
    /// When its last measured operation ended, if any did.
    pub last_done: Option<Instant>,
    /// Operations scheduled in its warm-up, left out.
    pub warmup: u64,
    /// Per operation, without timelines (the run's timeline covers them).
    pub stats: BTreeMap<OpKind, OpStats>,
}

/// An empty histogram with the recorder's range and precision.
pub fn new_histogram() -> Histogram<u64> {
    // Constant bounds that hdrhistogram accepts (a unit test creates them),
    // so this cannot fail at run time.
    Histogram::new_with_bounds(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)
        .expect("constant histogram bounds are valid")
}

/// An empty phase histogram: the recorder's range, two digits.
pub fn new_phase_histogram() -> Histogram<u64> {
    // As for `new_histogram`: constant bounds, checked by a unit test.
    Histogram::new_with_bounds(LOWEST_US, HIGHEST_US, PHASE_SIGNIFICANT_DIGITS)
        .expect("constant histogram bounds are valid")
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros())
        .unwrap_or(u64::MAX)
        .max(LOWEST_US)
}

/// Collects [`Outcome`]s into per-operation statistics.
///
/// With a [window](Self::start_window), operations scheduled before it
/// opened (the warm-up) are only counted, not measured. With a
/// [sample sink](Self::with_samples), every measured attempt is also
/// written as one CSV row.
#[derive(Default)]
pub struct Recorder {
    window: OnceLock<Instant>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    stats: BTreeMap<OpKind, OpStats>,
    /// Kept apart from `stats`: a phase ends before its operation, which
    /// must not show up with no attempts in the meantime.
    phases: BTreeMap<OpKind, BTreeMap<&'static str, PhaseStats>>,
    stages: Vec<StageStats>,
    warmup: u64,
    samples: Option<Box<dyn Write + Send>>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("window", &self.window.get())
            .finish_non_exhaustive()
    }
}

/// The header of the samples CSV, matching the rows [`Recorder`] writes.
pub const SAMPLES_HEADER: &str =
    "start_s,operation,outcome,error_class,response_us,service_us,lag_us";

impl Recorder {
    /// An empty recorder that measures everything.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also writes one CSV row per measured attempt to `sink`, starting
    /// with [`SAMPLES_HEADER`].
    pub fn with_samples(self, mut sink: Box<dyn Write + Send>) -> std::io::Result<Self> {
        writeln!(sink, "{SAMPLES_HEADER}")?;
        self.lock().samples = Some(sink);
        Ok(self)
    }

    /// Opens the measured window at `at`: operations meant to start
    /// earlier are warm-up. Only the first call counts.
    pub fn start_window(&self, at: Instant) {
        let _ = self.window.set(at);
    }

    /// Starts a stage: operations scheduled from `begin` on belong to it
    /// (until the next stage begins), those before `measured_from` as
    /// warm-up. Stages must begin in order; once there are stages, an
    /// operation scheduled before the first is warm-up.
    pub fn begin_stage(&self, begin: Instant, measured_from: Instant, end: Instant, target: Level) {
        self.lock().stages.push(StageStats {
            target,
            begin,
            measured_from,
            end,
            last_done: None,
            warmup: 0,
            stats: BTreeMap::new(),
        });
    }

    /// The stages so far, with their figures.
    pub fn stages(&self) -> Vec<StageStats> {
        self.lock().stages.clone()
    }

    /// The figures of the latest stage, without copying the others (a
    /// capacity search judges each step as it ends).
    pub fn last_stage_stats(&self) -> BTreeMap<OpKind, OpStats> {
        self.lock()
            .stages
            .last()
            .map(|stage| stage.stats.clone())
            .unwrap_or_default()
    }

    /// When the measured window opened, once it has.
    pub fn window_start(&self) -> Option<Instant> {
        self.window.get().copied()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds one finished operation.
    pub fn record(&self, outcome: &Outcome) {
        // The statistics are kept per XMTP operation; another client's
        // operations have no row here.
        let Some(kind) = OpKind::from_name(outcome.operation) else {
            return;
        };
        let scheduled = outcome.intended_start.unwrap_or(outcome.started);
        let window = self.window.get().copied();
        let mut state = self.lock();
        let stage = match state.place(window, scheduled) {
            Place::Measured(stage) => stage,
            Place::Warmup(stage) => {
                if let Some(i) = stage {
                    state.stages[i].warmup += 1;
                }
                state.warmup += 1;
                return;
            }
        };
        let origin = window.unwrap_or(scheduled);
        let attempt = Attempt {
            response_us: micros(outcome.response_time()),
            service_us: micros(outcome.duration),
            lag: outcome.started.saturating_duration_since(scheduled),
            error: outcome.error.as_ref().map(|failure| failure.class),
        };
        if let Some(i) = stage {
            let stage = &mut state.stages[i];
            let done = outcome.started + outcome.duration;
            stage.last_done = Some(stage.last_done.map_or(done, |last| last.max(done)));
            let stats = &mut stage.stats;
            stats.entry(kind).or_insert_with(OpStats::new).add(&attempt);
        }
        let entry = state.stats.entry(kind).or_insert_with(OpStats::new);
        entry.add(&attempt);
        let second = (outcome.started + outcome.duration)
            .saturating_duration_since(origin)
            .as_secs() as usize;
        if entry.timeline.len() <= second && second < TIMELINE_SECONDS {
            entry.timeline.resize(second + 1, Second::default());
        }
        if let Some(point) = entry.timeline.get_mut(second) {
            match attempt.error {
                None => {
                    point.ok += 1;
                    point.response_sum_us =
                        point.response_sum_us.saturating_add(attempt.response_us);
                    point.response_max_us = point.response_max_us.max(attempt.response_us);
                }
                Some(_) => point.errors += 1,
            }
        }
        if let Some(sink) = state.samples.as_mut() {
            let start = scheduled.saturating_duration_since(origin).as_secs_f64();
            let (result, class) = match &outcome.error {
                None => ("ok", ""),
                Some(failure) => ("error", failure.class.as_str()),
            };
            // A full disk must not stop the benchmark; the summary still
            // holds everything.
            let _ = writeln!(
                sink,
                "{start:.6},{},{result},{class},{},{},{}",
                outcome.operation,
                attempt.response_us,
                attempt.service_us,
                attempt.lag.as_micros(),
            );
        }
    }

    /// Adds one finished phase of a measured operation.
    pub fn record_phase(&self, phase: &PhaseOutcome) {
        let Some(kind) = OpKind::from_name(phase.operation) else {
            return;
        };
        let window = self.window.get().copied();
        let mut state = self.lock();
        if let Place::Warmup(_) = state.place(window, phase.scheduled) {
            return;
        }
        let stats = state
            .phases
            .entry(kind)
            .or_default()
            .entry(phase.phase)
            .or_insert_with(PhaseStats::new);
        if phase.ok {
            stats.ok += 1;
            stats.duration_us.saturating_record(micros(phase.duration));
        } else {
            stats.failed += 1;
        }
    }

    /// Operations counted as warm-up.
    pub fn warmup_ops(&self) -> u64 {
        self.lock().warmup
    }

    /// Runs `f` on the statistics without copying them (for a progress
    /// display).
    pub fn inspect<R>(&self, f: impl FnOnce(&BTreeMap<OpKind, OpStats>) -> R) -> R {
        f(&self.lock().stats)
    }

    /// A copy of the statistics so far, with the phases of the
    /// operations that finished.
    pub fn snapshot(&self) -> BTreeMap<OpKind, OpStats> {
        let state = self.lock();
        let mut stats = state.stats.clone();
        for (kind, op) in &mut stats {
            op.phases = state.phases.get(kind).cloned().unwrap_or_default();
        }
        stats
    }

    /// Flushes the samples sink, if any.
    pub fn flush_samples(&self) -> std::io::Result<()> {
        match self.lock().samples.as_mut() {
            Some(sink) => sink.flush(),
            None => Ok(()),
        }
    }
}

impl OpObserver for Recorder {
    fn on_outcome(&self, outcome: &Outcome) {
        self.record(outcome);
    }

    fn on_phase(&self, phase: &PhaseOutcome) {
        self.record_phase(phase);
    }
}

/// Where an operation belongs, by when it was scheduled.
enum Place {
    /// Left out, in the warm-up (of this stage, if any).
    Warmup(Option<usize>),
    /// Measured (in this stage, if any).
    Measured(Option<usize>),
}

impl State {
    /// Where an operation scheduled at `scheduled` belongs, the measured
    /// window having opened at `window`. Once there are stages, an
    /// operation before the first is warm-up.
    fn place(&self, window: Option<Instant>, scheduled: Instant) -> Place {
        let stages = &self.stages;
        match stages.iter().rposition(|s| s.begin <= scheduled) {
            _ if stages.is_empty() => match window {
                Some(opened) if scheduled < opened => Place::Warmup(None),
                _ => Place::Measured(None),
            },
            Some(i) if scheduled >= stages[i].measured_from => Place::Measured(Some(i)),
            Some(i) => Place::Warmup(Some(i)),
            None => Place::Warmup(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(ms: u64, late_ms: u64, error: Option<ErrorClass>) -> Outcome {
        Outcome::for_test(
            OpKind::IdentityLookup,
            Duration::from_millis(ms),
            Duration::from_millis(late_ms),
            error,
        )
    }

    #[test]
    fn separates_response_and_service_time_and_counts_errors() {
        let recorder = Recorder::new();
        for _ in 0..99 {
            recorder.record(&outcome(10, 0, None));
        }
        // One operation started 500 ms late: its service time is ordinary,
        // its response time is not.
        recorder.record(&outcome(10, 500, None));
        recorder.record(&outcome(5, 0, Some(ErrorClass::Unavailable)));
        recorder.record(&outcome(5, 0, Some(ErrorClass::Unavailable)));

        let stats = &recorder.snapshot()[&OpKind::IdentityLookup];
        assert_eq!(stats.attempts, 102);
        assert_eq!(stats.ok, 100);
        assert_eq!(stats.errors[&ErrorClass::Unavailable], 2);
        assert!((stats.error_rate() - 2.0 / 102.0).abs() < 1e-12);
        let within = |value: u64, expected: u64| value.abs_diff(expected) <= expected / 100;
        assert!(within(stats.service_us.max(), 10_000));
        assert!(within(stats.response_us.max(), 510_000));
        assert!(within(stats.response_us.value_at_quantile(0.5), 10_000));
        assert_eq!(stats.response_us.len(), 100, "failures are not timed");
    }

    /// A sink the test can read after the recorder has written to it.
    #[derive(Clone, Default)]
    struct Shared(std::sync::Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn leaves_out_the_warm_up_and_keeps_a_timeline_and_samples() {
        let sink = Shared::default();
        let recorder = Recorder::new()
            .with_samples(Box::new(sink.clone()))
            .unwrap();
        // Scheduled 50 ms ago, before the window opened 20 ms ago: warm-up.
        recorder.start_window(Instant::now() - Duration::from_millis(20));
        recorder.record(&outcome(5, 50, None));
        recorder.record(&outcome(5, 0, None));
        recorder.record(&outcome(5, 0, Some(ErrorClass::Timeout)));

        assert_eq!(recorder.warmup_ops(), 1);
        let stats = &recorder.snapshot()[&OpKind::IdentityLookup];
        assert_eq!((stats.attempts, stats.ok), (2, 1));
        assert_eq!(stats.timeline.len(), 1);
        assert_eq!((stats.timeline[0].ok, stats.timeline[0].errors), (1, 1));
        let samples = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let rows: Vec<&str> = samples.lines().collect();
        assert_eq!(rows[0], SAMPLES_HEADER);
        assert_eq!(rows.len(), 3, "{samples}");
        assert!(rows[1].contains(",identity.lookup,ok,,"), "{samples}");
        assert!(
            rows[2].contains(",identity.lookup,error,timeout,"),
            "{samples}"
        );
    }

    #[test]
    fn the_timeline_stops_growing_after_a_day_but_counting_goes_on() {
        let recorder = Recorder::new();
        recorder.start_window(Instant::now());
        let mut late = outcome(5, 0, None);
        late.started += Duration::from_secs(2 * TIMELINE_SECONDS as u64);
        late.intended_start = Some(late.started);
        recorder.record(&outcome(5, 0, None));
        recorder.record(&late);

        let stats = &recorder.snapshot()[&OpKind::IdentityLookup];
        assert_eq!((stats.attempts, stats.ok), (2, 2));
        assert_eq!(stats.response_us.len(), 2);
        assert_eq!(stats.timeline.len(), 1);
    }

    #[test]
    fn each_measured_operation_lands_in_its_stage_and_the_run() {
        let recorder = Recorder::new();
        let now = Instant::now();
        let ago = |ms| now - Duration::from_millis(ms);
        recorder.start_window(ago(900));
        // Stage 0 began 1 s ago with 100 ms of warm-up; stage 1 400 ms ago.
        recorder.begin_stage(ago(1000), ago(900), ago(400), Level::Rate(10.0));
        recorder.begin_stage(ago(400), ago(400), now, Level::Rate(20.0));
        let scheduled_at = |ago_ms: u64, ms: u64, error| {
            let mut o = outcome(ms, 0, error);
            o.intended_start = Some(ago(ago_ms));
            o.started = ago(ago_ms);
            o
        };
        recorder.record(&scheduled_at(1200, 5, None)); // before any stage
        recorder.record(&scheduled_at(950, 5, None)); // stage 0's warm-up
        for ms in [3, 4, 5] {
            recorder.record(&scheduled_at(800, ms, None));
        }
        recorder.record(&scheduled_at(600, 9, Some(ErrorClass::Timeout)));
        for ms in [7, 8] {
            recorder.record(&scheduled_at(300, ms, None));
        }

        assert_eq!(recorder.warmup_ops(), 2);
        let whole = &recorder.snapshot()[&OpKind::IdentityLookup];
        let stages = recorder.stages();
        assert_eq!(stages[0].warmup, 1);
        let first = &stages[0].stats[&OpKind::IdentityLookup];
        let second = &stages[1].stats[&OpKind::IdentityLookup];
        assert_eq!((first.attempts, first.ok, second.attempts), (4, 3, 2));
        assert_eq!(first.errors[&ErrorClass::Timeout], 1);
        let mut sum = first.response_us.clone();
        sum.add(&second.response_us).unwrap();
        assert_eq!(sum, whole.response_us);
        assert_eq!(whole.attempts, first.attempts + second.attempts);
        assert!(second.timeline.is_empty(), "stages keep no timeline");
    }

    #[test]
    fn keeps_the_phases_of_measured_operations_once_they_finish() {
        let recorder = Recorder::new();
        let now = Instant::now();
        recorder.start_window(now - Duration::from_millis(20));
        let phase = |scheduled_ms_ago: u64, ms: u64, ok: bool| PhaseOutcome {
            phase: "inbox.lookup",
            operation: OpKind::IdentityLookup.as_str(),
            traffic: crate::layer::Traffic::Synthetic,
            scheduled: now - Duration::from_millis(scheduled_ms_ago),
            duration: Duration::from_millis(ms),
            ok,
        };
        recorder.record_phase(&phase(50, 70, true)); // in the warm-up
        recorder.record_phase(&phase(10, 3, true));
        recorder.record_phase(&phase(10, 4, false));
        assert!(recorder.snapshot().is_empty(), "no operation has finished");

        recorder.record(&outcome(5, 0, None));
        let phases = &recorder.snapshot()[&OpKind::IdentityLookup].phases;
        let lookup = &phases["inbox.lookup"];
        assert_eq!((lookup.ok, lookup.failed, phases.len()), (1, 1, 1));
        assert_eq!(
            lookup.duration_us.max() / 100,
            30,
            "{}",
            lookup.duration_us.max()
        );
    }
}
