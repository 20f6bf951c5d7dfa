//! Fault injection: the embedded node can be slow, stall, and fail on
//! purpose, so the client's measurements and error classes can be
//! checked against known causes.
//!
//! Faults apply to every XMTP call (never to the gRPC health service) as a
//! tower layer in front of the handlers. Error injection is deterministic:
//! a rate of 1% fails exactly every hundredth call, so a test or benchmark
//! can predict its error counts. (When two codes fall due on the same
//! call, the second waits for the next one.)

use std::fmt;
use std::future::Future;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;
use tonic::Code;

use super::workers::{Workers, MAX_WORKERS};
use tower::{Layer, Service};

/// A latency distribution added before each call is handled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Latency {
    /// Always the same delay: `fixed:10ms`.
    Fixed(Duration),
    /// Uniform between two bounds: `uniform:5ms..15ms`.
    Uniform(Duration, Duration),
    /// Log-normal with the given median and 99th percentile:
    /// `lognormal:p50=20ms,p99=200ms`.
    LogNormal {
        /// Median delay.
        p50: Duration,
        /// 99th-percentile delay.
        p99: Duration,
    },
}

/// The z-score of the 99th percentile of a standard normal distribution.
const Z_99: f64 = 2.326_347_874_040_841;

impl Latency {
    fn sample(&self) -> Duration {
        use rand::Rng;
        let mut rng = rand::thread_rng();
        match *self {
            Self::Fixed(d) => d,
            Self::Uniform(low, high) if high > low => rng.gen_range(low..=high),
            Self::Uniform(low, _) => low,
            Self::LogNormal { p50, p99 } => {
                let mu = p50.as_secs_f64().max(1e-9).ln();
                let sigma = ((p99.as_secs_f64().max(1e-9).ln() - mu) / Z_99).max(0.0);
                // Box-Muller: one standard normal sample from two uniforms.
                let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
                let u2: f64 = rng.gen();
                let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                Duration::from_secs_f64((mu + sigma * z).exp().min(3600.0))
            }
        }
    }
}

/// Periodic stalls: every `every`, the node answers nothing for `duration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stall {
    /// How long each stall lasts.
    pub duration: Duration,
    /// Time between the starts of two stalls.
    pub every: Duration,
}

/// Calls answered with `code` at `rate` (0.0–1.0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InjectedError {
    /// The gRPC status code returned.
    pub code: Code,
    /// Fraction of calls that fail with it.
    pub rate: f64,
}

/// Every fault the node can inject. The default injects none.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// Delay added to every call.
    pub latency: Option<Latency>,
    /// Periodic stalls.
    pub stall: Option<Stall>,
    /// Error codes returned at given rates.
    pub errors: Vec<InjectedError>,
    /// How long chain-path writes (identity updates, commits) take to
    /// become readable.
    pub indexer_lag: Duration,
    /// Calls in their injected delay at once at most; the rest queue for a
    /// worker. With a fixed latency `L`, the node's capacity is exactly
    /// `workers / L` calls a second, a known target for capacity searches.
    /// Without an injected delay, workers limit nothing.
    pub workers: Option<NonZeroUsize>,
}

impl Faults {
    fn is_active(&self) -> bool {
        self.latency.is_some()
            || self.stall.is_some()
            || !self.errors.is_empty()
            || self.workers.is_some()
    }
}

/// Parses a number of workers: a whole number from 1 to [`MAX_WORKERS`].
pub fn parse_workers(text: &str) -> Result<NonZeroUsize, FaultSpecError> {
    text.trim()
        .parse()
        .ok()
        .filter(|n: &NonZeroUsize| n.get() <= MAX_WORKERS)
        .ok_or_else(|| {
            spec_error(format!(
                "`{text}` is not a number of workers; give a whole number from 1 to {MAX_WORKERS}"
            ))
        })
}

/// One whole failure, in the millionths that error debts are counted in.
const PER_CALL: u64 = 1_000_000;

/// Tower layer applying [`Faults`] to an http service.
#[derive(Clone)]
pub(crate) struct FaultLayer {
    plan: Arc<Planner>,
}

