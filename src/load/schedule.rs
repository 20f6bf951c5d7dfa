//! When operations start: the closed and open load models.
//!
//! In the **closed** model, `C` workers each run one operation after
//! another, as users who wait for each answer do. When the target slows
//! down, fewer operations start — the load generator politely waits, and
//! its latency figures never see the requests it did not send (the
//! "coordinated omission" of closed-loop tools).
//!
//! In the **open** model, operations start on a fixed schedule — the
//! `i`-th at `start + i / rate` — whether or not earlier ones have
//! finished. Each runs inside [`with_intended_start`], so its response
//! time is measured from when it *should* have started: if the generator
//! falls behind (too many in flight, a busy machine), the delay counts,
//! as it would for a user. Operations are never dropped; the largest lag
//! between intended and actual start is reported per operation.
//!
//! A **staged** run changes its load as it goes ([`Stages`]): the open
//! model follows a piecewise-linear rate, the closed model steps its
//! number of workers, and the [`Recorder`] keeps each stage's figures
//! beside the whole run's.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tower::Service;

use crate::client::{Op, OpResult};
use crate::layer::with_intended_start;

use super::stages::{Level, Ramp, Stages};
use super::{Recorder, Workload};

/// How operations are started.
#[derive(Debug, Clone, PartialEq)]
pub enum LoadModel {
    /// `concurrency` workers, each starting its next operation when the
    /// previous one ends.
    Closed {
        /// Operations in flight.
        concurrency: usize,
    },
    /// `rate` operations per second on a fixed schedule.
    Open {
        /// Operations started per second.
        rate: f64,
        /// Operations in flight at most; beyond it, starts wait (and the
        /// wait counts in their response time).
        max_in_flight: usize,
    },
    /// Stages of ramping rates (open) or stepped workers (closed), from the
    /// start of the run (the warm-up is the beginning of the first stage).
    Staged {
        /// The stages, in order.
        stages: Arc<Stages>,
        /// Operations in flight at most, in the open model.
        max_in_flight: usize,
    },
}

/// When a run stops starting operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// After this long past the warm-up.
    After(Duration),
    /// After this many operations past the warm-up.
    Ops(u64),
}

/// A run's timing.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// How operations start.
    pub model: LoadModel,
    /// Operations scheduled within this time of the start are warm-up,
    /// left out of the results.
    pub warmup: Duration,
    /// When to stop starting operations.
    pub stop: Stop,
    /// How long to wait for operations in flight once starting has
    /// stopped; the rest are cancelled (and recorded as such).
    pub drain: Duration,
}

/// How long operations in flight get after an interruption.
pub const INTERRUPT_GRACE: Duration = Duration::from_secs(5);

/// How a run went, as far as scheduling is concerned.
#[derive(Debug, Clone, Copy)]
pub struct RunEnd {
    /// When the measured window opened (the end of the warm-up).
    pub window_start: Instant,
    /// When the last operation ended or was abandoned.
    pub ended: Instant,
    /// When the last operation was started.
    pub last_start: Instant,
    /// Operations started, warm-up included.
    pub started: u64,
    /// Whether the run was interrupted before its planned end.
    pub interrupted: bool,
    /// Operations still running when the drain time ran out.
    pub abandoned: usize,
}

/// Hands out operation slots until the stop condition is met.
struct Tickets {
    window_start: Instant,
    stop: Stop,
    stopping: AtomicBool,
    issued: AtomicU64,
    measured: AtomicU64,
}

impl Tickets {
    /// The next slot for an operation starting at `at`, or `None` once the
    /// run is over.
    fn claim(&self, at: Instant) -> Option<u64> {
        if self.stopping.load(Ordering::Relaxed) {
            return None;
        }
        if at >= self.window_start {
            let within = match self.stop {
                Stop::After(length) => at < self.window_start + length,
                Stop::Ops(count) => self.measured.fetch_add(1, Ordering::Relaxed) < count,
            };
            if !within {
                self.stopping.store(true, Ordering::Relaxed);
                return None;
            }
        }
        Some(self.issued.fetch_add(1, Ordering::Relaxed))
    }
}

