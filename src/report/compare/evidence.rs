//! What the data can say: when a figure is judged, and when it gets `?`.
//!
//! Three rules keep noise from turning into verdicts.
//!
//! - **Samples beyond the percentile.** A percentile is estimated from the
//!   observations above it; with none or a few, p99 and p99.9 are both
//!   simply the largest sample. A percentile `q` is judged only when every
//!   run has at least [`BEYOND`] samples past it, that is `10 / (1 - q)`
//!   in all: 20 for p50, 100 for p90, 1,000 for p99, 10,000 for p99.9.
//! - **Runs, not just samples.** Two runs of one build differ by far more
//!   than the sampling noise within either run suggests (18–25% at p50
//!   was measured on a 2-core machine). Latency and throughput verdicts
//!   therefore need [`MIN_RUNS_FOR_RANK_TEST`] runs a side, so that the
//!   rank test sees the variation between runs. `--single-run` lifts this,
//!   with a warning, for exploring; it is never the default, so a CI gate
//!   is safe as written.
//! - **Only what the target decides.** In a weighted random mix, how many
//!   of each operation ran is the dice's doing, so per-operation throughput
//!   is shown but not judged; the run's total throughput is.

use super::stats::MIN_RUNS_FOR_RANK_TEST;
use super::Figure;

/// Samples every run must have beyond a percentile for it to be judged.
pub const BEYOND: f64 = 10.0;

/// Samples a run needs for quantile `q` to be judged.
pub fn samples_needed(q: f64) -> u64 {
    (BEYOND / (1.0 - q)).round() as u64
}

/// What one side brings to a figure's judgement.
pub(super) struct Evidence {
    /// Runs on the side.
    pub(super) runs: usize,
    /// Successful samples in its smallest run.
    pub(super) fewest_samples: u64,
}

/// Why a figure is shown without a verdict.
pub(super) enum Unjudged {
    /// `?`: the data cannot say.
    Unknown(String),
    /// `-`: the figure does not describe the target.
    NotJudged(String),
}

/// Whether `figure` may be judged from sides `a` and `b`; `mix` is true for
/// a per-operation figure of a weighted random mix, `single_run` when
/// verdicts from fewer runs were asked for.
pub(super) fn check(
    figure: Figure,
    a: &Evidence,
    b: &Evidence,
    mix: bool,
    single_run: bool,
) -> Result<(), Unjudged> {
    if figure == Figure::Throughput && mix {
        return Err(Unjudged::NotJudged(
            "per-operation throughput in a random mix reflects the draw; the total is judged"
                .into(),
        ));
    }
    if let Some(q) = figure.quantile() {
        let needed = samples_needed(q);
        let have = a.fewest_samples.min(b.fewest_samples);
        if have < needed {
            return Err(Unjudged::Unknown(format!(
                "too few samples: {} < {} for {}",
                thousands(have),
                thousands(needed),
                figure.name()
            )));
        }
    }
    let between_runs = figure != Figure::ErrorRate;
    let runs = a.runs.min(b.runs);
    if between_runs && runs < MIN_RUNS_FOR_RANK_TEST && !single_run {
        return Err(Unjudged::Unknown(format!(
            "run each side {MIN_RUNS_FOR_RANK_TEST} times or more: one run cannot show the variation between runs"
        )));
    }
    Ok(())
}

/// `12345` as `12,345`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side(runs: usize, fewest_samples: u64) -> Evidence {
        Evidence {
            runs,
            fewest_samples,
        }
    }

    #[test]
    fn percentiles_need_ten_samples_beyond_them() {
        assert_eq!(
            [0.5, 0.9, 0.99, 0.999].map(samples_needed),
            [20, 100, 1_000, 10_000]
        );
        let (a, b) = (side(4, 100), side(4, 5_000));
        assert!(check(Figure::P90, &a, &b, false, false).is_ok());
        match check(Figure::P99, &a, &b, false, false) {
            Err(Unjudged::Unknown(reason)) => {
                assert_eq!(reason, "too few samples: 100 < 1,000 for p99")
            }
            _ => panic!("p99 of 100 samples was judged"),
        }
    }

    #[test]
    fn latency_needs_runs_unless_single_run_is_asked_for() {
        let (a, b) = (side(1, 50_000), side(4, 50_000));
        assert!(matches!(
            check(Figure::P50, &a, &b, false, false),
            Err(Unjudged::Unknown(_))
        ));
        assert!(check(Figure::P50, &a, &b, false, true).is_ok());
        assert!(check(Figure::ErrorRate, &a, &b, false, false).is_ok());
    }

    #[test]
    fn mix_throughput_per_operation_is_shown_not_judged() {
        let a = side(4, 50_000);
        assert!(matches!(
            check(Figure::Throughput, &a, &a, true, false),
            Err(Unjudged::NotJudged(_))
        ));
        assert!(check(Figure::Throughput, &a, &a, false, false).is_ok());
    }
}
