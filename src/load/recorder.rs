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
use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::classify::ErrorClass;
use crate::layer::{OpKind, OpObserver, Outcome};

/// Lowest and highest recordable values (µs): 1 µs to 1 h.
const LOWEST_US: u64 = 1;
const HIGHEST_US: u64 = 3_600_000_000;
/// Significant digits kept by the histograms.
const SIGNIFICANT_DIGITS: u8 = 3;

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
}

impl OpStats {
    fn new() -> Self {
        Self {
            attempts: 0,
            ok: 0,
            errors: BTreeMap::new(),
            response_us: new_histogram(),
            service_us: new_histogram(),
        }
    }

    /// Failed attempts as a fraction of all attempts.
    pub fn error_rate(&self) -> f64 {
        if self.attempts == 0 {
            0.0
        } else {
            (self.attempts - self.ok) as f64 / self.attempts as f64
        }
    }
}

fn new_histogram() -> Histogram<u64> {
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
#[derive(Debug, Default)]
pub struct Recorder {
    stats: Mutex<BTreeMap<OpKind, OpStats>>,
}

impl Recorder {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one finished operation.
    pub fn record(&self, outcome: &Outcome) {
        let mut stats = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        let entry = stats.entry(outcome.operation).or_insert_with(OpStats::new);
        entry.attempts += 1;
        match &outcome.error {
            None => {
                entry.ok += 1;
                entry
                    .response_us
                    .saturating_record(micros(outcome.response_time()));
                entry.service_us.saturating_record(micros(outcome.duration));
            }
            Some(failure) => *entry.errors.entry(failure.class).or_insert(0) += 1,
        }
    }

    /// A copy of the statistics so far.
    pub fn snapshot(&self) -> BTreeMap<OpKind, OpStats> {
        self.stats.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl OpObserver for Recorder {
    fn on_outcome(&self, outcome: &Outcome) {
        self.record(outcome);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::client::ApiVersion;
    use crate::layer::{OpFailure, Traffic};

    fn outcome(ms: u64, late_ms: u64, error: Option<ErrorClass>) -> Outcome {
        let started = Instant::now();
        Outcome {
            operation: OpKind::IdentityLookup,
            api: ApiVersion::V4,
            traffic: Traffic::Synthetic,
            started,
            intended_start: started.checked_sub(Duration::from_millis(late_ms)),
            duration: Duration::from_millis(ms),
            error: error.map(|class| OpFailure {
                class,
                error_type: class.as_str(),
            }),
            group_size: None,
            members_added: None,
        }
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
}
