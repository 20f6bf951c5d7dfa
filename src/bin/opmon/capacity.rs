//! `opmon bench --find-capacity`: runs the steps a [`CapacitySearch`]
//! asks for and judges each against the rules.
//!
//! Each step is an open-model run at one rate, with its own warm-up, on
//! the same measuring path as any run, and becomes a stage of the result.
//! A step that breaks a rule while the load generator (or the generator
//! and the embedded node it shares the machine with) ran out of CPU ends
//! the search: that break may describe the generator, not the target, so
//! it is reported as such and never as the target's capacity. A machine
//! kept busy by other processes cannot be told apart from a slow target;
//! the search goes on, and its report carries a caution.

use std::sync::Arc;
use std::time::Duration;

use tower::Service;
use xmtp_opmon::client::{Op, OpResult};
use xmtp_opmon::load::{
    cores, drive, evaluate_any_samples, saturated, CapacitySearch, LoadModel, MachineCpu,
    ProcessProbe, ProcessReading, Recorder, RunEnd, Schedule, SearchEnd, Stages, Stop, Threshold,
    Workload,
};
use xmtp_opmon::report::CapacityReport;

use crate::bench::Interrupt;

/// How long a step's operations may finish after it: a step past the
/// capacity leaves a queue behind, which must not spill into the next.
const STEP_DRAIN: Duration = Duration::from_secs(30);

/// What a capacity search was asked for.
#[derive(Debug, Clone)]
pub struct SearchPlan {
    /// The rules every step is held to.
    pub rules: Vec<Threshold>,
    /// Measured time per step.
    pub step: Duration,
    /// Warm-up before each step's measured time.
    pub warmup: Duration,
    /// The first rate.
    pub min_rate: f64,
    /// The highest rate.
    pub max_rate: f64,
    /// Operations in flight at most.
    pub max_in_flight: usize,
}

/// How one step fared.
#[derive(Debug, Clone, PartialEq)]
pub struct StepVerdict {
    /// Whether every rule held.
    pub passed: bool,
    /// The rules broken, with what was observed.
    pub breaches: Vec<String>,
}

/// What a search did and found.
pub struct SearchResult {
    /// The steps' scheduling, taken together.
    pub end: RunEnd,
    /// One per step, in order.
    pub verdicts: Vec<StepVerdict>,
    /// The finding; `None` if the search was interrupted first.
    pub report: Option<CapacityReport>,
}

impl SearchResult {
    /// Whether even the lowest rate broke a rule.
    pub fn below_lowest(&self) -> bool {
        self.report
            .as_ref()
            .is_some_and(|report| report.outcome == "below_lowest")
    }
}

/// Runs the search through `service`, recording every step in `recorder`.
pub async fn search<S>(
    plan: &SearchPlan,
    workload: &Arc<Workload>,
    service: S,
    recorder: &Recorder,
    interrupt: &Interrupt,
    node_pid: Option<u32>,
) -> SearchResult
where
    S: Service<Op, Response = OpResult> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    let mut search = CapacitySearch::new(plan.min_rate, plan.max_rate);
    let mut verdicts = Vec::new();
    let mut total: Option<RunEnd> = None;
    let mut saturated_at = None;
    let mut busy_breaks = Vec::new();
    let cpu = Cpu::new(node_pid);
    while let Some(rate) = search.next_rate() {
        let before = cpu.read();
        let schedule = Schedule {
            model: LoadModel::Staged {
                stages: Arc::new(Stages::steady(rate, plan.warmup + plan.step)),
                max_in_flight: plan.max_in_flight,
            },
            warmup: plan.warmup,
            stop: Stop::After(plan.step),
            drain: STEP_DRAIN,
        };
        let end = drive(
            schedule,
            workload.clone(),
            service.clone(),
            recorder,
            interrupt.clone().wait(),
        )
        .await;
        total = Some(total.map_or(end, |total| combine(total, end)));
        if end.interrupted {
            break;
        }
        let stats = recorder.last_stage_stats();
        let breaches: Vec<String> = evaluate_any_samples(&plan.rules, &stats)
            .iter()
            .map(ToString::to_string)
            .collect();
        let passed = breaches.is_empty();
        verdicts.push(StepVerdict { passed, breaches });
        search.record(rate, passed);
        // A rule that held, held; one that broke while the CPU ran out may
        // have broken on the generator's side.
        let (limit, machine_busy) = cpu.saturation(&before);
        if passed {
            continue;
        }
        if let Some(busy) = machine_busy {
            busy_breaks.push((rate, busy));
        }
        if let Some(limit) = limit {
            saturated_at = Some((rate, limit));
            break;
        }
    }
    let end = total.expect("a search runs at least one step");
    let report = (!end.interrupted).then(|| {
        let mut report = report(plan, &search, saturated_at);
        report.caution = caution(&busy_breaks);
        report
    });
    SearchResult {
        end,
        verdicts,
        report,
    }
}

/// Two consecutive steps' scheduling as one.
fn combine(first: RunEnd, then: RunEnd) -> RunEnd {
    RunEnd {
        window_start: first.window_start,
        ended: then.ended,
        last_start: then.last_start,
        started: first.started + then.started,
        interrupted: then.interrupted,
        abandoned: first.abandoned + then.abandoned,
    }
}

