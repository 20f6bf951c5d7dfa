//! Holding synthetic runs against the real side, figure by figure.
//!
//! - **Percentiles** (p50, p90, p99): the synthetic value is exact (an HDR
//!   histogram); the real one is only known to lie in a bucket (see
//!   [`Buckets::quantile`](super::buckets::Buckets::quantile)). The verdict
//!   is `faster` below the bucket, `slower` above it, `inside` within it;
//!   the ratio to the interpolated value is shown, never judged, since the
//!   interpolation is a guess within the bucket.
//! - **Error rate** and each **error class's share** of the failures: a
//!   two-proportion test, the p-values adjusted together
//!   (Benjamini–Hochberg); `higher` or `lower` (the synthetic side's
//!   rate) only when significant, `~` otherwise.
//! - **Mean** and **throughput** are shown, not judged: the real spread
//!   is unknown from `_sum` and `_count`, and synthetic load is chosen,
//!   not observed.
//! - **Phases**, when the real side has them: each phase both sides ran,
//!   under each shared operation, gets the percentiles and the mean, so a
//!   difference can be located. Their failures are the operation's, and
//!   are judged there.

use std::collections::BTreeSet;

use super::fetch::{RealOperation, RealSide};
use super::{RealError, RealRow, RealVerdict};
use crate::report::compare::evidence::{samples_needed, BEYOND};
use crate::report::compare::stats::two_proportions;
use crate::report::compare::{check_compatible, fdr, pooled, ALPHA};
use crate::report::{decode_histogram, RunResult};

/// The percentiles compared.
const QUANTILES: [(&str, f64); 3] = [("p50", 0.5), ("p90", 0.9), ("p99", 0.99)];

/// The synthetic side of one operation, pooled over runs.
struct Synthetic {
    histogram: hdrhistogram::Histogram<u64>,
    attempts: u64,
    ok: u64,
    errors: std::collections::BTreeMap<String, u64>,
    seconds: f64,
}

impl Synthetic {
    /// Nothing counted yet, with `histogram`.
    fn empty(histogram: hdrhistogram::Histogram<u64>) -> Self {
        Synthetic {
            histogram,
            attempts: 0,
            ok: 0,
            errors: Default::default(),
            seconds: 0.0,
        }
    }

    fn of(runs: &[RunResult], operation: &str) -> Result<Self, RealError> {
        let histogram = pooled(runs, operation).map_err(|e| RealError::Runs(e.to_string()))?;
        let mut side = Synthetic::empty(histogram);
        for run in runs {
            side.seconds += run.window.measured_s;
            for op in run.operations.iter().filter(|op| op.operation == operation) {
                side.attempts += op.attempts;
                side.ok += op.ok;
                for (class, count) in &op.errors {
                    *side.errors.entry(class.clone()).or_default() += count;
                }
            }
        }
        Ok(side)
    }

    /// The synthetic side of one phase of `operation`, pooled over runs.
    fn of_phase(runs: &[RunResult], operation: &str, phase: &str) -> Result<Self, RealError> {
        let mut histogram = crate::load::new_phase_histogram();
        histogram.auto(true);
        let mut side = Synthetic::empty(histogram);
        for run in runs {
            side.seconds += run.window.measured_s;
            let ops = run.operations.iter().filter(|op| op.operation == operation);
            for part in ops.flat_map(|op| &op.phases).filter(|p| p.phase == phase) {
                let unusable = |reason: String| {
                    RealError::Runs(format!(
                        "run {} has an unusable {operation} {phase} phase histogram ({reason})",
                        run.run_id
                    ))
                };
                let histogram = decode_histogram(&part.duration_us).map_err(unusable)?;
                side.histogram
                    .add(&histogram)
                    .map_err(|_| unusable("its values do not fit".into()))?;
                side.ok += part.ok;
                side.attempts += part.ok + part.failed;
            }
        }
        Ok(side)
    }
}

/// The phases the runs measured under `operation`.
fn synthetic_phases(runs: &[RunResult], operation: &str) -> BTreeSet<String> {
    runs.iter()
        .flat_map(|run| &run.operations)
        .filter(|op| op.operation == operation)
        .flat_map(|op| op.phases.iter().map(|p| p.phase.clone()))
        .collect()
}

/// What [`judge`] finds.
#[derive(Debug, Clone)]
pub struct Judgement {
    /// One row per shared operation and figure.
    pub rows: Vec<RealRow>,
    /// Operations only the runs measured.
    pub only_synthetic: Vec<String>,
    /// Operations only the real users ran.
    pub only_real: Vec<String>,
}

