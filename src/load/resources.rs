//! CPU and memory of a process, read from Linux `/proc`.
//!
//! A load generator that runs out of CPU stops measuring the target and
//! starts measuring itself: operations queue up locally and response times
//! grow for reasons the network never saw. So a benchmark watches its own
//! process (or the node it embeds) and reports how busy it was.
//!
//! The kernel already keeps the numbers: `/proc/<pid>/stat` has the CPU
//! time spent in user and kernel mode, `/proc/<pid>/status` the resident
//! set size. [`ProcessProbe`] reads them into a [`ProcessReading`];
//! [`ResourceSampler`] turns successive readings into CPU percentages and
//! keeps a [`ResourceSummary`]. Nothing here needs libc: where `/proc` is
//! missing (other systems) or the process has gone, a read gives `None`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// `AT_CLKTCK`: the auxiliary-vector entry holding `USER_HZ`.
const AT_CLKTCK: u64 = 17;
/// `USER_HZ` where the auxiliary vector cannot be read.
const FALLBACK_TICKS_PER_SECOND: u64 = 100;

/// Clock ticks per second in `/proc/<pid>/stat` (`USER_HZ`).
///
/// The kernel hands every process its `USER_HZ` in the auxiliary vector
/// (`AT_CLKTCK`, the value `sysconf(_SC_CLK_TCK)` returns), which
/// `/proc/self/auxv` exposes as native-endian pairs of words. Reading it
/// there needs no libc; 100 stands in where it cannot be read.
fn ticks_per_second() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::fs::read("/proc/self/auxv")
            .ok()
            .and_then(|auxv| clock_ticks_from_auxv(&auxv))
            .unwrap_or(FALLBACK_TICKS_PER_SECOND)
    })
}

/// `AT_CLKTCK` from the bytes of an auxiliary vector of this target's word size.
fn clock_ticks_from_auxv(auxv: &[u8]) -> Option<u64> {
    const WORD: usize = std::mem::size_of::<usize>();
    let word = |bytes: &[u8]| -> u64 {
        let mut buffer = [0u8; 8];
        if cfg!(target_endian = "little") {
            buffer[..WORD].copy_from_slice(bytes);
            u64::from_le_bytes(buffer)
        } else {
            buffer[8 - WORD..].copy_from_slice(bytes);
            u64::from_be_bytes(buffer)
        }
    };
    auxv.chunks_exact(2 * WORD)
        .map(|pair| (word(&pair[..WORD]), word(&pair[WORD..])))
        .take_while(|&(key, _)| key != 0)
        .find(|&(key, _)| key == AT_CLKTCK)
        .map(|(_, ticks)| ticks)
        .filter(|&ticks| ticks > 0)
}

/// Share of all cores above which a process counts as saturated (percent
/// of one core, per core).
const SATURATION_PERCENT_PER_CORE: f64 = 85.0;

/// One reading of a process's resource use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessReading {
    /// CPU time used so far, user plus kernel, over all threads.
    pub cpu: Duration,
    /// Resident set size.
    pub rss_bytes: u64,
    /// When the reading was taken.
    pub at: Instant,
}

/// Reads the resource use of one process from `/proc`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessProbe {
    dir: PathBuf,
}

impl ProcessProbe {
    /// This process.
    pub fn current() -> Self {
        Self {
            dir: PathBuf::from("/proc/self"),
        }
    }

    /// The process with this id.
    pub fn pid(pid: u32) -> Self {
        Self {
            dir: PathBuf::from(format!("/proc/{pid}")),
        }
    }

    /// The process's CPU time and RSS now, or `None` when it cannot be
    /// read (the process has exited, or there is no `/proc`).
    pub fn read(&self) -> Option<ProcessReading> {
        let stat = std::fs::read_to_string(self.dir.join("stat")).ok()?;
        let status = std::fs::read_to_string(self.dir.join("status")).ok()?;
        let at = Instant::now();
        let ticks = parse_cpu_ticks(&stat)?;
        let rss_bytes = parse_rss_bytes(&status)?;
        Some(ProcessReading {
            cpu: ticks_to_duration(ticks),
            rss_bytes,
            at,
        })
    }
}

/// `utime + stime` in clock ticks, from the text of `/proc/<pid>/stat`.
///
/// Field 2 is the command name in parentheses, and the name itself may
/// hold spaces and `)`; the kernel writes nothing after it that could, so
/// the fields are counted from the last `)`.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let (_, after_comm) = stat.rsplit_once(')')?;
    // After the name come field 3 (state) onwards: field n is at n - 3.
    let mut fields = after_comm.split_whitespace().skip(14 - 3);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    utime.checked_add(stime)
}

