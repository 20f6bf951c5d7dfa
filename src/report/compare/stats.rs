//! The statistics behind a comparison.
//!
//! Two situations, two methods:
//!
//! - **Several runs per side** (at least [`MIN_RUNS_FOR_RANK_TEST`]): each
//!   run gives one value of a figure; the two sets of values are compared
//!   with the Mann-Whitney U test, which assumes nothing about their
//!   distribution (Go's benchstat does the same). The confidence interval
//!   of the change comes from resampling the runs.
//! - **Fewer runs** (with `--single-run`, or for error rates): the runs of
//!   a side are pooled; error rates get a two-proportion test, the other
//!   figures' uncertainty is simulated from the pooled histogram. A
//!   percentile of `n` samples is an order statistic, so instead of drawing
//!   `n` values and sorting them, one draw of that order statistic's
//!   distribution is mapped through the histogram — exact, and as cheap for
//!   a million samples as for ten.

use hdrhistogram::Histogram;
use rand::rngs::StdRng;
use rand::Rng;

/// Runs per side from which the rank test is used.
pub const MIN_RUNS_FOR_RANK_TEST: usize = 4;

/// Bootstrap rounds: enough for a stable 95% interval and p-values down to
/// about 0.001.
pub const ROUNDS: usize = 2000;

/// The median of `values` (which must not be empty).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    }
}

/// The standard normal cumulative distribution (Abramowitz and Stegun
/// 7.1.26 for erf; absolute error below 1.5e-7).
pub fn normal_cdf(z: f64) -> f64 {
    let x = z.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-x * x).exp();
    if z >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

/// Two-sided p-value of the Mann-Whitney U test: how likely samples this
/// far apart are if both come from one distribution. Exact for small
/// samples (by counting every way the pooled ranks, ties sharing their mean
/// rank, could have split between the two sides), otherwise the normal
/// approximation with a tie correction.
pub fn mann_whitney(a: &[f64], b: &[f64]) -> f64 {
    let (n1, n2) = (a.len(), b.len());
    if n1 == 0 || n2 == 0 {
        return 1.0;
    }
    // Doubled mid-ranks over the pooled values: integers even with ties.
    let mut pooled: Vec<(f64, bool)> = a
        .iter()
        .map(|v| (*v, true))
        .chain(b.iter().map(|v| (*v, false)))
        .collect();
    pooled.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mut doubled_ranks = Vec::with_capacity(pooled.len());
    let mut rank_sum_a = 0;
    let mut tie_term = 0.0;
    let mut i = 0;
    while i < pooled.len() {
        let mut j = i;
        while j + 1 < pooled.len() && pooled[j + 1].0 == pooled[i].0 {
            j += 1;
        }
        let doubled_rank = i + j + 2;
        let tied = (j - i + 1) as f64;
        tie_term += tied * tied * tied - tied;
        for (_, first) in &pooled[i..=j] {
            doubled_ranks.push(doubled_rank);
            if *first {
                rank_sum_a += doubled_rank;
            }
        }
        i = j + 1;
    }
    let n = n1 + n2;
    if n <= 40 {
        return exact_rank_sum_p_value(&doubled_ranks, n1, rank_sum_a);
    }
    let u = rank_sum_a as f64 / 2.0 - (n1 * (n1 + 1)) as f64 / 2.0;
    let mean = (n1 * n2) as f64 / 2.0;
    let n = n as f64;
    let variance = (n1 * n2) as f64 / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)));
    if variance <= 0.0 {
        return 1.0;
    }
    // Continuity correction towards the mean.
    let distance = ((u - mean).abs() - 0.5).max(0.0);
    (2.0 * (1.0 - normal_cdf(distance / variance.sqrt()))).min(1.0)
}