struct Planner {
    faults: Faults,
    /// When faults began to apply; stalls are phased from it. Empty while
    /// the faults are held.
    armed_at: OnceLock<Instant>,
    /// Per injected error, the failures owed so far in millionths. Integer
    /// arithmetic keeps "every hundredth call" exact over any run length.
    owed: Mutex<Vec<u64>>,
    /// The workers calls queue for.
    workers: Option<Arc<Workers>>,
}

/// What to do to one call.
struct Plan {
    /// The workers to queue for, through the delay.
    queue: Option<Arc<Workers>>,
    delay: Duration,
    error: Option<Code>,
}

impl FaultLayer {
    /// Faults that apply from now on, or, when `held`, only once
    /// [`arm`](Self::arm) is called.
    pub(crate) fn new(faults: Faults, held: bool) -> Self {
        let owed = Mutex::new(vec![0; faults.errors.len()]);
        let workers = faults.workers.map(|n| Arc::new(Workers::new(n.get())));
        let armed_at = OnceLock::new();
        if !held {
            let _ = armed_at.set(Instant::now());
        }
        Self {
            plan: Arc::new(Planner {
                faults,
                armed_at,
                owed,
                workers,
            }),
        }
    }

    /// Lets held faults apply from now on (no effect if they already do).
    pub(crate) fn arm(&self) {
        let _ = self.plan.armed_at.set(Instant::now());
    }

    /// When the stall the node is in now ends, if it is in one: streams
    /// already open hold their deliveries until then.
    pub(crate) fn stalled_until(&self) -> Option<Instant> {
        let remaining = self.plan.stall_remaining();
        (!remaining.is_zero()).then(|| Instant::now() + remaining)
    }
}

impl Planner {
    fn plan(&self, path: &str) -> Plan {
        let armed_at = self.armed_at.get();
        if armed_at.is_none()
            || !self.faults.is_active()
            || path.starts_with("/grpc.health.v1.Health/")
        {
            return Plan {
                queue: None,
                delay: Duration::ZERO,
                error: None,
            };
        }
        let mut delay = self.faults.latency.map(|l| l.sample()).unwrap_or_default();
        delay += self.stall_remaining();
        Plan {
            queue: self.workers.clone(),
            delay,
            error: self.next_error(),
        }
    }

    /// How much of the current stall is left (zero outside stalls and
    /// while faults are held).
    fn stall_remaining(&self) -> Duration {
        let (Some(stall), Some(armed_at)) = (self.faults.stall, self.armed_at.get()) else {
            return Duration::ZERO;
        };
        let every = stall.every.as_nanos().max(1);
        let phase = Duration::from_nanos((armed_at.elapsed().as_nanos() % every) as u64);
        stall.duration.saturating_sub(phase)
    }

    fn next_error(&self) -> Option<Code> {
        let mut owed = self.owed.lock().unwrap_or_else(|p| p.into_inner());
        let mut chosen = None;
        for (debt, injected) in owed.iter_mut().zip(&self.faults.errors) {
            *debt += (injected.rate * PER_CALL as f64).round() as u64;
            if chosen.is_none() && *debt >= PER_CALL {
                *debt -= PER_CALL;
                chosen = Some(injected.code);
            }
        }
        chosen
    }
}

impl<S> Layer<S> for FaultLayer {
    type Service = FaultService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        FaultService {
            inner,
            plan: self.plan.clone(),
        }
    }
}

/// The service made by [`FaultLayer`].
#[derive(Clone)]
pub(crate) struct FaultService<S> {
    inner: S,
    plan: Arc<Planner>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B> Service<http::Request<B>> for FaultService<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let plan = self.plan.plan(request.uri().path());
        // Take the service that was polled ready and leave a clone behind.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            match plan.queue {
                Some(workers) => {
                    let done = workers.book(plan.delay);
                    tokio::time::sleep_until(done.into()).await;
                }
                None if !plan.delay.is_zero() => tokio::time::sleep(plan.delay).await,
                None => {}
            }
            if let Some(code) = plan.error {
                return Ok(tonic::Status::new(code, "injected fault").into_http());
            }
            inner.call(request).await
        })
    }
}

/// A fault flag that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FaultSpecError(String);

fn spec_error(message: impl Into<String>) -> FaultSpecError {
    FaultSpecError(message.into())
}