/// Compares `runs` (pooled) with `real`; `force` as for `opmon compare`.
pub fn judge(
    runs: &[RunResult],
    real: &RealSide,
    window_s: f64,
    force: bool,
) -> Result<Judgement, RealError> {
    if runs.is_empty() {
        return Err(RealError::Runs("give at least one run".into()));
    }
    let synthetic_ops: BTreeSet<String> = check_compatible(runs, runs, force)
        .map_err(|e| RealError::Runs(e.to_string()))?
        .into_iter()
        .collect();
    let real_ops: BTreeSet<String> = real.operations.keys().cloned().collect();
    let shared: Vec<&String> = synthetic_ops.intersection(&real_ops).collect();
    if shared.is_empty() {
        return Err(RealError::NothingShared {
            synthetic: synthetic_ops.into_iter().collect::<Vec<_>>().join(", "),
            real: real_ops.into_iter().collect::<Vec<_>>().join(", "),
        });
    }
    let mut rows = Vec::new();
    let (mut only_synthetic, mut only_real) = (
        only(&synthetic_ops, &real_ops),
        only(&real_ops, &synthetic_ops),
    );
    for operation in shared {
        let ours = Synthetic::of(runs, operation)?;
        let theirs = &real.operations[operation];
        percentiles(operation, &ours, theirs, &mut rows);
        mean(operation, &ours, theirs, &mut rows);
        errors(operation, &ours, theirs, &mut rows);
        let real_rate = theirs.ok / window_s.max(f64::MIN_POSITIVE);
        let synthetic_rate = if ours.seconds > 0.0 {
            ours.ok as f64 / ours.seconds
        } else {
            0.0
        };
        rows.push(RealRow {
            reason: Some("synthetic load is chosen, not observed".into()),
            ..RealRow::shown(operation, "throughput", "ok/s", synthetic_rate, real_rate)
        });
        if !real.phases.is_empty() {
            let ours = synthetic_phases(runs, operation);
            let theirs: BTreeSet<String> = real
                .phases
                .keys()
                .filter(|(op, _)| op == operation)
                .map(|(_, phase)| phase.clone())
                .collect();
            for phase in ours.intersection(&theirs) {
                let first = rows.len();
                let synthetic = Synthetic::of_phase(runs, operation, phase)?;
                let real_phase = &real.phases[&(operation.clone(), phase.clone())];
                percentiles(operation, &synthetic, real_phase, &mut rows);
                mean(operation, &synthetic, real_phase, &mut rows);
                for row in &mut rows[first..] {
                    row.phase = Some(phase.clone());
                }
            }
            let named =
                |phases: BTreeSet<String>| phases.into_iter().map(|p| format!("{operation} {p}"));
            only_synthetic.extend(named(only(&ours, &theirs)));
            only_real.extend(named(only(&theirs, &ours)));
        }
    }
    adjust(&mut rows);
    Ok(Judgement {
        rows,
        only_synthetic: only_synthetic.into_iter().collect(),
        only_real: only_real.into_iter().collect(),
    })
}

/// What `a` has and `b` has not.
fn only(a: &BTreeSet<String>, b: &BTreeSet<String>) -> BTreeSet<String> {
    a.difference(b).cloned().collect()
}

fn percentiles(operation: &str, ours: &Synthetic, theirs: &RealOperation, rows: &mut Vec<RealRow>) {
    for (name, q) in QUANTILES {
        let synthetic = ours.histogram.value_at_quantile(q) as f64 / 1000.0;
        let mut row = RealRow::shown(operation, name, "ms", synthetic, f64::NAN);
        row.real = None;
        let estimate = theirs.ok_buckets.quantile(q);
        let (Some(estimate), false) = (estimate, ours.histogram.is_empty()) else {
            row.verdict = RealVerdict::Unknown;
            row.reason = Some(if ours.histogram.is_empty() {
                "no successful synthetic operations".into()
            } else {
                "no successful real operations".into()
            });
            rows.push(row);
            continue;
        };
        let ms = |s: f64| s * 1000.0;
        row.real = Some(ms(estimate.value));
        row.real_low = Some(ms(estimate.low));
        row.real_high = estimate.high.is_finite().then(|| ms(estimate.high));
        row.ratio = (estimate.value > 0.0).then(|| synthetic / ms(estimate.value));
        row.verdict = if synthetic < ms(estimate.low) {
            RealVerdict::Faster
        } else if synthetic > ms(estimate.high) {
            RealVerdict::Slower
        } else {
            RealVerdict::Inside
        };
        // Still judged, since the bucket is what it is; but said plainly.
        let needed = samples_needed(q) as f64;
        let few = |count: f64, side: &str| {
            (count < needed).then(|| {
                format!("fewer than {BEYOND} {side} samples beyond {name}: near the maximum")
            })
        };
        row.reason =
            few(theirs.ok, "real").or_else(|| few(ours.histogram.len() as f64, "synthetic"));
        rows.push(row);
    }
}

