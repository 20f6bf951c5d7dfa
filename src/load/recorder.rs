//! The benchmark's statistics, fed by the operation layer.
//!
//! [`Recorder`] is an [`OpObserver`]: every finished operation's
//! [`Outcome`] lands here, the same record that feeds the spans and
//! metrics, so a benchmark and production telemetry measure the same
//! thing. Per operation it keeps two HDR histograms — *response time*,
//! from the intended start (what a user would see when the load generator
//! falls behind schedule), and *service time*, from the actual start —
//! plus attempts, successes and failures by class.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::classify::ErrorClass;
use crate::client::OpKind;
use crate::layer::{OpObserver, Outcome};

/// Lowest and highest recordable values (µs): 1 µs to 1 h.
const LOWEST_US: u64 = 1;
const HIGHEST_US: u64 = 3_600_000_000;
/// Significant digits kept by the histograms.
const SIGNIFICANT_DIGITS: u8 = 3;
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

/// An empty histogram with the recorder's range and precision.
pub fn new_histogram() -> Histogram<u64> {
    // Constant bounds that hdrhistogram accepts (a unit test creates them),
    // so this cannot fail at run time.
    Histogram::new_with_bounds(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)
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
        if window.is_some_and(|opened| scheduled < opened) {
            state.warmup += 1;
            return;
        }
        let origin = window.unwrap_or(scheduled);
        let lag = outcome.started.saturating_duration_since(scheduled);
        let response = micros(outcome.response_time());
        let service = micros(outcome.duration);
        let entry = state.stats.entry(kind).or_insert_with(OpStats::new);
        entry.attempts += 1;
        entry.max_lag = entry.max_lag.max(lag);
        let second = (outcome.started + outcome.duration)
            .saturating_duration_since(origin)
            .as_secs() as usize;
        if entry.timeline.len() <= second && second < TIMELINE_SECONDS {
            entry.timeline.resize(second + 1, Second::default());
        }
        let mut spare = Second::default();
        let point = entry.timeline.get_mut(second).unwrap_or(&mut spare);
        match &outcome.error {
            None => {
                point.ok += 1;
                point.response_sum_us = point.response_sum_us.saturating_add(response);
                point.response_max_us = point.response_max_us.max(response);
                entry.ok += 1;
                entry.response_us.saturating_record(response);
                entry.service_us.saturating_record(service);
            }
            Some(failure) => {
                point.errors += 1;
                *entry.errors.entry(failure.class).or_insert(0) += 1;
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
                "{start:.6},{},{result},{class},{response},{service},{}",
                outcome.operation,
                lag.as_micros(),
            );
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

    /// A copy of the statistics so far.
    pub fn snapshot(&self) -> BTreeMap<OpKind, OpStats> {
        self.lock().stats.clone()
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
}