/// Parses a duration such as `500ms`, `2s` or `1m`.
pub fn parse_duration(text: &str) -> Result<Duration, FaultSpecError> {
    humantime::parse_duration(text.trim())
        .map_err(|e| spec_error(format!("`{text}` is not a duration ({e}); try 500ms or 2s")))
}

impl FromStr for Latency {
    type Err = FaultSpecError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let (kind, args) = spec.split_once(':').ok_or_else(|| {
            spec_error(format!(
                "latency `{spec}` needs a kind: fixed:10ms, uniform:5ms..15ms or lognormal:p50=20ms,p99=200ms"
            ))
        })?;
        match kind {
            "fixed" => Ok(Self::Fixed(parse_duration(args)?)),
            "uniform" => {
                let (low, high) = args.split_once("..").ok_or_else(|| {
                    spec_error(format!("uniform latency `{args}` must read LOW..HIGH"))
                })?;
                let (low, high) = (parse_duration(low)?, parse_duration(high)?);
                if low > high {
                    return Err(spec_error(format!(
                        "uniform latency `{args}` has LOW above HIGH"
                    )));
                }
                Ok(Self::Uniform(low, high))
            }
            "lognormal" => {
                let mut p50 = None;
                let mut p99 = None;
                for part in args.split(',') {
                    match part.split_once('=') {
                        Some(("p50", value)) => p50 = Some(parse_duration(value)?),
                        Some(("p99", value)) => p99 = Some(parse_duration(value)?),
                        _ => {
                            return Err(spec_error(format!(
                                "lognormal latency takes p50=… and p99=…, not `{part}`"
                            )))
                        }
                    }
                }
                match (p50, p99) {
                    (Some(p50), Some(p99)) if p99 >= p50 => Ok(Self::LogNormal { p50, p99 }),
                    (Some(_), Some(_)) => Err(spec_error("lognormal latency needs p99 ≥ p50")),
                    _ => Err(spec_error("lognormal latency needs both p50= and p99=")),
                }
            }
            other => Err(spec_error(format!(
                "unknown latency kind `{other}`; use fixed, uniform or lognormal"
            ))),
        }
    }
}

impl FromStr for Stall {
    type Err = FaultSpecError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let (duration, every) = spec.split_once('/').ok_or_else(|| {
            spec_error(format!(
                "stall `{spec}` must read DURATION/EVERY, e.g. 500ms/5s"
            ))
        })?;
        let (duration, every) = (parse_duration(duration)?, parse_duration(every)?);
        if every.is_zero() || duration >= every {
            return Err(spec_error(format!(
                "stall `{spec}` must last less than its period"
            )));
        }
        Ok(Self { duration, every })
    }
}

/// Parses `unavailable=1%,resource_exhausted=0.5%` into injected errors.
pub fn parse_errors(spec: &str) -> Result<Vec<InjectedError>, FaultSpecError> {
    spec.split(',')
        .map(|part| {
            let (name, rate) = part.split_once('=').ok_or_else(|| {
                spec_error(format!(
                    "error `{part}` must read CODE=RATE, e.g. unavailable=1%"
                ))
            })?;
            let code = code_from_name(name.trim())?;
            let rate = parse_rate(rate.trim())?;
            Ok(InjectedError { code, rate })
        })
        .collect()
}

fn parse_rate(text: &str) -> Result<f64, FaultSpecError> {
    let (number, scale) = match text.strip_suffix('%') {
        Some(number) => (number, 100.0),
        None => (text, 1.0),
    };
    let rate = number
        .parse::<f64>()
        .map(|value| value / scale)
        .map_err(|_| spec_error(format!("`{text}` is not a rate; try 1% or 0.01")))?;
    if !(0.0..=1.0).contains(&rate) {
        return Err(spec_error(format!("rate `{text}` is outside 0%..100%")));
    }
    Ok(rate)
}

