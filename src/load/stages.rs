//! Load that changes during a run: ramping rates and stepped concurrency.
//!
//! A run may be a list of stages, each a duration and a target, written
//! `30s:50/s,2m:200/s,30s:0/s` (open model) or `30s:c=4,1m:c=16` (closed
//! model). In the open model the rate moves *linearly* from the previous
//! stage's target (0 before the first) to each stage's target, as k6's
//! ramping arrival rate does; a `0s` stage jumps. In the closed model
//! each stage sets the number of workers for its whole duration.
//!
//! The open schedule stays exact under a ramp: the `n`-th operation is
//! meant to start when the integral of the rate reaches `n`, so response
//! times are measured from where the ramp put each start, and a ramp
//! from 0 to 100/s over 2 s starts 100 operations.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// What a stage holds the load at (or ramps it to).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Level {
    /// Operations started per second (open model).
    Rate(f64),
    /// Workers (closed model).
    Concurrency(usize),
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rate(rate) => write!(f, "{rate}/s"),
            Self::Concurrency(workers) => write!(f, "c={workers}"),
        }
    }
}

/// One stage: a duration and its target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stage {
    /// How long the stage lasts.
    pub duration: Duration,
    /// The rate it ramps to, or the concurrency it holds.
    pub target: Level,
}

/// A validated list of stages, all of one load model.
#[derive(Debug, Clone, PartialEq)]
pub struct Stages {
    list: Vec<Stage>,
    /// The rate before the first stage (open model).
    initial_rate: f64,
}

/// The highest rate and concurrency a stage may ask for.
const MAX_RATE: f64 = 1e6;
const MAX_CONCURRENCY: usize = 100_000;

impl FromStr for Stages {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let stages = text
            .split(',')
            .map(parse_stage)
            .collect::<Result<Vec<_>, _>>()?;
        let open = matches!(stages[0].target, Level::Rate(_));
        if stages
            .iter()
            .any(|s| matches!(s.target, Level::Rate(_)) != open)
        {
            return Err(format!(
                "`{text}` mixes rates (N/s) and concurrencies (c=N); stages use one load model"
            ));
        }
        let stages = Self {
            list: stages,
            initial_rate: 0.0,
        };
        if stages.total().is_zero() {
            return Err(format!("`{text}` lasts no time at all"));
        }
        Ok(stages)
    }
}

fn parse_stage(text: &str) -> Result<Stage, String> {
    let Some((duration, target)) = text.trim().split_once(':') else {
        return Err(format!(
            "`{text}` is not a stage like 30s:50/s (a ramp to a rate) or 1m:c=8 (a concurrency)"
        ));
    };
    let duration = humantime::parse_duration(duration.trim())
        .map_err(|e| format!("`{duration}` in stage `{text}` is not a duration like 30s ({e})"))?;
    let target = target.trim();
    let level = if let Some(workers) = target.strip_prefix("c=") {
        match workers.trim().parse::<usize>() {
            Ok(n) if n <= MAX_CONCURRENCY => Level::Concurrency(n),
            _ => {
                return Err(format!(
                "`{target}` in stage `{text}` is not a concurrency between 0 and {MAX_CONCURRENCY}"
            ))
            }
        }
    } else if let Some(rate) = target.strip_suffix("/s") {
        match rate.trim().parse::<f64>() {
            Ok(r) if r.is_finite() && (0.0..=MAX_RATE).contains(&r) => Level::Rate(r),
            _ => {
                return Err(format!(
                    "`{target}` in stage `{text}` is not a rate between 0/s and {MAX_RATE}/s"
                ))
            }
        }
    } else {
        return Err(format!(
            "`{target}` in stage `{text}` is neither a rate like 50/s nor a concurrency like c=8"
        ));
    };
    Ok(Stage {
        duration,
        target: level,
    })
}

impl Stages {
    /// One stage that holds `rate` from its start, without a ramp.
    pub fn steady(rate: f64, duration: Duration) -> Self {
        Self {
            list: vec![Stage {
                duration,
                target: Level::Rate(rate),
            }],
            initial_rate: rate,
        }
    }

    /// The stages, in order.
    pub fn list(&self) -> &[Stage] {
        &self.list
    }

    /// Whether the stages set rates (the open model).
    pub fn is_open(&self) -> bool {
        matches!(self.list[0].target, Level::Rate(_))
    }

    /// How long all the stages last.
    pub fn total(&self) -> Duration {
        self.list.iter().map(|s| s.duration).sum()
    }

    /// When each stage starts, from the start of the first.
    pub fn offsets(&self) -> Vec<Duration> {
        let mut at = Duration::ZERO;
        self.list
            .iter()
            .map(|s| {
                let start = at;
                at += s.duration;
                start
            })
            .collect()
    }

    /// The most workers any stage asks for (closed model).
    pub fn max_concurrency(&self) -> usize {
        self.list
            .iter()
            .filter_map(|s| match s.target {
                Level::Concurrency(n) => Some(n),
                Level::Rate(_) => None,
            })
            .max()
            .unwrap_or(0)
    }

    /// The highest rate any stage reaches (open model).
    pub fn max_rate(&self) -> f64 {
        self.list
            .iter()
            .filter_map(|s| match s.target {
                Level::Rate(r) => Some(r),
                Level::Concurrency(_) => None,
            })
            .fold(0.0, f64::max)
    }

