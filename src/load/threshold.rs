//! Pass/fail rules for a benchmark run, in the spirit of k6 thresholds.
//!
//! A CI job states what "good enough" means as short strings —
//! `group.add_members:p99<800ms`, `identity.create:error_rate<1%`, or
//! `--max-error-rate 1%` for all operations together — and the run fails
//! when any of them is not met. [`Threshold`] parses and prints that
//! form; [`evaluate`] checks a set of thresholds against the
//! [`Recorder`](super::Recorder)'s statistics and returns the
//! [`Breach`]es.
//!
//! Two choices keep a gate honest. Limits are strict: the observed value
//! must be *below* the limit. And a threshold about operations that never
//! ran, or never succeeded, is breached rather than passed, because a
//! gate that passes when nothing was measured hides broken runs.
//!
//! A percentile needs data beyond it: p99 of 200 samples is one of the
//! two largest. A percentile threshold on a run with fewer samples than
//! [`samples_needed`](crate::report::compare::evidence::samples_needed)
//! is *not evaluable*: reported with a warning, and a failure only when
//! the caller asks for strict thresholds.
//!
//! Percentiles are read from the *response-time* histogram (from the
//! intended start), the latency a user would see. They come from an HDR
//! histogram with three significant digits, so a reported value may be up
//! to 0.1% above the true one.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::client::OpKind;

use super::OpStats;
use crate::report::compare::evidence::samples_needed;

/// The accepted forms, for error messages.
const FORMS: &str = "`OP:pNN<DURATION` or `OP:error_rate<PCT`, \
                     e.g. `group.add_members:p99<800ms` or `identity.create:error_rate<1%`";

/// How all operations together are named when printed.
const MAX_ERROR_RATE: &str = "max_error_rate";

/// One pass/fail rule.
#[derive(Debug, Clone, PartialEq)]
pub enum Threshold {
    /// A response-time percentile of one operation must stay below a limit.
    Percentile {
        /// The operation.
        op: OpKind,
        /// The quantile, e.g. 0.99; 1.0 means the maximum.
        quantile: f64,
        /// The percentile as written, e.g. `p99` or `p99.9`.
        label: String,
        /// The limit.
        below: Duration,
    },
    /// The share of failed attempts of one operation must stay below a
    /// limit.
    ErrorRate {
        /// The operation.
        op: OpKind,
        /// The limit as a fraction (0.01 for 1%).
        below: f64,
    },
    /// The share of failed attempts over all operations must stay below a
    /// limit.
    MaxErrorRate {
        /// The limit as a fraction (0.01 for 1%).
        below: f64,
    },
}

/// Why a threshold could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThresholdError {
    /// The text does not have the shape of a threshold.
    #[error("threshold `{input}`: {problem} (expected {forms})", forms = FORMS)]
    Form {
        /// The text as given.
        input: String,
        /// What is wrong with its shape.
        problem: &'static str,
    },
    /// The operation is not one this crate knows.
    #[error("threshold `{input}`: unknown operation `{op}` (expected one of {known})", known = known_operations())]
    UnknownOperation {
        /// The text as given.
        input: String,
        /// The operation as written.
        op: String,
    },
    /// What is measured is neither a percentile nor `error_rate`.
    #[error(
        "threshold `{input}`: unknown measure `{measure}` (expected a percentile such as p99 or p99.9, or error_rate)"
    )]
    UnknownMeasure {
        /// The text as given.
        input: String,
        /// The measure as written.
        measure: String,
    },
    /// The percentile is not a number in (0, 100].
    #[error(
        "threshold `{input}`: bad percentile `{label}` (expected p followed by a number above 0 and at most 100, such as p50, p99, p99.9 or p100 for the maximum)"
    )]
    Percentile {
        /// The text as given.
        input: String,
        /// The percentile as written.
        label: String,
    },
    /// The limit of a percentile is not a duration.
    #[error(
        "threshold `{input}`: bad duration `{text}`: {reason} (expected a duration such as 800ms, 1.5s or 2s)"
    )]
    Duration {
        /// The text as given.
        input: String,
        /// The duration as written.
        text: String,
        /// Why `humantime` refused it.
        reason: String,
    },
    /// The limit of an error rate is not a percentage.
    #[error(
        "threshold `{input}`: bad error rate `{text}` (expected a percentage from 0% to 100% with its % sign, such as 1% or 0.5%)"
    )]
    Percent {
        /// The text as given.
        input: String,
        /// The percentage as written.
        text: String,
    },
    /// The value of `--max-error-rate` is not a percentage.
    #[error(
        "--max-error-rate `{text}`: expected a percentage from 0% to 100% with its % sign, such as 1% or 0.5%"
    )]
    MaxErrorRate {
        /// The value as given.
        text: String,
    },
}