/// Runs `workload` through `service` on `schedule`, feeding `recorder`
/// (which must also observe `service`'s operations), until the schedule
/// ends or `interrupt` resolves.
pub async fn drive<S>(
    schedule: Schedule,
    workload: Arc<Workload>,
    service: S,
    recorder: &Recorder,
    interrupt: impl Future<Output = ()>,
) -> RunEnd
where
    S: Service<Op, Response = OpResult> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    let start = Instant::now();
    let window_start = start + schedule.warmup;
    recorder.start_window(window_start);
    let tickets = Arc::new(Tickets {
        window_start,
        stop: schedule.stop,
        stopping: AtomicBool::new(false),
        issued: AtomicU64::new(0),
        measured: AtomicU64::new(0),
    });
    let mut running = JoinSet::new();
    let mut interrupt = std::pin::pin!(interrupt);
    let interrupted = match &schedule.model {
        LoadModel::Closed { concurrency } => {
            for _ in 0..(*concurrency).max(1) {
                running.spawn(worker(tickets.clone(), workload.clone(), service.clone()));
            }
            tokio::select! {
                () = &mut interrupt => true,
                () = wait_all(&mut running) => false,
            }
        }
        LoadModel::Open {
            rate,
            max_in_flight,
        } => {
            let limit = Arc::new(Semaphore::new((*max_in_flight).max(1)));
            let pace = Pacer {
                start,
                clock: Clock::Constant(*rate),
            };
            tokio::select! {
                () = &mut interrupt => true,
                () = pace.run(&tickets, &limit, &mut running, &workload, &service) => false,
            }
        }
        LoadModel::Staged {
            stages,
            max_in_flight,
        } => {
            for (offset, stage) in stages.offsets().into_iter().zip(stages.list()) {
                let begin = start + offset;
                recorder.begin_stage(
                    begin,
                    begin.max(window_start),
                    begin + stage.duration,
                    stage.target,
                );
            }
            let end = start + stages.total();
            if stages.is_open() {
                let limit = Arc::new(Semaphore::new((*max_in_flight).max(1)));
                let pace = Pacer {
                    start,
                    clock: Clock::Ramp(stages.ramp(), end),
                };
                tokio::select! {
                    () = &mut interrupt => true,
                    () = pace.run(&tickets, &limit, &mut running, &workload, &service) => false,
                }
            } else {
                let (level, levels) = watch::channel(0);
                for k in 0..stages.max_concurrency() {
                    let worker = stepped_worker(
                        k,
                        levels.clone(),
                        tickets.clone(),
                        workload.clone(),
                        service.clone(),
                    );
                    running.spawn(worker);
                }
                let steps = step_workers(start, stages, &tickets, level);
                tokio::select! {
                    () = &mut interrupt => true,
                    () = async { steps.await; wait_all(&mut running).await } => false,
                }
            }
        }
    };
    tickets.stopping.store(true, Ordering::Relaxed);
    let last_start = Instant::now();
    // Operations in flight get the drain time, or only the interrupt grace
    // once the user has asked to stop (even during the drain).
    let now = tokio::time::Instant::now();
    let mut deadline = now + schedule.drain;
    if interrupted {
        deadline = deadline.min(now + INTERRUPT_GRACE);
    }
    // The interrupt future is polled only until it first resolves.
    let mut asked = interrupted;
    let drained = loop {
        tokio::select! {
            () = wait_all(&mut running) => break true,
            () = tokio::time::sleep_until(deadline) => break false,
            () = &mut interrupt, if !asked => {
                asked = true;
                deadline = deadline.min(tokio::time::Instant::now() + INTERRUPT_GRACE);
            }
        }
    };
    let abandoned = if drained { 0 } else { running.len() };
    // Dropping an operation's future records it as cancelled.
    running.shutdown().await;
    RunEnd {
        window_start,
        ended: Instant::now(),
        last_start,
        started: tickets.issued.load(Ordering::Relaxed),
        interrupted,
        abandoned,
    }
}

