//! The monitor's results on disk: one `run.json` per interval, the oldest
//! removed beyond a count.
//!
//! A monitor never ends, so it cannot write one result at the end as a
//! benchmark does. It cuts its life into intervals (an hour by default):
//! each has its own [`Recorder`] and its own results directory named by its
//! start, e.g. `20261201T060000Z-1a2b/run.json`, checkpointed while it runs
//! and written complete when it ends. Every interval is a valid run for
//! `opmon report` and `opmon compare` (this hour against yesterday's), and
//! memory and disk stay bounded however long the monitor lives.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use xmtp_opmon::layer::{OpObserver, Outcome};
use xmtp_opmon::load::Recorder;
use xmtp_opmon::report::{Parameters, ProvisioningReport, Resources, RUN_FILE};

use crate::run_file::{assemble, new_run_id, write_checkpoint, RunFrame, RunState};

/// Hands every outcome to the current interval's recorder.
#[derive(Default)]
pub struct CurrentRecorder(RwLock<Arc<Recorder>>);

impl CurrentRecorder {
    fn get(&self) -> Arc<Recorder> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn replace(&self, recorder: Arc<Recorder>) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = recorder;
    }
}

impl OpObserver for CurrentRecorder {
    fn on_outcome(&self, outcome: &Outcome) {
        self.get().on_outcome(outcome);
    }
}

/// One interval being recorded.
struct Interval {
    frame: RunFrame,
    recorder: Arc<Recorder>,
    dir: PathBuf,
    ends: Instant,
}

/// The intervals of a monitor's life.
pub struct Rolling {
    root: PathBuf,
    length: Duration,
    keep: usize,
    parameters: Parameters,
    current: Interval,
    observer: Arc<CurrentRecorder>,
    warned: bool,
}

impl Rolling {
    /// Starts the first interval, writing under `root`; keeps the newest
    /// `keep` interval directories, the current one included.
    pub fn start(root: PathBuf, length: Duration, keep: usize, parameters: Parameters) -> Self {
        let observer = Arc::new(CurrentRecorder::default());
        let current = Self::interval(&root, length, &parameters);
        observer.replace(current.recorder.clone());
        Self {
            root,
            length,
            keep,
            parameters,
            current,
            observer,
            warned: false,
        }
    }

    fn interval(root: &Path, length: Duration, parameters: &Parameters) -> Interval {
        let run_id = new_run_id();
        let recorder = Arc::new(Recorder::new());
        let now = Instant::now();
        recorder.start_window(now);
        Interval {
            dir: root.join(&run_id),
            frame: RunFrame {
                run_id,
                started_at: SystemTime::now(),
                parameters: parameters.clone(),
                warmup: Duration::ZERO,
                thresholds: Vec::new(),
                strict_thresholds: false,
            },
            recorder,
            ends: now + length,
        }
    }

    /// What the operation layer reports to.
    pub fn observer(&self) -> Arc<CurrentRecorder> {
        self.observer.clone()
    }

    /// Checkpoints the current interval, or, once it is over, writes it
    /// complete and starts the next; `true` when a new interval started.
    pub fn checkpoint(&mut self, resources: &Resources) -> bool {
        if Instant::now() < self.current.ends {
            let Interval {
                frame,
                recorder,
                dir,
                ..
            } = &self.current;
            write_checkpoint(frame, recorder, resources, dir, &mut self.warned);
            return false;
        }
        let next = Self::interval(&self.root, self.length, &self.parameters);
        self.observer.replace(next.recorder.clone());
        let ended = std::mem::replace(&mut self.current, next);
        write(&ended, true, "interval ended", resources);
        self.prune();
        true
    }

    /// Writes the current interval as it stands when the monitor stops.
    pub fn finish(self, resources: &Resources) {
        write(&self.current, false, "stopped", resources);
    }

    /// Removes the oldest interval directories beyond `keep`. Only
    /// directories that look like ours (a run id, holding a run.json) are
    /// touched.
    fn prune(&self) {
        let Ok(entries) = std::fs::read_dir(&self.root) else {
            return;
        };
        let mut intervals: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| {
                let named_like_ours = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                    n.len() > 16 && n.as_bytes()[..8].iter().all(u8::is_ascii_digit)
                });
                named_like_ours && path.join(RUN_FILE).is_file()
            })
            .collect();
        // Run ids start with their UTC start time, so names sort by age.
        intervals.sort();
        // The interval just started counts too, though it has no file yet.
        let excess = intervals.len().saturating_sub(self.keep.saturating_sub(1));
        for old in &intervals[..excess] {
            if let Err(error) = std::fs::remove_dir_all(old) {
                eprintln!("opmon: cannot remove {}: {error}", old.display());
            }
        }
    }
}

/// Writes `interval` as it stands.
fn write(interval: &Interval, complete: bool, reason: &str, resources: &Resources) {
    let recorder = &interval.recorder;
    let state = RunState {
        complete,
        end_reason: reason.to_owned(),
        window_start: recorder.window_start(),
        ended: Instant::now(),
        started_ops: recorder.inspect(|stats| stats.values().map(|s| s.attempts).sum()),
        abandoned_ops: 0,
        skipped_ops: 0,
        provisioning: ProvisioningReport::default(),
        resources: resources.clone(),
        step_verdicts: Vec::new(),
        capacity: None,
    };
    let (run, _) = assemble(&interval.frame, recorder, state);
    if let Err(error) = run.write_json(&interval.dir) {
        eprintln!("opmon: {error}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xmtp_opmon::report::RunResult;

    fn scratch(name: &str) -> PathBuf {
        let root = std::env::temp_dir().join(format!("opmon-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        root
    }

    #[tokio::test]
    async fn an_ended_interval_is_written_complete_and_the_next_begins() {
        let root = scratch("rolling-rotate");
        let mut rolling = Rolling::start(root.clone(), Duration::ZERO, 5, Parameters::default());
        let first = rolling.current.dir.clone();
        assert!(rolling.checkpoint(&Resources::default()));
        let run = RunResult::read(&first).unwrap();
        assert!(run.complete);
        assert_eq!(run.end_reason, "interval ended");
        assert_ne!(rolling.current.dir, first);
        let _ = std::fs::remove_dir_all(root);
    }

    #[tokio::test]
    async fn only_the_newest_intervals_are_kept_and_nothing_else_is_touched() {
        let root = scratch("rolling-prune");
        let names = [
            "20261201T050000Z-aaaa",
            "20261201T060000Z-bbbb",
            "20261201T070000Z-cccc",
        ];
        for name in names {
            std::fs::create_dir_all(root.join(name)).unwrap();
            std::fs::write(root.join(name).join(RUN_FILE), "{}").unwrap();
        }
        // Not ours: no run.json, or not named by a start time.
        std::fs::create_dir_all(root.join("20261201T040000Z-dddd")).unwrap();
        std::fs::create_dir_all(root.join("notes")).unwrap();
        std::fs::write(root.join("notes").join(RUN_FILE), "{}").unwrap();

        // Three kept: the current interval and the two newest files.
        let rolling = Rolling::start(
            root.clone(),
            Duration::from_secs(3600),
            3,
            Parameters::default(),
        );
        rolling.prune();
        let mut left: Vec<String> = std::fs::read_dir(&root)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "20261201T040000Z-dddd",
                "20261201T060000Z-bbbb",
                "20261201T070000Z-cccc",
                "notes"
            ]
        );
        let _ = std::fs::remove_dir_all(root);
    }
}