fn known_operations() -> String {
    OpKind::ALL.map(OpKind::as_str).join(", ")
}

impl FromStr for Threshold {
    type Err = ThresholdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let input = text.trim();
        let form = |problem| ThresholdError::Form {
            input: input.to_owned(),
            problem,
        };
        let (subject, limit) = input.split_once('<').ok_or_else(|| form("missing `<`"))?;
        let (subject, limit) = (subject.trim(), limit.trim());
        if limit.starts_with('=') {
            return Err(form("`<=` is not supported, limits are strict `<`"));
        }
        let bad_percent = || ThresholdError::Percent {
            input: input.to_owned(),
            text: limit.to_owned(),
        };
        // The printed form of `--max-error-rate`, so that it reads back.
        if subject == MAX_ERROR_RATE {
            let below = parse_percent(limit).ok_or_else(bad_percent)?;
            return Ok(Self::MaxErrorRate { below });
        }

        let (op_text, measure) = subject
            .split_once(':')
            .ok_or_else(|| form("missing `:` between operation and measure"))?;
        let (op_text, measure) = (op_text.trim(), measure.trim());
        let op = OpKind::from_name(op_text).ok_or_else(|| ThresholdError::UnknownOperation {
            input: input.to_owned(),
            op: op_text.to_owned(),
        })?;

        if measure == "error_rate" {
            let below = parse_percent(limit).ok_or_else(bad_percent)?;
            return Ok(Self::ErrorRate { op, below });
        }
        let Some(number) = measure.strip_prefix('p') else {
            return Err(ThresholdError::UnknownMeasure {
                input: input.to_owned(),
                measure: measure.to_owned(),
            });
        };
        let quantile = hundredths(number)
            .filter(|q| *q > 0.0 && *q <= 1.0)
            .ok_or_else(|| ThresholdError::Percentile {
                input: input.to_owned(),
                label: measure.to_owned(),
            })?;
        let below = humantime::parse_duration(limit).map_err(|e| ThresholdError::Duration {
            input: input.to_owned(),
            text: limit.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(Self::Percentile {
            op,
            quantile,
            label: measure.to_owned(),
            below,
        })
    }
}

/// Parses the value of `--max-error-rate`, e.g. `1%`.
pub fn parse_max_error_rate(text: &str) -> Result<Threshold, ThresholdError> {
    let below = parse_percent(text.trim()).ok_or_else(|| ThresholdError::MaxErrorRate {
        text: text.trim().to_owned(),
    })?;
    Ok(Threshold::MaxErrorRate { below })
}

/// `1%` or `0.5%` as a fraction in [0, 1].
fn parse_percent(text: &str) -> Option<f64> {
    let number = text.strip_suffix('%')?.trim_end();
    hundredths(number).filter(|f| (0.0..=1.0).contains(f))
}

/// A plain decimal number divided by 100, e.g. `99.9` → 0.999.
///
/// Only digits and one point are accepted (no sign, exponent, `inf` or
/// `NaN`, which `f64::from_str` would take). Parsing `99.9e-2` rather
/// than dividing 99.9 by 100 gives the closest double to 0.999: the
/// division lands one step above, and the histogram's `ceil(q × count)`
/// then picks the next value up when q × count is a whole number.
fn hundredths(number: &str) -> Option<f64> {
    let digits = number.chars().filter(char::is_ascii_digit).count();
    let points = number.chars().filter(|c| *c == '.').count();
    if digits == 0 || points > 1 || digits + points != number.chars().count() {
        return None;
    }
    format!("{number}e-2").parse().ok()
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Percentile {
                op, label, below, ..
            } => write!(f, "{op}:{label}<{}", humantime::format_duration(*below)),
            Self::ErrorRate { op, below } => write!(f, "{op}:error_rate<{}%", Percent(*below)),
            Self::MaxErrorRate { below } => write!(f, "{MAX_ERROR_RATE}<{}%", Percent(*below)),
        }
    }
}

