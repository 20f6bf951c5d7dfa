//! What a Prometheus histogram knows about a percentile: a bucket.
//!
//! A Prometheus histogram keeps, for each upper bound `le`, how many
//! observations were at or below it, and nothing about where they fell
//! inside a bucket. So a percentile is only *known* to lie between the
//! bounds of the bucket holding its rank; any single number is a guess.
//! [`Buckets::quantile`] returns both: the guess PromQL's
//! `histogram_quantile` makes (linear interpolation within the bucket, the
//! lowest bucket starting at 0, a rank in the `+Inf` bucket answered with
//! the highest finite bound) and the bucket's bounds, so a comparison can
//! judge against the interval and show the guess.

use serde::Serialize;

/// Cumulative bucket counts of one histogram: `(upper bound, observations
/// at or below it)`, sorted by bound, the last bound `+Inf`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Buckets {
    cumulative: Vec<(f64, f64)>,
}

/// A percentile of bucketed data.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    /// `histogram_quantile`'s interpolated value.
    pub value: f64,
    /// The lower bound of the bucket holding the rank.
    pub low: f64,
    /// Its upper bound (`+Inf` for the last bucket; serialized as `null`).
    #[serde(serialize_with = "finite_or_null")]
    pub high: f64,
}

fn finite_or_null<S: serde::Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    if value.is_finite() {
        serializer.serialize_f64(*value)
    } else {
        serializer.serialize_none()
    }
}

impl Buckets {
    /// Adds `count` observations at or below `bound` (counts of the same
    /// bound from several series add up).
    pub fn add(&mut self, bound: f64, count: f64) {
        match self.cumulative.iter_mut().find(|(b, _)| *b == bound) {
            Some((_, total)) => *total += count,
            None => {
                self.cumulative.push((bound, count));
                self.cumulative.sort_by(|a, b| a.0.total_cmp(&b.0));
            }
        }
    }

    /// Observations in all (the `+Inf` bucket, or the highest one).
    pub fn total(&self) -> f64 {
        self.cumulative.last().map_or(0.0, |(_, count)| *count)
    }

    /// The finite upper bounds.
    pub fn bounds(&self) -> impl Iterator<Item = f64> + '_ {
        self.cumulative
            .iter()
            .map(|(bound, _)| *bound)
            .filter(|b| b.is_finite())
    }

    /// `(upper bound, share of observations at or below it)` per bucket.
    pub fn shares(&self) -> Vec<(f64, f64)> {
        let total = self.total();
        if total <= 0.0 {
            return Vec::new();
        }
        self.cumulative
            .iter()
            .map(|(bound, count)| (*bound, (count / total).min(1.0)))
            .collect()
    }

    /// The `q` quantile (0..=1), or `None` without observations or without
    /// a `+Inf` bucket (as `histogram_quantile` answers NaN then).
    pub fn quantile(&self, q: f64) -> Option<Estimate> {
        let total = self.total();
        let last = self.cumulative.last()?;
        if total <= 0.0 || last.0 != f64::INFINITY || !(0.0..=1.0).contains(&q) {
            return None;
        }
        let rank = q * total;
        // Counts summed from separately scraped series can dip; PromQL
        // makes them monotonic first, and so does this.
        let mut running = 0.0_f64;
        let monotonic: Vec<(f64, f64)> = self
            .cumulative
            .iter()
            .map(|&(bound, count)| {
                running = running.max(count);
                (bound, running)
            })
            .collect();
        let at = monotonic
            .iter()
            .position(|&(_, count)| count >= rank)
            .unwrap_or(monotonic.len() - 1);
        let (high, count) = monotonic[at];
        let (low, below) = if at == 0 {
            (0.0, 0.0)
        } else {
            monotonic[at - 1]
        };
        if high.is_infinite() {
            // Nothing is known above the highest finite bound.
            return Some(Estimate {
                value: low,
                low,
                high,
            });
        }
        if at == 0 && high <= 0.0 {
            return Some(Estimate {
                value: high,
                low: high,
                high,
            });
        }
        let inside = count - below;
        let value = if inside > 0.0 {
            low + (high - low) * (rank - below) / inside
        } else {
            high
        };
        Some(Estimate { value, low, high })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buckets(pairs: &[(f64, f64)]) -> Buckets {
        let mut b = Buckets::default();
        for &(bound, count) in pairs {
            b.add(bound, count);
        }
        b
    }

    #[test]
    fn quantiles_interpolate_like_histogram_quantile() {
        // 10 in [0, 0.01], 30 in (0.01, 0.025], 60 in (0.025, 0.05].
        let b = buckets(&[
            (0.01, 10.0),
            (f64::INFINITY, 100.0),
            (0.025, 40.0),
            (0.05, 100.0),
        ]);
        let median = b.quantile(0.5).unwrap();
        // rank 50: 10 into the 60 of (0.025, 0.05].
        assert_eq!((median.low, median.high), (0.025, 0.05));
        assert!((median.value - (0.025 + 0.025 * 10.0 / 60.0)).abs() < 1e-12);
        // The lowest bucket starts at 0.
        let low = b.quantile(0.05).unwrap();
        assert_eq!((low.low, low.high), (0.0, 0.01));
        assert!((low.value - 0.005).abs() < 1e-12);
    }

    #[test]
    fn a_rank_in_the_inf_bucket_is_the_highest_finite_bound() {
        let b = buckets(&[(0.1, 90.0), (f64::INFINITY, 100.0)]);
        let p99 = b.quantile(0.99).unwrap();
        assert_eq!(p99.value, 0.1);
        assert_eq!(p99.low, 0.1);
        assert!(p99.high.is_infinite());
    }

    #[test]
    fn no_observations_or_no_inf_bucket_give_nothing() {
        assert_eq!(Buckets::default().quantile(0.5), None);
        assert_eq!(
            buckets(&[(0.1, 0.0), (f64::INFINITY, 0.0)]).quantile(0.5),
            None
        );
        assert_eq!(buckets(&[(0.1, 3.0)]).quantile(0.5), None);
    }

    #[test]
    fn series_add_up_per_bound() {
        let b = buckets(&[
            (0.1, 1.0),
            (f64::INFINITY, 2.0),
            (0.1, 3.0),
            (f64::INFINITY, 4.0),
        ]);
        assert_eq!(b.total(), 6.0);
        assert_eq!(b.shares(), vec![(0.1, 4.0 / 6.0), (f64::INFINITY, 1.0)]);
        assert_eq!(b.bounds().collect::<Vec<_>>(), vec![0.1]);
    }
}
