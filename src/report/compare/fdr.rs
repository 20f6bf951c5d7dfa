//! Many figures, one decision: the false-discovery rate.
//!
//! A comparison tests dozens of figures at once. At p < 0.05 each, two
//! identical builds would produce a verdict or two in most comparisons.
//! The Benjamini–Hochberg procedure adjusts the p-values so that, among
//! the figures called changed, the expected share of false calls stays
//! below 5%. It was chosen over Holm's family-wise control because a
//! real regression moves several correlated figures together (p50, p90,
//! mean, throughput), and BH lets that joint evidence count, where Holm
//! would demand each alone clear the strictest bar.

/// Benjamini–Hochberg adjusted p-values, in the order given.
pub fn benjamini_hochberg(p_values: &[f64]) -> Vec<f64> {
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&i, &j| p_values[i].total_cmp(&p_values[j]));
    let mut adjusted = vec![1.0; m];
    // From the largest p down, each adjusted value is the smallest
    // p·m/rank at or above its rank.
    let mut running = 1.0f64;
    for (rank, &i) in order.iter().enumerate().rev() {
        running = running.min(p_values[i] * m as f64 / (rank + 1) as f64);
        adjusted[i] = running.min(1.0);
    }
    adjusted
}

/// The Benjamini–Hochberg adjustment of the tested figures among
/// `p_values` (`None`: not tested), at the same positions.
pub fn adjust_tested(p_values: &[Option<f64>]) -> Vec<Option<f64>> {
    let raw: Vec<f64> = p_values.iter().flatten().copied().collect();
    let mut adjusted = benjamini_hochberg(&raw).into_iter();
    p_values
        .iter()
        .map(|p| p.and_then(|_| adjusted.next()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adjusts_as_published() {
        // The worked example of Benjamini and Hochberg's procedure: with
        // m = 5, sorted p-values 0.01, 0.02, 0.03, 0.04, 0.05 all adjust to
        // 0.05, and order is kept.
        let adjusted = benjamini_hochberg(&[0.05, 0.01, 0.03, 0.02, 0.04]);
        for value in &adjusted {
            assert!((value - 0.05).abs() < 1e-12, "{adjusted:?}");
        }
        let adjusted = benjamini_hochberg(&[0.001, 0.5, 0.04]);
        assert!((adjusted[0] - 0.003).abs() < 1e-12);
        assert!((adjusted[2] - 0.06).abs() < 1e-12);
        assert!((adjusted[1] - 0.5).abs() < 1e-12);
        assert!(benjamini_hochberg(&[]).is_empty());
    }
}