    /// The open model's piecewise-linear rate.
    pub fn ramp(&self) -> Ramp {
        let mut segments = Vec::with_capacity(self.list.len());
        let (mut from, mut start, mut before) = (self.initial_rate, Duration::ZERO, 0.0);
        for stage in &self.list {
            let Level::Rate(to) = stage.target else {
                continue;
            };
            let segment = Segment {
                start,
                length: stage.duration.as_secs_f64(),
                from,
                to,
                before,
            };
            before += segment.count();
            start += stage.duration;
            from = to;
            segments.push(segment);
        }
        Ramp { segments }
    }
}

impl fmt::Display for Stages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, stage) in self.list.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            let duration = humantime::format_duration(stage.duration);
            write!(f, "{sep}{duration}:{}", stage.target)?;
        }
        Ok(())
    }
}

/// A rate that moves linearly within each stage.
#[derive(Debug, Clone)]
pub struct Ramp {
    segments: Vec<Segment>,
}

/// One stage's stretch of the ramp.
#[derive(Debug, Clone, Copy)]
struct Segment {
    /// When it starts, from the start of the ramp.
    start: Duration,
    /// How long it lasts, in seconds.
    length: f64,
    /// The rate at its start and at its end.
    from: f64,
    to: f64,
    /// Operations the ramp starts before it.
    before: f64,
}

impl Segment {
    /// Operations started over the whole segment: the area under the rate.
    fn count(&self) -> f64 {
        (self.from + self.to) / 2.0 * self.length
    }

    /// Seconds into the segment at which `m` operations have been started,
    /// for `0 <= m <= count()`: the root of `from·t + slope·t²/2 = m`,
    /// in the form that stays exact when the slope is 0 or negative.
    fn time_of(&self, m: f64) -> f64 {
        if m <= 0.0 {
            return 0.0;
        }
        let slope = (self.to - self.from) / self.length;
        let root = (self.from * self.from + 2.0 * slope * m).max(0.0).sqrt();
        (2.0 * m / (self.from + root)).min(self.length)
    }
}

impl Ramp {
    /// When the `n`-th operation (from 0) is meant to start, from the start
    /// of the ramp; `None` once the ramp has started all it will.
    pub fn offset_of(&self, n: u64) -> Option<Duration> {
        let n = n as f64;
        self.segments
            .iter()
            .find(|s| n < s.before + s.count())
            .map(|s| s.start + Duration::from_secs_f64(s.time_of(n - s.before)))
    }

    /// Operations the ramp starts in all, rounded up.
    pub fn total(&self) -> u64 {
        self.segments
            .last()
            .map_or(0, |s| (s.before + s.count()).ceil() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stages(text: &str) -> Stages {
        text.parse().unwrap()
    }

    #[test]
    fn parses_rates_and_concurrencies_and_refuses_mixtures() {
        let open = stages("30s:50/s, 2m:200/s,30s:0/s");
        assert!(open.is_open());
        assert_eq!(open.total(), Duration::from_secs(180));
        assert_eq!(open.list()[1].target, Level::Rate(200.0));
        assert_eq!(open.to_string(), "30s:50/s,2m:200/s,30s:0/s");
        let closed = stages("30s:c=4,1m:c=16");
        assert!(!closed.is_open());
        assert_eq!(closed.max_concurrency(), 16);
        for bad in [
            "",
            "30s",
            "30s:50",
            "x:50/s",
            "1s:c=-1",
            "1s:-5/s",
            "1s:50/s,1s:c=2",
            "0s:5/s",
        ] {
            assert!(bad.parse::<Stages>().is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn a_ramp_starts_what_it_integrates_to_at_the_right_times() {
        let ramp = stages("2s:50/s,2s:100/s").ramp();
        // 0→50/s over 2 s is 50 operations, 50→100/s over 2 s is 150.
        assert_eq!(ramp.total(), 200);
        let at = |n| ramp.offset_of(n).unwrap().as_secs_f64();
        assert_eq!(at(0), 0.0);
        // Under a rising rate t = sqrt(2n/slope): the 25th start is at √2 s.
        assert!((at(25) - 2f64.sqrt()).abs() < 1e-9);
        assert!((at(50) - 2.0).abs() < 1e-9);
        // Half-way in the second ramp: 50·t + 12.5·t² = 75 ⇒ t ≈ 1.1623.
        assert!((at(125) - (2.0 + 1.162_277_660_168_379_5)).abs() < 1e-9);
        assert!(ramp.offset_of(200).is_none());
        let times: Vec<f64> = (0..200).map(at).collect();
        assert!(times.windows(2).all(|w| w[0] < w[1]), "starts out of order");
    }

    #[test]
    fn a_falling_ramp_and_a_jump_stay_exact() {
        let ramp = stages("0s:100/s,1s:100/s,1s:0/s,1s:0/s").ramp();
        assert_eq!(ramp.total(), 150);
        let at = |n| ramp.offset_of(n).unwrap().as_secs_f64();
        assert!((at(50) - 0.5).abs() < 1e-9);
        // Falling from 100/s: 100·t − 50·t² = 25 ⇒ t = 1 − 1/√2.
        assert!((at(125) - (2.0 - 0.5f64.sqrt())).abs() < 1e-9);
        assert!(ramp.offset_of(150).is_none());
    }

    #[test]
    fn a_steady_stage_holds_its_rate_from_the_start() {
        let ramp = Stages::steady(10.0, Duration::from_secs(2)).ramp();
        assert_eq!(ramp.total(), 20);
        assert!((ramp.offset_of(5).unwrap().as_secs_f64() - 0.5).abs() < 1e-9);
    }
}