fn mean(operation: &str, ours: &Synthetic, theirs: &RealOperation, rows: &mut Vec<RealRow>) {
    let synthetic = if ours.histogram.is_empty() {
        0.0
    } else {
        ours.histogram.mean() / 1000.0
    };
    let real = if theirs.ok > 0.0 {
        theirs.ok_seconds / theirs.ok * 1000.0
    } else {
        0.0
    };
    rows.push(RealRow {
        reason: Some("the real spread is unknown from _sum and _count".into()),
        ..RealRow::shown(operation, "mean", "ms", synthetic, real)
    });
}

fn errors(operation: &str, ours: &Synthetic, theirs: &RealOperation, rows: &mut Vec<RealRow>) {
    let real_failed = theirs.failed.round() as u64;
    let real_total = (theirs.ok + theirs.failed).round() as u64;
    let synthetic_failed = ours.attempts.saturating_sub(ours.ok);
    let percent = |hits: u64, n: u64| {
        if n == 0 {
            0.0
        } else {
            hits as f64 / n as f64 * 100.0
        }
    };
    let mut tested = |figure: String, (rh, rn): (u64, u64), (sh, sn): (u64, u64)| {
        let (_, p) = two_proportions(rh, rn, sh, sn);
        rows.push(RealRow {
            p_value: Some(p),
            ..RealRow::shown(operation, &figure, "%", percent(sh, sn), percent(rh, rn))
        });
    };
    tested(
        "error rate".into(),
        (real_failed, real_total),
        (synthetic_failed, ours.attempts),
    );
    // The mix of classes among failures: only when both sides failed.
    if real_failed == 0 || synthetic_failed == 0 {
        return;
    }
    let classes: BTreeSet<&String> = theirs.errors.keys().chain(ours.errors.keys()).collect();
    for class in classes {
        let real = theirs.errors.get(class).copied().unwrap_or(0.0).round() as u64;
        let synthetic = ours.errors.get(class).copied().unwrap_or(0);
        tested(
            format!("errors {class}"),
            (real, real_failed),
            (synthetic, synthetic_failed),
        );
    }
}

/// Adjusts the p-values of the tested rows together and gives each its
/// verdict.
fn adjust(rows: &mut [RealRow]) {
    let raw: Vec<Option<f64>> = rows.iter().map(|row| row.p_value).collect();
    for (row, adjusted) in rows.iter_mut().zip(fdr::adjust_tested(&raw)) {
        let Some(adjusted) = adjusted else { continue };
        row.p_adjusted = Some(adjusted);
        let real = row.real.unwrap_or(0.0);
        row.verdict = match () {
            _ if adjusted >= ALPHA => RealVerdict::Same,
            _ if row.synthetic > real => RealVerdict::Higher,
            _ => RealVerdict::Lower,
        };
        row.reason = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn synthetic(ok: u64, errors: &[(&str, u64)]) -> Synthetic {
        let errors: std::collections::BTreeMap<String, u64> =
            errors.iter().map(|(c, n)| (c.to_string(), *n)).collect();
        Synthetic {
            attempts: ok + errors.values().sum::<u64>(),
            ok,
            errors,
            seconds: 10.0,
            ..Synthetic::empty(crate::load::new_histogram())
        }
    }

    fn real(ok: f64, errors: &[(&str, f64)]) -> RealOperation {
        RealOperation {
            ok,
            failed: errors.iter().map(|(_, n)| n).sum(),
            errors: errors.iter().map(|(c, n)| (c.to_string(), *n)).collect(),
            ..RealOperation::default()
        }
    }

    #[test]
    fn error_rates_and_class_mix_get_a_verdict_only_when_significant() {
        let mut rows = Vec::new();
        // 15% synthetic failures against 1%: higher. Among failures, all
        // timeouts against all unavailable: the mix differs too.
        errors(
            "identity.create",
            &synthetic(170, &[("timeout", 30)]),
            &real(198.0, &[("unavailable", 2.0)]),
            &mut rows,
        );
        // 1 in 200 against 1 in 200: the same.
        errors(
            "identity.lookup",
            &synthetic(199, &[("timeout", 1)]),
            &real(199.0, &[("timeout", 1.0)]),
            &mut rows,
        );
        adjust(&mut rows);
        let verdicts: Vec<(&str, &str, &str)> = rows
            .iter()
            .map(|r| (r.operation.as_str(), r.figure.as_str(), r.verdict.as_str()))
            .collect();
        assert_eq!(
            verdicts,
            [
                ("identity.create", "error rate", "higher"),
                ("identity.create", "errors timeout", "higher"),
                ("identity.create", "errors unavailable", "lower"),
                ("identity.lookup", "error rate", "~"),
                ("identity.lookup", "errors timeout", "~"),
            ]
        );
        assert!(
            (rows[0].synthetic - 15.0).abs() < 1e-9 && (rows[0].real.unwrap() - 1.0).abs() < 1e-9
        );
    }
}