/// The `VmRSS` line of `/proc/<pid>/status` in bytes. Absent for kernel
/// threads and zombies, which have no memory of their own.
fn parse_rss_bytes(status: &str) -> Option<u64> {
    let line = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?;
    let mut parts = line.split_whitespace();
    let value: u64 = parts.next()?.parse().ok()?;
    // The kernel always writes kB (meaning KiB) here.
    match parts.next() {
        Some("kB") => value.checked_mul(1024),
        _ => None,
    }
}

fn ticks_to_duration(ticks: u64) -> Duration {
    ticks_to_duration_at(ticks, ticks_per_second())
}

fn ticks_to_duration_at(ticks: u64, per_second: u64) -> Duration {
    let seconds = ticks / per_second;
    let rest = ticks % per_second;
    Duration::from_secs(seconds) + Duration::from_nanos(rest * 1_000_000_000 / per_second)
}

/// Resource use over one sampling interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ResourceSample {
    /// Time since the sampler was created.
    pub elapsed: Duration,
    /// CPU use over the interval: 100 means one core busy all the time.
    pub cpu_percent: f64,
    /// Resident set size at the end of the interval.
    pub rss_bytes: u64,
}

/// Resource use over a sampler's life.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ResourceSummary {
    /// CPU time used between the first and the last reading.
    pub cpu_seconds: f64,
    /// CPU use over the same span (100 = one core), weighted by time
    /// rather than averaged over samples.
    pub mean_cpu_percent: f64,
    /// The busiest sampling interval.
    pub max_cpu_percent: f64,
    /// Largest RSS seen in any reading (sampled, so a short spike between
    /// readings can be missed).
    pub peak_rss_bytes: u64,
    /// RSS at the last reading.
    pub last_rss_bytes: u64,
    /// Successful calls to [`ResourceSampler::sample`].
    pub samples: u64,
}

/// Turns periodic [`ProcessReading`]s into CPU percentages.
///
/// The caller decides the pace by calling [`sample`](Self::sample), say
/// once a second; CPU time moves in 10 ms ticks, so much shorter intervals
/// give coarse percentages.
#[derive(Debug)]
pub struct ResourceSampler {
    probe: ProcessProbe,
    created: Instant,
    first: Option<ProcessReading>,
    previous: Option<ProcessReading>,
    max_cpu_percent: f64,
    peak_rss_bytes: u64,
    samples: u64,
}

impl ResourceSampler {
    /// A sampler whose first interval starts now.
    pub fn new(probe: ProcessProbe) -> Self {
        let created = Instant::now();
        let first = probe.read();
        Self {
            probe,
            created,
            first,
            previous: first,
            max_cpu_percent: 0.0,
            peak_rss_bytes: first.map_or(0, |r| r.rss_bytes),
            samples: 0,
        }
    }

    /// Reads the process and reports the interval since the previous
    /// reading. `None` when the process cannot be read; also `None` once
    /// if no reading had succeeded before, as this one only starts the
    /// first interval.
    pub fn sample(&mut self) -> Option<ResourceSample> {
        let now = self.probe.read()?;
        self.peak_rss_bytes = self.peak_rss_bytes.max(now.rss_bytes);
        let Some(previous) = self.previous.replace(now) else {
            self.first = Some(now);
            return None;
        };
        let cpu_percent = percent(now.cpu.saturating_sub(previous.cpu), now.at - previous.at);
        self.max_cpu_percent = self.max_cpu_percent.max(cpu_percent);
        self.samples += 1;
        Some(ResourceSample {
            elapsed: now.at.saturating_duration_since(self.created),
            cpu_percent,
            rss_bytes: now.rss_bytes,
        })
    }

    /// What the readings so far add up to.
    pub fn summary(&self) -> ResourceSummary {
        let (Some(first), Some(last)) = (self.first, self.previous) else {
            return ResourceSummary::default();
        };
        let cpu = last.cpu.saturating_sub(first.cpu);
        ResourceSummary {
            cpu_seconds: cpu.as_secs_f64(),
            mean_cpu_percent: percent(cpu, last.at - first.at),
            max_cpu_percent: self.max_cpu_percent,
            peak_rss_bytes: self.peak_rss_bytes,
            last_rss_bytes: last.rss_bytes,
            samples: self.samples,
        }
    }
}

/// CPU time as a percentage of one core over `wall`; zero for an empty
/// interval rather than a division by zero.
fn percent(cpu: Duration, wall: Duration) -> f64 {
    if wall.is_zero() {
        0.0
    } else {
        cpu.as_secs_f64() / wall.as_secs_f64() * 100.0
    }
}

