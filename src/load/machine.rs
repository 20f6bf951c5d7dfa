//! How busy the whole machine is, from the first line of `/proc/stat`.
//!
//! A process's own CPU time misses what competes with it: an embedded node,
//! other benchmarks, a build. When the machine has no CPU to spare, every
//! process on it waits for a core, and a load generator that looks idle
//! still measures the machine rather than its target.

/// Share of the machine's CPU time above which it counts as saturated.
const SATURATED_SHARE: f64 = 0.85;

/// Cumulative CPU time of all cores, in clock ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MachineCpu {
    busy: u64,
    total: u64,
}

impl MachineCpu {
    /// The counters now, or `None` where there is no `/proc/stat`.
    pub fn read() -> Option<Self> {
        Self::parse(&std::fs::read_to_string("/proc/stat").ok()?)
    }

    /// The `cpu` line: user nice system idle iowait irq softirq steal …;
    /// idle and iowait are time no process wanted a core.
    fn parse(stat: &str) -> Option<Self> {
        let line = stat.lines().find(|l| l.starts_with("cpu "))?;
        let ticks: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .take(8)
            .map(|field| field.parse().ok())
            .collect::<Option<_>>()?;
        let total: u64 = ticks.iter().sum();
        let idle = ticks.get(3)? + ticks.get(4).copied().unwrap_or(0);
        Some(Self {
            busy: total.saturating_sub(idle),
            total,
        })
    }

    /// The share of CPU time (0 to 1) that was busy since `earlier`.
    pub fn busy_since(&self, earlier: &Self) -> Option<f64> {
        let total = self.total.checked_sub(earlier.total).filter(|t| *t > 0)?;
        let busy = self.busy.saturating_sub(earlier.busy);
        Some(busy as f64 / total as f64)
    }

    /// Whether the machine was saturated since `earlier`.
    pub fn saturated_since(&self, earlier: &Self) -> bool {
        self.busy_since(earlier)
            .is_some_and(|share| share > SATURATED_SHARE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_time_is_all_but_idle_and_iowait() {
        let before = MachineCpu::parse("cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 1 2 3 4\n").unwrap();
        let after = MachineCpu::parse("cpu  190 0 190 710 110 0 0 0 0 0\n").unwrap();
        // 180 busy ticks out of 200.
        assert_eq!(after.busy_since(&before), Some(0.9));
        assert!(after.saturated_since(&before));
        assert_eq!(before.busy_since(&before), None);
        assert!(MachineCpu::parse("intr 1 2 3\n").is_none());
        assert!(MachineCpu::read().is_some(), "this machine has /proc/stat");
    }
}