/// The exact two-sided p-value of a rank sum: the share of all ways to
/// pick `n1` of the pooled (doubled) ranks whose sum lies at least as far
/// from its expected value as `observed` does.
fn exact_rank_sum_p_value(doubled_ranks: &[usize], n1: usize, observed: usize) -> f64 {
    let total: usize = doubled_ranks.iter().sum();
    // ways[k][s]: subsets of k ranks seen so far summing to s; counts reach
    // C(40, 20) ~ 1.4e11 at most, exact in an f64.
    let mut ways = vec![vec![0f64; total + 1]; n1 + 1];
    ways[0][0] = 1.0;
    for &rank in doubled_ranks {
        for k in (0..n1).rev() {
            for s in (0..=total - rank).rev() {
                let here = ways[k][s];
                if here > 0.0 {
                    ways[k + 1][s + rank] += here;
                }
            }
        }
    }
    // E[sum] = n1 * total / n; compare distances scaled by n to stay exact.
    let n = doubled_ranks.len();
    let distance = |sum: usize| (sum * n).abs_diff(n1 * total);
    let observed_distance = distance(observed);
    let (extreme, all) =
        ways[n1]
            .iter()
            .enumerate()
            .fold((0.0, 0.0), |(extreme, all), (sum, count)| {
                let far = distance(sum) >= observed_distance;
                (extreme + if far { *count } else { 0.0 }, all + count)
            });
    (extreme / all).min(1.0)
}

/// Draws a Gamma(`shape`, 1) variate: a sum of exponentials for small
/// shapes, the Wilson-Hilferty normal approximation for large ones.
fn gamma(rng: &mut StdRng, shape: f64) -> f64 {
    if shape < 64.0 {
        let whole = shape.round().max(1.0) as usize;
        (0..whole)
            .map(|_| -(1.0 - rng.gen::<f64>()).ln())
            .sum::<f64>()
    } else {
        let z = standard_normal(rng);
        let c = 1.0 / (9.0 * shape);
        (shape * (1.0 - c + z * c.sqrt()).powi(3)).max(f64::MIN_POSITIVE)
    }
}