/// What ran out of CPU.
#[derive(Debug, Clone, Copy)]
enum Limit {
    /// The load generator alone.
    Generator(f64),
    /// The generator and the embedded node together.
    Shared(f64),
}

/// CPU readings at one moment.
struct Reading {
    own: Option<ProcessReading>,
    node: Option<ProcessReading>,
    machine: Option<MachineCpu>,
}

/// CPU readings of the load generator and the embedded node, if any.
struct Cpu {
    own: ProcessProbe,
    node: Option<ProcessProbe>,
}

impl Cpu {
    fn new(node_pid: Option<u32>) -> Self {
        Self {
            own: ProcessProbe::current(),
            node: node_pid.map(ProcessProbe::pid),
        }
    }

    fn read(&self) -> Reading {
        Reading {
            own: self.own.read(),
            node: self.node.as_ref().and_then(ProcessProbe::read),
            machine: MachineCpu::read(),
        }
    }

    /// Which of this run's processes saturated since `before`, if any, and
    /// the machine's busy share (percent) if the machine saturated.
    fn saturation(&self, before: &Reading) -> (Option<Limit>, Option<f64>) {
        let now = self.read();
        let percent = |a: Option<ProcessReading>, b: Option<ProcessReading>| {
            let (a, b) = (a?, b?);
            let wall = b.at.saturating_duration_since(a.at).as_secs_f64();
            (wall > 0.0).then(|| b.cpu.saturating_sub(a.cpu).as_secs_f64() / wall * 100.0)
        };
        let own = percent(before.own, now.own).unwrap_or(0.0);
        let both = own + percent(before.node, now.node).unwrap_or(0.0);
        let limit = if saturated(own) {
            Some(Limit::Generator(own))
        } else if saturated(both) {
            Some(Limit::Shared(both))
        } else {
            None
        };
        let machine = before
            .machine
            .zip(now.machine)
            .filter(|(then, now)| now.saturated_since(then))
            .and_then(|(then, now)| now.busy_since(&then))
            .map(|share| share * 100.0);
        (limit, machine)
    }
}

fn report(
    plan: &SearchPlan,
    search: &CapacitySearch,
    saturated_at: Option<(f64, Limit)>,
) -> CapacityReport {
    let rules = plan.rules.iter().map(ToString::to_string).collect();
    let best = search.best();
    let (outcome, verdict) = match (saturated_at, search.end()) {
        (Some((rate, limit)), _) => {
            let what = match limit {
                Limit::Generator(cpu) => format!(
                    "the load generator saturated at {} ({cpu:.0}% CPU of {} cores)",
                    per_s(rate),
                    cores()
                ),
                Limit::Shared(cpu) => format!(
                    "the machine saturated at {} (load generator and embedded node at {cpu:.0}% CPU of {} cores)",
                    per_s(rate),
                    cores()
                ),
            };
            // Whether the target could have taken more is unknown: the
            // capacity is at least the best rate, perhaps more.
            let verdict = match best {
                Some(best) => format!(
                    "{what}, where a rule broke that may be the generator's limit; the target's capacity is at least {}, perhaps more",
                    per_s(best)
                ),
                None => format!("{what}, where a rule broke; no rate was measured to hold"),
            };
            ("generator_saturated", verdict)
        }
        (
            None,
            Some(SearchEnd::Found {
                capacity,
                broken_at,
            }),
        ) => (
            "found",
            format!(
                "capacity {}: every rule held there and one broke at {}",
                per_s(capacity),
                per_s(broken_at)
            ),
        ),
        (None, Some(SearchEnd::BelowLowest(rate))) => (
            "below_lowest",
            format!("a rule broke already at the lowest rate, {}", per_s(rate)),
        ),
        (None, Some(SearchEnd::AboveHighest(rate))) => (
            "max_rate",
            format!(
                "every rule held up to the highest rate allowed, {}; the capacity is above it",
                per_s(rate)
            ),
        ),
        (None, None) => (
            "unfinished",
            "the search ended before it found a rate".to_owned(),
        ),
    };
    CapacityReport {
        rules,
        outcome: outcome.to_owned(),
        capacity_per_s: best,
        broken_at_per_s: match search.end() {
            Some(SearchEnd::Found { broken_at, .. }) => Some(broken_at),
            Some(SearchEnd::BelowLowest(rate)) => Some(rate),
            _ => None,
        },
        verdict,
        caution: None,
    }
}

/// A caution about the steps that broke while the machine was saturated
/// by something other than this run's processes.
fn caution(busy_breaks: &[(f64, f64)]) -> Option<String> {
    let busiest = busy_breaks.iter().map(|b| b.1).fold(0.0, f64::max);
    let rates: Vec<String> = busy_breaks.iter().map(|b| per_s(b.0)).collect();
    (!rates.is_empty()).then(|| {
        format!(
            "the machine's CPU was up to {busiest:.0}% busy while rules broke at {}, mostly not by this run: other processes may have slowed the target or the load generator",
            rates.join(", ")
        )
    })
}

/// A rate for people: `400/s`, `12.5/s`.
fn per_s(rate: f64) -> String {
    if rate >= 100.0 {
        format!("{rate:.0}/s")
    } else {
        format!("{:.1}/s", rate)
    }
}