/// Cores this process may use (affinity and cgroup quota included), at
/// least 1.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Whether a CPU percentage (100 = one core) is above 85% of all
/// [`cores`].
///
/// Past this point the process is short of CPU: for a load generator the
/// figures describe the generator itself rather than the target, and a
/// run should say so instead of reporting them as the network's.
pub fn saturated(cpu_percent: f64) -> bool {
    cpu_percent > SATURATION_PERCENT_PER_CORE * cores() as f64
}

#[cfg(test)]
mod tests {
    use std::hint::black_box;

    use super::*;

    fn burn_cpu(for_how_long: Duration) {
        let start = Instant::now();
        let mut x: u64 = 1;
        while start.elapsed() < for_how_long {
            for _ in 0..10_000 {
                x = black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
        }
        black_box(x);
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn reads_this_process() {
        let reading = ProcessProbe::current().read().expect("/proc/self");
        assert!(reading.rss_bytes > 0);
        let by_pid = ProcessProbe::pid(std::process::id())
            .read()
            .expect("own pid");
        assert!(by_pid.rss_bytes > 0);
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn cpu_time_grows_while_busy() {
        let probe = ProcessProbe::current();
        let mut sampler = ResourceSampler::new(probe.clone());
        let before = probe.read().expect("/proc/self");
        burn_cpu(Duration::from_millis(200));
        let after = probe.read().expect("/proc/self");
        assert!(after.cpu > before.cpu, "{before:?} -> {after:?}");

        let sample = sampler.sample().expect("sample");
        assert!(sample.cpu_percent > 0.0);
        assert!(sample.rss_bytes > 0);
        let summary = sampler.summary();
        assert_eq!(summary.samples, 1);
        assert!(summary.cpu_seconds > 0.0);
        assert_eq!(summary.max_cpu_percent, sample.cpu_percent);
        assert!(summary.peak_rss_bytes >= summary.last_rss_bytes);
    }

    #[test]
    fn a_missing_process_reads_as_none() {
        // Above any pid_max the kernel allows (at most 2^22).
        assert_eq!(ProcessProbe::pid(u32::MAX).read(), None);
        let mut sampler = ResourceSampler::new(ProcessProbe::pid(u32::MAX));
        assert_eq!(sampler.sample(), None);
        assert_eq!(sampler.summary(), ResourceSummary::default());
    }

    #[test]
    fn stat_fields_count_from_the_last_parenthesis() {
        // utime = 7, stime = 3; the name holds spaces and `)`.
        let stat =
            "1234 (a) b) c) S 1 1234 1234 0 -1 4194560 500 0 0 0 7 3 0 0 20 0 1 0 99 1000 50";
        assert_eq!(parse_cpu_ticks(stat), Some(10));
        let plain = "3380 (cat) R 3376 3376 2787 0 -1 4194304 99 0 0 0 120 35 0 0 20 0";
        assert_eq!(parse_cpu_ticks(plain), Some(155));
        assert_eq!(parse_cpu_ticks("1234 (truncated) S 1 2"), None);
        assert_eq!(parse_cpu_ticks("no parenthesis at all"), None);
    }

    #[test]
    fn status_rss_is_in_kib() {
        let status = "Name:\tcat\nVmPeak:\t  9000 kB\nVmRSS:\t    2028 kB\nThreads:\t1\n";
        assert_eq!(parse_rss_bytes(status), Some(2028 * 1024));
        assert_eq!(parse_rss_bytes("Name:\tkthreadd\nThreads:\t1\n"), None);
    }

    #[test]
    fn ticks_are_hundredths_of_a_second() {
        assert_eq!(ticks_to_duration_at(0, 100), Duration::ZERO);
        assert_eq!(ticks_to_duration_at(250, 100), Duration::from_millis(2500));
        assert_eq!(ticks_to_duration_at(250, 1000), Duration::from_millis(250));
        // This machine's own vector names a tick rate.
        let auxv = std::fs::read("/proc/self/auxv").unwrap();
        assert!(clock_ticks_from_auxv(&auxv).is_some_and(|hz| hz > 0));
        // Another vector: AT_PAGESZ, then AT_CLKTCK = 250, then AT_NULL.
        let words: Vec<usize> = vec![6, 4096, AT_CLKTCK as usize, 250, 0, 0];
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_ne_bytes()).collect();
        assert_eq!(clock_ticks_from_auxv(&bytes), Some(250));
    }

    #[test]
    fn saturation_scales_with_cores() {
        let all = 100.0 * cores() as f64;
        assert!(saturated(all));
        assert!(!saturated(0.8 * all));
        assert_eq!(percent(Duration::from_secs(1), Duration::ZERO), 0.0);
        assert_eq!(
            percent(Duration::from_millis(500), Duration::from_secs(1)),
            50.0
        );
    }
}
