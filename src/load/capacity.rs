//! Finding a target's capacity: the highest open-model rate at which every
//! rule (`identity.lookup:p99<50ms`, an error-rate limit) still holds.
//!
//! The search tries one rate per step. It doubles the rate from the lowest
//! until a step breaks a rule, then bisects between the last rate that
//! held and the first that broke, until the two are within 10% of each
//! other. The answer is the highest rate that held: a lower bound on the
//! capacity, at most 10% under it.
//!
//! [`CapacitySearch`] only decides which rate comes next; the caller runs
//! each step (with its own warm-up, on the same measuring path as any
//! run) and reports whether the rules held.

/// How close the last good and the first bad rate must come.
pub const PRECISION: f64 = 0.10;
/// The factor between steps before the first broken rule.
const GROWTH: f64 = 2.0;

/// Where a search stands: the rates that held and broke so far.
#[derive(Debug, Clone, PartialEq)]
pub struct CapacitySearch {
    lowest: f64,
    highest: f64,
    good: Option<f64>,
    bad: Option<f64>,
}

/// How a search ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SearchEnd {
    /// The highest rate that held, within [`PRECISION`] of the lowest
    /// that broke.
    Found {
        /// The highest rate at which every rule held.
        capacity: f64,
        /// The lowest rate at which one broke.
        broken_at: f64,
    },
    /// Even the lowest rate broke a rule.
    BelowLowest(f64),
    /// The highest rate allowed held.
    AboveHighest(f64),
}

impl CapacitySearch {
    /// A search from `lowest` up to `highest` operations per second.
    pub fn new(lowest: f64, highest: f64) -> Self {
        Self {
            lowest,
            highest: highest.max(lowest),
            good: None,
            bad: None,
        }
    }

    /// The rate to try next, or `None` when the search is over.
    pub fn next_rate(&self) -> Option<f64> {
        match (self.good, self.bad) {
            (None, None) => Some(self.lowest),
            (None, Some(_)) => None,
            (Some(good), None) if good >= self.highest => None,
            (Some(good), None) => Some((good * GROWTH).min(self.highest)),
            (Some(good), Some(bad)) if bad <= good * (1.0 + PRECISION) => None,
            (Some(good), Some(bad)) => Some((good + bad) / 2.0),
        }
    }

    /// Takes in the verdict of the step at `rate`.
    pub fn record(&mut self, rate: f64, held: bool) {
        if held {
            self.good = Some(self.good.map_or(rate, |good| good.max(rate)));
        } else {
            self.bad = Some(self.bad.map_or(rate, |bad| bad.min(rate)));
        }
    }

    /// The highest rate that held so far.
    pub fn best(&self) -> Option<f64> {
        self.good
    }

    /// How the search ended, once [`next_rate`](Self::next_rate) is `None`.
    pub fn end(&self) -> Option<SearchEnd> {
        if self.next_rate().is_some() {
            return None;
        }
        Some(match (self.good, self.bad) {
            (Some(capacity), Some(broken_at)) => SearchEnd::Found {
                capacity,
                broken_at,
            },
            (None, _) => SearchEnd::BelowLowest(self.lowest),
            (Some(good), None) => SearchEnd::AboveHighest(good),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a search against a target whose rules hold up to `capacity`.
    fn search(capacity: f64, lowest: f64, highest: f64) -> (Vec<f64>, SearchEnd) {
        let mut search = CapacitySearch::new(lowest, highest);
        let mut tried = Vec::new();
        while let Some(rate) = search.next_rate() {
            tried.push(rate);
            search.record(rate, rate <= capacity);
            assert!(tried.len() < 40, "the search does not end: {tried:?}");
        }
        (tried, search.end().unwrap())
    }

    #[test]
    fn doubles_then_bisects_to_within_ten_percent() {
        let (tried, end) = search(400.0, 10.0, 1e6);
        assert_eq!(&tried[..7], &[10.0, 20.0, 40.0, 80.0, 160.0, 320.0, 640.0]);
        let SearchEnd::Found {
            capacity,
            broken_at,
        } = end
        else {
            panic!("{end:?}");
        };
        assert!(capacity <= 400.0 && broken_at > 400.0);
        assert!(broken_at <= capacity * 1.1, "{capacity} .. {broken_at}");
        assert!(capacity >= 400.0 / 1.1, "{capacity}");
    }

    #[test]
    fn says_when_the_lowest_rate_breaks_or_the_highest_holds() {
        assert_eq!(
            search(5.0, 10.0, 1e6),
            (vec![10.0], SearchEnd::BelowLowest(10.0))
        );
        let (tried, end) = search(1e9, 10.0, 100.0);
        assert_eq!(tried, [10.0, 20.0, 40.0, 80.0, 100.0]);
        assert_eq!(end, SearchEnd::AboveHighest(100.0));
    }
}