async fn wait_all(running: &mut JoinSet<()>) {
    while running.join_next().await.is_some() {}
}

/// One operation, start to end, with its group (if any) given back and
/// its visibility measured if the workload follows it.
async fn perform<S>(workload: &Workload, service: S, ticket: u64)
where
    S: Service<Op, Response = OpResult> + Clone,
{
    if let Some(next) = workload.next_op(ticket).await {
        // The outcome is the layer's (and so the recorder's) business.
        let _ = workload.run(service, next).await;
    }
}

/// A closed-model worker.
async fn worker<S>(tickets: Arc<Tickets>, workload: Arc<Workload>, service: S)
where
    S: Service<Op, Response = OpResult> + Clone,
{
    while let Some(ticket) = tickets.claim(Instant::now()) {
        perform(&workload, service.clone(), ticket).await;
    }
}

/// A closed-model worker that works only while the stage's level is
/// above its number.
async fn stepped_worker<S>(
    number: usize,
    mut level: watch::Receiver<usize>,
    tickets: Arc<Tickets>,
    workload: Arc<Workload>,
    service: S,
) where
    S: Service<Op, Response = OpResult> + Clone,
{
    loop {
        if level.wait_for(|workers| *workers > number).await.is_err() {
            return;
        }
        let Some(ticket) = tickets.claim(Instant::now()) else {
            return;
        };
        perform(&workload, service.clone(), ticket).await;
    }
}

/// Sets the number of working workers at each stage's start; at the end,
/// stops the run and wakes every worker so that all of them return.
async fn step_workers(
    start: Instant,
    stages: &Stages,
    tickets: &Tickets,
    level: watch::Sender<usize>,
) {
    for (offset, stage) in stages.offsets().into_iter().zip(stages.list()) {
        tokio::time::sleep_until((start + offset).into()).await;
        if let Level::Concurrency(workers) = stage.target {
            level.send_replace(workers);
        }
    }
    tokio::time::sleep_until((start + stages.total()).into()).await;
    tickets.stopping.store(true, Ordering::Relaxed);
    level.send_replace(usize::MAX);
}

/// The open model's clock.
struct Pacer {
    start: Instant,
    clock: Clock,
}

/// When the open model's operations are meant to start.
enum Clock {
    /// At a constant rate, without end.
    Constant(f64),
    /// Along a ramp, which ends at the given time.
    Ramp(Ramp, Instant),
}

impl Pacer {
    /// When the `n`-th operation is meant to start; `None` when the clock
    /// starts no more.
    fn intended(&self, n: u64) -> Option<Instant> {
        match &self.clock {
            Clock::Constant(rate) => Some(self.start + Duration::from_secs_f64(n as f64 / rate)),
            Clock::Ramp(ramp, _) => ramp.offset_of(n).map(|offset| self.start + offset),
        }
    }

    async fn run<S>(
        &self,
        tickets: &Tickets,
        limit: &Arc<Semaphore>,
        running: &mut JoinSet<()>,
        workload: &Arc<Workload>,
        service: &S,
    ) where
        S: Service<Op, Response = OpResult> + Clone + Send + 'static,
        S::Future: Send + 'static,
        S::Error: Send + 'static,
    {
        let mut n = 0;
        loop {
            let Some(intended) = self.intended(n) else {
                // A ramp down to 0 still lasts to its end.
                if let Clock::Ramp(_, end) = self.clock {
                    tokio::time::sleep_until(end.into()).await;
                }
                break;
            };
            tokio::time::sleep_until(intended.into()).await;
            let Some(ticket) = tickets.claim(intended) else {
                break;
            };
            let Ok(permit) = limit.clone().acquire_owned().await else {
                break;
            };
            // Reap finished tasks so the set does not grow with the run.
            while running.try_join_next().is_some() {}
            let (workload, service) = (workload.clone(), service.clone());
            running.spawn(with_intended_start(intended, async move {
                perform(&workload, service, ticket).await;
                drop(permit);
            }));
            n += 1;
        }
        wait_all(running).await;
    }
}