impl serde::Serialize for Threshold {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Threshold {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A fraction printed as a percentage without float noise: 0.003 prints
/// as `0.3`, not `0.30000000000000004`.
struct Percent(f64);

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = format!("{:.9}", self.0 * 100.0);
        let text = text.trim_end_matches('0').trim_end_matches('.');
        f.write_str(text)
    }
}

/// A threshold that was not met, and what was observed instead.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Breach {
    /// The threshold.
    pub threshold: Threshold,
    /// What was measured, for people: `p99 = 912.3ms`,
    /// `error rate = 2.40% (12 of 500 failed)`, `no operations ran`,
    /// `no successful operations`.
    pub observed: String,
    /// False when the run had too few samples to tell: the threshold was
    /// not checked rather than broken.
    #[serde(default = "evaluable")]
    pub evaluable: bool,
}

fn evaluable() -> bool {
    true
}

impl Breach {
    /// Whether the breach fails the run: always when the threshold was
    /// broken; when it could not be checked, only if `strict`.
    pub fn fails(&self, strict: bool) -> bool {
        self.evaluable || strict
    }
}

impl fmt::Display for Breach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.evaluable {
            write!(f, "{} breached: {}", self.threshold, self.observed)
        } else {
            write!(f, "{} not evaluable: {}", self.threshold, self.observed)
        }
    }
}

const NO_OPERATIONS: &str = "no operations ran";
const NO_SUCCESSES: &str = "no successful operations";

/// The thresholds that `stats` do not meet or cannot tell, in the order
/// given. An empty result means the run passed.
pub fn evaluate(thresholds: &[Threshold], stats: &BTreeMap<OpKind, OpStats>) -> Vec<Breach> {
    breaches(thresholds, stats, true)
}

/// As [`evaluate`], but a percentile is read from however many samples
/// there are, so every threshold is checked. A capacity search's steps
/// are short, and its low-rate steps seldom reach the 1,000 samples a p99
/// needs; they are also far from the limit, where a less certain
/// percentile does not change the verdict.
pub fn evaluate_any_samples(
    thresholds: &[Threshold],
    stats: &BTreeMap<OpKind, OpStats>,
) -> Vec<Breach> {
    breaches(thresholds, stats, false)
}

fn breaches(
    thresholds: &[Threshold],
    stats: &BTreeMap<OpKind, OpStats>,
    enough_samples: bool,
) -> Vec<Breach> {
    thresholds
        .iter()
        .filter_map(|threshold| {
            breach(threshold, stats, enough_samples).map(|outcome| {
                let (observed, evaluable) = match outcome {
                    Outcome::Breached(observed) => (observed, true),
                    Outcome::NotEvaluable(why) => (why, false),
                };
                Breach {
                    threshold: threshold.clone(),
                    observed,
                    evaluable,
                }
            })
        })
        .collect()
}

/// Why a threshold did not pass.
enum Outcome {
    Breached(String),
    NotEvaluable(String),
}

impl From<String> for Outcome {
    fn from(observed: String) -> Self {
        Self::Breached(observed)
    }
}

