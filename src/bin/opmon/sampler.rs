//! Once a second during a run: sample CPU and memory of the client and
//! the embedded node, warn when the load generator saturates its machine,
//! redraw the progress line on a terminal, and every few seconds hand what
//! has been seen to a checkpoint (so a killed run still leaves results).

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use xmtp_opmon::load::{cores, saturated, ProcessProbe, Recorder, ResourceSample, ResourceSampler};
use xmtp_opmon::report::{ResourcePoint, Resources};

/// Resource samples kept at most. Past that, every other one is dropped,
/// so a run of any length keeps a bounded record: its recent seconds
/// sampled densely, its older ones more sparsely (each sample carries
/// its time).
const MAX_SAMPLES: usize = 7_200;

/// What the progress line says about the plan.
pub struct Progress {
    /// When the measured window opens.
    pub window_start: Instant,
    /// `30s` or `1000 ops`.
    pub plan: String,
}

/// Called every [`Checkpoints::every`] with the resources seen so far;
/// returns `true` when that closed an interval, so the next one starts
/// with no samples (`opmon monitor` keeps one file per interval).
pub type CheckpointFn = Box<dyn FnMut(&Resources) -> bool + Send>;

/// A periodic checkpoint of the run.
pub struct Checkpoints {
    /// How often.
    pub every: Duration,
    /// What to do with the resources seen so far.
    pub write: CheckpointFn,
}

/// The running sampler.
pub struct Sampler {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Resources>,
}

impl Sampler {
    /// Starts sampling. `progress` is drawn on stderr when given.
    pub fn start(
        recorder: Arc<Recorder>,
        node_pid: Option<u32>,
        progress: Option<Progress>,
        warn: bool,
        checkpoints: Option<Checkpoints>,
    ) -> Self {
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(watch(
            recorder,
            node_pid,
            progress,
            warn,
            checkpoints,
            stopped,
        ));
        Self { stop, task }
    }

    /// Stops sampling and returns what was seen.
    pub async fn finish(self) -> Resources {
        let _ = self.stop.send(());
        self.task.await.unwrap_or_default()
    }
}

async fn watch(
    recorder: Arc<Recorder>,
    node_pid: Option<u32>,
    progress: Option<Progress>,
    warn: bool,
    mut checkpoints: Option<Checkpoints>,
    mut stopped: oneshot::Receiver<()>,
) -> Resources {
    let started = Instant::now();
    let mut client = ResourceSampler::new(ProcessProbe::current());
    let mut node = node_pid.map(|pid| ResourceSampler::new(ProcessProbe::pid(pid)));
    let mut resources = Resources {
        cores: cores(),
        ..Resources::default()
    };
    let mut warned = (false, false);
    let mut last_done = 0;
    let mut last_checkpoint = Instant::now();
    let mut tick = tokio::time::interval_at(
        tokio::time::Instant::now() + Duration::from_secs(1),
        Duration::from_secs(1),
    );
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = &mut stopped => break,
        }
        let Some((own, theirs)) = sample(&mut client, &mut node, started, &mut resources) else {
            continue;
        };
        if saturated(own.cpu_percent) {
            resources.client_saturated = true;
            if warn && !warned.0 {
                warned.0 = true;
                eprintln!(
                    "\rwarning: opmon uses {:.0}% CPU (100% = one of {} cores): from here on, the figures describe the load generator's limit, not the target's",
                    own.cpu_percent,
                    cores()
                );
            }
        } else if let Some(theirs) = theirs {
            let both = own.cpu_percent + theirs.cpu_percent;
            if saturated(both) && warn && !warned.1 {
                warned.1 = true;
                eprintln!(
                    "\rwarning: opmon and the embedded node together use {both:.0}% CPU of {} cores: they compete for the machine, so the figures describe it rather than the node",
                    cores()
                );
            }
        }
        if let Some(progress) = &progress {
            last_done = draw(&recorder, progress, own.cpu_percent, last_done);
        }
        if let Some(checkpoints) = checkpoints.as_mut() {
            if last_checkpoint.elapsed() >= checkpoints.every {
                last_checkpoint = Instant::now();
                resources.client = Some(client.summary());
                resources.node = node.as_ref().map(ResourceSampler::summary);
                if (checkpoints.write)(&resources) {
                    resources.samples.clear();
                    client = ResourceSampler::new(ProcessProbe::current());
                    node = node_pid.map(|pid| ResourceSampler::new(ProcessProbe::pid(pid)));
                }
            }
        }
    }
    // A last sample covering the end of the run, unless too short to mean
    // anything: CPU time moves in 10 ms ticks.
    let since_last = resources.samples.last().map_or(started.elapsed(), |last| {
        started
            .elapsed()
            .saturating_sub(Duration::from_secs_f64(last.t_s))
    });
    if since_last >= Duration::from_millis(250) {
        sample(&mut client, &mut node, started, &mut resources);
    }
    if progress.is_some() {
        // Clear the progress line before the summary.
        eprint!("\r{:width$}\r", "", width = 100);
    }
    resources.client = Some(client.summary());
    resources.node = node.map(|n| n.summary());
    resources
}