fn standard_normal(rng: &mut StdRng) -> f64 {
    let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// One bootstrap draw of the `quantile` of a sample of `histogram.len()`
/// values from `histogram`'s distribution.
pub fn draw_quantile(rng: &mut StdRng, histogram: &Histogram<u64>, quantile: f64) -> f64 {
    let n = histogram.len() as f64;
    // The k-th smallest of n uniforms is Beta(k, n + 1 - k): a ratio of
    // two Gamma variates.
    let k = (quantile * n).ceil().clamp(1.0, n);
    let below = gamma(rng, k);
    let above = gamma(rng, n + 1.0 - k);
    let u = below / (below + above);
    histogram.value_at_quantile(u) as f64
}

/// One bootstrap draw of the mean of `histogram`'s samples.
pub fn draw_mean(rng: &mut StdRng, histogram: &Histogram<u64>) -> f64 {
    let n = histogram.len() as f64;
    histogram.mean() + standard_normal(rng) * histogram.stdev() / n.sqrt()
}

/// One bootstrap draw of a rate observed as `count` events in `seconds`
/// (a Poisson count).
pub fn draw_rate(rng: &mut StdRng, count: u64, seconds: f64) -> f64 {
    if seconds <= 0.0 {
        return 0.0;
    }
    gamma(rng, count.max(1) as f64) / seconds
}

/// A 95% interval and a two-sided p-value from bootstrap draws of the
/// candidate-minus-base difference (any scale where 0 means no change).
pub fn interval_and_p(mut differences: Vec<f64>) -> ((f64, f64), f64) {
    differences.retain(|d| d.is_finite());
    if differences.is_empty() {
        return ((0.0, 0.0), 1.0);
    }
    differences.sort_by(f64::total_cmp);
    let at = |q: f64| differences[((differences.len() - 1) as f64 * q).round() as usize];
    let n = differences.len() as f64;
    let at_or_below = differences.iter().filter(|d| **d <= 0.0).count() as f64 / n;
    let at_or_above = differences.iter().filter(|d| **d >= 0.0).count() as f64 / n;
    let p = (2.0 * at_or_below.min(at_or_above)).min(1.0);
    ((at(0.025), at(0.975)), p)
}

/// The difference of two proportions, `hits_b/n_b - hits_a/n_a`: its 95%
/// interval (Wald, unpooled) and the two-sided p-value of the pooled
/// z-test. Error counts within a run are binomial, so this needs no
/// resampling.
pub fn two_proportions(hits_a: u64, n_a: u64, hits_b: u64, n_b: u64) -> ((f64, f64), f64) {
    if n_a == 0 || n_b == 0 {
        return ((0.0, 0.0), 1.0);
    }
    let (na, nb) = (n_a as f64, n_b as f64);
    let (pa, pb) = (hits_a as f64 / na, hits_b as f64 / nb);
    let difference = pb - pa;
    let spread = (pa * (1.0 - pa) / na + pb * (1.0 - pb) / nb).sqrt();
    let interval = (difference - 1.96 * spread, difference + 1.96 * spread);
    let pooled = (hits_a + hits_b) as f64 / (na + nb);
    let standard_error = (pooled * (1.0 - pooled) * (1.0 / na + 1.0 / nb)).sqrt();
    if standard_error == 0.0 {
        return (interval, 1.0);
    }
    let z = difference.abs() / standard_error;
    (interval, (2.0 * (1.0 - normal_cdf(z))).min(1.0))
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn mann_whitney_matches_published_values() {
        // Fully separated samples of 4 and 4: the smallest possible exact
        // two-sided p-value is 2/70.
        let p = mann_whitney(&[1.0, 2.0, 3.0, 4.0], &[5.0, 6.0, 7.0, 8.0]);
        assert!((p - 2.0 / 70.0).abs() < 1e-12, "{p}");
        // Identical samples: no evidence at all.
        assert_eq!(mann_whitney(&[3.0; 5], &[3.0; 5]), 1.0);
        // Interleaved samples: far from significant.
        assert!(mann_whitney(&[1.0, 3.0, 5.0, 7.0], &[2.0, 4.0, 6.0, 8.0]) > 0.5);
        // Ties within each side keep the test exact.
        let p = mann_whitney(&[1.0, 1.0, 2.0, 3.0], &[5.0, 5.0, 7.0, 8.0]);
        assert!((p - 2.0 / 70.0).abs() < 1e-12, "{p}");
        // A tie across the sides: 4 of the 70 splits are as extreme.
        let p = mann_whitney(&[1.0, 2.0, 3.0, 5.0], &[5.0, 6.0, 7.0, 8.0]);
        assert!((p - 4.0 / 70.0).abs() < 1e-12, "{p}");
        // Large separated samples with ties use the normal approximation.
        let a: Vec<f64> = (0..30).map(|i| (i / 2) as f64).collect();
        let b: Vec<f64> = (0..30).map(|i| 100.0 + (i / 2) as f64).collect();
        assert!(mann_whitney(&a, &b) < 1e-6);
    }

    #[test]
    fn two_proportions_test_their_difference() {
        // 10 of 1000 against 40 of 1000: z = 4.29, p about 1.8e-5.
        let ((low, high), p) = two_proportions(10, 1000, 40, 1000);
        assert!(p < 1e-4 && p > 1e-6, "{p}");
        assert!(low > 0.0 && high > low && (low + high) / 2.0 - 0.03 < 1e-12);
        let (_, p) = two_proportions(10, 1000, 11, 1000);
        assert!(p > 0.5, "{p}");
        assert_eq!(two_proportions(0, 100, 0, 100).1, 1.0);
    }

    #[test]
    fn normal_cdf_is_accurate() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_cdf(1.959_964) - 0.975).abs() < 1e-6);
        assert!((normal_cdf(-2.575_829) - 0.005).abs() < 1e-6);
    }

    #[test]
    fn drawn_quantiles_centre_on_the_histogram() {
        let mut histogram = crate::load::new_histogram();
        for value in 1..=10_000u64 {
            histogram.record(value).unwrap();
        }
        let mut rng = StdRng::seed_from_u64(1);
        let draws: Vec<f64> = (0..500)
            .map(|_| draw_quantile(&mut rng, &histogram, 0.99))
            .collect();
        let centre = median(&draws);
        assert!((centre - 9_900.0).abs() < 30.0, "{centre}");
        let spread = draws.iter().cloned().fold(f64::MIN, f64::max)
            - draws.iter().cloned().fold(f64::MAX, f64::min);
        assert!(spread > 0.0 && spread < 200.0, "{spread}");
    }

    #[test]
    fn intervals_and_p_values_read_the_draws() {
        let all_positive: Vec<f64> = (1..=1000).map(|i| i as f64).collect();
        let ((low, high), p) = interval_and_p(all_positive);
        assert!(low > 0.0 && high > low);
        assert_eq!(p, 0.0);
        let centred: Vec<f64> = (-500..=500).map(|i| i as f64).collect();
        let (_, p) = interval_and_p(centred);
        assert!(p > 0.9, "{p}");
    }
}