/// What was observed, if `threshold` is breached or cannot be checked.
fn breach(
    threshold: &Threshold,
    stats: &BTreeMap<OpKind, OpStats>,
    enough_samples: bool,
) -> Option<Outcome> {
    match threshold {
        Threshold::Percentile {
            op,
            quantile,
            label,
            below,
        } => {
            let Some(op_stats) = stats.get(op).filter(|s| s.attempts > 0) else {
                return Some(NO_OPERATIONS.to_owned().into());
            };
            // Only successes are timed; an empty histogram has no
            // percentiles to compare.
            if op_stats.ok == 0 || op_stats.response_us.is_empty() {
                return Some(NO_SUCCESSES.to_owned().into());
            }
            let histogram = &op_stats.response_us;
            let needed = samples_needed(*quantile);
            if enough_samples && *quantile < 1.0 && histogram.len() < needed {
                return Some(Outcome::NotEvaluable(format!(
                    "{} samples, {label} needs {needed} (10 beyond it)",
                    histogram.len()
                )));
            }
            let micros = if *quantile >= 1.0 {
                histogram.max()
            } else {
                histogram.value_at_quantile(*quantile)
            };
            let observed = Duration::from_micros(micros);
            (observed >= *below).then(|| format!("{label} = {}", Micros(micros)).into())
        }
        Threshold::ErrorRate { op, below } => {
            let op_stats = stats.get(op);
            let attempts = op_stats.map_or(0, |s| s.attempts);
            let ok = op_stats.map_or(0, |s| s.ok);
            rate_breach(attempts, ok, *below, "").map(Outcome::from)
        }
        Threshold::MaxErrorRate { below } => {
            let attempts = stats.values().map(|s| s.attempts).sum();
            let ok = stats.values().map(|s| s.ok).sum();
            rate_breach(attempts, ok, *below, " over all operations").map(Outcome::from)
        }
    }
}

fn rate_breach(attempts: u64, ok: u64, below: f64, scope: &str) -> Option<String> {
    if attempts == 0 {
        return Some(NO_OPERATIONS.to_owned());
    }
    let failed = attempts.saturating_sub(ok);
    let rate = failed as f64 / attempts as f64;
    (rate >= below).then(|| {
        format!(
            "error rate = {:.2}%{scope} ({failed} of {attempts} failed)",
            rate * 100.0
        )
    })
}

/// Microseconds in the unit that reads best: `850µs`, `912.3ms`, `1.53s`.
struct Micros(u64);

