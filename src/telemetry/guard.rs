//! The guard that owns the exporters and drains them, in order and within
//! a time bound.

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use super::otlp::Providers;
use super::push::Pusher;
use super::runtime::TelemetryRuntime;

/// Kept back from the data steps so the runtime can always be stopped.
const RUNTIME_STOP_RESERVE: Duration = Duration::from_millis(300);

/// Owns the telemetry exporters; returned by
/// [`TelemetryBuilder::init`](super::TelemetryBuilder::init).
///
/// Keep it alive for as long as telemetry should flow. [`shutdown`]
/// (or dropping it) exports what is still buffered, in order: traces, then
/// metrics, then a final Pushgateway push, then stops the telemetry thread.
/// Every step runs off the calling thread and is abandoned when its share of
/// the [shutdown timeout](super::TelemetryBuilder::shutdown_timeout) runs
/// out, so a dead or silent collector cannot hang the application, and it is
/// safe to call from inside any Tokio runtime.
///
/// [`shutdown`]: TelemetryGuard::shutdown
#[derive(Debug)]
#[must_use = "dropping the guard shuts telemetry down at once"]
pub struct TelemetryGuard {
    timeout: Duration,
    providers: Option<Providers>,
    pusher: Option<Pusher>,
    runtime: Option<TelemetryRuntime>,
}

impl TelemetryGuard {
    pub(super) fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            providers: None,
            pusher: None,
            runtime: None,
        }
    }

    /// A guard with nothing to do (no exporter configured).
    pub(super) fn noop() -> Self {
        Self::new(Duration::ZERO)
    }

    pub(super) fn set_runtime(&mut self, runtime: TelemetryRuntime) {
        self.runtime = Some(runtime);
    }

    pub(super) fn set_providers(&mut self, providers: Providers) {
        self.providers = Some(providers);
    }

    pub(super) fn set_pusher(&mut self, pusher: Pusher) {
        self.pusher = Some(pusher);
    }

    pub(super) fn providers(&self) -> Option<&Providers> {
        self.providers.as_ref()
    }

    /// Exports buffered spans and the current metrics now, and pushes once
    /// to the Pushgateway; waits at most the shutdown timeout in total. For
    /// tests and checkpoints; telemetry keeps flowing afterwards.
    pub fn flush(&self) {
        let mut budget = Budget::new(self.timeout, self.steps());
        if let Some(providers) = &self.providers {
            let tracer = providers.tracer.clone();
            report("flushing traces", budget.next(), move || {
                tracer.force_flush()
            });
            let meter = providers.meter.clone();
            report("flushing metrics", budget.next(), move || {
                meter.force_flush()
            });
        }
        if let Some(pusher) = &self.pusher {
            // The pusher logs its own failures.
            pusher.push_now(budget.next());
        }
    }

    /// Drains and stops everything: traces, then metrics, then the final
    /// push, then the telemetry thread. Returns within the shutdown timeout
    /// whatever the collectors do.
    pub fn shutdown(mut self) {
        self.shutdown_now();
    }

    fn steps(&self) -> u32 {
        let providers = if self.providers.is_some() { 2 } else { 0 };
        providers + u32::from(self.pusher.is_some())
    }

    fn shutdown_now(&mut self) {
        let started = Instant::now();
        let mut budget = Budget::new(self.timeout, self.steps());
        if let Some(providers) = self.providers.take() {
            let tracer = providers.tracer;
            let wait = budget.next();
            report("shutting down traces", wait, move || {
                // Flush first: shutdown alone may skip spans still queued
                // behind an export in flight.
                let _ = tracer.force_flush();
                tracer.shutdown_with_timeout(wait)
            });
            let meter = providers.meter;
            report("shutting down metrics", budget.next(), move || {
                meter.shutdown()
            });
        }
        if let Some(pusher) = self.pusher.take() {
            pusher.stop(budget.next());
        }
        if let Some(runtime) = self.runtime.take() {
            let left = self.timeout.saturating_sub(started.elapsed());
            if !runtime.stop(left.max(Duration::from_millis(1))) {
                tracing::warn!("the telemetry runtime did not stop in time; leaving it behind");
            }
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if self.providers.is_some() || self.pusher.is_some() || self.runtime.is_some() {
            self.shutdown_now();
        }
    }
}

/// Splits the total wait between steps: each gets an equal share of what
/// is left, so a step that finishes early leaves more to the next and a
/// hung step cannot starve the others.
struct Budget {
    deadline: Instant,
    steps_left: u32,
}

impl Budget {
    fn new(total: Duration, steps: u32) -> Self {
        let reserve = RUNTIME_STOP_RESERVE.min(total / 10);
        Self {
            deadline: Instant::now() + total.saturating_sub(reserve),
            steps_left: steps.max(1),
        }
    }

    fn next(&mut self) -> Duration {
        let left = self.deadline.saturating_duration_since(Instant::now());
        let share = left / self.steps_left;
        self.steps_left = self.steps_left.saturating_sub(1).max(1);
        share
    }
}

/// Runs a blocking SDK call on a helper thread and waits at most `wait`
/// for it; logs failures and timeouts. A call that overruns is abandoned
/// (its thread finishes, or dies with the process).
fn report<E: std::fmt::Debug + Send + 'static>(
    what: &'static str,
    wait: Duration,
    work: impl FnOnce() -> Result<(), E> + Send + 'static,
) {
    let (done, outcome) = mpsc::sync_channel(1);
    let spawned = thread::Builder::new()
        .name("opmon-telemetry-flush".into())
        .spawn(move || {
            let _ = done.send(work());
        });
    if let Err(error) = spawned {
        tracing::warn!("{what}: could not start a helper thread: {error}");
        return;
    }
    match outcome.recv_timeout(wait) {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::warn!("{what} failed: {error:?}"),
        Err(_) => tracing::warn!("{what} did not finish within {wait:?}; giving up on it"),
    }
}