fn code_from_name(name: &str) -> Result<Code, FaultSpecError> {
    const CODES: [(&str, Code); 16] = [
        ("cancelled", Code::Cancelled),
        ("unknown", Code::Unknown),
        ("invalid_argument", Code::InvalidArgument),
        ("deadline_exceeded", Code::DeadlineExceeded),
        ("not_found", Code::NotFound),
        ("already_exists", Code::AlreadyExists),
        ("permission_denied", Code::PermissionDenied),
        ("resource_exhausted", Code::ResourceExhausted),
        ("failed_precondition", Code::FailedPrecondition),
        ("aborted", Code::Aborted),
        ("out_of_range", Code::OutOfRange),
        ("unimplemented", Code::Unimplemented),
        ("internal", Code::Internal),
        ("unavailable", Code::Unavailable),
        ("data_loss", Code::DataLoss),
        ("unauthenticated", Code::Unauthenticated),
    ];
    let lower = name.to_ascii_lowercase();
    CODES
        .iter()
        .find(|(known, _)| *known == lower)
        .map(|(_, code)| *code)
        .ok_or_else(|| {
            spec_error(format!(
                "unknown gRPC code `{name}`; use a name such as unavailable or resource_exhausted"
            ))
        })
}

impl fmt::Display for Latency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = |d: &Duration| humantime::format_duration(*d).to_string();
        match self {
            Self::Fixed(x) => write!(f, "fixed:{}", d(x)),
            Self::Uniform(a, b) => write!(f, "uniform:{}..{}", d(a), d(b)),
            Self::LogNormal { p50, p99 } => write!(f, "lognormal:p50={},p99={}", d(p50), d(p99)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_specs() {
        assert_eq!(
            "fixed:10ms".parse::<Latency>(),
            Ok(Latency::Fixed(Duration::from_millis(10)))
        );
        assert_eq!(
            "uniform:5ms..15ms".parse::<Latency>(),
            Ok(Latency::Uniform(
                Duration::from_millis(5),
                Duration::from_millis(15)
            ))
        );
        assert!(matches!(
            "lognormal:p50=20ms,p99=200ms".parse::<Latency>(),
            Ok(Latency::LogNormal { .. })
        ));
        assert_eq!(
            "500ms/5s".parse::<Stall>(),
            Ok(Stall {
                duration: Duration::from_millis(500),
                every: Duration::from_secs(5)
            })
        );
        let errors = parse_errors("unavailable=1%,resource_exhausted=0.5%").unwrap();
        assert_eq!(errors[0].code, Code::Unavailable);
        assert!((errors[1].rate - 0.005).abs() < 1e-12);
        assert!("fixed:ten".parse::<Latency>().is_err());
        assert!(parse_errors("bogus=1%").is_err());
        assert!(parse_errors("unavailable=150%").is_err());
        assert!("5s/500ms".parse::<Stall>().is_err());
    }

    fn count_errors(spec: &str, calls: usize) -> Vec<(Code, usize)> {
        let layer = FaultLayer::new(
            Faults {
                errors: parse_errors(spec).unwrap(),
                ..Faults::default()
            },
            false,
        );
        let mut counts: Vec<(Code, usize)> = Vec::new();
        for _ in 0..calls {
            if let Some(code) = layer.plan.plan("/x.Y/Z").error {
                match counts.iter_mut().find(|(c, _)| *c == code) {
                    Some((_, n)) => *n += 1,
                    None => counts.push((code, 1)),
                }
            }
        }
        counts
    }

    #[test]
    fn error_injection_is_exact() {
        assert_eq!(
            count_errors("unavailable=1%", 1000),
            [(Code::Unavailable, 10)]
        );
        assert_eq!(count_errors("internal=12.5%", 80), [(Code::Internal, 10)]);
        // Two codes due on the same call: one waits a call.
        assert_eq!(
            count_errors("unavailable=1%,internal=10%", 1001),
            [(Code::Internal, 100), (Code::Unavailable, 10)]
        );
        assert!(count_errors("unavailable=0%", 1000).is_empty());
        // Health checks are never faulted.
        let layer = FaultLayer::new(
            Faults {
                errors: parse_errors("unavailable=100%").unwrap(),
                ..Faults::default()
            },
            false,
        );
        assert!(layer
            .plan
            .plan("/grpc.health.v1.Health/Check")
            .error
            .is_none());
    }

    #[test]
    fn held_faults_apply_only_once_armed() {
        let layer = FaultLayer::new(
            Faults {
                errors: parse_errors("unavailable=100%").unwrap(),
                ..Faults::default()
            },
            true,
        );
        assert!(layer.plan.plan("/x.Y/Z").error.is_none());
        layer.arm();
        assert_eq!(layer.plan.plan("/x.Y/Z").error, Some(Code::Unavailable));
    }
}