impl fmt::Display for Micros {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let us = self.0;
        if us < 1_000 {
            write!(f, "{us}µs")
        } else if us < 1_000_000 {
            write!(f, "{:.1}ms", us as f64 / 1e3)
        } else {
            write!(f, "{:.2}s", us as f64 / 1e6)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::ErrorClass;
    use crate::layer::Outcome;
    use crate::load::Recorder;

    fn outcome(operation: OpKind, ms: u64, error: Option<ErrorClass>) -> Outcome {
        Outcome::for_test(operation, Duration::from_millis(ms), Duration::ZERO, error)
    }

    fn parse(text: &str) -> Threshold {
        text.parse()
            .unwrap_or_else(|e| panic!("`{text}` should parse: {e}"))
    }

    fn error(text: &str) -> String {
        match text.parse::<Threshold>() {
            Ok(t) => panic!("`{text}` should not parse, got {t:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn parses_percentiles() {
        assert_eq!(
            parse("group.add_members:p99<800ms"),
            Threshold::Percentile {
                op: OpKind::GroupAddMembers,
                quantile: 0.99,
                label: "p99".into(),
                below: Duration::from_millis(800),
            }
        );
        for (label, quantile) in [
            ("p50", 0.5),
            ("p90", 0.9),
            ("p99.9", 0.999),
            ("p99.99", 0.9999),
            ("p100", 1.0),
            ("p0.5", 0.005),
        ] {
            let Threshold::Percentile {
                quantile: parsed,
                label: written,
                ..
            } = parse(&format!("identity.create:{label}<2s"))
            else {
                panic!("{label}");
            };
            assert_eq!(parsed, quantile, "{label}");
            assert_eq!(written, label);
        }
        assert_eq!(
            parse("  identity.lookup : p99.9 <  1s 500ms "),
            Threshold::Percentile {
                op: OpKind::IdentityLookup,
                quantile: 0.999,
                label: "p99.9".into(),
                below: Duration::from_millis(1500),
            }
        );
    }

    #[test]
    fn parses_error_rates() {
        assert_eq!(
            parse("identity.create:error_rate<1%"),
            Threshold::ErrorRate {
                op: OpKind::IdentityCreate,
                below: 0.01,
            }
        );
        assert_eq!(
            parse(" group.create : error_rate < 0.5 % "),
            Threshold::ErrorRate {
                op: OpKind::GroupCreate,
                below: 0.005,
            }
        );
        assert_eq!(
            parse("max_error_rate<1%"),
            Threshold::MaxErrorRate { below: 0.01 }
        );
        assert_eq!(
            parse_max_error_rate(" 2.5% "),
            Ok(Threshold::MaxErrorRate { below: 0.025 })
        );
        assert_eq!(
            parse_max_error_rate("100%"),
            Ok(Threshold::MaxErrorRate { below: 1.0 })
        );
    }

    #[test]
    fn explains_what_is_wrong() {
        assert_eq!(
            error("foo:p99<1s"),
            "threshold `foo:p99<1s`: unknown operation `foo` (expected one of \
             identity.create, group.create, group.add_members, identity.lookup, message.send, \
             message.visible, member.visible, identity.visible)"
        );
        for bad in ["p0", "p101", "pxx", "p", "p-1", "p1e2", "pinf", "p9.9.9"] {
            assert_eq!(
                error(&format!("group.create:{bad}<1s")),
                format!(
                    "threshold `group.create:{bad}<1s`: bad percentile `{bad}` (expected p \
                     followed by a number above 0 and at most 100, such as p50, p99, p99.9 \
                     or p100 for the maximum)"
                )
            );
        }
        let duration = error("group.create:p99<800");
        assert!(
            duration.starts_with("threshold `group.create:p99<800`: bad duration `800`: "),
            "{duration}"
        );
        assert!(duration.ends_with("(expected a duration such as 800ms, 1.5s or 2s)"));
        assert_eq!(
            error("group.create:error_rate<1"),
            "threshold `group.create:error_rate<1`: bad error rate `1` (expected a percentage \
             from 0% to 100% with its % sign, such as 1% or 0.5%)"
        );
        assert!(error("group.create:error_rate<101%").contains("bad error rate `101%`"));
        assert_eq!(
            error("group.create:p99>1s"),
            format!("threshold `group.create:p99>1s`: missing `<` (expected {FORMS})")
        );
        assert!(error("group.create:p99<=1s").contains("`<=` is not supported"));
        assert!(error("group.create p99<1s").contains("missing `:`"));
        assert!(error("group.create:mean<1s").contains("unknown measure `mean`"));
        assert_eq!(
            parse_max_error_rate("1").unwrap_err().to_string(),
            "--max-error-rate `1`: expected a percentage from 0% to 100% with its % sign, \
             such as 1% or 0.5%"
        );
    }

    #[test]
    fn prints_what_it_parses() {
        for text in [
            "group.add_members:p99<800ms",
            "identity.create:p99.9<2s",
            "identity.lookup:p100<1m 30s",
            "group.create:p50<250us",
            "group.create:error_rate<1%",
            "identity.create:error_rate<0.3%",
            "max_error_rate<0.01%",
        ] {
            let threshold = parse(text);
            assert_eq!(threshold.to_string(), text);
            assert_eq!(parse(&threshold.to_string()), threshold);
        }
        // Spelling is normalised, meaning kept.
        assert_eq!(
            parse(" group.create : p99 < 1500ms ").to_string(),
            "group.create:p99<1s 500ms"
        );
        let json = serde_json::to_string(&parse("group.create:p99<1s")).unwrap();
        assert_eq!(json, "\"group.create:p99<1s\"");
        assert_eq!(
            serde_json::from_str::<Threshold>(&json).unwrap(),
            parse("group.create:p99<1s")
        );
    }

    #[test]
    fn passes_when_strictly_below() {
        let recorder = Recorder::new();
        // Ten of each millisecond: p99.9 needs 10,000 samples.
        for ms in (1..=1000).flat_map(|ms| [ms; 10]) {
            recorder.record(&outcome(OpKind::GroupAddMembers, ms, None));
        }
        recorder.record(&outcome(
            OpKind::GroupAddMembers,
            5,
            Some(ErrorClass::Timeout),
        ));
        let stats = recorder.snapshot();
        let thresholds = [
            parse("group.add_members:p50<600ms"),
            parse("group.add_members:p99<1s"),
            // 999 ms at p99.9, not the maximum: the quantile is exact.
            parse("group.add_members:p99.9<1s"),
            parse("group.add_members:p100<1001ms"),
            parse("group.add_members:error_rate<0.2%"),
            parse_max_error_rate("1%").unwrap(),
        ];
        assert_eq!(evaluate(&thresholds, &stats), vec![]);
    }

    #[test]
    fn percentiles_without_ten_samples_beyond_them_are_not_evaluable() {
        let recorder = Recorder::new();
        for ms in 1..=999 {
            recorder.record(&outcome(OpKind::GroupCreate, ms, None));
        }
        let stats = recorder.snapshot();
        let thresholds = [parse("group.create:p90<1ms"), parse("group.create:p99<1ms")];
        let breaches = evaluate(&thresholds, &stats);
        let evaluable: Vec<bool> = breaches.iter().map(|b| b.evaluable).collect();
        assert_eq!(evaluable, [true, false]);
        assert_eq!(
            breaches[1].to_string(),
            "group.create:p99<1ms not evaluable: 999 samples, p99 needs 1000 (10 beyond it)"
        );
        assert!(!breaches[1].fails(false) && breaches[1].fails(true));
    }

    #[test]
    fn reports_breaches() {
        let recorder = Recorder::new();
        for ms in 1..=1000 {
            recorder.record(&outcome(OpKind::GroupAddMembers, ms, None));
        }
        for _ in 0..40 {
            recorder.record(&outcome(OpKind::IdentityCreate, 10, None));
        }
        for _ in 0..10 {
            recorder.record(&outcome(
                OpKind::IdentityCreate,
                10,
                Some(ErrorClass::Server),
            ));
        }
        let stats = recorder.snapshot();

        let breaches = evaluate(
            &[
                parse("group.add_members:p99<800ms"),
                parse("group.add_members:p50<500ms"),
                parse("group.add_members:p100<1s"),
                parse("identity.create:error_rate<20%"),
                parse_max_error_rate("0.5%").unwrap(),
                parse("identity.create:error_rate<25%"),
            ],
            &stats,
        );
        let printed: Vec<String> = breaches.iter().map(ToString::to_string).collect();
        assert_eq!(
            printed,
            [
                "group.add_members:p99<800ms breached: p99 = 990.2ms",
                "group.add_members:p50<500ms breached: p50 = 500.2ms",
                "group.add_members:p100<1s breached: p100 = 1.00s",
                "identity.create:error_rate<20% breached: error rate = 20.00% (10 of 50 failed)",
                "max_error_rate<0.5% breached: error rate = 0.95% over all operations \
                 (10 of 1050 failed)",
            ]
        );
    }

    #[test]
    fn nothing_measured_is_a_breach() {
        let recorder = Recorder::new();
        for _ in 0..3 {
            recorder.record(&outcome(OpKind::GroupCreate, 10, Some(ErrorClass::Connect)));
        }
        let stats = recorder.snapshot();
        let observed = |text: &str| -> Vec<String> {
            evaluate(&[parse(text)], &stats)
                .into_iter()
                .map(|b| b.observed)
                .collect()
        };
        assert_eq!(
            observed("group.create:p99<1h"),
            ["no successful operations"]
        );
        assert_eq!(observed("identity.lookup:p99<1h"), ["no operations ran"]);
        assert_eq!(
            observed("identity.lookup:error_rate<100%"),
            ["no operations ran"]
        );
        assert_eq!(
            evaluate(&[parse_max_error_rate("100%").unwrap()], &BTreeMap::new())[0].observed,
            "no operations ran"
        );
    }
}
