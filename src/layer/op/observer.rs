//! Observers: whoever wants each finished operation's [`Outcome`].

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::classify::ErrorClass;

use super::Traffic;

/// One finished operation, as every observer sees it. The same record
/// feeds the span, the metrics, and a benchmark's statistics.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Outcome {
    /// Which operation: its [`name`](super::Operation::name).
    pub operation: &'static str,
    /// Which API the operations go to (`xmtp.api`), as given to the layer.
    pub api: &'static str,
    /// Real or synthetic traffic.
    pub traffic: Traffic,
    /// When the operation actually started.
    pub started: Instant,
    /// When it was meant to start, if the caller scheduled it (see
    /// [`with_intended_start`](super::with_intended_start)).
    pub intended_start: Option<Instant>,
    /// From actual start to end (service time).
    pub duration: Duration,
    /// Why it failed, if it did.
    pub error: Option<OpFailure>,
    /// The group's size after the operation, for group operations.
    pub group_size: Option<usize>,
    /// Inboxes added, for group operations.
    pub members_added: Option<usize>,
}

impl Outcome {
    /// Whether the operation succeeded.
    pub fn is_ok(&self) -> bool {
        self.error.is_none()
    }

    /// From the intended start (or the actual one) to the end: the
    /// response time a user would see, with scheduling delays included.
    pub fn response_time(&self) -> Duration {
        match self.intended_start {
            Some(intended) => self.started.saturating_duration_since(intended) + self.duration,
            None => self.duration,
        }
    }
}

/// How an operation failed: a class and a short error type, both
/// low-cardinality. The message is deliberately absent: it can name
/// inboxes or addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpFailure {
    /// The class (`xmtp.error.class`).
    pub class: ErrorClass,
    /// The error type (`error.type`).
    pub error_type: &'static str,
}

/// One finished [phase](super::phase) of an operation.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PhaseOutcome {
    /// The phase (`xmtp.phase`).
    pub phase: &'static str,
    /// The operation it ran in.
    pub operation: &'static str,
    /// Real or synthetic traffic.
    pub traffic: Traffic,
    /// When the operation was scheduled to start (its intended start, or
    /// when the phase began if nobody scheduled it): what decides whether
    /// the phase belongs to a benchmark's warm-up.
    pub scheduled: Instant,
    /// How long the phase took.
    pub duration: Duration,
    /// Whether it succeeded.
    pub ok: bool,
}

/// Receives every finished operation.
pub trait OpObserver: Send + Sync + 'static {
    /// Called once per operation, when it ends (or is dropped).
    fn on_outcome(&self, outcome: &Outcome);

    /// Called once per phase that ends inside one of the layer's
    /// operations, before the operation's own outcome. Most observers
    /// only want whole operations, hence the empty default.
    fn on_phase(&self, phase: &PhaseOutcome) {
        let _ = phase;
    }
}

impl<F> OpObserver for F
where
    F: Fn(&Outcome) + Send + Sync + 'static,
{
    fn on_outcome(&self, outcome: &Outcome) {
        self(outcome)
    }
}

/// Tells every observer, with `tell`, about the operation or phase
/// `about`. An observer's panic must not take the operation (or, when its
/// future is dropped during unwinding, the process) with it.
pub(crate) fn tell_all(
    observers: &[Arc<dyn OpObserver>],
    about: &'static str,
    tell: impl Fn(&dyn OpObserver),
) {
    for observer in observers {
        if catch_unwind(AssertUnwindSafe(|| tell(observer.as_ref()))).is_err() {
            tracing::warn!(about, "an operation observer panicked");
        }
    }
}

// Used by the load generator's and reports' unit tests.
#[cfg(all(test, feature = "bench"))]
impl Outcome {
    /// An outcome for unit tests: a synthetic `operation` that started now,
    /// `late` after its intended start, and took `duration`.
    pub(crate) fn for_test(
        operation: impl Into<&'static str>,
        duration: Duration,
        late: Duration,
        error: Option<ErrorClass>,
    ) -> Self {
        let started = Instant::now();
        Self {
            operation: operation.into(),
            api: "v4",
            traffic: Traffic::Synthetic,
            started,
            intended_start: started.checked_sub(late),
            duration,
            error: error.map(|class| OpFailure {
                class,
                error_type: class.as_str(),
            }),
            group_size: None,
            members_added: None,
        }
    }
}