/// Samples both processes and records the point.
fn sample(
    client: &mut ResourceSampler,
    node: &mut Option<ResourceSampler>,
    started: Instant,
    resources: &mut Resources,
) -> Option<(ResourceSample, Option<ResourceSample>)> {
    let own = client.sample()?;
    let theirs = node.as_mut().and_then(ResourceSampler::sample);
    if resources.samples.len() >= MAX_SAMPLES {
        thin(&mut resources.samples);
    }
    resources.samples.push(ResourcePoint {
        t_s: started.elapsed().as_secs_f64(),
        client_cpu_percent: own.cpu_percent,
        client_rss_bytes: own.rss_bytes,
        node_cpu_percent: theirs.map(|s| s.cpu_percent),
        node_rss_bytes: theirs.map(|s| s.rss_bytes),
    });
    Some((own, theirs))
}

/// Halves the samples, keeping the first and every other one after it.
fn thin(samples: &mut Vec<ResourcePoint>) {
    let mut index = 0;
    samples.retain(|_| {
        index += 1;
        index % 2 == 1
    });
}

/// Draws one progress line; returns the operations done so far.
fn draw(recorder: &Recorder, progress: &Progress, cpu: f64, last_done: u64) -> u64 {
    let (done, failed, p99_ms) = recorder.inspect(|stats| {
        stats
            .values()
            .fold((0, 0, 0.0f64), |(done, failed, p99), s| {
                let worst = s.response_us.value_at_quantile(0.99) as f64 / 1000.0;
                (
                    done + s.attempts,
                    failed + s.attempts.saturating_sub(s.ok),
                    p99.max(worst),
                )
            })
    });
    let now = Instant::now();
    let phase = if now < progress.window_start {
        "warm-up".to_owned()
    } else {
        format!("{:.0}s", (now - progress.window_start).as_secs_f64())
    };
    eprint!(
        "\r  {phase:>7} of {}  ops {done:>8}  errors {failed:>6}  {:>7}/s  worst p99 {p99_ms:>9.2}ms  cpu {cpu:>4.0}%   ",
        progress.plan,
        done.saturating_sub(last_done),
    );
    let _ = std::io::stderr().flush();
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinning_halves_the_samples_and_keeps_the_first() {
        let mut samples: Vec<ResourcePoint> = (0..MAX_SAMPLES)
            .map(|second| ResourcePoint {
                t_s: second as f64,
                ..ResourcePoint::default()
            })
            .collect();
        thin(&mut samples);
        assert_eq!(samples.len(), MAX_SAMPLES / 2);
        assert_eq!(samples[0].t_s, 0.0);
        assert_eq!(samples[1].t_s, 2.0);
    }
}
